"""Transforms against hand-computed expectations (docs/methods.md §1.1)."""
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_procl.datasets.transforms import (LoadAnnotations, LoadImageFromFile, PackSegInputs, Pad,
                                             PhotoMetricDistortion, RandomCrop, RandomFlip, Resize)
from mmseg_procl.datasets.transforms.resize import rescale_size
from mmseg_procl.structures import SegDataSample


class Script:
    """Replays a fixed sequence of values for a patched numpy random function."""

    def __init__(self, values):
        self.values = list(values)
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append(args)
        return self.values.pop(0)


def results_of(img, label=None):
    res = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], seg_fields=[])
    if label is not None:
        res['gt_seg_map'] = label
        res['seg_fields'].append('gt_seg_map')
    return res


@pytest.mark.parametrize('old, scale, expected', [
    ((1914, 1052), (1280, 720), (1280, 704)),   # GTA5 -> DAFormer source scale
    ((2048, 1024), (1024, 512), (1024, 512)),   # Cityscapes, DAFormer
    ((2048, 1024), (1280, 640), (1280, 640)),   # Cityscapes, CLIP-ProCL / SePiCo
    ((1280, 760), (1280, 760), (1280, 760)),    # SYNTHIA unchanged
    ((1920, 1080), (960, 540), (960, 540)),     # Dark Zurich / ACDC
    ((1914, 1052), (2560, 1440), (2560, 1407)), # HRDA source: s=min(2560/1914,1440/1052)=1.33751
])
def test_rescale_size_reference_rounding(old, scale, expected):
    assert rescale_size(old, scale)[0] == expected


def test_resize_label_nearest_and_image_bilinear():
    img = np.full((2, 4, 3), 77, np.uint8)
    label = np.array([[0, 1, 2, 3], [4, 5, 6, 7]], np.uint8)
    res = Resize(scale=(2, 1), keep_ratio=False)(results_of(img, label))
    # cv2 INTER_NEAREST picks source column floor(x * 4 / 2) -> columns 0 and 2, row 0.
    np.testing.assert_array_equal(res['gt_seg_map'], [[0, 2]])
    np.testing.assert_array_equal(res['img'], np.full((1, 2, 3), 77, np.uint8))
    assert res['img_shape'] == (1, 2) and res['scale_factor'] == (0.5, 0.5)


def test_resize_keep_ratio_label_follows_image_size():
    img = np.zeros((1052, 1914, 3), np.uint8)
    label = np.zeros((1050, 1912), np.uint8)          # GTA5 size mismatch case (docs/methods.md §3 item 19)
    res = Resize(scale=(1280, 720), keep_ratio=True)(results_of(img, label))
    assert res['img'].shape == (704, 1280, 3)
    assert res['gt_seg_map'].shape == (704, 1280)


def test_resize_rejects_bad_arguments():
    with pytest.raises(ValueError, match='exactly one'):
        Resize()
    with pytest.raises(ValueError, match=r'\(w, h\)'):
        Resize(scale=(0, 5))


def _crop_fixture():
    label = np.zeros((1, 20), np.uint8)
    label[0, 16:] = 1          # a window of 4 passes cat_max_ratio=0.75 only at x1 = 14 (2 vs 2)
    img = np.arange(20, dtype=np.uint8).reshape(1, 20, 1).repeat(3, axis=2)
    return img, label


def test_random_crop_accepts_first_passing_box(monkeypatch):
    img, label = _crop_fixture()
    # (y, x) draws: x = 0 fails, x = 3 fails, x = 14 passes -> 3 boxes, 6 calls.
    script = Script([0, 0, 0, 3, 0, 14])
    monkeypatch.setattr(np.random, 'randint', script)
    res = RandomCrop((1, 4), cat_max_ratio=0.75)(results_of(img, label))
    np.testing.assert_array_equal(res['gt_seg_map'], [[0, 0, 1, 1]])
    np.testing.assert_array_equal(res['img'][0, :, 0], [14, 15, 16, 17])
    assert len(script.calls) == 6
    assert script.calls[0] == (0, 1) and script.calls[1] == (0, 17)   # margins 0 and 16, inclusive


def test_random_crop_uses_eleventh_box_unchecked(monkeypatch):
    img, label = _crop_fixture()
    xs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16]     # ten failing checks, then an (also failing) 11th box
    script = Script([v for x in xs for v in (0, x)] + [0, 14])
    monkeypatch.setattr(np.random, 'randint', script)
    res = RandomCrop((1, 4), cat_max_ratio=0.75)(results_of(img, label))
    np.testing.assert_array_equal(res['gt_seg_map'], [[1, 1, 1, 1]])
    assert len(script.calls) == 22 and res['crop_bbox'] == (0, 1, 16, 20)


def test_random_crop_ignore_pixels_do_not_count_as_a_class(monkeypatch):
    label = np.array([[0, 0, 255, 255]], np.uint8)
    img = np.zeros((1, 4, 3), np.uint8)
    script = Script([0, 0] * 11)
    monkeypatch.setattr(np.random, 'randint', script)
    RandomCrop((1, 4), cat_max_ratio=0.75)(results_of(img, label))
    assert len(script.calls) == 22          # one valid class only: every check fails


def test_random_crop_without_ratio_draws_once(monkeypatch):
    img, label = _crop_fixture()
    script = Script([0, 5])
    monkeypatch.setattr(np.random, 'randint', script)
    res = RandomCrop((1, 4))(results_of(img, label))
    np.testing.assert_array_equal(res['gt_seg_map'], [[0, 0, 0, 0]])
    assert res['img_shape'] == (1, 4) and len(script.calls) == 2


def test_random_flip_moves_image_and_label_together(monkeypatch):
    img = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    label = np.array([[3, 9]], np.uint8)
    monkeypatch.setattr(np.random, 'rand', Script([0.49]))
    res = RandomFlip(prob=0.5)(results_of(img.copy(), label.copy()))
    np.testing.assert_array_equal(res['gt_seg_map'], [[9, 3]])
    np.testing.assert_array_equal(res['img'], [[[3, 4, 5], [0, 1, 2]]])
    assert res['flip'] and res['flip_direction'] == 'horizontal'
    monkeypatch.setattr(np.random, 'rand', Script([0.5]))
    res = RandomFlip(prob=0.5)(results_of(img.copy(), label.copy()))
    np.testing.assert_array_equal(res['gt_seg_map'], [[3, 9]])
    assert not res['flip']


def test_photometric_brightness_then_contrast_with_truncation(monkeypatch):
    img = np.array([[[250, 3, 100]]], np.uint8)
    # randint: brightness fires, mode 0 (contrast last), saturation off, hue off, contrast fires.
    monkeypatch.setattr(np.random, 'randint', Script([1, 0, 0, 0, 1]))
    monkeypatch.setattr(np.random, 'uniform', Script([10.0, 0.5]))
    res = PhotoMetricDistortion()(results_of(img))
    # 250+10 -> 255 -> 127.5 -> 127; 3+10=13 -> 6.5 -> 6; 100+10=110 -> 55.
    np.testing.assert_array_equal(res['img'], [[[127, 6, 55]]])


def test_photometric_hue_rotation_mod_180(monkeypatch):
    img = np.zeros((1, 1, 3), np.uint8)
    img[..., 2] = 255                       # pure red in BGR: H = 0
    # randint: brightness off, mode 1, contrast off, saturation off, hue fires, shift +60.
    monkeypatch.setattr(np.random, 'randint', Script([0, 1, 0, 0, 1, 60]))
    res = PhotoMetricDistortion(hue_delta=90)(results_of(img))
    np.testing.assert_array_equal(res['img'], [[[0, 255, 0]]])   # H = 60 (120 degrees): green


def test_pad_bottom_right_with_separate_values():
    img = np.ones((2, 3, 3), np.uint8)
    label = np.zeros((2, 3), np.uint8)
    res = Pad(size=(4, 5), pad_val=0, seg_pad_val=255)(results_of(img, label))
    assert res['img'].shape == (4, 5, 3) and res['pad_shape'] == (4, 5)
    assert res['img'][:2, :3].min() == 1 and res['img'][2:].max() == 0 and res['img'][:, 3:].max() == 0
    expected = np.full((4, 5), 255, np.uint8)
    expected[:2, :3] = 0
    np.testing.assert_array_equal(res['gt_seg_map'], expected)
    assert Pad(size_divisor=4)(results_of(img))['img'].shape == (4, 4, 3)


def test_pack_seg_inputs_layout():
    img = np.random.RandomState(0).randint(0, 255, (3, 4, 3)).astype(np.uint8)
    label = np.array([[0, 1, 2, 255]] * 3, np.uint8)
    res = results_of(img, label)
    res.update(img_path='a.png', seg_map_path='a_l.png', flip=False)
    packed = PackSegInputs()(res)
    assert packed['inputs'].shape == (3, 3, 4) and packed['inputs'].dtype == torch.uint8
    assert torch.equal(packed['inputs'][0], torch.from_numpy(img[:, :, 0]))   # BGR order kept
    sample = packed['data_samples']
    assert isinstance(sample, SegDataSample)
    assert sample.gt_sem_seg.data.shape == (1, 3, 4) and sample.gt_sem_seg.data.dtype == torch.int64
    assert sample.gt_sem_seg.data[0, 0].tolist() == [0, 1, 2, 255]
    assert sample.img_path == 'a.png' and sample.ori_shape == (3, 4) and sample.flip is False


def test_load_image_and_errors(tmp_path):
    img = np.random.RandomState(1).randint(0, 255, (5, 7, 3)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    res = LoadImageFromFile()(dict(img_path=str(tmp_path / 'a.png')))
    np.testing.assert_array_equal(res['img'], img)
    assert res['ori_shape'] == (5, 7)
    (tmp_path / 'bad.png').write_bytes(b'\x89PNG not really')
    with pytest.raises(ValueError, match='bad.png'):
        LoadImageFromFile()(dict(img_path=str(tmp_path / 'bad.png')))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        LoadImageFromFile()(dict(img_path=str(tmp_path / 'missing.png')))


def test_load_annotations_reads_palette_indices_unchanged(tmp_path):
    ids = np.array([[0, 5, 18], [255, 1, 2]], np.uint8)
    im = Image.fromarray(ids, mode='P')
    im.putpalette([200, 10, 10] * 256)       # colours must not leak into the labels
    im.save(tmp_path / 'l.png')
    res = LoadAnnotations()(dict(seg_map_path=str(tmp_path / 'l.png'), num_classes=19,
                                 ignore_index=255, seg_fields=[]))
    np.testing.assert_array_equal(res['gt_seg_map'], ids)
    assert res['seg_fields'] == ['gt_seg_map']


def test_load_annotations_rejects_unknown_ids_and_colour_files(tmp_path):
    Image.fromarray(np.array([[0, 77]], np.uint8)).save(tmp_path / 'u.png')
    with pytest.raises(ValueError, match=r'u\.png.*\[77\]'):
        LoadAnnotations()(dict(seg_map_path=str(tmp_path / 'u.png'), num_classes=19))
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='rgb.png.*single-channel'):
        LoadAnnotations()(dict(seg_map_path=str(tmp_path / 'rgb.png')))


def test_reduce_zero_label():
    res = dict(seg_fields=[], reduce_zero_label=True)
    lab = LoadAnnotations()._remap(np.array([[0, 1, 255]], np.uint8), res)
    np.testing.assert_array_equal(lab, [[255, 0, 255]])


@pytest.mark.parametrize('dtype', [np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64, np.int64,
                                   np.bool_])
def test_flip_array_equals_numpy_for_every_dtype_and_shape(dtype):
    from mmseg_procl.datasets.transforms.random_flip import flip_array
    rng = np.random.default_rng(0)
    for shape in ((5, 7), (5, 7, 1), (5, 7, 3), (1, 7, 4), (5, 1)):
        array = (rng.random(shape) * 100).astype(dtype)
        for axis in (0, 1):
            flipped = flip_array(array, axis)
            expected = np.flip(array, axis=axis)
            assert flipped.dtype == array.dtype and flipped.shape == array.shape
            assert np.array_equal(flipped, expected) and flipped.flags['C_CONTIGUOUS']
    strided = np.arange(60, dtype=np.uint8).reshape(5, 12)[:, ::2]          # a non-contiguous view
    assert np.array_equal(flip_array(strided, 1), strided[:, ::-1])


def test_crop_ratio_check_by_histogram_matches_the_sorting_definition():
    from mmseg_procl.datasets.transforms.random_crop import crop_passes_ratio

    def by_unique(label, ratio, ignore):
        values, counts = np.unique(label, return_counts=True)
        counts = counts[values != ignore]
        return len(counts) > 1 and counts.max() / counts.sum() < ratio

    assert crop_passes_ratio(np.array([[0, 0, 1, 255]], np.uint8), 0.75, 255)           # 2/3 < 0.75
    assert not crop_passes_ratio(np.array([[0, 0, 0, 1]], np.uint8), 0.75, 255)         # 3/4
    assert not crop_passes_ratio(np.array([[0, 255, 255, 255]], np.uint8), 0.75, 255)   # one class
    assert crop_passes_ratio(np.array([[0, 2, 2, 1]], np.uint8), 0.75, 0)               # 0 ignored: 2/3
    rng = np.random.default_rng(0)
    for trial in range(200):
        shares = rng.dirichlet(np.ones(5) * 0.3)
        label = rng.choice([0, 1, 2, 13, 255], size=(8, 8), p=shares).astype(np.uint8)
        for ignore in (255, 0, 300):
            assert crop_passes_ratio(label, 0.75, ignore) == by_unique(label, 0.75, ignore), (trial, ignore)
            wide = label.astype(np.int64)                                                # sorting path
            assert crop_passes_ratio(wide, 0.75, ignore) == by_unique(wide, 0.75, ignore)


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16, np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize('shape', [(5, 7), (5, 7, 1), (5, 7, 2), (5, 7, 3), (5, 7, 4), (5, 7, 6)])
def test_image_to_tensor_equals_the_transpose(dtype, shape):
    from mmseg_procl.datasets.transforms.pack_seg_inputs import image_to_tensor
    img = (np.random.RandomState(0).rand(*shape) * 200).astype(dtype)
    expected = img[:, :, None] if img.ndim == 2 else img
    out = image_to_tensor(img)
    assert out.is_contiguous() and out.dtype == torch.from_numpy(img).dtype
    assert torch.equal(out, torch.from_numpy(np.ascontiguousarray(expected.transpose(2, 0, 1))))
