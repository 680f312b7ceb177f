"""Weak target labels for the weakly-supervised prototype method (WDASS; mmseg_procl/datasets/weak_labels.py).

    python tools/convert_datasets/weak_labels.py coarse data/cityscapes/gtCoarse/train \\
        data/cityscapes/weak_coarse/train
    python tools/convert_datasets/weak_labels.py points data/cityscapes/leftImg8bit/train \\
        data/cityscapes/weak_point/train --point-list file_2975.yaml --scale 2
    python tools/convert_datasets/weak_labels.py points data/synthetic_cityscapes/leftImg8bit/train \\
        data/synthetic_cityscapes/weak_point/train --from-gt data/synthetic_cityscapes/gtFine/train --seed 0

``coarse`` maps the official gtCoarse label ids to train ids; ``points`` writes maps of 255 with single
labelled pixels, from a point list (WDASS's ``{x: row, y: col, c: label id}`` entries, ``--scale 2`` for
points given at 1024x512) or drawn from dense train-id labels (one random pixel per class present per image,
``--points-per-class``).  Outputs are ``<out>/<city>/<stem>_weak_labelTrainIds.png``; existing files are
refused without ``--overwrite``.
"""
import argparse
import sys

from mmseg_procl.datasets.conversion_error import ConversionError
from mmseg_procl.datasets.weak_labels import (convert_coarse_labels, points_from_ground_truth,
                                              read_point_list, write_point_labels)


def main(argv=None) -> int:
    """Parse arguments, write the labels, print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kind', choices=('coarse', 'points'))
    parser.add_argument('src', help='coarse: the gtCoarse/train folder; points: the leftImg8bit/train folder')
    parser.add_argument('out', help='output folder')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--point-list', help='points: JSON / YAML list per image')
    source.add_argument('--from-gt', help='points: folder of dense *_gtFine_labelTrainIds.png to draw from')
    parser.add_argument('--scale', type=int, default=1, help='points: multiply the listed coordinates')
    parser.add_argument('--points-per-class', type=int, default=1, help='points drawn per class (--from-gt)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the drawn points (--from-gt)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    args = parser.parse_args(argv)
    try:
        if args.kind == 'coarse':
            count = convert_coarse_labels(args.src, args.out, args.overwrite)
        else:
            if not (args.point_list or args.from_gt):
                parser.error('points: give --point-list or --from-gt')
            points = (read_point_list(args.point_list) if args.point_list
                      else points_from_ground_truth(args.from_gt, args.seed, args.points_per_class))
            count = write_point_labels(args.src, args.out, points, args.scale, args.overwrite)
    except (ConversionError, ValueError, KeyError, FileNotFoundError, FileExistsError) as err:
        print(f'weak_labels.py: error: {err}', file=sys.stderr)
        return 1
    print(f'wrote {count} {args.kind} label maps to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
