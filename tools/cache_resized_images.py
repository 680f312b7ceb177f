"""Write the pre-resized cache of a training branch (load, labels, resize done once) and print how to use it.

    python tools/cache_resized_images.py CONFIG [--branch source|target] [--cache-dir DIR] [--workers N]

Runs the leading ``LoadImageFromFile``, ``LoadAnnotations``, ``Resize`` of the branch's training pipeline on
every file and writes the results as lossless PNGs to ``<cache dir>/<key>/`` (default cache dir:
``<data_root>/resized_cache``), the key hashing those steps (docs/data.md §4, "Pre-resized cache").  If
the pipeline already starts with ``LoadResizedCache``, its ``steps`` and ``cache_dir`` are used.  A
complete cache is left untouched; the originals are only read.  Then replace the three steps in the
config by the printed ``LoadResizedCache`` line.  The cache pays off for pipelines that shrink images
(DAFormer's GTA5 1914 x 1052 -> 1280 x 720); HRDA's upscaling pipelines would cache larger files.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

from mmseg_procl.datasets.resized_cache import build_resized_cache, leading_cacheable_steps
from mmseg_procl.utils import register_all_modules


def branch_dataset(cfg: Config, branch: str) -> dict:
    """The training dataset config of ``branch`` (a UDADataset's source / target, else the dataset)."""
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') == 'UDADataset':
        return dict(dataset[branch])
    if branch != 'source':
        raise SystemExit(f'--branch {branch}: the training dataset is a {dataset.get("type")}, not a '
                         'UDADataset; only --branch source applies')
    return dict(dataset)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--branch', default='source', choices=['source', 'target'])
    parser.add_argument('--cache-dir', help='default: <data_root>/resized_cache')
    parser.add_argument('--workers', type=int, default=1, help='processes (default 1)')
    args = parser.parse_args(argv)
    register_all_modules()
    dataset = branch_dataset(Config.fromfile(args.config), args.branch)
    pipeline = [dict(step) for step in dataset.get('pipeline', [])]
    if pipeline and pipeline[0].get('type') == 'LoadResizedCache':
        steps, cache_dir = pipeline[0]['steps'], pipeline[0]['cache_dir']
        if args.cache_dir and osp.realpath(args.cache_dir) != osp.realpath(cache_dir):
            raise SystemExit(f'--cache-dir {args.cache_dir}: the {args.branch} pipeline already reads '
                             f'LoadResizedCache(cache_dir={cache_dir!r}); drop --cache-dir or change the '
                             'config')
    else:
        try:
            steps = leading_cacheable_steps(pipeline)
        except ValueError as error:
            raise SystemExit(f'{args.config}: {args.branch} pipeline: {error}') from None
        cache_dir = args.cache_dir or osp.join(dataset.get('data_root') or '.', 'resized_cache')
    try:
        out = build_resized_cache(dataset, steps, cache_dir, workers=args.workers)
    except (FileExistsError, ValueError) as error:
        raise SystemExit(str(error)) from None
    state = 'already complete, left as it is' if out['skipped'] else 'written'
    print(f"resized cache {state}: {out['files']} files in {out['folder']}")
    print('use it: replace the first steps of the config\'s '
          f'{args.branch} pipeline ({", ".join(s["type"] for s in steps)}) by')
    print(f"    dict(type='LoadResizedCache', steps={steps!r}, cache_dir={cache_dir!r}),")
    return 0


if __name__ == '__main__':
    sys.exit(main())
