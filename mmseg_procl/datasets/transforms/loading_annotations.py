"""LoadAnnotations: read a trainId label map "unchanged" (palette indices / grey values, never colours).

Reference behaviour: mmseg 0.16 ``LoadAnnotations`` (``imdecode_backend='pillow'``, ``flag='unchanged'``),
docs/methods.md §1.1 item 1.  Pillow returns the indices of palette PNGs and the values of grey PNGs, which
is what the trainId files written by ``tools/convert_datasets`` contain.  Values that are neither a
class index nor ``ignore_index`` raise an error naming the file, instead of failing later inside the
loss.
"""
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


def read_label_map(path: str) -> np.ndarray:
    """Read a single-channel label PNG as an integer (H, W) array or raise naming the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    try:
        with Image.open(path) as im:
            label = np.array(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f'could not decode label file {path}: {err}') from err
    if label.ndim != 2:
        raise ValueError(f'label file {path} has shape {label.shape}; expected a single-channel '
                         f'trainId PNG (run tools/convert_datasets/* to create *_labelTrainIds.png)')
    return label


def check_label_values(label: np.ndarray, path: str, num_classes: int, ignore_index: int) -> None:
    """Raise if ``label`` holds values other than 0..num_classes-1 and ``ignore_index``."""
    valid = (label < num_classes) | (label == ignore_index)
    if not valid.all():
        bad = np.unique(label[~valid])[:10].tolist()
        raise ValueError(f'label file {path} contains unknown label ids {bad}; expected train ids '
                         f'0..{num_classes - 1} or {ignore_index} (is this a raw label-id file '
                         f'rather than *_labelTrainIds.png?)')


def add_label_field(results: Dict, key: str, label: np.ndarray, path: str) -> Dict:
    """Validate ``label`` against the dataset's classes, store it as uint8 ``results[key]`` and register
    ``key`` in ``seg_fields`` (so resize, crop, flip and pad treat it like the labels)."""
    num_classes = results.get('num_classes')
    if num_classes is not None:
        check_label_values(label, path, num_classes, results.get('ignore_index', 255))
    results[key] = label.astype(np.uint8, copy=False)
    results.setdefault('seg_fields', [])
    if key not in results['seg_fields']:
        results['seg_fields'].append(key)
    return results


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Load ``results['seg_map_path']`` into ``results['gt_seg_map']`` (uint8 train ids)."""

    def __init__(self, reduce_zero_label: Optional[bool] = None) -> None:
        self.reduce_zero_label = reduce_zero_label

    def transform(self, results: Dict) -> Dict:
        """Read, remap and validate the label map."""
        path = results.get('seg_map_path')
        if not path:
            raise KeyError(f'LoadAnnotations: {results.get("img_path", "an image")} has no label file (the dataset '
                           'has no data_prefix.seg_map_path, e.g. a test split whose labels are withheld); remove '
                           'LoadAnnotations from the pipeline, or export with --format-only')
        label = self._match_image_size(read_label_map(path), results)
        label = self._remap(label, results)
        return add_label_field(results, 'gt_seg_map', label, path)

    @staticmethod
    def _match_image_size(label: np.ndarray, results: Dict) -> np.ndarray:
        """The label at its image's original size: resized if the dataset flagged it, else an error."""
        ori = results.get('ori_shape')
        if ori is None or tuple(label.shape) == tuple(ori[:2]):
            return label
        if results.get('label_size_mismatch'):
            return cv2.resize(label, (int(ori[1]), int(ori[0])), interpolation=cv2.INTER_NEAREST)
        raise ValueError(f'label file {results["seg_map_path"]} is {label.shape[1]}x{label.shape[0]} '
                         f'but its image {results.get("img_path")} is {ori[1]}x{ori[0]}; expected '
                         'the same size (a training dataset announces and resizes such labels; '
                         'evaluation data must match)')

    def _remap(self, label: np.ndarray, results: Dict) -> np.ndarray:
        """Apply ``reduce_zero_label`` and the dataset's ``label_map``."""
        reduce = self.reduce_zero_label
        if reduce is None:
            reduce = results.get('reduce_zero_label', False)
        label_map = results.get('label_map')
        if not reduce and not label_map:
            return label                        # no remapping: no int64 round trip (0.7 ms per GTA5 label)
        label = label.astype(np.int64)
        if reduce:
            label = np.where(label == 0, 255, label - 1)
            label[label == 254] = 255
        if label_map:
            out = label.copy()
            for old, new in label_map.items():
                out[label == old] = new
            label = out
        return label


@TRANSFORMS.register_module()
class LoadPseudoLabels(BaseTransform):
    """Load externally produced pseudo-labels ``results['pseudo_label_path']`` into ``results['pseudo_label']``.

    PCPR (github.com/sunrui570-dev/PCPF) trains with offline target labels (e.g. SAM-refined, converted by
    ``tools/convert_datasets/pseudo_labels.py``); the dataset names the file (``data_prefix.pseudo_label_path``).
    The map is an 8-bit train-id PNG of the image's size (255 = no label); it joins ``seg_fields`` so resize
    (nearest), crop and flip treat it like the labels, ``Pad`` fills 255, ``PackSegInputs`` packs it as
    ``pseudo_label`` and the data preprocessor pads it with 255.  Errors name the file.
    """

    def transform(self, results: Dict) -> Dict:
        """Read and validate the map; add it as a seg field."""
        path = results.get('pseudo_label_path')
        if not path:
            raise KeyError(f'LoadPseudoLabels: {results.get("img_path", "an image")} has no pseudo-label file; set '
                           "the dataset's data_prefix.pseudo_label_path (see docs/data.md §7)")
        label = read_label_map(path)
        ori = results.get('ori_shape')
        if ori is not None and tuple(label.shape) != tuple(ori[:2]):
            raise ValueError(f'pseudo-label {path} is {label.shape[1]}x{label.shape[0]} but its image '
                             f'{results.get("img_path")} is {ori[1]}x{ori[0]}; expected the same size')
        return add_label_field(results, 'pseudo_label', label, path)
