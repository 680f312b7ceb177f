"""IoUMetric: aAcc / mIoU / mAcc, the mIoU-16 / mIoU-13 subsets, per-class IoU, optional export.

Semantics of mmseg 1.x ``IoUMetric`` / mmseg 0.x ``eval_metrics``
(github.com/open-mmlab/mmsegmentation), as specified in docs/methods.md §1.8:

* per class, intersection / union / predicted area / label area are summed over the whole
  dataset, counting only pixels whose ground truth differs from ``ignore_index``;
* ``IoU_c = I_c / U_c`` and ``Acc_c = I_c / label_c``; a class with zero union (absent from both
  prediction and ground truth) is NaN and excluded from the nan-means (``nan_to_num`` replaces
  NaNs by a number first, as in mmseg);
* predicted values outside ``[0, num_classes)`` are wrong predictions that add to no class's
  predicted area (mmseg's histogram drops them too); ground-truth values outside
  ``[0, num_classes)`` other than ``ignore_index`` are an error (e.g. labelIds given where
  trainIds are expected);
* ``mIoU16`` / ``mIoU13`` are nan-means of the same per-class IoUs over
  ``label_tables.MIOU16_CLASSES`` / ``MIOU13_CLASSES`` (SYNTHIA protocols); they are computed
  only for 19-class datasets.  For a 19-class model trained on SYNTHIA whose three absent classes
  get IoU 0 this equals DAFormer's ``mIoU19 * 19 / 16``.

All reported values are percentages rounded to 2 decimals; :func:`areas_to_metrics` returns the
unrounded fractions.  mmseg's prettytable summary is replaced by :func:`format_table`.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from mmengine.utils import mkdir_or_exist

from mmseg_procl.datasets.label_tables import MIOU13_CLASSES, MIOU16_CLASSES, NUM_CLASSES
from mmseg_procl.registry import METRICS
from mmseg_procl.errors import EvaluationError
from .prediction_export import export_prediction
from .submissions import SUBMISSION_KINDS, SubmissionArchive

ALLOWED_METRICS = ('mIoU', 'mDice', 'mFscore')
BUILTIN_SUBSETS: Dict[str, Tuple[int, ...]] = {'mIoU16': MIOU16_CLASSES, 'mIoU13': MIOU13_CLASSES}
SubsetSpec = Union[None, Sequence[str], Mapping[str, Sequence[Union[int, str]]]]


def intersect_and_union(pred_label: torch.Tensor, label: torch.Tensor, num_classes: int,
                        ignore_index: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-class (intersection, union, pred area, label area) as (4, C), plus #unknown GT pixels.

    One ``torch.bincount`` over a (C+1) x (C+1) confusion matrix whose last row / column collects
    out-of-range ground-truth / predicted values; everything stays on the input device.
    """
    valid = label != ignore_index
    gt = label[valid].long()
    pred = pred_label[valid].long()
    other = num_classes
    gt = torch.where((gt >= 0) & (gt < num_classes), gt, torch.full_like(gt, other))
    pred = torch.where((pred >= 0) & (pred < num_classes), pred, torch.full_like(pred, other))
    size = num_classes + 1
    confusion = torch.bincount(gt * size + pred, minlength=size * size).view(size, size)
    intersect = confusion.diagonal()[:num_classes]
    area_label = confusion[:num_classes].sum(1)
    area_pred = confusion[:, :num_classes].sum(0)
    union = area_pred + area_label - intersect
    return torch.stack([intersect, union, area_pred, area_label]), confusion[other].sum()


def areas_to_metrics(total_areas: Union[np.ndarray, torch.Tensor],
                     metrics: Sequence[str] = ('mIoU',), nan_to_num: Optional[float] = None,
                     beta: float = 1) -> Dict[str, Union[float, np.ndarray]]:
    """Unrounded fractions from summed (4, C) areas: ``aAcc`` and per-class IoU / Acc / ..."""
    areas = np.asarray(total_areas, dtype=np.float64)
    if areas.ndim != 2 or areas.shape[0] != 4:
        raise ValueError(f'total_areas: expected shape (4, num_classes), got {areas.shape}')
    intersect, union, area_pred, area_label = areas
    out: Dict[str, Union[float, np.ndarray]] = {}
    with np.errstate(divide='ignore', invalid='ignore'):
        out['aAcc'] = float(intersect.sum() / area_label.sum())
        if 'mIoU' in metrics:
            out['IoU'] = intersect / union
            out['Acc'] = intersect / area_label
        if 'mDice' in metrics:
            out['Dice'] = 2 * intersect / (area_pred + area_label)
            out['Acc'] = intersect / area_label
        if 'mFscore' in metrics:
            precision = intersect / area_pred
            recall = intersect / area_label
            out['Fscore'] = (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall)
            out['Precision'] = precision
            out['Recall'] = recall
    if nan_to_num is not None:
        out = {k: np.nan_to_num(v, nan=nan_to_num) if isinstance(v, np.ndarray) else
               (nan_to_num if np.isnan(v) else v) for k, v in out.items()}
    return out


def nanmean(values: np.ndarray) -> float:
    """Mean over the non-NaN entries (NaN when there are none), without RuntimeWarnings."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float('nan')


def to_percent(value: float) -> float:
    """A fraction as a percentage rounded to 2 decimals (NaN stays NaN)."""
    return float(np.round(float(value) * 100, 2))


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table with a header rule; floats are printed with 2 decimals."""
    cells = [[f'{c:.2f}' if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    rule = '+-' + '-+-'.join('-' * w for w in widths) + '-+'

    def line(items: Sequence[str]) -> str:
        return '| ' + ' | '.join(s.rjust(w) if i else s.ljust(w)
                                 for i, (s, w) in enumerate(zip(items, widths))) + ' |'

    return '\n'.join([rule, line(header), rule] + [line(r) for r in cells] + [rule])


def _normalise_subsets(class_subsets: SubsetSpec) -> Dict[str, Optional[Tuple]]:
    """Map subset name -> explicit members, or None for a built-in 19-class subset."""
    if class_subsets is None:
        return {}
    if isinstance(class_subsets, str):
        class_subsets = (class_subsets, )
    if isinstance(class_subsets, Mapping):
        return {str(k): tuple(v) for k, v in class_subsets.items()}
    unknown = [s for s in class_subsets if s not in BUILTIN_SUBSETS]
    if unknown:
        raise KeyError(f'class_subsets: unknown subset names {unknown}; expected names from '
                       f'{sorted(BUILTIN_SUBSETS)} or a dict name -> class indices / names')
    return {name: None for name in class_subsets}


def _as_dict(data_sample: Union[dict, BaseDataElement]) -> dict:
    """A data sample as the plain dict mmengine's ``BaseDataElement.to_dict()`` produces."""
    if isinstance(data_sample, BaseDataElement):
        return data_sample.to_dict()
    if isinstance(data_sample, Mapping):
        return dict(data_sample)
    raise TypeError(f'data_samples: expected dicts or SegDataSample, got {type(data_sample)}')


def _label_map(sample: dict, key: str, img_path: str) -> torch.Tensor:
    """The (H, W) label map stored as ``sample[key]['data']`` of shape (1, H, W) or (H, W)."""
    field = sample.get(key)
    if field is None:
        raise KeyError(f'{img_path}: data sample has no {key!r} (has {sorted(sample)})')
    data = field.data if isinstance(field, BaseDataElement) else field.get('data')
    if data is None:
        raise KeyError(f"{img_path}: {key!r} has no 'data' field (has {sorted(field)})")
    data = torch.as_tensor(data)
    if data.dim() == 3 and data.shape[0] == 1:
        data = data[0]
    if data.dim() != 2:
        raise ValueError(f"{img_path}: {key}['data'] must have shape (1, H, W) or (H, W), "
                         f'got {tuple(data.shape)}')
    return data


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """Dataset-level IoU / accuracy of semantic segmentation with the mmseg 1.x interface.

    Args:
        ignore_index: ground-truth value excluded from evaluation.
        iou_metrics: any of 'mIoU', 'mDice', 'mFscore'.
        class_subsets: names of built-in 19-class subsets ('mIoU16', 'mIoU13'), or a dict
            name -> class indices / class names, reported as nan-mean IoU over the subset.
        nan_to_num: replaces NaN per-class values before averaging (mmseg semantics).
        beta: recall weight of the F-score.
        collect_device: 'cpu' or 'gpu', for gathering results across ranks.
        output_dir: when set, predictions are written there (``<image stem>.png``).
        format_only: only write predictions (needs ``output_dir``); ``compute_metrics`` returns {}.
        to_label_id: write Cityscapes labelIds instead of trainIds (19-class datasets only).
        submission: with ``format_only``, write the benchmark server's archive instead of loose PNGs:
            ``'dark_zurich'``, ``'acdc'`` or ``'cityscapes'`` (``evaluation/submissions.py``).
        prefix: prefix of the metric names.
    """

    def __init__(self, ignore_index: int = 255, iou_metrics: Sequence[str] = ('mIoU', ),
                 class_subsets: SubsetSpec = ('mIoU16', 'mIoU13'),
                 nan_to_num: Optional[float] = None, beta: float = 1,
                 collect_device: str = 'cpu', output_dir: Optional[str] = None,
                 format_only: bool = False, to_label_id: bool = False,
                 submission: Optional[str] = None, prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = [iou_metrics] if isinstance(iou_metrics, str) else list(iou_metrics)
        if not metrics or not set(metrics) <= set(ALLOWED_METRICS):
            raise KeyError(f'iou_metrics: got {metrics}, expected a non-empty subset of '
                           f'{list(ALLOWED_METRICS)}')
        if format_only and not output_dir:
            raise ValueError('format_only=True needs output_dir (where predictions are written)')
        if submission is not None and (not format_only or submission not in SUBMISSION_KINDS):
            raise ValueError(f'submission={submission!r} needs format_only=True and one of '
                             f'{list(SUBMISSION_KINDS)}')
        self.submission = submission
        self._archive: Optional[SubmissionArchive] = None
        self.ignore_index = ignore_index
        self.metrics = metrics
        self.class_subsets = _normalise_subsets(class_subsets)
        self.nan_to_num = nan_to_num
        self.beta = beta
        self.output_dir = output_dir
        self.format_only = format_only
        self.to_label_id = to_label_id
        if output_dir and is_main_process():
            mkdir_or_exist(output_dir)

    def _class_names(self) -> Tuple[str, ...]:
        """Class names from ``dataset_meta['classes']``."""
        meta = self.dataset_meta
        if not meta or 'classes' not in meta:
            raise KeyError("IoUMetric.dataset_meta must be a dict with 'classes' (the Runner "
                           f"sets it from the dataset's metainfo); got {meta!r}")
        return tuple(meta['classes'])

    def process(self, data_batch: object,
                data_samples: Sequence[Union[dict, BaseDataElement]]) -> None:
        """Accumulate per-image (4, C) areas; write predictions when ``output_dir`` is set."""
        num_classes = len(self._class_names())
        for data_sample in data_samples:
            sample = _as_dict(data_sample)
            img_path = sample.get('img_path') or '<image without img_path>'
            pred = _label_map(sample, 'pred_sem_seg', img_path)
            if self.submission:
                self.results.append(self._add_to_archive(sample, pred, img_path))
                continue
            written = self._export(pred, sample, num_classes) if self.output_dir else None
            if self.format_only:
                self.results.append(written)
                continue
            label = _label_map(sample, 'gt_sem_seg', img_path)
            if label.shape != pred.shape:
                raise ValueError(f'{img_path}: pred_sem_seg has shape {tuple(pred.shape)} but '
                                 f'gt_sem_seg has shape {tuple(label.shape)}; predictions must be '
                                 'resized to the ground-truth size before evaluation')
            self.results.append(self._areas(pred, label.to(pred.device), num_classes, img_path))

    def _areas(self, pred: torch.Tensor, label: torch.Tensor, num_classes: int,
               img_path: str) -> torch.Tensor:
        """(4, C) CPU areas of one image, moved to the host in a single transfer."""
        areas, n_unknown = intersect_and_union(pred, label, num_classes, self.ignore_index)
        packed = torch.cat([areas.flatten(), n_unknown.view(1)]).cpu()
        if packed[-1] > 0:
            valid = label != self.ignore_index
            bad = label[valid & ((label < 0) | (label >= num_classes))]
            raise ValueError(f'{img_path}: gt_sem_seg has {int(packed[-1])} pixels with values '
                             f'{torch.unique(bad)[:10].tolist()} outside [0, {num_classes}) that '
                             f'are not ignore_index={self.ignore_index} (trainIds expected)')
        return packed[:-1].view(4, num_classes)

    def _add_to_archive(self, sample: dict, pred: torch.Tensor, img_path: str) -> str:
        """Add one image to the server archive (opened on the first image); return its PNG name."""
        if self._archive is None:
            self._archive = SubmissionArchive(self.output_dir, self.submission)
        logits = sample.get('seg_logits')
        data = None if logits is None else (logits.data if isinstance(logits, BaseDataElement)
                                            else logits.get('data'))
        if data is None:
            raise KeyError(f'{img_path}: a {self.submission} submission needs seg_logits (class scores)')
        try:
            return self._archive.add(img_path, torch.as_tensor(data), pred)
        except Exception:
            self._archive.discard()
            self._archive = None
            raise

    def _export(self, pred: torch.Tensor, sample: dict, num_classes: int) -> str:
        """Write one prediction into ``output_dir``; return the written path."""
        img_path = sample.get('img_path')
        if not img_path:
            raise KeyError('output_dir is set but a data sample has no img_path to name the '
                           f'prediction file (has {sorted(sample)})')
        if self.to_label_id and num_classes != NUM_CLASSES:
            raise ValueError(f'to_label_id=True needs the {NUM_CLASSES} Cityscapes classes, the '
                             f'dataset has {num_classes}')
        return export_prediction(pred, img_path, self.output_dir, self.to_label_id)

    def _subset_indices(self, class_names: Sequence[str]) -> Dict[str, List[int]]:
        """Resolve the configured subsets against the dataset classes (built-ins need 19)."""
        resolved = {}
        for name, members in self.class_subsets.items():
            if members is None:
                if len(class_names) == NUM_CLASSES:
                    resolved[name] = list(BUILTIN_SUBSETS[name])
                continue
            resolved[name] = [self._class_index(m, class_names, name) for m in members]
        return resolved

    @staticmethod
    def _class_index(member: Union[int, str], class_names: Sequence[str], subset: str) -> int:
        """Index of a subset member given as class index or class name."""
        if isinstance(member, str):
            if member not in class_names:
                raise KeyError(f'class_subsets[{subset!r}]: class {member!r} is not in the '
                               f'dataset classes {list(class_names)}')
            return class_names.index(member)
        if not 0 <= int(member) < len(class_names):
            raise IndexError(f'class_subsets[{subset!r}]: index {member} outside '
                             f'[0, {len(class_names)})')
        return int(member)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Percent metrics: aAcc, m<metric>, subsets, ``IoU.<class>``; logs a per-class table."""
        if self.format_only:
            if self._archive is not None:
                path = self._archive.close()
                self._archive = None
                print_log(f'{len(results)} predictions written to {path}', logger='current')
            else:
                print_log(f'predictions written to {self.output_dir}', logger='current')
            return {}
        class_names = self._class_names()
        if not results:
            raise ValueError('IoUMetric.compute_metrics: no processed results (empty dataset?)')
        totals = torch.stack([torch.as_tensor(r) for r in results]).sum(0)
        if tuple(totals.shape) != (4, len(class_names)):
            raise ValueError(f'results: per-image areas have shape {tuple(totals.shape)}, expected '
                             f'(4, {len(class_names)}) for the dataset classes')
        if int(totals[3].sum()) == 0:
            raise EvaluationError(
                f'IoUMetric: the {len(results)} evaluated images have no labelled pixel (every '
                f'ground-truth value is ignore_index={self.ignore_index}), so no metric is defined; '
                'a split without public labels (e.g. Cityscapes / Dark Zurich / ACDC test) can only be '
                'exported for the benchmark server: tools/test.py CONFIG CKPT --format-only '
                '--eval-options imgfile_prefix=DIR')
        raw = areas_to_metrics(totals.numpy(), self.metrics, self.nan_to_num, self.beta)
        per_class = {k: v for k, v in raw.items() if k != 'aAcc'}
        metrics = {'aAcc': to_percent(raw['aAcc'])}
        metrics.update({f'm{k}': to_percent(nanmean(v)) for k, v in per_class.items()})
        if 'IoU' in raw:
            for subset, indices in self._subset_indices(class_names).items():
                metrics[subset] = to_percent(nanmean(raw['IoU'][indices]))
            metrics.update({f'IoU.{c}': to_percent(v) for c, v in zip(class_names, raw['IoU'])})
        self._log_table(class_names, per_class)
        undefined = [k for k, v in metrics.items() if not k.startswith('IoU.') and np.isnan(v)]
        if undefined:
            raise EvaluationError(f'IoUMetric: {undefined} evaluated to nan (no class of the subset '
                                  'occurs in the ground truth or the predictions)')
        return metrics

    @staticmethod
    def _log_table(class_names: Sequence[str], per_class: Dict[str, np.ndarray]) -> None:
        """Log the per-class table (class, IoU, Acc, ...) in percent."""
        header = ['Class'] + list(per_class)
        rows = [[name] + [to_percent(v[i]) for v in per_class.values()]
                for i, name in enumerate(class_names)]
        print_log('per class results:\n' + format_table(header, rows), logger='current')
