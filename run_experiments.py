"""Run a config (or a named list of experiments) in a fresh, uniquely named work dir.

    python run_experiments.py --config configs/demo/source_only_synthetic.py
    python run_experiments.py --exp 1            # named lists from experiments.py (e.g. 3 seeds)
    python run_experiments.py --config CONFIG --cfg-options max_iters=100    # a shorter run

Work dirs are ``work_dirs/<yymmdd_HHMM>_<name>_<5 hex>/`` (the DAFormer-family convention) and hold
the dumped config, logs and checkpoints; ``sh test.sh <work dir>`` evaluates a finished run.
"""
import argparse
import os.path as osp
import sys
import uuid
from datetime import datetime
from typing import Dict, List

from mmengine.config import DictAction

from experiments import generate_experiment_cfgs
from mmseg_procl.apis import train
from mmseg_procl.evaluation.run_results import comparison_lines, read_recorded_results
from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error


def unique_work_dir(name: str, root: str = 'work_dirs') -> str:
    """``<root>/<yymmdd_HHMM>_<name>_<5 hex characters>``."""
    return osp.join(root, f'{datetime.now():%y%m%d_%H%M}_{name}_{uuid.uuid4().hex[:5]}')


def planned_runs(args: argparse.Namespace) -> List[Dict]:
    """The runs asked for: one config, or the list of experiment ``--exp``."""
    if args.config:
        name = osp.splitext(osp.basename(args.config))[0]
        return [dict(name=name, config=args.config, cfg_options=dict(args.cfg_options))]
    runs = generate_experiment_cfgs(args.exp)
    for run in runs:
        run['cfg_options'] = {**run['cfg_options'], **args.cfg_options}
    return runs


def print_comparison(runner, work_dir: str) -> None:
    """Print the run's final mIoU next to the config's ``reference_results`` record, if it names one."""
    record_path = runner.cfg.get('reference_results')
    if not record_path:
        return
    try:
        record = read_recorded_results(record_path)
        print('\n'.join(comparison_lines(work_dir, record, record_path)))
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f'(no comparison: {err})')


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--config', help='config file to train')
    group.add_argument('--exp', type=int, help='experiment id from experiments.py')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries of every run')
    parser.add_argument('--amp', action='store_true', help='bf16 automatic mixed precision')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--work-root', default='work_dirs', help='parent of the run folders')
    parser.add_argument('--dry-run', action='store_true', help='only list the runs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Train every planned run in its own work dir."""
    args = parse_args(argv)
    try:
        runs = planned_runs(args)
    except KeyError as err:
        print(f'run_experiments.py: error: {err.args[0]}', file=sys.stderr)
        return 1
    for run in runs:
        work_dir = unique_work_dir(run['name'], args.work_root)
        print(f'{run["name"]}: {run["config"]} {run["cfg_options"] or ""} -> {work_dir}')
        if args.dry_run:
            continue
        try:
            runner = train(run['config'], work_dir=work_dir, amp=args.amp,
                           cfg_options=run['cfg_options'], launcher=args.launcher)
        except USER_ERRORS as err:
            if not is_user_error(err):
                raise
            print(f'run_experiments.py: error: {describe_error(err)}', file=sys.stderr)
            return 1
        print(f'finished {run["name"]}: evaluate again with  sh test.sh {work_dir}')
        print_comparison(runner, work_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
