"""End to end: synthetic export -> converters -> datasets, with RCS statistics and idempotence."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

from mmseg_procl.datasets import CityscapesDataset, GTADataset
from mmseg_procl.datasets.label_tables import build_lut, cityscapes_id_to_trainid
from mmseg_procl.datasets.synthetic_scenes import render_scene, scene_seed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]


def run_tool(*args):
    out = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def tree_digest(root):
    digest = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                digest[os.path.relpath(path, root)] = (hashlib.sha1(f.read()).hexdigest(),
                                                       os.stat(path).st_mtime_ns)
    return digest


def test_export_convert_load_and_rerun(tmp_path):
    gta, cs = str(tmp_path / 'gta'), str(tmp_path / 'cs')
    run_tool('tools/make_synthetic_data.py', gta, '--style', 'source', '--num', '4', '--size', '64x32')
    run_tool('tools/make_synthetic_data.py', cs, '--style', 'target', '--num', '5', '--size', '64x32',
             '--seed', '3', '--val-fraction', '0.4')
    run_tool('tools/convert_datasets/gta.py', gta)
    run_tool('tools/convert_datasets/cityscapes.py', cs, '--nproc', '2')

    ds = GTADataset(data_root=gta, data_prefix=dict(img_path='images', seg_map_path='labels'),
                    pipeline=LOAD)
    lut = build_lut(cityscapes_id_to_trainid())
    labels = [ds[i]['data_samples'].gt_sem_seg.data[0].numpy() for i in range(len(ds))]
    for i, label in enumerate(labels):            # exported file i+1 is scene_seed(0, i)
        _, ids = render_scene('source', scene_seed(0, i), (64, 32))
        np.testing.assert_array_equal(label, lut[ids])

    with open(os.path.join(gta, 'sample_class_stats.json')) as f:
        stats = json.load(f)
    for entry, label in zip(stats, labels):
        counts = np.bincount(label.ravel(), minlength=256)
        expected = {str(c): int(counts[c]) for c in range(19) if counts[c]}
        assert {k: v for k, v in entry.items() if k != 'file'} == expected
        assert entry['file'].endswith('_labelTrainIds.png')

    val = CityscapesDataset(data_root=cs, ann_file='val.txt',
                            data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))
    assert len(val) == 2

    before = {r: tree_digest(r) for r in (gta, cs)}
    run_tool('tools/convert_datasets/gta.py', gta, '--nproc', '2')
    run_tool('tools/convert_datasets/cityscapes.py', cs)
    assert {r: tree_digest(r) for r in (gta, cs)} == before      # same bytes, nothing rewritten


def test_prepare_synthetic_benchmark_reports_all_splits(tmp_path):
    out = run_tool('tools/prepare_synthetic_benchmark.py', str(tmp_path / 'bench'), '--num-source', '6',
                   '--num-target', '5', '--size', '64x32')
    assert 'source: 6 images, target_train: 4 images, target_val: 1 images' in out
    rows = [line.split() for line in out.splitlines() if line.startswith(('road', 'sky', 'car'))]
    assert len(rows) == 3 and all(len(r) == 4 for r in rows)
    probs = [float(line.split()[-1]) for line in out.splitlines()
             if line[:14].strip() in {'road', 'sidewalk', 'building', 'car', 'sky', 'vegetation'}]
    assert all(0.0 <= p <= 1.0 for p in probs)
    again = subprocess.run([sys.executable, 'tools/prepare_synthetic_benchmark.py', str(tmp_path / 'bench')],
                           cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 1 and 'is not empty' in again.stderr
