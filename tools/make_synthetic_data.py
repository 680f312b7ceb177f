"""Write the procedural driving scenes (the project's embedded default data) to disk.

    python tools/make_synthetic_data.py data/synthetic_gta --style source --num 200 \\
        --size 512x256 --seed 0
    python tools/make_synthetic_data.py data/synthetic_cityscapes --style target --num 100 \\
        --size 512x256 --seed 0 --val-fraction 0.2

    python tools/make_synthetic_data.py data/synthetic_dark_zurich --style night --num 360 \
        --size 256x128 --seed 2 --val-fraction 0.1667 --num-test 20

``source`` is written in the GTA5 layout, ``target`` in the Cityscapes layout with train/val splits
(see ``mmseg_procl/datasets/synthetic_export.py``); convert them with ``tools/convert_datasets``.
``night`` writes the target scenes at night in the Dark Zurich layout, each training image with its
daytime partner and the correspondence CSV (``mmseg_procl/datasets/synthetic_night.py``).
"""
import argparse
import sys

from mmseg_procl.datasets.synthetic_export import export_synthetic
from mmseg_procl.datasets.synthetic_night import export_synthetic_dark_zurich


def parse_size(text: str):
    """Parse ``WxH`` (e.g. ``512x256``) into ``(W, H)``; argparse reports a bad value."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or min(int(p) for p in parts) < 1:
        raise argparse.ArgumentTypeError(
            f'invalid size {text!r}: expected WxH with two positive integers, e.g. 512x256')
    return int(parts[0]), int(parts[1])


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', help='output directory (must be empty unless --overwrite)')
    parser.add_argument('--style', required=True, choices=('source', 'target', 'night'),
                        help='source: GTA5 layout; target: Cityscapes layout with train/val; night: the '
                             'target scenes at night in the Dark Zurich layout with day partners')
    parser.add_argument('--num', type=int, required=True, help='number of scenes to write')
    parser.add_argument('--size', type=parse_size, default=(512, 256), help='WxH (default 512x256)')
    parser.add_argument('--seed', type=int, default=0, help='base seed (default 0)')
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help='fraction of target scenes put into val (default 0.2; '
                             'ignored for source)')
    parser.add_argument('--num-test', type=int, default=0,
                        help='night only: unlabelled test/night images written in addition (default 0)')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty directory (rewrites generated files only)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    """Export the scenes and print a one-line summary."""
    args = parse_args(argv)
    if args.style == 'night':
        try:
            summary = export_synthetic_dark_zurich(args.out, args.num, args.size, args.seed,
                                                   args.val_fraction, args.num_test, args.overwrite)
        except (ValueError, FileExistsError) as err:
            sys.exit(f'make_synthetic_data.py: error: {err}')
        print(f'wrote {args.num + args.num_test} night scenes ({args.size[0]}x{args.size[1]}, Dark Zurich '
              f'layout) to {summary["out_dir"]}: {summary["train"]} train/night with day partners, '
              f'{summary["val"]} val/night labelled, {summary["test"]} test/night')
        return
    try:
        summary = export_synthetic(args.out, args.style, args.num, args.size, args.seed,
                                   val_fraction=args.val_fraction, nproc=args.nproc,
                                   overwrite=args.overwrite)
    except (ValueError, FileExistsError) as err:
        sys.exit(f'make_synthetic_data.py: error: {err}')
    layout = 'GTA5' if args.style == 'source' else 'Cityscapes'
    print(f'wrote {summary["train"] + summary["val"]} {args.style} scenes '
          f'({args.size[0]}x{args.size[1]}, {layout} layout) to {summary["out_dir"]}: '
          f'{summary["train"]} train, {summary["val"]} val')


if __name__ == '__main__':
    main()
