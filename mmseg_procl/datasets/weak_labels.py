"""Weak target labels of the weakly-supervised prototype method (WDASS): coarse and point labels written as
train-id PNGs beside a Cityscapes tree, read by ``LoadPseudoLabels`` (``data_prefix.pseudo_label_path``).

Das et al., CVPR 2023 (github.com/anurag-198/WDASS ``datasets/base_loader.py``, ``datasets/utils.py``;
docs/methods.md §2.7).  The reference reads

* **coarse** labels: the official ``gtCoarse/train/<city>/<stem>_gtCoarse_labelIds.png``, label ids mapped
  to train ids (everything else 255);
* **point** labels: maps filled with 255 except single labelled pixels, written from a per-image point list
  (``file_2975.yaml``: per image a list of ``{x: row, y: col, c: label id}``);
* **image** labels: the classes present in the (cropped) coarse label.

Here :func:`convert_coarse_labels` writes the coarse maps as train ids, :func:`write_point_labels` writes
point maps from a point list, and :func:`sample_points` draws points from dense ground truth (one random
pixel per class present, the usual point-supervision protocol; for demos and tests).  Every map has its
image's size, so the pipeline's resize (nearest), crop and flip keep the weak labels aligned with the
image; a point survives a nearest 2x downscale when its coordinates are even (points at half resolution
are scaled by ``scale=2``).  Output files: ``<out_dir>/<city>/<stem><suffix>`` (suffix
``_weak_labelTrainIds.png``; configs set ``pseudo_label_suffix`` to it).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
import yaml
from tqdm import tqdm

from .conversion import map_to_train_ids, read_png_pil, scan_files, write_label_png
from .conversion_error import ConversionError
from .label_tables import IGNORE_INDEX, cityscapes_id_to_trainid

WEAK_SUFFIX = '_weak_labelTrainIds.png'
COARSE_SUFFIX = '_gtCoarse_labelIds.png'
IMAGE_SUFFIX = '_leftImg8bit.png'
Point = Tuple[int, int, int]            # (row, column, train id)


def _output(out_dir: str, rel_stem: str, overwrite: bool) -> str:
    """The output path of an image stem; an existing file is refused unless ``overwrite``."""
    path = osp.join(out_dir, rel_stem + WEAK_SUFFIX)
    if osp.exists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; pass --overwrite to replace the weak labels')
    os.makedirs(osp.dirname(path), exist_ok=True)
    return path


def convert_coarse_labels(coarse_dir: str, out_dir: str, overwrite: bool = False) -> int:
    """``<coarse_dir>/<city>/<stem>_gtCoarse_labelIds.png`` -> ``<out_dir>/<city>/<stem>`` + WEAK_SUFFIX."""
    files = scan_files(coarse_dir, (COARSE_SUFFIX,))
    if not files:
        raise ConversionError(coarse_dir, f'no *{COARSE_SUFFIX} files; expected gtCoarse/train/<city>/')
    mapping = cityscapes_id_to_trainid()
    known = set(mapping) | set(range(34, 256))          # ids > 33 (reference: -> 255) are not errors
    for rel in tqdm(files, desc='coarse labels'):
        src = osp.join(coarse_dir, rel)
        label = map_to_train_ids(read_png_pil(src), mapping, known, src, 'Cityscapes label')
        write_label_png(_output(out_dir, rel[:-len(COARSE_SUFFIX)], overwrite), label)
    return len(files)


def point_map(shape: Tuple[int, int], points: Sequence[Point], scale: int = 1) -> np.ndarray:
    """(H, W) uint8 map of 255 with ``label`` at ``(row * scale, column * scale)`` for every point.

    Raises:
        ValueError: a point outside the map or a label that is not a train id.
    """
    out = np.full(shape, IGNORE_INDEX, np.uint8)
    for row, col, label in points:
        r, c = int(row) * scale, int(col) * scale
        if not (0 <= r < shape[0] and 0 <= c < shape[1]) or not 0 <= int(label) < IGNORE_INDEX:
            raise ValueError(f'point ({row}, {col}, {label}) x {scale} lies outside a {shape[1]}x{shape[0]} '
                             'map or is not a train id')
        out[r, c] = int(label)
    return out


def sample_points(label: np.ndarray, rng: np.random.Generator, points_per_class: int = 1,
                  ignore_index: int = IGNORE_INDEX) -> List[Point]:
    """``points_per_class`` random pixels of every class present in a dense (H, W) train-id label."""
    points = []
    for c in np.unique(label):
        if c == ignore_index:
            continue
        rows, cols = np.nonzero(label == c)
        for i in rng.choice(len(rows), size=min(points_per_class, len(rows)), replace=False):
            points.append((int(rows[i]), int(cols[i]), int(c)))
    return points


def read_point_list(path: str) -> Dict[str, List[Point]]:
    """``{image stem: [(row, col, train id)]}`` from a JSON / YAML point list.

    Accepted entries: WDASS's ``{x: row, y: col, c: label id}`` (label ids mapped to train ids; points of
    ignored classes dropped) or ``[row, col, train_id]``; keys are image names (a ``_leftImg8bit.png``
    suffix and folders are stripped).
    """
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f) if path.endswith(('.yaml', '.yml')) else json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a mapping image name -> list of points, got '
                         f'{type(data).__name__}')
    to_train = cityscapes_id_to_trainid()
    out = {}
    for name, entries in data.items():
        points = []
        for entry in entries or []:
            if isinstance(entry, dict) and {'x', 'y', 'c'} <= set(entry):
                train_id = to_train.get(int(entry['c']), IGNORE_INDEX)
                if train_id != IGNORE_INDEX:
                    points.append((int(entry['x']), int(entry['y']), train_id))
            elif isinstance(entry, (list, tuple)) and len(entry) == 3:
                points.append(tuple(int(v) for v in entry))
            else:
                raise ValueError(f'{path}: point {entry!r} of {name!r} is neither {{x, y, c}} nor '
                                 '[row, col, train_id]')
        out[osp.basename(str(name)).replace(IMAGE_SUFFIX, '')] = points
    return out


def write_point_labels(image_dir: str, out_dir: str, points: Dict[str, List[Point]], scale: int = 1,
                       overwrite: bool = False) -> int:
    """A point map per image of ``image_dir`` (``<city>/<stem>_leftImg8bit.png``) that has points."""
    images = scan_files(image_dir, (IMAGE_SUFFIX,))
    missing = [rel for rel in images if osp.basename(rel)[:-len(IMAGE_SUFFIX)] not in points]
    if missing:
        raise KeyError(f'{len(missing)} of {len(images)} images under {image_dir} have no points in the '
                       f'list, e.g. {missing[0]}')
    from PIL import Image
    for rel in tqdm(images, desc='point labels'):
        with Image.open(osp.join(image_dir, rel)) as img:
            w, h = img.size
        stem = rel[:-len(IMAGE_SUFFIX)]
        label = point_map((h, w), points[osp.basename(stem)], scale)
        write_label_png(_output(out_dir, stem, overwrite), label)
    return len(images)


def points_from_ground_truth(label_dir: str, seed: int = 0, points_per_class: int = 1,
                             suffix: str = '_gtFine_labelTrainIds.png') -> Dict[str, List[Point]]:
    """Points drawn from dense train-id labels ``<label_dir>/<city>/<stem><suffix>`` (one generator per run,
    images in sorted order)."""
    rng = np.random.default_rng(seed)
    files = scan_files(label_dir, (suffix,))
    if not files:
        raise ConversionError(label_dir, f'no *{suffix} files to draw points from')
    return {osp.basename(rel)[:-len(suffix)]: sample_points(read_png_pil(osp.join(label_dir, rel)), rng,
                                                            points_per_class)
            for rel in files}

