"""IoUMetric: hand-computed values, mIoU-16 / 13 subsets, parity with cityscapesscripts."""
import copy
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs_eval
from cityscapesscripts.helpers import labels as cs_labels

from mmseg_procl.datasets.label_tables import CLASSES, build_lut, cityscapes_id_to_trainid
from mmseg_procl.evaluation import IoUMetric, areas_to_metrics, export_prediction, nanmean
from mmseg_procl.registry import METRICS
from mmseg_procl.structures import SegDataSample
from mmengine.structures import PixelData

# 2x4 example, 3 classes.  Valid pixels (GT != 255):
#   class 0: GT at (0,0),(0,1),(1,0); predicted 0 only at (0,0) -> I=1, label=3, pred=1, U=3
#   class 1: GT at (0,2),(0,3),(1,2), all predicted 1; also predicted at (0,1),(1,0) -> I=3, U=5
#   class 2: predicted only at the ignored pixel (1,1) -> U=0 -> NaN, excluded from the means
GT = torch.tensor([[0, 0, 1, 1], [0, 255, 1, 255]])
PRED = torch.tensor([[0, 1, 1, 1], [1, 2, 1, 0]])


def _sample(pred, gt, img_path='img_0_leftImg8bit.png'):
    """A data sample dict as produced by BaseDataElement.to_dict()."""
    return dict(img_path=img_path, pred_sem_seg=dict(data=pred[None]),
                gt_sem_seg=dict(data=gt[None]))


def _metric(classes, **kwargs):
    """An IoUMetric with dataset_meta set."""
    metric = IoUMetric(**kwargs)
    metric.dataset_meta = dict(classes=tuple(classes))
    return metric


def test_hand_computed_example():
    metric = _metric(('a', 'b', 'c'))
    metric.process({}, [_sample(PRED, GT)])
    np.testing.assert_array_equal(metric.results[0].numpy(),
                                  [[1, 3, 0], [3, 5, 0], [1, 5, 0], [3, 3, 0]])
    out = metric.evaluate(1)
    assert out['IoU.a'] == 33.33
    assert out['IoU.b'] == 60.0
    assert math.isnan(out['IoU.c'])
    assert out['mIoU'] == round((1 / 3 + 3 / 5) / 2 * 100, 2) == 46.67
    assert out['mAcc'] == 66.67          # (1/3 + 1) / 2
    assert out['aAcc'] == 66.67          # 4 correct of 6 valid pixels
    assert 'mIoU16' not in out and 'mIoU13' not in out   # 3-class dataset


def test_nan_to_num_and_other_metrics():
    metric = _metric(('a', 'b', 'c'), nan_to_num=0, iou_metrics=['mIoU', 'mDice', 'mFscore'])
    metric.process({}, [_sample(PRED, GT)])
    out = metric.evaluate(1)
    assert out['mIoU'] == round((1 / 3 + 3 / 5 + 0) / 3 * 100, 2) == 31.11
    assert out['IoU.c'] == 0.0
    # Dice_a = 2*1/(1+3), Dice_b = 2*3/(5+3), Dice_c = NaN -> 0
    assert out['mDice'] == round((0.5 + 0.75 + 0) / 3 * 100, 2)
    # Precision_a = 1, Precision_b = 3/5; Recall_a = 1/3, Recall_b = 1
    assert out['mPrecision'] == round((1 + 0.6 + 0) / 3 * 100, 2)
    assert out['mRecall'] == round((1 / 3 + 1 + 0) / 3 * 100, 2)
    f_a, f_b = 2 * 1 * (1 / 3) / (1 + 1 / 3), 2 * 0.6 / 1.6
    assert out['mFscore'] == round((f_a + f_b + 0) / 3 * 100, 2)


def test_accepts_seg_data_samples_and_batches_accumulate():
    sample = SegDataSample(metainfo=dict(img_path='x.png'))
    sample.pred_sem_seg = PixelData(data=PRED[None])
    sample.gt_sem_seg = PixelData(data=GT[None].to(torch.uint8))
    metric = _metric(('a', 'b', 'c'))
    metric.process({}, [sample])
    metric.process({}, [_sample(PRED, GT)])
    total = torch.stack(metric.results).sum(0)
    np.testing.assert_array_equal(total.numpy(), [[2, 6, 0], [6, 10, 0], [2, 10, 0], [6, 6, 0]])
    assert metric.evaluate(2)['mIoU'] == 46.67


def test_errors_name_image_and_shapes():
    metric = _metric(('a', 'b', 'c'))
    with pytest.raises(ValueError, match=r'bad\.png.*\(2, 4\).*\(2, 3\)'):
        metric.process({}, [_sample(PRED, GT[:, :3], img_path='bad.png')])
    with pytest.raises(ValueError, match=r'labels\.png.*\[7\].*ignore_index=255'):
        metric.process({}, [_sample(PRED, torch.full((2, 4), 7), img_path='labels.png')])
    with pytest.raises(KeyError, match='gt_sem_seg'):
        metric.process({}, [dict(img_path='nogt.png', pred_sem_seg=dict(data=PRED[None]))])
    with pytest.raises(KeyError, match='dataset_meta'):
        IoUMetric().process({}, [_sample(PRED, GT)])
    with pytest.raises(KeyError, match='iou_metrics'):
        IoUMetric(iou_metrics=['mAP'])
    with pytest.raises(KeyError, match='mIoU99'):
        IoUMetric(class_subsets=['mIoU99'])


def _subset_example():
    """19-class maps: class c has 4 GT pixels, (c % 5) of them predicted right; train absent."""
    gt, pred = [], []
    for c in range(19):
        if c == CLASSES.index('train'):
            continue
        hits = c % 5
        gt += [c] * 4
        pred += [c] * hits + [255] * (4 - hits)   # out-of-range prediction: wrong, no pred area
    return torch.tensor(pred)[None], torch.tensor(gt)[None]


def test_miou16_miou13_hand_checked():
    pred, gt = _subset_example()
    metric = _metric(CLASSES)
    metric.process({}, [_sample(pred, gt)])
    out = metric.evaluate(1)
    # IoU_c = (c % 5) / 4; train (16) is NaN.  mIoU16 drops terrain(9), truck(14), train(16);
    # mIoU13 additionally wall(3), fence(4), pole(5).
    miou19 = (sum(c % 5 for c in range(19) if c != 16) / 4) / 18
    miou16 = (0 + 1 + 2 + 3 + 4 + 0 + 1 + 2 + 3 + 0 + 1 + 2 + 3 + 0 + 2 + 3) / 4 / 16
    miou13 = (0 + 1 + 2 + 1 + 2 + 3 + 0 + 1 + 2 + 3 + 0 + 2 + 3) / 4 / 13
    assert out['mIoU'] == round(miou19 * 100, 2) == 48.61
    assert out['mIoU16'] == round(miou16 * 100, 2) == 42.19
    assert out['mIoU13'] == round(miou13 * 100, 2) == 38.46
    assert math.isnan(out['IoU.train'])
    assert out['IoU.terrain'] == 100.0 and out['IoU.road'] == 0.0


def test_miou16_equals_daformer_rescaling_when_absent_classes_score_zero():
    gt = torch.arange(19).repeat_interleave(2)[None]
    pred = gt.clone()
    for name in ('terrain', 'truck', 'train'):
        pred[gt == CLASSES.index(name)] = CLASSES.index('road')
    metric = _metric(CLASSES, class_subsets={'mIoU16': ('road', 'sidewalk', 'building', 'wall',
                                                        'fence', 'pole', 'traffic light',
                                                        'traffic sign', 'vegetation', 'sky',
                                                        'person', 'rider', 'car', 'bus',
                                                        'motorcycle', 'bicycle')})
    metric.process({}, [_sample(pred[0], gt[0])])
    raw = areas_to_metrics(torch.stack(metric.results).sum(0))
    out = metric.evaluate(1)
    assert out['mIoU16'] == round(nanmean(raw['IoU']) * 19 / 16 * 100, 2)
    assert out['mIoU16'] == round((15 + 2 / 8) / 16 * 100, 2)   # road: I=2, U=8


# ------------------------------------------------------------------ cityscapesscripts parity

IGNORED_IDS = [lab.id for lab in cs_labels.labels if lab.id >= 0 and lab.ignoreInEval]
TRAIN_LABEL = CLASSES.index('train')
GT_IDS = [lab.id for lab in cs_labels.labels
          if lab.id >= 0 and lab.trainId != TRAIN_LABEL]      # 'train' absent everywhere -> NaN


def _blobs(rng, choices, shape=(64, 128), grid=(8, 16)):
    """A label map of random ids from ``choices`` in nearest-upsampled blocks."""
    coarse = rng.choice(choices, size=grid).astype(np.uint8)
    return cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_NEAREST)


def _make_pairs(rng, n=4):
    """n (GT labelIds, predicted trainIds) pairs with partial agreement and ignored regions."""
    id2train = build_lut(cityscapes_id_to_trainid())
    train_ids = [t for t in range(19) if t != TRAIN_LABEL]
    pairs = []
    for _ in range(n):
        gt_ids = _blobs(rng, GT_IDS)
        pred = id2train[gt_ids].copy()
        wrong = _blobs(rng, [0, 1], grid=(16, 32)).astype(bool)
        pred[wrong] = _blobs(rng, train_ids, grid=(16, 32))[wrong]
        ignored = pred == 255
        pred[ignored] = _blobs(rng, train_ids)[ignored]
        pairs.append((gt_ids, pred))
    return pairs


def _run_cityscapes_evaluator(gt_files, results_dir):
    """Class IoUs and class average of cityscapesscripts on predictions found by its own matcher."""
    args = copy.copy(cs_eval.args)
    args.quiet = True
    args.JSONOutput = False
    args.evalInstLevelScore = False
    args.evalPixelAccuracy = False
    args.colorized = False
    args.bold = args.nocol = ''
    args.predictionPath = results_dir
    args.predictionWalk = None
    pred_files = [cs_eval.getPrediction(args, gt) for gt in gt_files]
    result = cs_eval.evaluateImgLists(pred_files, gt_files, args)
    return result['classScores'], result['averageScoreClasses']


def test_matches_cityscapesscripts_evaluator(tmp_path):
    rng = np.random.default_rng(0)
    id2train = build_lut(cityscapes_id_to_trainid())
    results_dir = str(tmp_path / 'results')
    metric = _metric(CLASSES)
    gt_files, samples = [], []
    for i, (gt_ids, pred) in enumerate(_make_pairs(rng)):
        stem = f'frankfurt_000000_{i:06d}'
        gt_file = str(tmp_path / 'gtFine' / 'val' / 'frankfurt' / f'{stem}_gtFine_labelIds.png')
        img_path = osp.join('data', 'leftImg8bit', 'val', 'frankfurt', f'{stem}_leftImg8bit.png')
        export_prediction(gt_ids, f'{stem}_gtFine_labelIds.png', osp.dirname(gt_file))
        export_prediction(pred, img_path, results_dir, to_label_id=True)
        gt_files.append(gt_file)
        samples.append(_sample(torch.from_numpy(pred), torch.from_numpy(id2train[gt_ids]),
                               img_path))
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])

    class_scores, average = _run_cityscapes_evaluator(gt_files, results_dir)
    raw = areas_to_metrics(torch.stack(metric.results).sum(0))
    for c, name in enumerate(CLASSES):
        if name == 'train':
            assert math.isnan(raw['IoU'][c]) and math.isnan(class_scores[name])
        else:
            assert 0.0 < class_scores[name] < 1.0
            assert raw['IoU'][c] == pytest.approx(class_scores[name], rel=1e-6)
    assert nanmean(raw['IoU']) == pytest.approx(average, rel=1e-6)

    out = metric.evaluate(len(samples))
    assert abs(out['mIoU'] - 100 * average) <= 0.005
    for name in CLASSES:
        if name != 'train':
            assert abs(out[f'IoU.{name}'] - 100 * class_scores[name]) <= 0.005


def test_registered_and_format_only(tmp_path):
    out_dir = str(tmp_path / 'labelTrainIds')
    metric = METRICS.build(dict(type='IoUMetric', format_only=True, output_dir=out_dir))
    metric.dataset_meta = dict(classes=CLASSES)
    pred = torch.tensor([[0, 13, 18], [255, 2, 1]])
    img_path = 'data/dark_zurich/rgb_anon/test/night/GOPR0364/GOPR0364_frame_000001_rgb_anon.png'
    metric.process({}, [dict(img_path=img_path, pred_sem_seg=dict(data=pred[None]))])
    assert metric.evaluate(1) == {}
    written = cv2.imread(osp.join(out_dir, 'GOPR0364_frame_000001_rgb_anon.png'),
                         cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, pred.numpy())

    label_dir = str(tmp_path / 'labelIds')
    metric = _metric(CLASSES, output_dir=label_dir, to_label_id=True)
    metric.process({}, [_sample(pred, pred, 'lindau_000000_000019_leftImg8bit.png')])
    assert metric.evaluate(1)['mIoU'] == 100.0
    written = cv2.imread(osp.join(label_dir, 'lindau_000000_000019_leftImg8bit.png'),
                         cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, [[7, 26, 33], [0, 11, 8]])
    with pytest.raises(ValueError, match='output_dir'):
        IoUMetric(format_only=True)
