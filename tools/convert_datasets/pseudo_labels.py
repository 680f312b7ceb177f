"""Convert offline target pseudo-labels (colour PNGs, e.g. PCPR's ``pl/train`` or SAM-refined
``*_sam_vit_h.png`` files) into 8-bit train-id PNGs (mmseg_procl/datasets/pseudo_label_conversion.py).

    python tools/convert_datasets/pseudo_labels.py data/cityscapes/pl/train data/cityscapes/pl2/train
    python tools/convert_datasets/pseudo_labels.py SeCo/PSA data/cityscapes/pl2/train --layout cityscapes

``--layout keep`` keeps the relative paths; ``--layout cityscapes`` writes
``<out>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png`` from names that start with a Cityscapes frame
id.  Unknown colours, name clashes and existing outputs (without ``--overwrite``) are errors naming the file.
"""
import argparse
import sys

from mmseg_procl.datasets.pseudo_label_conversion import LAYOUTS, convert_colour_pseudo_labels


def main(argv=None) -> int:
    """Parse arguments, convert, print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='folder of colour label PNGs (searched recursively)')
    parser.add_argument('dst', help='output folder of train-id PNGs')
    parser.add_argument('--layout', choices=LAYOUTS, default='keep',
                        help='keep: same relative paths; cityscapes: <city>/<frame id>_gtFine_labelTrainIds.png')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    args = parser.parse_args(argv)
    try:
        count = convert_colour_pseudo_labels(args.src, args.dst, args.layout, args.overwrite)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f'pseudo_labels.py: error: {err}', file=sys.stderr)
        return 1
    print(f'wrote {count} train-id pseudo-labels to {args.dst} (layout {args.layout})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
