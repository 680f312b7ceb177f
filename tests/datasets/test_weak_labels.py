"""Weak target labels (WDASS): coarse ids -> train ids, point maps, points drawn from ground truth, the
point-list formats, and weak labels kept aligned with the image through the data pipeline (crop, flip)."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmseg_procl.datasets import CityscapesDataset
from mmseg_procl.datasets.weak_labels import (WEAK_SUFFIX, convert_coarse_labels, point_map, read_point_list,
                                              sample_points, write_point_labels)
from mmseg_procl.models.losses import multi_hot
import tool_runs


def test_coarse_ids_to_train_ids(tmp_path):
    src = tmp_path / 'gtCoarse' / 'train' / 'aachen'
    os.makedirs(src)
    cv2.imwrite(str(src / 'aachen_000000_000019_gtCoarse_labelIds.png'),
                np.array([[7, 8, 0, 26], [33, 40, 23, 7]], np.uint8))
    out = tmp_path / 'weak'
    assert convert_coarse_labels(str(tmp_path / 'gtCoarse' / 'train'), str(out)) == 1
    label = cv2.imread(str(out / 'aachen' / f'aachen_000000_000019{WEAK_SUFFIX}'), cv2.IMREAD_UNCHANGED)
    assert label.tolist() == [[0, 1, 255, 13], [18, 255, 10, 0]]     # ids 33 bicycle, 40 (> 33) ignored
    with pytest.raises(FileExistsError, match='--overwrite'):
        convert_coarse_labels(str(tmp_path / 'gtCoarse' / 'train'), str(out))


def test_points_maps_and_lists(tmp_path):
    assert point_map((2, 4), [(0, 1, 5), (1, 3, 18)]).tolist() == [[255, 5, 255, 255], [255, 255, 255, 18]]
    assert point_map((4, 8), [(1, 3, 5)], scale=2)[2:4, 6:8].tolist() == [[5, 5], [5, 5]]
    assert (point_map((4, 8), [(1, 3, 5)], scale=2) == 5).sum() == 4
    with pytest.raises(ValueError, match='outside'):
        point_map((4, 8), [(1, 4, 5)], scale=2)                       # the block would leave the map
    with pytest.raises(ValueError, match='outside'):
        point_map((2, 4), [(2, 0, 1)])
    label = np.array([[0, 0, 255], [3, 3, 3]], np.uint8)
    points = sample_points(label, np.random.default_rng(0))
    assert sorted(p[2] for p in points) == [0, 3] and all(label[r, c] == k for r, c, k in points)
    wdass = tmp_path / 'file_2975.yaml'           # verbatim layout of WDASS's file (first entry, shortened)
    wdass.write_text('- image: bremen_000267_000019_gtPoint2_labelIds.png\n  points:\n  - c: 19\n    x: 24\n'
                     '    y: 823\n  - c: 11\n    x: 28\n    y: 96\n  - c: 3\n    x: 1\n    y: 1\n'
                     '  size: !!python/tuple\n  - 512\n  - 1024\n  - 3\n')
    assert read_point_list(str(wdass)) == {'bremen_000267_000019': [(24, 823, 6), (28, 96, 2)]}   # 3: void
    bad = tmp_path / 'bad.yaml'
    bad.write_text('- image: a\n  points: !!python/object:os.system [ls]\n')
    with pytest.raises(ValueError, match='bad.yaml: not a readable point list'):
        read_point_list(str(bad))                 # nothing but safe YAML (and tuples) is constructed
    listing = tmp_path / 'points.yaml'
    listing.write_text('aachen_000000_000019_leftImg8bit.png:\n'
                       '  - {x: 1, y: 2, c: 26}\n  - {x: 0, y: 0, c: 4}\n')
    assert read_point_list(str(listing)) == {'aachen_000000_000019': [(1, 2, 13)]}    # id 4 (void) dropped


@pytest.fixture
def tree(tmp_path):
    img_dir = tmp_path / 'leftImg8bit' / 'train' / 'aachen'
    os.makedirs(img_dir)
    image = np.zeros((8, 16, 3), np.uint8)
    image[..., 0] = np.arange(128, dtype=np.uint8).reshape(8, 16)       # blue channel = position
    cv2.imwrite(str(img_dir / 'aachen_000000_000019_leftImg8bit.png'), image)
    points = {'aachen_000000_000019': [(1, 2, 4), (3, 9, 7), (6, 14, 11), (7, 0, 2)]}
    write_point_labels(str(tmp_path / 'leftImg8bit' / 'train'), str(tmp_path / 'weak_point' / 'train'),
                       points)
    return tmp_path, points['aachen_000000_000019']


def test_weak_labels_stay_aligned_through_crop_and_flip(tree):
    root, points = tree
    dataset = CityscapesDataset(
        data_root=str(root), pseudo_label_suffix=WEAK_SUFFIX,
        data_prefix=dict(img_path='leftImg8bit/train', pseudo_label_path='weak_point/train'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadPseudoLabels'),
                  dict(type='RandomCrop', crop_size=(6, 12)), dict(type='RandomFlip', prob=0.5),
                  dict(type='PackSegInputs')])
    position_of = {k: r * 16 + c for r, c, k in points}
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        item = dataset[0]
        image = item['inputs'][0].numpy()                              # blue channel (BGR order kept)
        weak = item['data_samples'].pseudo_label.data[0].numpy()
        assert weak.shape == image.shape == (6, 12)
        rows, cols = np.nonzero(weak != 255)
        for r, c in zip(rows, cols):
            assert image[r, c] == position_of[int(weak[r, c])]        # the point moved with the image
            seen.add(int(weak[r, c]))
    assert len(seen) >= 3
    # the image-level labels of WDASS are the classes of the crop's weak label
    assert multi_hot(item['data_samples'].pseudo_label.data, 19)[0].nonzero().flatten().tolist() == \
        sorted(int(v) for v in np.unique(weak) if v != 255)


def test_tool_points_from_ground_truth(tmp_path):
    from mmseg_procl.datasets.synthetic_export import export_synthetic
    from mmseg_procl.datasets.conversion import convert_cityscapes
    root = tmp_path / 'cs'
    export_synthetic(str(root), 'target', 2, (64, 32), 2, val_fraction=0)
    convert_cityscapes(str(root))
    tool = [sys.executable, 'tools/convert_datasets/weak_labels.py', 'points',
            str(root / 'leftImg8bit' / 'train'), str(root / 'weak_point' / 'train'),
            '--from-gt', str(root / 'gtFine' / 'train')]
    tool_runs.run(tool)
    written = sorted((root / 'weak_point' / 'train').rglob(f'*{WEAK_SUFFIX}'))
    assert len(written) == 2
    for path in written:
        weak = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        dense_path = str(path).replace('weak_point', 'gtFine').replace(WEAK_SUFFIX,
                                                                       '_gtFine_labelTrainIds.png')
        dense = cv2.imread(dense_path, cv2.IMREAD_UNCHANGED)
        labelled = weak != 255
        assert labelled.sum() == len(set(np.unique(dense)) - {255})     # one point per class present
        assert np.array_equal(weak[labelled], dense[labelled])
    again = subprocess.run(tool, cwd=tool_runs.REPO, capture_output=True, text=True, env=tool_runs.ENV)
    assert again.returncode == 1 and 'exists; pass --overwrite' in again.stderr


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_half_resolution_points_survive_the_resize_to_half_resolution(backend):
    """WDASS's points are listed at 1024x512; written at 2048x1024 with scale=2 and resized back by the
    target pipeline (nearest), they are exactly the listed pixels, whichever library resizes."""
    from mmseg_procl.datasets.transforms import Resize
    points = [(0, 0, 3), (5, 7, 11), (9, 15, 18), (4, 2, 0)]
    full = point_map((20, 32), points, scale=2)
    results = dict(img=np.zeros((20, 32, 3), np.uint8), pseudo_label=full, seg_fields=['pseudo_label'])
    out = Resize(scale=(16, 10), keep_ratio=False, backend=backend)(results)['pseudo_label']
    assert out.tolist() == point_map((10, 16), points).tolist()



def test_missing_weak_label_folder_names_the_tools(tmp_path):
    os.makedirs(tmp_path / 'leftImg8bit' / 'train' / 'aachen')
    with pytest.raises(FileNotFoundError, match=r"pseudo-label folder '.*weak_pointz/train' does not exist; "
                                                r"expected files <image name without '_leftImg8bit.png'>"
                                                r"_weak_labelTrainIds.png from .*weak_labels.py"):
        CityscapesDataset(data_root=str(tmp_path), pipeline=[], pseudo_label_suffix=WEAK_SUFFIX,
                          data_prefix=dict(img_path='leftImg8bit/train', pseudo_label_path='weak_pointz/train'))
