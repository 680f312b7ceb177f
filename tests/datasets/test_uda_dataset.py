"""UDADataset: source / target pairing and Rare Class Sampling (docs/methods.md §1.4)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_procl.datasets import GTADataset, SyntheticDrivingDataset, UDADataset
from mmseg_procl.datasets.class_stats import (RcsStats, count_class_pixels, rcs_class_probabilities,
                                              write_class_stats)
from mmseg_procl.datasets.label_tables import CLASSES
from mmseg_procl.datasets.transforms import PackSegInputs, RandomFlip
from mmseg_procl.registry import DATASETS

A, B, C = 0, 5, 12          # road, pole, rider
LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
PACK = [dict(type='PackSegInputs')]
# SyntheticDrivingDataset hands its pipeline to mmengine unbuilt (dict types resolve only under the
# Runner's default scope), so the in-memory datasets get transform objects.
PACK_OBJ = [PackSegInputs()]
# (file stem, {class: pixels}) of an 8x8 label; the rest is ignore (255).  With min_pixels=10:
# A is eligible in 00001 (40) and 00002 (11), not in 00004 (exactly 10) nor 00003 (4);
# B only in 00002 (30; 00003 has exactly 10); C in 00003 (20) and 00004 (11).
LAYOUT = [('00001', {A: 40, B: 4}), ('00002', {B: 30, C: 4, A: 11}),
          ('00003', {C: 20, A: 4, B: 10}), ('00004', {C: 11, A: 10})]


def synthetic(style, n, **kwargs):
    """Tiny in-memory dataset (16x8 scenes) with a packing pipeline."""
    return SyntheticDrivingDataset(style=style, num_samples=n, img_size=(16, 8), seed=3,
                                   pipeline=PACK_OBJ, **kwargs)


def write_gta_tree(root, labels, extra_stats_files=()):
    """GTA-layout tree (image value = file number) + the three RCS statistics files."""
    os.makedirs(root / 'images', exist_ok=True)
    os.makedirs(root / 'labels', exist_ok=True)
    stats = []
    for stem, label in labels.items():
        cv2.imwrite(str(root / 'images' / f'{stem}.png'),
                    np.full(label.shape + (3,), int(stem), np.uint8))
        seg_path = str(root / 'labels' / f'{stem}_labelTrainIds.png')
        Image.fromarray(label).save(seg_path)
        stats.append(count_class_pixels(label, seg_path))
    stats += [{A: 50, 'file': str(root / 'labels' / name)} for name in extra_stats_files]
    write_class_stats(str(root), stats)
    return root


def layout_label(counts):
    """8x8 uint8 label holding exactly ``counts[c]`` pixels of each class, ignore elsewhere."""
    flat = np.full(64, 255, np.uint8)
    start = 0
    for c, n in counts.items():
        flat[start:start + n] = c
        start += n
    return flat.reshape(8, 8)


@pytest.fixture
def class_draws(monkeypatch):
    """List that records every RCS class draw (``np.random.choice`` calls with ``p``)."""
    drawn = []
    original_choice = np.random.choice

    def spy(*args, **kwargs):
        """Call the real ``np.random.choice`` and record class draws."""
        out = original_choice(*args, **kwargs)
        if kwargs.get('p') is not None:
            drawn.append(int(out))
        return out

    monkeypatch.setattr(np.random, 'choice', spy)
    return drawn


@pytest.fixture
def layout_root(tmp_path):
    """GTA-layout tree of the four ``LAYOUT`` labels with their statistics files."""
    return write_gta_tree(tmp_path, {stem: layout_label(counts) for stem, counts in LAYOUT})


def gta(root, pipeline):
    """GTADataset over a fixture tree."""
    return GTADataset(data_root=str(root), data_prefix=dict(img_path='images', seg_map_path='labels'),
                      pipeline=pipeline)


def rcs(**kwargs):
    """An RCS config with the DAFormer keys."""
    cfg = dict(min_pixels=10, class_temp=0.1, min_crop_ratio=0.0)
    cfg.update(kwargs)
    return cfg


def stem_of(sample):
    """Fixture file stem of a packed source sample."""
    return osp.basename(sample['data_samples'].img_path)[:-len('.png')]


# ----------------------------------------------------------------------------- pairing
def test_pairing_length_and_index_mapping():
    source, target = synthetic('source', 3), synthetic('target', 2)
    ds = UDADataset(source=source, target=target)
    assert len(ds) == 6
    src = [source[i]['inputs'] for i in range(3)]
    tgt = [target[i]['inputs'] for i in range(2)]
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert not torch.equal(src[i], src[j])
    assert not torch.equal(tgt[0], tgt[1])
    for idx in range(6):
        item = ds[idx]
        assert set(item) == {'source', 'target'}
        found_src = [k for k in range(3) if torch.equal(item['source']['inputs'], src[k])]
        found_tgt = [k for k in range(2) if torch.equal(item['target']['inputs'], tgt[k])]
        assert found_src == [idx // 2] and found_tgt == [idx % 2]
        assert item['source']['data_samples'].sample_idx == idx // 2
        assert item['target']['data_samples'].sample_idx == idx % 2
    with pytest.raises(IndexError, match='index 6 out of range'):
        ds[6]


def test_target_labels_dropped_source_labels_kept():
    target = synthetic('target', 2)
    assert 'gt_sem_seg' in target[1]['data_samples']
    item = UDADataset(source=synthetic('source', 3), target=target)[3]
    assert 'gt_sem_seg' not in item['target']['data_samples']
    label = item['source']['data_samples'].gt_sem_seg.data
    assert label.shape == (1, 8, 16) and label.dtype == torch.int64
    assert item['target']['data_samples'].img_path == 'synthetic://target/00001.png'


def test_built_from_configs_with_source_metainfo():
    cfg = dict(type='UDADataset',
               source=dict(type='SyntheticDrivingDataset', style='source', num_samples=2,
                           img_size=(16, 8), pipeline=PACK_OBJ),
               target=dict(type='SyntheticDrivingDataset', style='target', num_samples=3,
                           img_size=(16, 8), pipeline=PACK_OBJ))
    ds = DATASETS.build(cfg)
    assert isinstance(ds, UDADataset) and len(ds) == 6
    assert ds.metainfo['classes'] == CLASSES and len(ds.metainfo['palette']) == 19
    assert ds.full_init() is None and ds.ignore_index == 255


@pytest.mark.parametrize('target_kwargs, key', [
    (dict(metainfo=dict(classes=CLASSES[:18])), 'classes'),        # a class subset (label map) of 18
    (dict(metainfo=dict(palette=[[0, 0, 0]] * 19)), 'palette'),
    (dict(ignore_index=254), 'ignore_index'),
])
def test_label_space_mismatch_is_an_error(target_kwargs, key):
    with pytest.raises(ValueError, match=rf'source \(SyntheticDrivingDataset\) and target '
                                         rf'\(SyntheticDrivingDataset\) must have identical {key}'):
        UDADataset(source=synthetic('source', 1), target=synthetic('target', 1, **target_kwargs))


# ----------------------------------------------------------------------------- RCS setup
def test_rcs_eligible_files_strictly_greater_than_min_pixels(layout_root):
    ds = UDADataset(source=gta(layout_root, LOAD + PACK), target=synthetic('target', 2),
                    rare_class_sampling=rcs())
    assert ds.samples_with_class == {
        A: ['00001_labelTrainIds.png', '00002_labelTrainIds.png'],   # 00004 has exactly 10
        B: ['00002_labelTrainIds.png'],                              # 00003 has exactly 10
        C: ['00003_labelTrainIds.png', '00004_labelTrainIds.png']}   # 00004 has 11
    assert ds.file_to_idx == {f'0000{i}_labelTrainIds.png': i - 1 for i in range(1, 5)}
    assert ds.rcs_classes == [C, B, A]                    # totals 35, 44, 65
    assert len(ds) == 4 * 2
    ds = UDADataset(source=gta(layout_root, LOAD + PACK), target=synthetic('target', 2),
                    rare_class_sampling=rcs(min_pixels=11))
    assert ds.samples_with_class[A] == ['00001_labelTrainIds.png']
    assert ds.samples_with_class[C] == ['00003_labelTrainIds.png']
    with pytest.raises(ValueError, match='RCS class 12 has no source file with more than '
                                         'min_pixels=20 pixels'):      # C has at most exactly 20
        UDADataset(source=gta(layout_root, LOAD + PACK), target=synthetic('target', 2),
                   rare_class_sampling=rcs(min_pixels=20))


def test_rcs_stats_file_missing_from_dataset_is_an_error(tmp_path):
    root = write_gta_tree(tmp_path, {'00001': layout_label({A: 40, B: 20})},
                          extra_stats_files=['09999_labelTrainIds.png'])
    with pytest.raises(ValueError, match="label file '09999_labelTrainIds.png' .* not in the source "
                                         'dataset GTADataset'):
        UDADataset(source=gta(root, LOAD + PACK), target=synthetic('target', 1),
                   rare_class_sampling=rcs())


def test_rcs_config_keys_and_missing_data_root():
    with pytest.raises(KeyError, match=r"missing \['min_crop_ratio'\], unknown \['temp'\]"):
        UDADataset(source=synthetic('source', 1), target=synthetic('target', 1),
                   rare_class_sampling=dict(min_pixels=1, class_temp=0.1, temp=1))
    with pytest.raises(ValueError, match='SyntheticDrivingDataset has no data_root; pass rcs_stats'):
        UDADataset(source=synthetic('source', 1), target=synthetic('target', 1),
                   rare_class_sampling=rcs())


def test_rcs_with_in_memory_stats(class_draws):
    source = synthetic('source', 3)
    per_file = []
    for i in range(3):
        info = source.get_data_info(i)
        counts = count_class_pixels(info['gt_seg_map'], info['seg_map_path'])
        per_file.append((counts.pop('file'), counts))
    with_class = {}
    for file, counts in per_file:
        for c, n in counts.items():
            with_class.setdefault(c, []).append((file, n))
    ds = UDADataset(source=source, target=synthetic('target', 2),
                    rare_class_sampling=rcs(min_pixels=0, class_temp=1.0),
                    rcs_stats=RcsStats(per_file, with_class))
    assert ds.file_to_idx == {f'{i:05d}_labelTrainIds.png': i for i in range(3)}
    np.random.seed(0)
    for _ in range(4):
        label = ds[0]['source']['data_samples'].gt_sem_seg.data
        assert int((label == class_draws[-1]).sum()) > 0     # no crop: the whole label


# ----------------------------------------------------------------------------- RCS sampling
def test_rcs_class_frequencies_and_eligible_files(layout_root, class_draws):
    ds = UDADataset(source=gta(layout_root, LOAD + PACK), target=gta(layout_root, LOAD + PACK),
                    rare_class_sampling=rcs())
    classes, probs = rcs_class_probabilities(
        [(None, counts) for _, counts in LAYOUT], temperature=0.1)
    assert ds.rcs_classes == classes
    np.testing.assert_allclose(ds.rcs_classprob, probs)
    assert 0.05 < probs.min() and probs.max() < 0.8                 # moderate probabilities
    drawn = class_draws
    np.random.seed(1)
    n = 2000
    pairs, targets = [], []
    for k in range(n):
        item = ds[k % len(ds)]
        pairs.append((drawn[-1], stem_of(item['source'])))
        assert 'gt_sem_seg' not in item['target']['data_samples']
        targets.append(int(stem_of(item['target'])) - 1)
    assert len(drawn) == n
    freq = np.bincount([classes.index(c) for c, _ in pairs], minlength=3) / n
    se = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(freq - probs) < 4 * se), (freq, probs)
    eligible = {c: {f[:5] for f in files} for c, files in ds.samples_with_class.items()}
    assert all(stem in eligible[c] for c, stem in pairs)
    # files are uniform within a class: A's two files ~50/50
    a_files = [stem for c, stem in pairs if c == A]
    share = a_files.count('00001') / len(a_files)
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / len(a_files))
    # the target is uniform over the target dataset, independent of idx
    counts = np.bincount(targets, minlength=4) / n
    assert np.all(np.abs(counts - 1 / 4) < 4 * np.sqrt(3 / 16 / n))


def test_rcs_same_seed_same_sequence(layout_root):
    pipeline = LOAD + [dict(type='RandomFlip', prob=0.5)] + PACK
    ds = UDADataset(source=gta(layout_root, pipeline),
                    target=SyntheticDrivingDataset(style='target', num_samples=4, img_size=(16, 8),
                                                   pipeline=[RandomFlip(prob=0.5)] + PACK_OBJ),
                    rare_class_sampling=rcs())

    def sequence(seed):
        """Source stems, flips, target indices and target images of 30 draws after ``seed``."""
        np.random.seed(seed)
        items = [ds[0] for _ in range(30)]
        return ([stem_of(it['source']) for it in items],
                [it['source']['data_samples'].flip for it in items],
                [it['target']['data_samples'].sample_idx for it in items],
                torch.stack([it['target']['inputs'] for it in items]))

    first, again, other = sequence(7), sequence(7), sequence(8)
    assert first[:3] == again[:3] and torch.equal(first[3], again[3])
    assert first[:3] != other[:3]


class LoadCounter:
    """Pipeline step that records the class-``c`` pixels of every crop it sees."""

    def __init__(self, c):
        self.c = c
        self.pixels = []

    def __call__(self, results):
        self.pixels.append(int((results['gt_seg_map'] == self.c).sum()))
        return results


@pytest.fixture
def corner_root(tmp_path):
    """One 16x16 label: class C in the 2x2 top-left corner, class A elsewhere."""
    label = np.full((16, 16), A, np.uint8)
    label[:2, :2] = C
    return write_gta_tree(tmp_path, {'00001': label})


def corner_dataset(root, crop_size, min_crop_ratio):
    """RCS dataset over ``corner_root`` (class_temp 0.01: always draws C) and its load counter."""
    counter = LoadCounter(C)
    pipeline = LOAD + [dict(type='RandomCrop', crop_size=crop_size), counter] + PACK
    ds = UDADataset(source=gta(root, pipeline), target=synthetic('target', 1),
                    rare_class_sampling=dict(min_pixels=3, class_temp=0.01,
                                             min_crop_ratio=min_crop_ratio))
    assert ds.rcs_classes == [C, A] and ds.rcs_classprob[0] == pytest.approx(1.0)
    return ds, counter


def test_rcs_crop_check_gives_up_after_ten_reloads(corner_root):
    ds, counter = corner_dataset(corner_root, (8, 8), min_crop_ratio=2.0)   # needs > 6 of 4 px
    np.random.seed(0)
    item = ds[0]
    assert len(counter.pixels) == 11                                         # 1 + 10 reloads
    assert int((item['source']['data_samples'].gt_sem_seg.data == C).sum()) == counter.pixels[-1]


def test_rcs_crop_check_stops_at_first_passing_crop(corner_root):
    ds, counter = corner_dataset(corner_root, (16, 16), min_crop_ratio=0.5)  # full crop: 4 > 1.5
    np.random.seed(0)
    ds[0]
    assert counter.pixels == [4]
    ds, counter = corner_dataset(corner_root, (8, 8), min_crop_ratio=0.5)    # needs >= 2 of 4 px
    np.random.seed(0)
    loads = []
    for _ in range(100):
        before = len(counter.pixels)
        item = ds[0]
        seen = counter.pixels[before:]
        loads.append(len(seen))
        passed = [k for k, n in enumerate(seen) if n > 1.5]
        # reloads happen only after failing crops; stop at the first passing one (or after 10)
        assert len(seen) == (passed[0] + 1 if passed else 11)
        assert int((item['source']['data_samples'].gt_sem_seg.data == C).sum()) == seen[-1]
    assert 1 in loads and max(loads) > 1


def test_rcs_crop_ratio_zero_loads_once(corner_root):
    ds, counter = corner_dataset(corner_root, (8, 8), min_crop_ratio=0.0)
    np.random.seed(0)
    for _ in range(5):
        ds[0]
    assert len(counter.pixels) == 5


def test_rcs_crop_check_needs_source_labels(corner_root):
    ds = UDADataset(source=gta(corner_root, [dict(type='LoadImageFromFile')] + PACK),
                    target=synthetic('target', 1),
                    rare_class_sampling=dict(min_pixels=3, class_temp=0.01, min_crop_ratio=0.5))
    np.random.seed(0)
    with pytest.raises(ValueError, match='source pipeline loads no labels'):
        ds[0]
