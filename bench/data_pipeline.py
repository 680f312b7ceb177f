"""Benchmark: the training data pipeline of a config against the PNG-decode bound, per sample, one thread.

    python bench/data_pipeline.py [--config configs/daformer/daformer_mitb5_1xb2-40k_gta2cs-512x512.py]
                                  [--num 12] [--repeats 3] [--resized-cache] [--out FILE]

Writes ``--num`` procedural scenes at the benchmarks' sizes (GTA5 1914 x 1052 source, Cityscapes 2048 x 1024
target, ``tools/convert_datasets`` layouts) to a temporary folder, then, with OpenCV and torch on one thread
(as in one data-loader worker), measures per sample (median over ``--repeats`` passes over the files):

- the **decode bound**: ``cv2.imread`` of the image PNG (+ the label PNG when the branch loads labels),
  the work no pipeline of these PNG datasets can avoid;
- the config's **source and target training pipelines** as the dataset runs them (``dataset[i]``), and each
  transform's share (the transforms timed one by one on the same samples);

With ``--resized-cache`` the source branch is measured a second time reading the output of its load / resize
steps from a pre-resized cache (``LoadResizedCache``), against the same decode bound of the original files.

It prints one JSON object: command, machine, versions, file sizes, times in ms, and the ratio
``decode / pipeline`` per branch (1.0 = the pipeline adds nothing to decoding; our target is >= 0.8).
The scenes are synthetic: their PNGs compress better than real photographs (see ``mean_png_mb``), so absolute
decode times are lower than on GTA5 / Cityscapes files; the ratio is the comparable number.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

from common import emit_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def write_trees(root: str, num: int) -> None:
    """GTA5-size source and Cityscapes-size target scenes in the converted layouts."""
    from mmseg_procl.datasets.conversion import convert_cityscapes, convert_gta
    from mmseg_procl.datasets.synthetic_export import export_synthetic
    export_synthetic(os.path.join(root, 'gta'), 'source', num, (1914, 1052), 0)
    export_synthetic(os.path.join(root, 'cityscapes'), 'target', num + 1, (2048, 1024), 1,
                     val_fraction=1 / (num + 1))
    convert_gta(os.path.join(root, 'gta'))
    convert_cityscapes(os.path.join(root, 'cityscapes'))


def branch_configs(config: str, root: str):
    """(name, dataset config) of the config's UDA source and target training branches, rooted at ``root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    uda = cfg.train_dataloader.dataset
    out = []
    for name in ('source', 'target'):
        branch = dict(uda[name])
        folder = {'GTADataset': 'gta', 'CityscapesDataset': 'cityscapes'}.get(branch['type'])
        if folder is None:
            raise ValueError(f'{config}: the {name} branch is a {branch["type"]}; this benchmark writes '
                             'GTA5 and Cityscapes layouts only')
        branch['data_root'] = os.path.join(root, folder)
        out.append((name, branch))
    return out


def cached_branch(branch: dict, root: str) -> dict:
    """The branch with its load / resize head read from a pre-resized cache (built here first)."""
    from mmseg_procl.datasets.resized_cache import build_resized_cache, leading_cacheable_steps
    pipeline = [dict(step) for step in branch['pipeline']]
    steps = leading_cacheable_steps(pipeline)
    cache_dir = os.path.join(root, 'resized_cache')
    build_resized_cache(branch, steps, cache_dir, progress=False)
    head = dict(type='LoadResizedCache', steps=steps, cache_dir=cache_dir)
    return dict(branch, pipeline=[head] + pipeline[len(steps):])


def timed(fn, *args) -> float:
    """Wall time of one call in ms."""
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


def decode(info: dict) -> None:
    """The unavoidable work: decode the image (and the label, if the branch loads it)."""
    cv2.imread(info['img_path'], cv2.IMREAD_COLOR)
    if info.get('seg_map_path'):
        cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)


def transform_times(dataset, index: int) -> dict:
    """ms per transform of the dataset's pipeline on sample ``index``."""
    import copy
    results = copy.deepcopy(dataset.get_data_info(index))
    times = {}
    for transform in dataset.pipeline.transforms:
        start = time.perf_counter()
        results = transform(results)
        name = type(transform).__name__
        times[name] = times.get(name, 0.0) + (time.perf_counter() - start) * 1000
    return times


def measure_branch(dataset, repeats: int) -> dict:
    """Median per-sample decode-bound and pipeline times, per-transform medians, PNG sizes."""
    loads_labels = any(type(t).__name__ == 'LoadAnnotations' for t in dataset.pipeline.transforms)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    if not loads_labels:
        infos = [dict(info, seg_map_path=None) for info in infos]
    decode_ms, pipeline_ms, per_transform = [], [], {}
    for _ in range(repeats):
        for i, info in enumerate(infos):
            decode_ms.append(timed(decode, info))
            np.random.seed(i)
            pipeline_ms.append(timed(dataset.__getitem__, i))
            np.random.seed(i)
            for name, ms in transform_times(dataset, i).items():
                per_transform.setdefault(name, []).append(ms)
    sizes = [os.path.getsize(info['img_path']) / 2 ** 20 for info in infos]
    decode_med, pipe_med = statistics.median(decode_ms), statistics.median(pipeline_ms)
    return dict(samples=len(infos), labels_decoded=loads_labels, mean_png_mb=round(float(np.mean(sizes)), 3),
                decode_bound_ms=round(decode_med, 2), pipeline_ms=round(pipe_med, 2),
                ratio_decode_over_pipeline=round(decode_med / pipe_med, 3),
                per_transform_ms={k: round(statistics.median(v), 2) for k, v in per_transform.items()})


def main(argv=None) -> int:
    """Write the scenes, measure both branches, print (and optionally save) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default='configs/daformer/daformer_mitb5_1xb2-40k_gta2cs-512x512.py')
    parser.add_argument('--num', type=int, default=12, help='scenes per branch (default 12)')
    parser.add_argument('--repeats', type=int, default=3, help='passes over the scenes (default 3)')
    parser.add_argument('--resized-cache', action='store_true',
                        help='also measure the source branch reading a pre-resized cache '
                             '(tools/cache_resized_images.py); its decode bound stays the original files\'')
    parser.add_argument('--out', help='also write the JSON to this file')
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from mmseg_procl.utils import register_all_modules
    register_all_modules()
    with tempfile.TemporaryDirectory() as root:
        print(f'writing {args.num} GTA5-size and Cityscapes-size scenes to {root} ...', file=sys.stderr)
        write_trees(root, args.num)
        from mmseg_procl.registry import DATASETS
        configs = branch_configs(args.config, root)
        if args.resized_cache:
            configs.append(('source (resized cache)', cached_branch(configs[0][1], root)))
        branches = {}
        for name, branch in configs:
            dataset = DATASETS.build(branch)
            print(f'measuring the {name} pipeline ({args.repeats} x {len(dataset)} samples) ...',
                  file=sys.stderr)
            branches[name] = measure_branch(dataset, args.repeats)
    record = dict(command=' '.join(['python'] + sys.argv), config=args.config,
                  machine=f'{platform.machine()} {platform.processor() or ""}'.strip(),
                  python=platform.python_version(), torch=torch.__version__, opencv=cv2.__version__,
                  threads=1, branches=branches)
    emit_json(record, args.out, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
