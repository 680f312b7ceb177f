"""Final validation metrics of finished runs, their aggregation, and comparison with recorded results.

A run folder (work dir) holds one dumped config (``<run>/*.py``) and the scalars of every logged
step in ``<run>/<timestamp>/vis_data/scalars.json``; the last entry carrying the metric is the
run's result.  ``tools/analysis/collect_results.py`` aggregates runs per config (mean, population
std) and can record the summary as JSON; ``run_experiments.py`` prints a finished run next to such a
record (e.g. the demo configs' ``reference_results``).
"""
import glob
import json
import os.path as osp
import statistics
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
    return dict(run=run_dir, config=osp.splitext(osp.basename(configs[0]))[0],
                seed=cfg.randomness.get('seed'), value=metrics[key], step=metrics.get('step'))


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


def read_recorded_results(path: str) -> Dict:
    """A JSON record written by ``collect_results.py --out``; errors name the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'recorded results not found: {path}')
    with open(path, encoding='utf-8') as f:
        record = json.load(f)
    if not isinstance(record, dict) or not isinstance(record.get('summary'), dict):
        raise ValueError(f'{path}: expected a JSON object with a "summary" (collect_results.py --out)')
    return record


def comparison_lines(run_dir: str, record: Dict, record_path: str, key: str = 'mIoU') -> List[str]:
    """This run's ``key`` next to the recorded mean +- std of every config in ``record`` (short).

    When the run's length differs from the recorded runs' (e.g. a ``max_iters=N`` run), both
    lengths are printed so that the numbers are not compared as equals.
    """
    this = run_info(run_dir, key)
    steps = sorted({s.get('step') for s in record['summary'].values() if s.get('step')})
    differs = steps and this['step'] not in steps
    label = f'this run ({this["config"]}, seed {this["seed"]}'
    label += f', {this["step"]} iterations)' if differs else ')'
    rows = [(label, f'{this["value"]:6.2f}')]
    for name, s in record['summary'].items():
        rows.append((f'{name} ({len(s["values"])} seeds)', f'{s["mean"]:6.2f} +- {s["std"]:.2f}'))
    width = max(len(name) for name, _ in rows)
    length = f' (recorded at {", ".join(map(str, steps))} iterations)' if differs else ''
    return [f'target {key}, this run vs {record_path}{length}:'] + \
        [f'  {name:<{width}}  {value}' for name, value in rows]
