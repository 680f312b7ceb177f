"""Tests of the procedural scene generator, its dataset, exporter and CLI (tiny sizes, CPU)."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers import labels as cs_labels
from PIL import Image

from mmseg_procl.datasets.label_tables import CLASSES, build_lut, cityscapes_id_to_trainid
from mmseg_procl.datasets.synthetic_driving import SyntheticDrivingDataset
from mmseg_procl.datasets.synthetic_export import export_synthetic
from mmseg_procl.datasets.synthetic_scenes import render_scene, scene_seed
from mmseg_procl.registry import DATASETS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = (128, 64)
LUT = build_lut(cityscapes_id_to_trainid())
VALID_IDS = {lab.id for lab in cs_labels.labels if lab.id >= 0}
ROAD, BUILDING, VEGETATION, SKY, CAR = (CLASSES.index(c) for c in
                                        ('road', 'building', 'vegetation', 'sky', 'car'))


def _pixels(style, seeds):
    """Stack BGR pixels (N, 3) float and train ids (N,) of several scenes."""
    imgs, labels = zip(*(render_scene(style, s, SIZE) for s in seeds))
    x = np.concatenate([i.reshape(-1, 3) for i in imgs]).astype(np.float64)
    return x, LUT[np.concatenate([lab.ravel() for lab in labels])]


def _tree_bytes(root):
    """Map relative path -> file bytes for every file below root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


# ----------------------------------------------------------------------------- render_scene
def test_render_is_deterministic_and_seed_dependent():
    """Same (style, seed, size) is bit-identical; another seed or style changes the scene."""
    img_a, lab_a = render_scene('source', 5, SIZE)
    img_b, lab_b = render_scene('source', 5, SIZE)
    assert np.array_equal(img_a, img_b) and np.array_equal(lab_a, lab_b)
    img_c, lab_c = render_scene('source', 6, SIZE)
    assert (img_a != img_c).mean() > 0.2 and (lab_a != lab_c).mean() > 0.05
    img_t, _ = render_scene('target', 5, SIZE)
    assert (img_a != img_t).mean() > 0.5


def test_render_shapes_dtypes_and_label_ids():
    """Shapes, dtypes, ids within the Cityscapes table; ego hood only in the target style."""
    for style in ('source', 'target'):
        img, lab = render_scene(style, 0, SIZE)
        assert img.shape == (64, 128, 3) and img.dtype == np.uint8
        assert lab.shape == (64, 128) and lab.dtype == np.uint8
        assert set(np.unique(lab).tolist()) <= VALID_IDS
        assert lab[0].tolist().count(23) > 0            # sky in the top row
    _, lab_t = render_scene('target', 0, SIZE)
    assert lab_t[-1, 64] == 1                             # target: ego-vehicle hood at the bottom
    _, lab_s = render_scene('source', 0, SIZE)
    assert 1 not in lab_s                                # source (GTA-like): no ego vehicle


def test_every_train_class_and_void_ids_occur_over_40_scenes():
    """All 19 train classes and the advertised void ids occur within 40 scenes per style."""
    for style, void_ids in (('source', {9, 14, 29}), ('target', {1, 9})):
        present = np.zeros(256, dtype=int)
        for seed in range(40):
            present[np.unique(render_scene(style, seed, SIZE)[1])] += 1
        train_present = np.zeros(19, dtype=int)
        for label_id in np.nonzero(present)[0]:
            if LUT[label_id] < 19:
                train_present[LUT[label_id]] += present[label_id]
        missing = [CLASSES[c] for c in range(19) if train_present[c] == 0]
        assert not missing, f'{style}: classes never drawn: {missing}'
        assert train_present[ROAD] == 40 and train_present[SKY] == 40
        assert all(present[v] > 0 for v in void_ids), f'{style}: void ids {void_ids}'


def test_styles_have_clearly_different_class_colours():
    """Per-class mean BGR of five frequent classes differs clearly between the styles."""
    xs, ys = _pixels('source', range(20))
    xt, yt = _pixels('target', range(20))
    for cls in (ROAD, BUILDING, VEGETATION, SKY, CAR):
        dist = np.linalg.norm(xs[ys == cls].mean(0) - xt[yt == cls].mean(0))
        assert dist > 40, f'{CLASSES[cls]}: mean BGR differs by only {dist:.1f}'


def test_colour_classifier_trained_on_source_drops_on_target():
    """A nearest-class-mean colour classifier fit on source loses accuracy on target."""
    xs, ys = _pixels('source', range(20))
    means = np.stack([xs[ys == c].mean(0) for c in range(19)])

    def accuracy(x, y):
        """Pixel accuracy of the nearest-mean prediction over non-ignored pixels."""
        valid = y != 255
        dist = ((x[valid][:, None, :] - means[None]) ** 2).sum(-1)
        return (dist.argmin(1) == y[valid]).mean()

    acc_source = accuracy(*_pixels('source', range(100, 120)))
    acc_target = accuracy(*_pixels('target', range(100, 120)))
    assert acc_source > 0.4                    # colour alone is informative within a domain
    assert acc_source - acc_target >= 0.25     # ... and misleading across the gap (measured ~0.5)


def test_render_rejects_bad_arguments():
    """Bad style, size or seed raise ValueError naming the argument and the value."""
    with pytest.raises(ValueError, match="style must be one of .*'source', 'target'.*'night'"):
        render_scene('night', 0, SIZE)
    with pytest.raises(ValueError, match=r'\(W, H\).*\(0, 64\)'):
        render_scene('source', 0, (0, 64))
    with pytest.raises(ValueError, match='seed must be a non-negative int, got -1'):
        render_scene('source', -1, SIZE)


# ----------------------------------------------------------------------------- dataset
def test_dataset_sample_matches_documented_contract():
    """Registry build, keys, shapes, dtypes and equality with LUT(render_scene ids)."""
    ds = DATASETS.build(dict(type='SyntheticDrivingDataset', style='target', num_samples=3,
                             img_size=SIZE, seed=2))
    assert isinstance(ds, SyntheticDrivingDataset) and len(ds) == 3
    assert ds.metainfo['classes'] == CLASSES and len(ds.metainfo['palette']) == 19
    sample = ds[1]
    assert set(sample) == {'img', 'gt_seg_map', 'img_shape', 'ori_shape', 'seg_fields', 'img_path',
                           'seg_map_path', 'reduce_zero_label', 'label_map', 'sample_idx'}
    assert sample['img'].shape == (64, 128, 3) and sample['img'].dtype == np.uint8
    assert sample['gt_seg_map'].shape == (64, 128) and sample['gt_seg_map'].dtype == np.uint8
    assert sample['img_shape'] == (64, 128) and sample['ori_shape'] == (64, 128)
    assert sample['seg_fields'] == ['gt_seg_map'] and sample['sample_idx'] == 1
    assert sample['img_path'] == 'synthetic://target/00001.png'
    assert sample['seg_map_path'] == 'synthetic://target/00001_labelTrainIds.png'
    assert sample['reduce_zero_label'] is False and sample['label_map'] is None
    img, label_ids = render_scene('target', scene_seed(2, 1), SIZE)
    assert np.array_equal(sample['img'], img)
    assert np.array_equal(sample['gt_seg_map'], LUT[label_ids])
    assert set(np.unique(sample['gt_seg_map']).tolist()) <= set(range(19)) | {255}
    assert sample['gt_seg_map'][-1, 64] == 255            # ego vehicle (id 1) is ignored
    assert sample['gt_seg_map'][0].tolist().count(10) > 0  # sky (id 23) -> train id 10


def test_dataset_ignore_index_lazy_init_and_bad_args():
    """A custom ignore index replaces 255; lazy init works; bad args are named."""
    ds = SyntheticDrivingDataset(style='target', num_samples=2, img_size=SIZE, ignore_index=254,
                                 lazy_init=True)
    gt = ds[0]['gt_seg_map']
    _, label_ids = render_scene('target', scene_seed(0, 0), SIZE)
    assert np.array_equal(gt == 254, LUT[label_ids] == 255) and 255 not in gt
    with pytest.raises(ValueError, match="style must be one of.*got 'gta'"):
        SyntheticDrivingDataset(style='gta')
    with pytest.raises(ValueError, match='num_samples must be an int >= 1, got 0'):
        SyntheticDrivingDataset(num_samples=0)
    with pytest.raises(ValueError, match=r'img_size must be \(W, H\).*\(512, -1\)'):
        SyntheticDrivingDataset(img_size=(512, -1))


# ----------------------------------------------------------------------------- export
def test_export_source_gta_layout_round_trip(tmp_path):
    """GTA layout: 1-based names, palette PNG of label ids, image equals the render."""
    summary = export_synthetic(str(tmp_path), 'source', 3, SIZE, seed=4)
    assert summary == dict(out_dir=str(tmp_path), style='source', train=3, val=0)
    assert sorted(os.listdir(tmp_path / 'images')) == ['00001.png', '00002.png', '00003.png']
    assert sorted(os.listdir(tmp_path / 'labels')) == ['00001.png', '00002.png', '00003.png']
    img, label_ids = render_scene('source', scene_seed(4, 2), SIZE)
    label = Image.open(tmp_path / 'labels' / '00003.png')
    assert label.mode == 'P'
    assert np.array_equal(np.array(label), label_ids)
    palette = np.array(label.getpalette()).reshape(-1, 3)
    assert palette[7].tolist() == [128, 64, 128] and palette[26].tolist() == [0, 0, 142]
    assert np.array_equal(cv2.imread(str(tmp_path / 'images' / '00003.png')), img)


def test_export_target_cityscapes_layout_round_trip(tmp_path):
    """Cityscapes layout: cities, splits, file names, label ids and colours."""
    summary = export_synthetic(str(tmp_path), 'target', 5, SIZE, seed=1, val_fraction=0.4)
    assert (summary['train'], summary['val']) == (3, 2)
    files = set(_tree_bytes(tmp_path))
    expected = set()
    for split, city, frame in (('train', 'synthcity', 0), ('train', 'synthtown', 1),
                               ('train', 'synthcity', 2), ('val', 'synthval', 3),
                               ('val', 'synthval', 4)):
        stem = f'{city}_000000_{frame:06d}'
        expected |= {f'leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png',
                     f'gtFine/{split}/{city}/{stem}_gtFine_labelIds.png',
                     f'gtFine/{split}/{city}/{stem}_gtFine_color.png'}
    assert files == expected
    img, label_ids = render_scene('target', scene_seed(1, 3), SIZE)
    gt_dir = tmp_path / 'gtFine' / 'val' / 'synthval'
    ids = Image.open(gt_dir / 'synthval_000000_000003_gtFine_labelIds.png')
    assert ids.mode == 'L' and np.array_equal(np.array(ids), label_ids)
    colour = np.array(Image.open(gt_dir / 'synthval_000000_000003_gtFine_color.png'))
    assert colour.shape == (64, 128, 3)
    assert colour[label_ids == 7][0].tolist() == [128, 64, 128]     # road colour
    left = tmp_path / 'leftImg8bit' / 'val' / 'synthval' / 'synthval_000000_000003_leftImg8bit.png'
    assert np.array_equal(cv2.imread(str(left)), img)


def test_export_is_byte_identical_across_runs_and_nproc(tmp_path):
    """Two exports (1 and 2 processes) write the same bytes."""
    export_synthetic(str(tmp_path / 'a'), 'target', 4, SIZE, seed=7, val_fraction=0.25)
    export_synthetic(str(tmp_path / 'b'), 'target', 4, SIZE, seed=7, val_fraction=0.25, nproc=2)
    tree_a, tree_b = _tree_bytes(tmp_path / 'a'), _tree_bytes(tmp_path / 'b')
    assert len(tree_a) == 12 and tree_a == tree_b


def test_export_refuses_non_empty_dir_and_keeps_other_files(tmp_path):
    """A non-empty dir is refused; with overwrite unrelated files survive."""
    (tmp_path / 'keep.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='is not empty.*overwrite'):
        export_synthetic(str(tmp_path), 'source', 2, SIZE, seed=0)
    assert os.listdir(tmp_path) == ['keep.txt']
    export_synthetic(str(tmp_path), 'source', 2, SIZE, seed=0, overwrite=True)
    export_synthetic(str(tmp_path), 'source', 2, SIZE, seed=0, overwrite=True)
    assert (tmp_path / 'keep.txt').read_text() == 'user data'
    assert sorted(os.listdir(tmp_path / 'images')) == ['00001.png', '00002.png']


# ----------------------------------------------------------------------------- CLI
def _cli(*args):
    """Run tools/make_synthetic_data.py from the repository root."""
    return subprocess.run([sys.executable, 'tools/make_synthetic_data.py', *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_writes_tree_and_prints_summary(tmp_path):
    """The CLI writes the tree and ends with a one-line train/val summary."""
    out = tmp_path / 'cs'
    proc = _cli(str(out), '--style', 'target', '--num', '5', '--size', '64x32', '--seed', '3')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith('4 train, 1 val')
    assert str(out) in proc.stdout
    assert len(os.listdir(out / 'leftImg8bit' / 'val' / 'synthval')) == 1
    img = cv2.imread(str(out / 'leftImg8bit' / 'val' / 'synthval' /
                         'synthval_000000_000004_leftImg8bit.png'))
    assert img.shape == (32, 64, 3)


def test_cli_rejects_bad_size_naming_the_value(tmp_path):
    """``--size 12`` is an argparse error naming the value and the WxH form."""
    proc = _cli(str(tmp_path / 'x'), '--style', 'source', '--num', '2', '--size', '12')
    assert proc.returncode == 2
    assert "'12'" in proc.stderr and 'WxH' in proc.stderr
    assert not (tmp_path / 'x').exists()
