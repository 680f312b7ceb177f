"""Benchmark: host memory of the UDA training sampler, mmengine's InfiniteSampler vs UDAInfiniteSampler.

    python bench/sampler_memory.py [--sizes 1000x1000 10000x1000 24966x2975] [--out FILE]

For each ``|source| x |target|`` a child process builds a ``UDADataset`` over two lazy datasets of those
lengths (items made on demand, nothing stored) and draws the first index through each sampler; the
number is the growth of the child's peak resident set size (MiB) from just before the sampler is built
to after the first index (mmengine materialises its permutation at that point, in the main process of
every rank, and again at every pass).  24966 x 2975 is GTA5 x Cityscapes train.  Prints one JSON object.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys

import torch

from common import emit_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


class LazyDataset:
    """``n`` items made on demand: a 1x1x1 image of the index."""

    metainfo = dict(classes=('a', 'b'), palette=[[0, 0, 0], [1, 1, 1]])

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        from mmseg_procl.structures import SegDataSample
        return dict(inputs=torch.zeros(1, 1, 1), data_samples=SegDataSample())


def peak_mib() -> float:
    """This process's peak resident set size in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(sampler: str, sources: int, targets: int) -> dict:
    """Peak-RSS growth of building ``sampler`` over the product and drawing its first index."""
    from mmengine.dataset import InfiniteSampler
    from mmseg_procl.datasets import UDADataset, UDAInfiniteSampler
    dataset = UDADataset(source=LazyDataset(sources), target=LazyDataset(targets))
    before = peak_mib()
    cls = InfiniteSampler if sampler == 'InfiniteSampler' else UDAInfiniteSampler
    first = next(iter(cls(dataset, seed=0)))
    return dict(peak_rss_growth_mib=round(peak_mib() - before, 1), first_index=str(first))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['1000x1000', '10000x1000', '24966x2975'])
    parser.add_argument('--out', help='also write the JSON to this file')
    parser.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]))))
        return 0
    rows = []
    for size in args.sizes:
        sources, targets = (int(v) for v in size.split('x'))
        row = dict(source=sources, target=targets, product=sources * targets)
        for sampler in ('InfiniteSampler', 'UDAInfiniteSampler'):
            print(f'{size}: {sampler} ...', file=sys.stderr, flush=True)
            out = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', sampler,
                                  str(sources), str(targets)], capture_output=True, text=True, cwd=REPO)
            if out.returncode != 0:
                raise SystemExit(out.stderr[-2000:])
            row[sampler] = json.loads(out.stdout.strip().splitlines()[-1])['peak_rss_growth_mib']
        rows.append(row)
    record = dict(command=' '.join(['python', 'bench/sampler_memory.py'] + (argv or sys.argv[1:])),
                  machine=platform.platform(), python=platform.python_version(), torch=torch.__version__,
                  unit='MiB of peak resident memory added by building the sampler and drawing one index',
                  rows=rows)
    emit_json(record, args.out, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
