"""Build the synthetic GTA -> Cityscapes benchmark on disk and check it end to end.

    python tools/prepare_synthetic_benchmark.py data/synthetic

Writes the procedural source scenes in the GTA5 layout (``<out>/gta``) and the target scenes in the
Cityscapes layout with train / val splits (``<out>/cityscapes``), runs the GTA and Cityscapes
converters on them (trainId labels, RCS statistics, split lists), loads every split through
``GTADataset`` / ``CityscapesDataset`` with the full loading pipeline, and prints the class
statistics: pixel share per class in each domain and the rare-class-sampling probability of the
source classes (``class_temp`` as in DAFormer, 0.01).
"""
import argparse
import os.path as osp
import sys

import numpy as np
from tqdm import tqdm

from mmseg_procl.datasets import CityscapesDataset, GTADataset
from mmseg_procl.datasets.class_stats import load_rcs_stats, rcs_class_probabilities
from mmseg_procl.datasets.conversion import convert_cityscapes, convert_gta
from mmseg_procl.datasets.conversion_error import ConversionError
from mmseg_procl.datasets.label_tables import CLASSES, NUM_CLASSES
from mmseg_procl.datasets.synthetic_export import export_synthetic

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='output folder (gta/ and cityscapes/ are created inside)')
    parser.add_argument('--num-source', type=int, default=200, help='source scenes (default 200)')
    parser.add_argument('--num-target', type=int, default=120,
                        help='target scenes, 20%% of them val (default 120)')
    parser.add_argument('--size', default='512x256', help='scene size WxH (default 512x256)')
    parser.add_argument('--seed', type=int, default=0, help='source seed; target uses seed + 1')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite the generated files in a non-empty output folder')
    return parser.parse_args(argv)


def parse_size(text: str):
    """``WxH`` -> (W, H), or exit naming the bad value."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        sys.exit(f'prepare_synthetic_benchmark.py: error: invalid --size {text!r}: expected WxH, '
                 'e.g. 512x256')
    return int(parts[0]), int(parts[1])


def build_domain(args, size) -> tuple:
    """Export and convert both domains; return their roots."""
    gta, cs = osp.join(args.out, 'gta'), osp.join(args.out, 'cityscapes')
    export_synthetic(gta, 'source', args.num_source, size, args.seed, nproc=args.nproc,
                     overwrite=args.overwrite)
    export_synthetic(cs, 'target', args.num_target, size, args.seed + 1, val_fraction=0.2,
                     nproc=args.nproc, overwrite=args.overwrite)
    convert_gta(gta, args.nproc)
    convert_cityscapes(cs, args.nproc)
    return gta, cs


def class_histogram(dataset, desc: str) -> np.ndarray:
    """Pixel count per train id over a dataset, reading every sample through its pipeline."""
    hist = np.zeros(NUM_CLASSES, np.int64)
    for i in tqdm(range(len(dataset)), desc=desc, unit='img'):
        label = dataset[i]['data_samples'].gt_sem_seg.data.numpy().ravel()
        hist += np.bincount(label[label < NUM_CLASSES], minlength=NUM_CLASSES)
    return hist


def load_splits(gta: str, cs: str) -> dict:
    """Build the three datasets a source-only / UDA config uses."""
    return dict(
        source=GTADataset(data_root=gta, pipeline=LOAD,
                          data_prefix=dict(img_path='images', seg_map_path='labels')),
        target_train=CityscapesDataset(data_root=cs, pipeline=LOAD, data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train')),
        target_val=CityscapesDataset(data_root=cs, pipeline=LOAD, data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val')))


def print_report(gta: str, splits: dict, hists: dict) -> None:
    """Print split sizes and the per-class table."""
    print('\n' + ', '.join(f'{k}: {len(v)} images' for k, v in splits.items()))
    classes, probs = rcs_class_probabilities(load_rcs_stats(gta).sample_class_stats, 0.01)
    rcs = dict(zip(classes, probs.tolist()))
    print(f'{"class":<14}{"source %":>10}{"target %":>10}{"RCS P(c)":>10}')
    for c, name in enumerate(CLASSES):
        shares = [100.0 * hists[k][c] / max(hists[k].sum(), 1) for k in ('source', 'target_train')]
        print(f'{name:<14}{shares[0]:>10.2f}{shares[1]:>10.2f}{rcs.get(c, 0.0):>10.4f}')


def main(argv=None) -> int:
    """Build, convert, load and report."""
    args = parse_args(argv)
    size = parse_size(args.size)
    try:
        gta, cs = build_domain(args, size)
    except (ConversionError, FileExistsError, ValueError) as err:
        print(f'prepare_synthetic_benchmark.py: error: {err}', file=sys.stderr)
        return 1
    splits = load_splits(gta, cs)
    hists = {k: class_histogram(v, k) for k, v in splits.items()}
    print_report(gta, splits, hists)
    print(f'\nsource (GTA layout): {gta}\ntarget (Cityscapes layout): {cs}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
