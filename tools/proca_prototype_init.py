"""ProCA stage 2: class prototypes of the source-only model over the source set (mmseg_procl/apis/proca.py).

    python tools/proca_prototype_init.py configs/proca/proca-src_dlv2-r101v1b_4xb2-20k_gta2cs-1280x720.py \\
        work_dirs/proca-src_gta2cs/iter_20000.pth --out-dir work_dirs/proca-src_gta2cs/prototypes

writes ``prototype_feat_dist.pth`` (2048-d layer4 class means) and ``prototype_out_dist.pth`` (logit class
means) in ProCA's layout ``{'Proto': (C, A), 'Amount': (C,)}``; the adaptation config reads them with
``ClassMeanEstimator(init_file=...)``.
"""
import argparse
import os.path as osp
import sys

import torch

from mmseg_procl.apis.config_utils import load_config
from mmseg_procl.apis.proca import FEATURE_FILE, OUTPUT_FILE, init_prototypes
from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error
from mmseg_procl.utils import register_all_modules


def main(argv=None) -> int:
    """Parse arguments, accumulate the prototypes, print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the source-only stage config (its training dataset is read)')
    parser.add_argument('checkpoint', help='the source-only model')
    parser.add_argument('--out-dir', required=True, help='folder for the two prototype files')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help="default: 'cuda' when available, else 'cpu'")
    parser.add_argument('--overwrite', action='store_true', help='replace existing prototype files')
    args = parser.parse_args(argv)
    register_all_modules()
    existing = [osp.join(args.out_dir, n) for n in (FEATURE_FILE, OUTPUT_FILE)
                if osp.exists(osp.join(args.out_dir, n))]
    if existing and not args.overwrite:
        print(f'proca_prototype_init.py: error: {existing[0]} exists; pass --overwrite to replace it',
              file=sys.stderr)
        return 1
    try:
        feat, out = init_prototypes(load_config(args.config), args.checkpoint, args.out_dir, args.device)
    except USER_ERRORS as err:
        if not is_user_error(err):
            raise
        print(f'proca_prototype_init.py: error: {describe_error(err)}', file=sys.stderr)
        return 1
    print(f'wrote {FEATURE_FILE} ({tuple(feat.mean.shape)}) and {OUTPUT_FILE} ({tuple(out.mean.shape)}) to '
          f'{args.out_dir}; pixels per class: {[int(n) for n in feat.count.tolist()]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
