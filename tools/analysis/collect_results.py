"""Collect the final validation metrics of training runs and aggregate them per config (mean, std).

    python tools/analysis/collect_results.py work_dirs/*dacs_synthetic* work_dirs/*source_only_synthetic*

Reads each run's dumped config (``<run>/*.py``: config name and seed) and the last validation entry of
``<run>/<timestamp>/vis_data/scalars.json``; prints one line per run and a JSON summary with the mean
and (population) standard deviation of ``--key`` per config.
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import sys
from typing import Dict, List, Optional

from mmengine.config import Config


def last_metrics(run_dir: str, key: str) -> Optional[Dict]:
    """The last scalars.json entry of a run that holds ``key`` (None when there is none)."""
    found = None
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path, encoding='utf-8') as f:
            for line in f:
                entry = json.loads(line)
                if key in entry:
                    found = entry
    return found


def run_info(run_dir: str, key: str) -> Dict:
    """Config name, seed and metric of one run; errors name the run folder."""
    configs = glob.glob(osp.join(run_dir, '*.py'))
    if len(configs) != 1:
        raise FileNotFoundError(f'{run_dir}: expected one dumped config (*.py), found {len(configs)}')
    cfg = Config.fromfile(configs[0])
    metrics = last_metrics(run_dir, key)
    if metrics is None:
        raise KeyError(f'{run_dir}: no validation entry with {key!r} in vis_data/scalars.json')
    return dict(run=run_dir, config=osp.splitext(osp.basename(configs[0]))[0], seed=cfg.randomness.get('seed'),
                value=metrics[key], step=metrics.get('step'))


def summarise(runs: List[Dict]) -> Dict:
    """Per config: values by seed, mean and population std."""
    summary: Dict[str, Dict] = {}
    for r in runs:
        summary.setdefault(r['config'], dict(values={}, step=r['step']))['values'][r['seed']] = r['value']
    for s in summary.values():
        vals = list(s['values'].values())
        s['mean'] = round(statistics.fmean(vals), 2)
        s['std'] = round(statistics.pstdev(vals), 2) if len(vals) > 1 else 0.0
    return summary


def main(argv=None) -> int:
    """Print per-run values and the aggregated JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', help='run folders (work dirs)')
    parser.add_argument('--key', default='mIoU', help='metric to aggregate (default mIoU)')
    args = parser.parse_args(argv)
    try:
        runs = [run_info(r.rstrip('/'), args.key) for r in args.runs]
    except (FileNotFoundError, KeyError) as err:
        print(f'collect_results.py: error: {err}', file=sys.stderr)
        return 1
    for r in runs:
        print(f'{r["config"]:<32} seed {r["seed"]}  {args.key} {r["value"]:.2f}  ({r["run"]})')
    print(json.dumps(dict(command=' '.join(sys.argv), key=args.key, summary=summarise(runs)), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
