"""Write the procedural driving scenes (the project's embedded default data) in real layouts.

``style='source'`` is written like GTA5 (docs/data.md §1): ``images/00001.png`` and
``labels/00001.png``, the label a palette ('P') PNG whose pixel indices are Cityscapes label ids
and whose palette holds the cityscapesscripts label colours.  ``style='target'`` is written like
Cityscapes: ``leftImg8bit/{train,val}/<city>/<city>_000000_<frame>_leftImg8bit.png`` with
``gtFine/{train,val}/<city>/<stem>_gtFine_labelIds.png`` ('L' label ids) and
``_gtFine_color.png`` (RGB).  The trees therefore go through the same converters
(``tools/convert_datasets``) as the real data.  Export item ``i`` (0-based) is the scene of
``scene_seed(seed, i)``, i.e. the same pixels as ``SyntheticDrivingDataset(seed=seed)[i]``.  The
generator is original to this project.
"""
import os
from functools import partial
from multiprocessing import get_context
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from cityscapesscripts.helpers import labels as cs_labels
from PIL import Image
from tqdm import tqdm

from .synthetic_scenes import check_size, render_scene, scene_seed
from .synthetic_style import STYLES

TRAIN_CITIES = ('synthcity', 'synthtown')
VAL_CITY = 'synthval'


def label_id_palette() -> np.ndarray:
    """(256, 3) uint8 RGB colours indexed by Cityscapes label id (GTA5 label palette)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for lab in cs_labels.labels:
        if lab.id >= 0:
            palette[lab.id] = lab.color
    return palette


def export_plan(style: str, num: int, val_fraction: float) -> List[Tuple[str, ...]]:
    """Relative paths of every item: GTA ``(image, label)``, Cityscapes ``(image, ids, colour)``."""
    if style == 'source':
        return [(f'images/{i + 1:05d}.png', f'labels/{i + 1:05d}.png') for i in range(num)]
    num_val = min(int(round(num * val_fraction)), num - 1)   # keep at least one train image
    plan = []
    for i in range(num):
        split = 'val' if i >= num - num_val else 'train'
        city = VAL_CITY if split == 'val' else TRAIN_CITIES[i % len(TRAIN_CITIES)]
        stem = f'{city}_000000_{i:06d}'
        plan.append((f'leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png',
                     f'gtFine/{split}/{city}/{stem}_gtFine_labelIds.png',
                     f'gtFine/{split}/{city}/{stem}_gtFine_color.png'))
    return plan


def _write_item(job: Tuple[int, Tuple[str, ...]], out_dir: str, style: str, size: Tuple[int, int],
                seed: int) -> None:
    """Render item ``i`` and write its files (runs in worker processes)."""
    i, rel_paths = job
    img, label_ids = render_scene(style, scene_seed(seed, i), size)
    paths = [os.path.join(out_dir, p) for p in rel_paths]
    for path in paths:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(paths[0], img):
        raise OSError(f'cv2.imwrite could not write {paths[0]}')
    palette = label_id_palette()
    if style == 'source':
        label = Image.fromarray(label_ids)          # 'L'; putpalette turns it into 'P'
        label.putpalette(palette.ravel().tolist())
        label.save(paths[1])
    else:
        Image.fromarray(label_ids).save(paths[1])   # 'L' label ids
        Image.fromarray(palette[label_ids]).save(paths[2])   # 'RGB' colours


def _check_args(out_dir: str, style: str, num: int, val_fraction: float, seed: int, nproc: int,
                overwrite: bool) -> None:
    """Validate the export arguments and the output directory; raise ValueError/FileExistsError."""
    if style not in STYLES:
        raise ValueError(f'style must be one of {sorted(STYLES)}, got {style!r}')
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f'num must be an int >= 1, got {num!r}')
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f'val_fraction must be in [0, 1), got {val_fraction!r}')
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f'nproc must be an int >= 1, got {nproc!r}')
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileExistsError(f'out_dir {out_dir!r} exists and is not a directory')
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'out_dir {out_dir!r} is not empty; pass overwrite=True (CLI: '
                              f'--overwrite) to rewrite the generated files (other files are kept)')


def export_synthetic(out_dir: str, style: str, num: int, size: Sequence[int], seed: int,
                     val_fraction: float = 0.2, nproc: int = 1, overwrite: bool = False) -> Dict:
    """Render ``num`` scenes and write them under ``out_dir`` in the GTA5 or Cityscapes layout.

    ``val_fraction`` (target style only; GTA5 has no split) puts the last ``round(num * f)``
    items into ``val`` (at most ``num - 1``, so train is never empty).  A non-empty ``out_dir`` is
    refused unless ``overwrite``; even then only the files of this export are rewritten and nothing
    is deleted.  Returns ``dict(out_dir, style, train, val)``.
    """
    size = check_size(size)
    _check_args(out_dir, style, num, val_fraction, seed, nproc, overwrite)
    plan = export_plan(style, num, val_fraction)
    os.makedirs(out_dir, exist_ok=True)
    worker = partial(_write_item, out_dir=out_dir, style=style, size=size, seed=seed)
    jobs = list(enumerate(plan))
    bar = dict(total=len(jobs), desc=f'synthetic {style} -> {out_dir}', unit='img')
    if nproc == 1:
        for job in tqdm(jobs, **bar):
            worker(job)
    else:
        with get_context('spawn').Pool(nproc) as pool:
            for _ in tqdm(pool.imap_unordered(worker, jobs, chunksize=4), **bar):
                pass
    num_val = sum(1 for p in plan if '/val/' in p[0])
    return dict(out_dir=out_dir, style=style, train=num - num_val, val=num_val)
