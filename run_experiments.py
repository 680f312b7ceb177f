"""Run a config (or a named list of experiments) in a fresh, uniquely named work dir.

    python run_experiments.py --config configs/demo/source_only_synthetic.py
    python run_experiments.py --exp 1            # named lists from experiments.py (e.g. 3 seeds)
    python run_experiments.py --config CONFIG --cfg-options max_iters=100    # a shorter run

Work dirs are ``work_dirs/<yymmdd_HHMM>_<name>_<5 hex>/`` (the DAFormer-family convention) and hold
the dumped config, logs and checkpoints; ``sh test.sh <work dir>`` evaluates a finished run.
An experiment list may chain stages (ProCA): an entry ``dict(name, tool='tools/x.py', args=[...])`` runs a
tool between trainings, and ``{run:NAME}``, ``{last:NAME}``, ``{best:NAME}`` in tool arguments and
``cfg_options`` values stand for an earlier entry's work dir and its last / best checkpoint.
"""
import argparse
import glob
import os.path as osp
import re
import subprocess
import sys
import uuid
from datetime import datetime
from typing import Dict, List

from mmengine.config import DictAction

from experiments import generate_experiment_cfgs
from mmseg_procl.apis import train
from mmseg_procl.evaluation.run_results import comparison_lines, read_recorded_results
from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error


PLACEHOLDER = re.compile(r'\{(run|last|best):([^{}]+)\}')


def unique_work_dir(name: str, root: str = 'work_dirs') -> str:
    """``<root>/<yymmdd_HHMM>_<name>_<5 hex characters>``."""
    return osp.join(root, f'{datetime.now():%y%m%d_%H%M}_{name}_{uuid.uuid4().hex[:5]}')


def checkpoint_of(work_dir: str, kind: str, name: str) -> str:
    """The last (``iter_<max>.pth``) or best (``best_*.pth``) checkpoint of an earlier run."""
    pattern = 'best_*.pth' if kind == 'best' else 'iter_*.pth'
    found = glob.glob(osp.join(work_dir, pattern))
    if not found:
        raise FileNotFoundError(f'{{{kind}:{name}}}: no {pattern} in the work dir {work_dir} of run {name!r}')
    if kind == 'best':
        return max(found, key=osp.getmtime)
    return max(found, key=lambda p: int(re.findall(r'iter_(\d+)\.pth$', p)[0]))


def resolve(value, work_dirs: Dict[str, str], current: str):
    """``value`` with ``{run:NAME}`` (the absolute work dir of the earlier run NAME of this list),
    ``{last:NAME}`` / ``{best:NAME}`` (its last / best checkpoint) replaced; other values unchanged."""
    if not isinstance(value, str):
        return value

    def replace(match) -> str:
        kind, name = match.group(1), match.group(2)
        if name not in work_dirs or name == current:
            raise KeyError(f'run {current!r} refers to {{{kind}:{name}}}, but no earlier run of this list is '
                           f'called {name!r} (earlier: {sorted(n for n in work_dirs if n != current)})')
        return work_dirs[name] if kind == 'run' else checkpoint_of(work_dirs[name], kind, name)
    return PLACEHOLDER.sub(replace, value)


class ToolFailed(RuntimeError):
    """A tool step of an experiment list failed (its own error message is above)."""


def run_tool(tool: str, args: List[str]) -> None:
    """Run a tools/ script with this interpreter; a failure stops the list."""
    result = subprocess.run([sys.executable, tool, *args])
    if result.returncode != 0:
        raise ToolFailed(f'{tool} exited with status {result.returncode}; the later runs of the list '
                           'depend on it')


def planned_runs(args: argparse.Namespace) -> List[Dict]:
    """The runs asked for: one config, or the list of experiment ``--exp``."""
    if args.config:
        name = osp.splitext(osp.basename(args.config))[0]
        return [dict(name=name, config=args.config, cfg_options=dict(args.cfg_options))]
    runs = generate_experiment_cfgs(args.exp)
    for run in runs:
        if 'tool' not in run:
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
    if args.launcher != 'none' and any('tool' in run for run in runs):
        print('run_experiments.py: error: this experiment list chains tool steps between trainings (ProCA), '
              'which run in one process; run it without --launcher, or run its stages by hand with '
              '`torchrun ... tools/train.py` and the tools (README "ProCA")', file=sys.stderr)
        return 1
    work_dirs: Dict[str, str] = {}
    for run in runs:
        work_dir = work_dirs[run['name']] = osp.abspath(unique_work_dir(run['name'], args.work_root))
        try:
            if 'tool' in run:
                print(f'{run["name"]}: python {run["tool"]} {" ".join(run["args"])}')
                if not args.dry_run:
                    run_tool(run['tool'], [resolve(a, work_dirs, run['name']) for a in run['args']])
                continue
            print(f'{run["name"]}: {run["config"]} {run["cfg_options"] or ""} -> {work_dir}')
            if args.dry_run:
                continue
            options = {k: resolve(v, work_dirs, run['name']) for k, v in run['cfg_options'].items()}
            runner = train(run['config'], work_dir=work_dir, amp=args.amp, cfg_options=options,
                           launcher=args.launcher)
        except USER_ERRORS + (ToolFailed,) as err:
            if not isinstance(err, ToolFailed) and not is_user_error(err):
                raise
            print(f'run_experiments.py: error: {describe_error(err)}', file=sys.stderr)
            return 1
        print(f'finished {run["name"]}: evaluate again with  sh test.sh {work_dir}')
        print_comparison(runner, work_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
