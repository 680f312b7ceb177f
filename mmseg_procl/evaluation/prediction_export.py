"""Writing predicted label maps as PNG files (trainIds, Cityscapes labelIds, colour).

File naming and content follow MMSegmentation (github.com/open-mmlab/mmsegmentation): mmseg 0.x
``CityscapesDataset.results2img`` and mmseg 1.x ``IoUMetric`` / ``CityscapesMetric`` name the
prediction of an image ``<image basename without extension>.png`` (e.g.
``frankfurt_000000_000294_leftImg8bit.png`` -> ``frankfurt_000000_000294_leftImg8bit.png``,
``GOPR0356_frame_000321_rgb_anon.png`` -> ``GOPR0356_frame_000321_rgb_anon.png``) and write a
single-channel 8-bit PNG holding train ids, or Cityscapes label ids when ``to_label_id=True``
(the format of the official Cityscapes server, whose evaluator ``cityscapesscripts.evaluation.
evalPixelLevelSemanticLabeling`` finds a prediction by the ``<city>_<seq>_<frame>*.png`` pattern).

Values that are not a train id (e.g. 255) become label id 0 (``unlabeled``) in labelId maps, the
same outcome as mmseg 0.x ``_convert_to_label_id`` (cityscapesscripts' ``trainId2label[255]`` is
``unlabeled``).  Encoding uses OpenCV; 16-bit single-channel arrays give 16-bit PNGs.
"""
import os
import os.path as osp
from typing import Sequence, Union

import cv2
import numpy as np
import torch

from mmseg_procl.datasets.label_tables import build_lut, trainid_to_cityscapes_id

ArrayLike = Union[np.ndarray, torch.Tensor]

_LABELID_LUT = build_lut(trainid_to_cityscapes_id(), fill=0)


def prediction_filename(img_path: str) -> str:
    """Name of the prediction PNG of an image: ``<basename without extension>.png``."""
    if not img_path:
        raise ValueError(f'img_path must be a non-empty image path, got {img_path!r}')
    return osp.splitext(osp.basename(img_path))[0] + '.png'


def label_map_to_uint8(pred: ArrayLike, what: str = 'prediction') -> np.ndarray:
    """Return an (H, W) uint8 numpy copy of a label map given as (H, W) or (1, H, W)."""
    array = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f'{what}: expected a label map of shape (H, W) or (1, H, W), '
                         f'got shape {tuple(array.shape)}')
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in 'iub':
        raise TypeError(f'{what}: expected an integer label map, got dtype {array.dtype}')
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(f'{what}: label values must lie in 0..255 to be stored as 8-bit PNG, '
                         f'got range {int(array.min())}..{int(array.max())}')
    return array.astype(np.uint8)


def encode_png(array: np.ndarray, what: str = 'image') -> bytes:
    """Encode an (H, W) uint8 / uint16 or (H, W, 3) uint8 RGB array as PNG bytes."""
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f'{what}: PNG encoding needs uint8 or uint16, got dtype {array.dtype}')
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif array.ndim != 2:
        raise ValueError(f'{what}: expected shape (H, W) or (H, W, 3), got {tuple(array.shape)}')
    ok, buffer = cv2.imencode('.png', np.ascontiguousarray(array))
    if not ok:
        raise IOError(f'{what}: OpenCV failed to encode an array of shape {array.shape} as PNG')
    return buffer.tobytes()


def _write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path``, creating the parent directory."""
    parent = osp.dirname(osp.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data)


def trainid_to_labelid(pred: ArrayLike, what: str = 'prediction') -> np.ndarray:
    """Map a train-id label map to Cityscapes label ids (non-train ids -> 0 ``unlabeled``)."""
    return _LABELID_LUT[label_map_to_uint8(pred, what)]


def save_trainid_png(pred: ArrayLike, path: str) -> None:
    """Save a train-id label map as a single-channel 8-bit PNG."""
    _write_bytes(encode_png(label_map_to_uint8(pred, path), path), path)


def save_cityscapes_labelid_png(pred: ArrayLike, path: str) -> None:
    """Save a train-id label map as a Cityscapes labelId PNG (official server format)."""
    _write_bytes(encode_png(trainid_to_labelid(pred, path), path), path)


def colorize(pred: ArrayLike, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """Map a label map to an (H, W, 3) uint8 RGB image; ids without a palette entry are black."""
    colors = np.asarray(palette, dtype=np.uint8)
    if colors.ndim != 2 or colors.shape[1] != 3 or len(colors) > 256:
        raise ValueError(f'palette: expected at most 256 RGB triplets, got shape {colors.shape}')
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(colors)] = colors
    return lut[label_map_to_uint8(pred)]


def save_color_png(pred: ArrayLike, path: str, palette: Sequence[Sequence[int]]) -> None:
    """Save a label map as an RGB PNG coloured with ``palette`` (index -> RGB)."""
    _write_bytes(encode_png(colorize(pred, palette), path), path)


def export_prediction(pred: ArrayLike, img_path: str, output_dir: str,
                      to_label_id: bool = False) -> str:
    """Write the trainId (or labelId) PNG of ``img_path`` into ``output_dir``; return its path."""
    path = osp.join(output_dir, prediction_filename(img_path))
    if to_label_id:
        save_cityscapes_labelid_png(pred, path)
    else:
        save_trainid_png(pred, path)
    return path
