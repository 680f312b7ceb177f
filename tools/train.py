"""Train a segmentor / UDA algorithm from a Python config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT] | --overwrite] [--amp]
                          [--cfg-options key=value ...] [--launcher none|pytorch]
    python tools/train.py CONFIG --cfg-options max_iters=100      # a shorter run, same shape
    torchrun --nproc_per_node 2 tools/train.py CONFIG --launcher pytorch     # DDP (gloo on CPU)
"""
import argparse
import sys

from mmengine.config import DictAction

from mmseg_procl.apis import train
from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Train from a config file.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const=True, default=False, metavar='CKPT',
                        help='resume the latest checkpoint of the work dir, or CKPT')
    parser.add_argument('--overwrite', action='store_true',
                        help='start a new run in a work dir that already holds checkpoints')
    parser.add_argument('--amp', action='store_true', help='bf16 automatic mixed precision')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. optim_wrapper.optimizer.lr=1e-4; '
                             'max_iters=N sets the run length with schedule and intervals')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='job launcher (pytorch = torchrun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Parse arguments and train."""
    args = parse_args(argv)
    if args.resume and args.overwrite:
        print('train.py: error: --resume continues a run, --overwrite starts a new one: give one',
              file=sys.stderr)
        return 2
    try:
        train(args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
              cfg_options=args.cfg_options, launcher=args.launcher, overwrite=args.overwrite)
    except USER_ERRORS as err:
        if not is_user_error(err):
            raise
        print(f'train.py: error: {describe_error(err)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
