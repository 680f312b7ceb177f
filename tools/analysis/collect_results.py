"""Collect the final validation metrics of training runs and aggregate them per config (mean, std).

    python tools/analysis/collect_results.py work_dirs/*dacs_synthetic* work_dirs/*source_only_synthetic*

Reads each run's dumped config (``<run>/*.py``: config name and seed) and the last validation entry of
``<run>/<timestamp>/vis_data/scalars.json``; prints one line per run and a JSON summary with the mean
and (population) standard deviation of ``--key`` per config; ``--out FILE`` records it (e.g.
``configs/demo/results_synthetic.json``, which the demo runs print themselves next to).
"""
import argparse
import json
import platform
import sys

from mmseg_procl.evaluation.run_results import run_info, summarise


def main(argv=None) -> int:
    """Print per-run values and the aggregated JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', help='run folders (work dirs)')
    parser.add_argument('--key', default='mIoU', help='metric to aggregate (default mIoU)')
    parser.add_argument('--out', help='also write the JSON summary to this file')
    args = parser.parse_args(argv)
    try:
        runs = [run_info(r.rstrip('/'), args.key) for r in args.runs]
    except (FileNotFoundError, KeyError) as err:
        print(f'collect_results.py: error: {err}', file=sys.stderr)
        return 1
    for r in runs:
        print(f'{r["config"]:<32} seed {r["seed"]}  {args.key} {r["value"]:.2f}  ({r["run"]})')
    record = dict(command=' '.join(['python'] + sys.argv), key=args.key,
                  machine=f'{platform.machine()} {platform.processor() or ""}'.strip(),
                  summary=summarise(runs))
    text = json.dumps(record, indent=2)
    print(text)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
