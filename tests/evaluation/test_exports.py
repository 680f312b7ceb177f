"""Prediction PNG export (trainIds, labelIds, colour, naming) and the Dark Zurich submission zip."""
import os
import zipfile

import cv2
import numpy as np
import pytest
import torch
from cityscapesscripts.helpers import labels as cs_labels

from mmseg_procl.datasets.label_tables import PALETTE
from mmseg_procl.evaluation import (DarkZurichSubmissionWriter, export_prediction,
                                    prediction_filename, save_cityscapes_labelid_png,
                                    save_color_png, save_trainid_png)


def _read(path):
    """A PNG exactly as stored (no colour conversion, native bit depth)."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _random_trainids(seed=0, shape=(16, 24)):
    """Random train ids 0..18 with some 255 pixels."""
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 19, size=shape).astype(np.uint8)
    pred[rng.random(shape) < 0.1] = 255
    return pred


def test_prediction_filename_follows_mmseg_results2img():
    assert prediction_filename('data/cityscapes/leftImg8bit/val/frankfurt/'
                               'frankfurt_000000_000294_leftImg8bit.png') == \
        'frankfurt_000000_000294_leftImg8bit.png'
    assert prediction_filename('rgb_anon/test/night/GOPR0356/GOPR0356_frame_000321_rgb_anon.png') \
        == 'GOPR0356_frame_000321_rgb_anon.png'
    assert prediction_filename('/x/images/00001.jpg') == '00001.png'
    with pytest.raises(ValueError, match='img_path'):
        prediction_filename('')


def test_trainid_png_round_trip(tmp_path):
    pred = _random_trainids()
    save_trainid_png(pred, tmp_path / 'a' / 'pred.png')
    back = _read(tmp_path / 'a' / 'pred.png')
    assert back.dtype == np.uint8 and back.shape == pred.shape
    np.testing.assert_array_equal(back, pred)
    # (1, H, W) int64 tensors are accepted as produced by the segmentor
    save_trainid_png(torch.from_numpy(pred).long()[None], tmp_path / 'b.png')
    np.testing.assert_array_equal(_read(tmp_path / 'b.png'), pred)


def test_labelid_png_is_the_cityscapes_mapping(tmp_path):
    pred = _random_trainids(1)
    save_cityscapes_labelid_png(pred, tmp_path / 'ids.png')
    back = _read(tmp_path / 'ids.png')
    expected = np.zeros_like(pred)                      # 255 -> 0 'unlabeled'
    for t in range(19):
        expected[pred == t] = cs_labels.trainId2label[t].id
    np.testing.assert_array_equal(back, expected)
    save_cityscapes_labelid_png(np.array([[0, 1, 2, 13, 18, 255]]), tmp_path / 'few.png')
    np.testing.assert_array_equal(_read(tmp_path / 'few.png'), [[7, 8, 11, 26, 33, 0]])


def test_color_png(tmp_path):
    pred = np.array([[0, 10, 255], [13, 18, 1]], dtype=np.uint8)
    save_color_png(pred, tmp_path / 'color.png', PALETTE)
    rgb = cv2.cvtColor(_read(tmp_path / 'color.png'), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(rgb[0], [[128, 64, 128], [70, 130, 180], [0, 0, 0]])
    np.testing.assert_array_equal(rgb[1], [PALETTE[13], PALETTE[18], PALETTE[1]])


def test_export_prediction_and_input_errors(tmp_path):
    path = export_prediction(np.array([[3, 4]]), 'x/y/munich_000000_000001_leftImg8bit.png',
                             str(tmp_path), to_label_id=True)
    assert os.path.basename(path) == 'munich_000000_000001_leftImg8bit.png'
    np.testing.assert_array_equal(_read(path), [[12, 13]])
    with pytest.raises(ValueError, match=r'bad\.png.*\(2, 2, 2\)'):
        save_trainid_png(np.zeros((2, 2, 2), np.uint8), tmp_path / 'bad.png')
    with pytest.raises(ValueError, match=r'big\.png.*0\.\.300'):
        save_trainid_png(np.array([[0, 300]]), tmp_path / 'big.png')
    with pytest.raises(TypeError, match='float'):
        save_trainid_png(np.zeros((2, 2), np.float32), tmp_path / 'float.png')


# ------------------------------------------------------------------ Dark Zurich submission zip

IMAGE = 'data/dark_zurich/rgb_anon/test/night/GOPR0364/GOPR0364_frame_000001_rgb_anon.png'
NAME = 'GOPR0364_frame_000001_rgb_anon.png'
# class-1 probabilities (dyadic, exact in float32); class 0 gets 1 - p1
P1 = torch.tensor([[0.75, 0.625, 0.125], [0.0625, 0.5625, 0.0]])
PROBS = torch.stack([1 - P1, P1])


def _entries(zip_path):
    """Zip member name -> decoded PNG array (directories -> None)."""
    with zipfile.ZipFile(zip_path) as zf:
        return {n: (None if n.endswith('/') else
                    cv2.imdecode(np.frombuffer(zf.read(n), np.uint8), cv2.IMREAD_UNCHANGED))
                for n in zf.namelist()}


def test_dark_zurich_zip_content(tmp_path):
    out = tmp_path / 'sub' / 'submit.zip'
    with DarkZurichSubmissionWriter(str(out), invalid_threshold=0.7) as writer:
        assert writer.add(IMAGE, PROBS, probabilities=True) == NAME
    assert sorted(os.listdir(tmp_path / 'sub')) == ['submit.zip']      # no partial file / tree
    entries = _entries(out)
    assert sorted(entries) == sorted([
        'labelTrainIds/', 'labelTrainIds_invalid/', 'confidence/', f'labelTrainIds/{NAME}',
        f'labelTrainIds_invalid/{NAME}', f'confidence/{NAME}'])
    label = entries[f'labelTrainIds/{NAME}']
    invalid = entries[f'labelTrainIds_invalid/{NAME}']
    conf = entries[f'confidence/{NAME}']
    assert label.dtype == np.uint8 and invalid.dtype == np.uint8 and conf.dtype == np.uint16
    np.testing.assert_array_equal(label, [[1, 1, 0], [0, 1, 0]])
    # confidence = max probability [[.75, .625, .875], [.9375, .5625, 1]]; < 0.7 -> 255
    np.testing.assert_array_equal(invalid, [[1, 255, 0], [0, 255, 0]])
    # round(p * 65535)
    np.testing.assert_array_equal(conf, [[49151, 40959, 57343], [61439, 36863, 65535]])


def test_dark_zurich_logits_and_default_threshold(tmp_path):
    out = tmp_path / 'logits.zip'
    logits = torch.log(PROBS.clamp_min(1e-12)) + 3.0        # softmax gives PROBS back
    with DarkZurichSubmissionWriter(str(out)) as writer:
        writer.add(IMAGE, logits)
        writer.add('x/GOPR0364_frame_000002_rgb_anon.png', logits.numpy())
        assert len(writer) == 2
    entries = _entries(out)
    assert len(entries) == 3 + 2 * 3
    np.testing.assert_array_equal(entries[f'labelTrainIds/{NAME}'], [[1, 1, 0], [0, 1, 0]])
    # invalid_threshold=0 marks nothing invalid: UIoU == IoU
    np.testing.assert_array_equal(entries[f'labelTrainIds_invalid/{NAME}'],
                                  entries[f'labelTrainIds/{NAME}'])
    conf = entries[f'confidence/{NAME}'].astype(np.int64)
    assert np.abs(conf - [[49151, 40959, 57343], [61439, 36863, 65535]]).max() <= 1


def test_dark_zurich_refuses_overwrite_and_cleans_up(tmp_path):
    out = tmp_path / 'submit.zip'
    out.write_bytes(b'previous')
    with pytest.raises(FileExistsError, match='submit.zip.*overwrite=True'):
        DarkZurichSubmissionWriter(str(out))
    assert out.read_bytes() == b'previous'
    with pytest.raises(ValueError, match='expected_hw'):
        with DarkZurichSubmissionWriter(str(out), overwrite=True, expected_hw=(1080, 1920)) as w:
            w.add(IMAGE, PROBS, probabilities=True)
    assert out.read_bytes() == b'previous' and sorted(os.listdir(tmp_path)) == ['submit.zip']
    with DarkZurichSubmissionWriter(str(out), overwrite=True) as writer:
        writer.add(IMAGE, PROBS, probabilities=True)
        with pytest.raises(ValueError, match='already added'):
            writer.add('other/dir/' + NAME, PROBS, probabilities=True)
        with pytest.raises(ValueError, match=r'probabilities must lie in \[0, 1\]'):
            writer.add('b.png', PROBS * 2, probabilities=True)
        with pytest.raises(ValueError, match=r'\(C, H, W\)'):
            writer.add('c.png', PROBS[0], probabilities=True)
    assert len(_entries(out)) == 6
    with pytest.raises(ValueError, match='invalid_threshold'):
        DarkZurichSubmissionWriter(str(tmp_path / 'x.zip'), invalid_threshold=2)
