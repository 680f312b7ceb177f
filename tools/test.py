"""Evaluate a checkpoint: mIoU (19 / 16 / 13) with per-class IoU, prediction images, submission PNGs.

    python tools/test.py CONFIG CKPT --eval mIoU [--show-dir DIR --opacity 1]
    python tools/test.py CONFIG CKPT --format-only --eval-options imgfile_prefix=DIR [to_label_id=True]
    python tools/test.py WORK_DIR --eval mIoU      (the work dir's config and last checkpoint)

CONFIG is a config of this package or the dumped config of a released model of the DAFormer family
(``<run name>.json``, MIC's ``.py``); ``python -m tools.test`` works as in the original repositories.
"""
import argparse
import os
import sys

from mmengine.config import DictAction

from mmseg_procl.apis import test
from mmseg_procl.apis.work_dir_files import resolve_work_dir
from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint.')
    parser.add_argument('config', help='config file (a UDA config tests its segmentor; a released '
                        "model's dumped .json works too), or a work dir alone")
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint file (student weights are used); omitted for a work dir')
    parser.add_argument('--eval', nargs='+', choices=['mIoU', 'mDice', 'mFscore'],
                        help='metrics to evaluate, e.g. mIoU')
    parser.add_argument('--show-dir', help='write colourised predictions here')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted segmentation in (0, 1]')
    parser.add_argument('--format-only', action='store_true',
                        help='only write prediction PNGs (for test servers)')
    parser.add_argument('--eval-options', nargs='+', action=DictAction, default={},
                        help='imgfile_prefix=DIR (where PNGs go), to_label_id=True|False')
    parser.add_argument('--work-dir', help='folder for the test log (default: <ckpt dir>/test)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries')
    parser.add_argument('--test-set', action='store_true',
                        help='predict the test split (the "val" folder of the test images becomes "test"); '
                             'needs --format-only')
    parser.add_argument('--aug-test', action='store_true',
                        help='multi-scale + flip testing of the original tool: not supported here')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def use_work_dir(args: argparse.Namespace) -> None:
    """``tools/test.py WORK_DIR``: take the config and checkpoint of the work dir (ours or released)."""
    if args.checkpoint is not None:
        raise ValueError(f'{args.config} is a folder: give a work dir alone, or CONFIG CHECKPOINT')
    if not os.path.isdir(args.config):
        raise FileNotFoundError(f'no checkpoint given and {args.config!r} is not a work dir; '
                                'usage: tools/test.py CONFIG CHECKPOINT or tools/test.py WORK_DIR')
    files = resolve_work_dir(args.config)
    args.config, args.checkpoint = files.config, files.checkpoint
    args.work_dir = args.work_dir or files.log_dir
    print(f'Config: {files.config}')
    print(f'Checkpoint: {files.checkpoint}')


def main(argv=None) -> int:
    """Parse arguments and test."""
    args = parse_args(argv)
    try:
        if args.aug_test:
            raise ValueError('--aug-test (scales 0.5-1.75 + flip) is not supported: this package tests '
                             'at the config\'s single scale; run without --aug-test')
        if args.checkpoint is None or os.path.isdir(args.config):
            use_work_dir(args)
        test(args.config, args.checkpoint, eval_metrics=args.eval, show_dir=args.show_dir,
             opacity=args.opacity, format_only=args.format_only, eval_options=args.eval_options,
             work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
             test_set=args.test_set)
    except USER_ERRORS as err:
        if not is_user_error(err):
            raise
        print(f'test.py: error: {describe_error(err)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
