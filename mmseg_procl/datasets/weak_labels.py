"""Weak target labels of the weakly-supervised prototype method (WDASS): coarse and point labels written as
train-id PNGs beside a Cityscapes tree, read by ``LoadPseudoLabels`` (``data_prefix.pseudo_label_path``).

Das et al., CVPR 2023 (github.com/anurag-198/WDASS ``datasets/base_loader.py``, ``datasets/utils.py``;
docs/methods.md §2.7).  The reference reads

* **coarse** labels: the official ``gtCoarse/train/<city>/<stem>_gtCoarse_labelIds.png``, label ids mapped
  to train ids (everything else 255);
* **point** labels: maps filled with 255 except single labelled pixels, written from a per-image point list
  (``file_2975.yaml``: per image ``{image, points: [{x: row, y: col, c: label id}], size}`` at 1024x512);
* **image** labels: the classes present in the (cropped) coarse label.

Here :func:`convert_coarse_labels` writes the coarse maps as train ids, :func:`write_point_labels` writes
point maps from a point list, and :func:`sample_points` draws points from dense ground truth (one random
pixel per class present, the usual point-supervision protocol; for demos and tests).  Every map has its
image's size, so the pipeline's resize (nearest), crop and flip keep the weak labels aligned with the
image.  Points given at half resolution (WDASS's 1024x512 list, ``scale=2``) are written as the 2x2 block of
full-resolution pixels under each listed pixel, so that the pipeline's nearest resize to 1024x512 recovers
exactly the listed points (Pillow and OpenCV pick different pixels of a 2x2 block).  Output files:
``<out_dir>/<city>/<stem><suffix>`` (suffix ``_weak_labelTrainIds.png``; configs set ``pseudo_label_suffix``
to it).
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
    """(H, W) uint8 map of 255 with ``label`` on the ``scale x scale`` block at ``(row * scale, column *
    scale)`` for every point: the full-resolution footprint of a pixel of the ``1 / scale`` grid the points
    are given on, so that a nearest resize back to that grid gives exactly the listed pixel whichever library
    resizes (OpenCV keeps the block's first pixel, Pillow its centre).

    Raises:
        ValueError: a point outside the map or a label that is not a train id.
    """
    out = np.full(shape, IGNORE_INDEX, np.uint8)
    for row, col, label in points:
        r, c = int(row) * scale, int(col) * scale
        if not (0 <= r and r + scale <= shape[0] and 0 <= c and c + scale <= shape[1]) \
                or not 0 <= int(label) < IGNORE_INDEX:
            raise ValueError(f'point ({row}, {col}, {label}) x {scale} lies outside a {shape[1]}x{shape[0]} '
                             'map or is not a train id')
        out[r:r + scale, c:c + scale] = int(label)
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


class PointListLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``!!python/tuple`` (WDASS's ``file_2975.yaml`` stores each image's
    size as one) as a list; nothing else beyond safe YAML is constructed."""


PointListLoader.add_constructor('tag:yaml.org,2002:python/tuple',
                                lambda loader, node: loader.construct_sequence(node))
NAME_SUFFIXES = ('_gtPoint2_labelIds.png', IMAGE_SUFFIX)


def image_stem(name: str) -> str:
    """``aachen_000000_000019`` of an image or point-label file name (folders and suffixes stripped)."""
    name = osp.basename(str(name))
    for suffix in NAME_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def parse_point(entry, name: str, path: str, to_train: Dict[int, int]):
    """(row, col, train id) of one entry, or None for a point of an ignored class."""
    if isinstance(entry, dict) and {'x', 'y', 'c'} <= set(entry):
        train_id = to_train.get(int(entry['c']), IGNORE_INDEX)
        return None if train_id == IGNORE_INDEX else (int(entry['x']), int(entry['y']), train_id)
    if isinstance(entry, (list, tuple)) and len(entry) == 3:
        return tuple(int(v) for v in entry)
    raise ValueError(f'{path}: point {entry!r} of {name!r} is neither {{x: row, y: col, c: label id}} nor '
                     '[row, col, train_id]')


def read_point_list(path: str) -> Dict[str, List[Point]]:
    """``{image stem: [(row, col, train id)]}`` from a point list.

    Formats: WDASS's ``file_2975.yaml`` (a list of ``{image: <stem>_gtPoint2_labelIds.png, points: [{x: row,
    y: col, c: label id}], size: ...}``; coordinates at 1024x512, so write with ``scale=2`` for 2048x1024
    images), or a JSON / YAML mapping image name -> list of ``{x, y, c}`` or ``[row, col, train_id]``.  Label
    ids are mapped to train ids; points of ignored classes are dropped.

    Raises:
        ValueError: unreadable YAML / JSON or an entry of another form (names the file).
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.load(f, Loader=PointListLoader) if path.endswith(('.yaml', '.yml')) else json.load(f)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: not a readable point list ({type(err).__name__}: {err})') from None
    if isinstance(data, list):
        if not all(isinstance(e, dict) and 'image' in e and 'points' in e for e in data):
            raise ValueError(f'{path}: a list point file needs entries {{image: ..., points: [...]}}')
        data = {e['image']: e['points'] for e in data}
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a list of {{image, points}} or a mapping image name -> points, '
                         f'got {type(data).__name__}')
    to_train = cityscapes_id_to_trainid()
    out = {}
    for name, entries in data.items():
        points = [parse_point(e, name, path, to_train) for e in entries or []]
        out[image_stem(name)] = [p for p in points if p is not None]
    return out


def write_point_labels(image_dir: str, out_dir: str, points: Dict[str, List[Point]], scale: int = 1,
                       overwrite: bool = False) -> int:
    """A point map per image of ``image_dir`` (``<city>/<stem>_leftImg8bit.png``) that has points."""
    images = scan_files(image_dir, (IMAGE_SUFFIX,))
    missing = [rel for rel in images if image_stem(rel) not in points]
    if missing:
        raise KeyError(f'{len(missing)} of {len(images)} images under {image_dir} have no points in the '
                       f'list, e.g. {missing[0]}')
    from PIL import Image
    for rel in tqdm(images, desc='point labels'):
        with Image.open(osp.join(image_dir, rel)) as img:
            w, h = img.size
        stem = rel[:-len(IMAGE_SUFFIX)]
        label = point_map((h, w), points[image_stem(rel)], scale)
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

