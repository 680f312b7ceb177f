"""ProCA stage 4a: offline target pseudo-labels with per-class percentile thresholds
(mmseg_procl/apis/proca.py).

    python tools/proca_pseudo_labels.py configs/proca/proca_dlv2-r101v1b_4xb1-90k_gta2cs-1280x720.py \\
        work_dirs/proca/best_mIoU_iter_N.pth --out-dir data/cityscapes/proca_pl_gta/train

Threshold of class c = the confidence at 60 % (``--percent``) of the sorted confidences of the pixels
predicted as c over the target training set, at most 0.9 (``--max-threshold``); each image's full-resolution
prediction is kept where its confidence reaches the threshold (else 255) and written as a train-id PNG
under ``--out-dir`` in the target's layout (``<city>/<stem>_gtFine_labelTrainIds.png``), which the
self-training config reads.
"""
import argparse
import json
import sys

import torch

from mmseg_procl.apis.config_utils import load_config
from mmseg_procl.apis.proca import make_pseudo_labels
from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error
from mmseg_procl.utils import register_all_modules


def main(argv=None) -> int:
    """Parse arguments, make the labels, print the thresholds."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the adaptation stage config (its target training set is labelled)')
    parser.add_argument('checkpoint', help='the adapted model (e.g. the best checkpoint)')
    parser.add_argument('--out-dir', required=True, help='folder of the label PNGs')
    parser.add_argument('--percent', type=float, default=0.6, help='percentile position (THRESHOLD_PERCENT)')
    parser.add_argument('--max-threshold', type=float, default=0.9, help='upper clip of a class threshold')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help="default: 'cuda' when available, else 'cpu'")
    parser.add_argument('--overwrite', action='store_true', help='replace existing label files')
    args = parser.parse_args(argv)
    if not 0.0 <= args.percent <= 1.0 or not 0.0 < args.max_threshold <= 1.0:
        parser.error(f'--percent must lie in [0, 1] and --max-threshold in (0, 1], got {args.percent} and '
                     f'{args.max_threshold}')
    register_all_modules()
    try:
        summary = make_pseudo_labels(load_config(args.config), args.checkpoint, args.out_dir, args.percent,
                                     args.max_threshold, args.device, args.overwrite)
    except USER_ERRORS + (FileExistsError,) as err:
        if not isinstance(err, FileExistsError) and not is_user_error(err):
            raise
        print(f'proca_pseudo_labels.py: error: {describe_error(err)}', file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
