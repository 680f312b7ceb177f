"""ProCA's offline steps between its training stages: prototype initialisation and percentile
pseudo-labels (docs/methods.md §2.6).

ProCA (Jiang et al., ECCV 2022; github.com/jiangzhengkai/ProCA ``prototype_dist_init.py``,
``pseudo_label.py``, ``core/utils/pseudo_label.py``):

* :func:`init_prototypes` runs the source-only segmentor in eval mode over the whole source set
  (batch 1, the config's source pipeline without random transforms: ProCA's resize) and
  accumulates the exact class means of the last backbone map (2048-d) and of the classifier logits
  on the same grid, labels nearest-downsampled to it (ignore 255 skipped); written in ProCA's layout
  as ``prototype_feat_dist.pth`` and ``prototype_out_dist.pth`` (``{'Proto', 'Amount'}``), read by
  ``ClassMeanEstimator(init_file=...)``.
* :func:`percentile_thresholds` / :func:`write_pseudo_labels`: the adapted model on every target
  training image (its training pipeline without random transforms: the resize to 1024x512); the
  softmax of the logits upsampled to the input size (bilinear, align_corners as the head) gives a
  confidence and a class per pixel; the threshold of class c is the value at position
  ``round(n_c * percent)`` of its n_c sorted confidences (percent 0.6), clipped to ``max_threshold``
  0.9, 0 for a class never predicted.  Then every image's
  prediction at full resolution keeps a pixel only if its confidence reaches its class threshold
  (else 255) and is written as an 8-bit PNG of Cityscapes train ids (a 16-class model's ids are mapped
  to the 19 by class name), at ``<out_dir>/<image path relative to the image folder, with the label
  suffix>`` so that a ``CityscapesDataset`` with ``seg_map_path=<out_dir>`` reads them.

Differences from the reference, on purpose: confidences are counted in a histogram of 2^20 bins over
[0, 1] instead of being kept in memory (the reference holds every pixel's confidence, tens of GB for
Cityscapes), so a threshold is the lower edge of the bin that holds the percentile value (at most
2^-20 below it); the percentile position is clipped to the last element (the reference indexes past
the end for a class predicted on a single pixel); the reference's label pass stops in a debugger
(``pdb.set_trace()`` in its loop), which is left out.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from mmseg_procl.datasets.label_tables import CLASSES, IGNORE_INDEX
from mmseg_procl.evaluation.prediction_export import encode_png
from mmseg_procl.models.utils import nearest_labels, resize
from mmseg_procl.registry import DATASETS, MODELS
from mmseg_procl.uda.prototypes.class_mean_estimator import ClassMeanEstimator
from mmseg_procl.utils.checkpoint import load_segmentor_checkpoint
from .config_utils import compose_uda_model, segmentor_config

HIST_BINS = 1 << 20
RANDOM_TRANSFORMS = ('RandomFlip', 'RandomCrop', 'RandomResize', 'PhotoMetricDistortion', 'ColorJitter',
                     'RandomGrayscale', 'GaussianBlur')
FEATURE_FILE, OUTPUT_FILE = 'prototype_feat_dist.pth', 'prototype_out_dist.pth'


def build_eval_segmentor(cfg, checkpoint: str, device: str = 'cpu') -> torch.nn.Module:
    """The config's plain segmentor with the (student) weights of ``checkpoint``, in eval mode."""
    model_cfg = dict(segmentor_config(compose_uda_model(cfg).model))
    model_cfg['backbone'] = {k: v for k, v in model_cfg['backbone'].items()
                             if k not in ('init_cfg', 'pretrained')}       # the checkpoint has every weight
    model = MODELS.build(model_cfg)
    load_segmentor_checkpoint(model, checkpoint, strict=True)
    return model.to(device).eval()


def without_random_transforms(dataset: dict) -> dict:
    """A dataset config whose pipeline has no random transform (crop, flip, rescale, colour jitter, ...)."""
    return dict(dataset, pipeline=[t for t in dataset['pipeline'] if t['type'] not in RANDOM_TRANSFORMS])


def source_dataset_config(cfg) -> dict:
    """The source training dataset of a source-only (plain dataset) or UDA (``UDADataset``) config, its
    pipeline without random transforms (ProCA: the stage-1 resize)."""
    dataset = cfg.train_dataloader.dataset
    return without_random_transforms(dataset.source if dataset.get('type') == 'UDADataset' else dataset)


def target_dataset_config(cfg) -> dict:
    """The target training dataset of a UDA config, its pipeline without random transforms (ProCA's
    target pipeline is a resize to 1024x512, the size it labels at)."""
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') != 'UDADataset':
        raise ValueError(f'ProCA pseudo-labels are made for the target training set of a UDA config; '
                         f"train_dataloader.dataset is {dataset.get('type')!r}")
    return without_random_transforms(dataset.target)


def preprocess(model, sample: dict, device: str) -> Tuple[torch.Tensor, object]:
    """(1, 3, H, W) normalised image and the data sample of one packed dataset item."""
    data = model.data_preprocessor(dict(inputs=[sample['inputs']], data_samples=[sample['data_samples']]),
                                   False)
    return data['inputs'].to(device), data['data_samples'][0]


def grid_labels(sample, size) -> torch.Tensor:
    """(h * w,) ground truth of a data sample, nearest-downsampled to the feature grid ``size``."""
    return nearest_labels(sample.gt_sem_seg.data, size).reshape(-1)


@torch.no_grad()
def init_prototypes(cfg, checkpoint: str, out_dir: str, device: str = 'cpu', feature_index: int = -1
                    ) -> Tuple[ClassMeanEstimator, ClassMeanEstimator]:
    """Feature- and output-level class means over the source set, written to ``out_dir``."""
    model = build_eval_segmentor(cfg, checkpoint, device)
    dataset = DATASETS.build(source_dataset_config(cfg))
    num_classes = model.decode_head.num_classes
    estimators: List[ClassMeanEstimator] = []
    for i in tqdm(range(len(dataset)), desc='ProCA prototypes (source set)'):
        inputs, sample = preprocess(model, dataset[i], device)
        feats = model.extract_feat(inputs)
        maps = (feats[feature_index], model.decode_head.forward(feats))
        if not estimators:
            estimators = [ClassMeanEstimator(num_classes, m.shape[1], sync=False).to(device) for m in maps]
        for estimator, x in zip(estimators, maps):         # labels on each map's grid (same for ProCA)
            labels = grid_labels(sample, x.shape[2:]).to(device)
            estimator.update(x.permute(0, 2, 3, 1).reshape(-1, x.shape[1]).float(), labels)
    os.makedirs(out_dir, exist_ok=True)
    for estimator, name in zip(estimators, (FEATURE_FILE, OUTPUT_FILE)):
        estimator.save(osp.join(out_dir, name))
    return estimators[0], estimators[1]


def class_probabilities(model, inputs: torch.Tensor, size) -> torch.Tensor:
    """(1, C, *size) softmax of the segmentor's logits upsampled to ``size``."""
    logits = model.decode_head.forward(model.extract_feat(inputs))
    return F.softmax(resize(logits.float(), tuple(size), align_corners=model.align_corners), dim=1)


def thresholds_from_histogram(hist: torch.Tensor, percent: float, max_threshold: float) -> np.ndarray:
    """(C,) thresholds from (C, HIST_BINS) confidence counts: the lower edge of the bin holding the value
    at position ``min(round(n_c * percent), n_c - 1)`` of the sorted confidences, clipped to
    ``max_threshold``; 0 for classes without pixels."""
    hist = hist.cpu().numpy()
    thresholds = np.zeros(len(hist))
    for c, counts in enumerate(hist):
        n = int(counts.sum())
        if n == 0:
            continue
        position = min(int(np.round(n * percent)), n - 1)
        bin_index = int(np.searchsorted(np.cumsum(counts), position, side='right'))
        thresholds[c] = bin_index / HIST_BINS
    return np.minimum(thresholds, max_threshold)


@torch.no_grad()
def percentile_thresholds(model, dataset, percent: float = 0.6, max_threshold: float = 0.9,
                          device: str = 'cpu') -> np.ndarray:
    """ProCA's per-class thresholds over the target set (see the module doc)."""
    num_classes = model.decode_head.num_classes
    hist = torch.zeros(num_classes * HIST_BINS, dtype=torch.long, device=device)
    for i in tqdm(range(len(dataset)), desc='ProCA thresholds (target set)'):
        inputs, _ = preprocess(model, dataset[i], device)
        conf, label = class_probabilities(model, inputs, inputs.shape[2:]).max(dim=1)
        bins = (conf * HIST_BINS).long().clamp(max=HIST_BINS - 1)
        hist += torch.bincount((label * HIST_BINS + bins).reshape(-1), minlength=num_classes * HIST_BINS)
    return thresholds_from_histogram(hist.view(num_classes, HIST_BINS), percent, max_threshold)


def full_class_ids(class_names: Sequence[str]) -> np.ndarray:
    """Lookup table from a model's class index to the 19 Cityscapes train ids (255 stays 255)."""
    unknown = [c for c in class_names if c not in CLASSES]
    if unknown:
        raise ValueError(f'classes {unknown} are not Cityscapes classes; cannot write train-id labels')
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    lut[:len(class_names)] = [CLASSES.index(c) for c in class_names]
    return lut


def label_path(dataset, index: int, out_dir: str) -> str:
    """``<out_dir>/<image path relative to the image folder, image suffix -> label suffix>``."""
    img_path = dataset.get_data_info(index)['img_path']
    rel = osp.relpath(img_path, dataset.data_prefix['img_path'])
    return osp.join(out_dir, rel[:-len(dataset.img_suffix)] + dataset.seg_map_suffix)


def check_outputs_free(dataset, out_dir: str, overwrite: bool) -> None:
    """Raise ``FileExistsError`` if a label file exists already (unless ``overwrite``)."""
    existing = [p for p in (label_path(dataset, i, out_dir) for i in range(len(dataset))) if osp.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(f'{len(existing)} pseudo-labels exist already under {out_dir}, e.g. '
                              f'{existing[0]}; pass --overwrite to replace them')


@torch.no_grad()
def write_pseudo_labels(model, dataset, thresholds: np.ndarray, out_dir: str, device: str = 'cpu',
                        overwrite: bool = False) -> int:
    """Thresholded full-resolution predictions as train-id PNGs; returns the number written."""
    check_outputs_free(dataset, out_dir, overwrite)
    lut = full_class_ids(dataset.metainfo['classes'])
    thr = torch.as_tensor(thresholds, dtype=torch.float32, device=device)
    for i in tqdm(range(len(dataset)), desc='ProCA pseudo-labels'):
        inputs, sample = preprocess(model, dataset[i], device)
        conf, label = class_probabilities(model, inputs, sample.metainfo['ori_shape'][:2]).max(dim=1)
        label = torch.where(conf < thr[label], torch.full_like(label, IGNORE_INDEX), label)
        path = label_path(dataset, i, out_dir)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(encode_png(lut[label[0].cpu().numpy().astype(np.uint8)], path))
    return len(dataset)


def make_pseudo_labels(cfg, checkpoint: str, out_dir: str, percent: float = 0.6, max_threshold: float = 0.9,
                       device: str = 'cpu', overwrite: bool = False) -> Dict:
    """Thresholds over the target set, then the labels; returns a summary."""
    model = build_eval_segmentor(cfg, checkpoint, device)
    dataset = DATASETS.build(target_dataset_config(cfg))
    check_outputs_free(dataset, out_dir, overwrite)
    thresholds = percentile_thresholds(model, dataset, percent, max_threshold, device)
    count = write_pseudo_labels(model, dataset, thresholds, out_dir, device, overwrite)
    return dict(images=count, thresholds=thresholds.round(6).tolist(), out_dir=out_dir)
