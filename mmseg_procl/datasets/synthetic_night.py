"""A synthetic day -> night shift in the Dark Zurich layout, with day partners (the project's embedded data).

The Cityscapes-like ``target`` scenes of the procedural generator (``synthetic_scenes``) are the daytime
domain; :func:`night_look` turns a scene into its "night" image: a darkening gamma, a blue cast, warm street
lights (Gaussian glows in the upper half) and stronger sensor noise, all drawn from the item's own generator.
:func:`export_synthetic_dark_zurich` writes, like Dark Zurich (docs/data.md §1):

* ``rgb_anon/train/night/GOPR0001/GOPR0001_frame_<i>_rgb_anon.png`` -- unlabelled night images;
* ``rgb_anon/train/day/GOPR0002/GOPR0002_frame_<i>_rgb_anon.png`` -- the same scene by day, shifted by a few
  pixels (a real day partner is a different recording of the same place, not a pixel-aligned copy);
* ``corresp/train/night/GOPR0001.csv`` -- ``train/night/GOPR0001/<night>,train/day/GOPR0002/<day>`` rows;
* ``rgb_anon/val/night/GOPR0003/*_rgb_anon.png`` + ``gt/val/night/GOPR0003/*_gt_labelTrainIds.png``;
* ``rgb_anon/test/night/GOPR0004/*_rgb_anon.png`` (no labels, as the real test split).

Item ``i`` renders ``scene_seed(seed, i)`` of the ``target`` style.  The generator is original to this project.
"""
import csv
import os
from typing import Dict, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from .label_tables import build_lut, cityscapes_id_to_trainid
from .synthetic_scenes import check_size, render_scene, scene_seed

NIGHT_SEQ, DAY_SEQ, VAL_SEQ, TEST_SEQ = 'GOPR0001', 'GOPR0002', 'GOPR0003', 'GOPR0004'
DAY_SHIFT = 4          # horizontal offset (px) of a day partner against its night image


def night_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 BGR night version of a day image: gamma 1.8 x 0.35, blue cast, 2-4 warm glows in the
    upper half, Gaussian noise (std 0.03); deterministic for a given generator state."""
    h, w = img.shape[:2]
    x = (img.astype(np.float32) / 255.0) ** 1.8 * 0.35
    x *= np.array([1.3, 1.0, 0.8], np.float32)                  # BGR: blue up, red down
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(2, 5))):
        cy, cx = rng.uniform(0.05, 0.5) * h, rng.uniform(0, 1) * w
        radius = rng.uniform(0.04, 0.1) * w
        glow = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))[..., None]
        x += glow * np.array([0.25, 0.55, 0.75], np.float32) * rng.uniform(0.5, 1.0)
    x += rng.normal(0, 0.03, x.shape).astype(np.float32)
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def _write(path: str, img: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError(f'cv2.imwrite could not write {path}')


def export_synthetic_dark_zurich(out_dir: str, num: int, size: Sequence[int], seed: int,
                                 val_fraction: float = 0.2, num_test: int = 0, overwrite: bool = False) -> Dict:
    """Write ``num`` scenes (the last ``round(num * val_fraction)`` as labelled val/night, the rest as night
    training images with day partners) and ``num_test`` unlabelled test/night images; return the counts.

    Raises ``ValueError`` for bad counts / fractions and ``FileExistsError`` for a non-empty ``out_dir``
    without ``overwrite``.
    """
    width, height = check_size(size)
    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f'num must be an int >= 2 (train and val), got {num!r}')
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction!r}')
    if isinstance(num_test, bool) or not isinstance(num_test, int) or num_test < 0:
        raise ValueError(f'num_test must be an int >= 0, got {num_test!r}')
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'out_dir {out_dir!r} is not empty; pass overwrite=True (CLI: --overwrite)')
    num_val = min(max(int(round(num * val_fraction)), 1), num - 1)
    lut = build_lut(cityscapes_id_to_trainid())
    rows = []
    for i in tqdm(range(num + num_test), desc=f'synthetic night -> {out_dir}', unit='img'):
        img, label_ids = render_scene('target', scene_seed(seed, i), (width, height))
        night = night_look(img, np.random.default_rng([seed, i, 7]))
        frame = f'frame_{i:06d}'
        if i < num - num_val:
            night_rel = f'{NIGHT_SEQ}/{NIGHT_SEQ}_{frame}'
            day_rel = f'{DAY_SEQ}/{DAY_SEQ}_{frame}'
            _write(os.path.join(out_dir, 'rgb_anon', 'train', 'night', night_rel + '_rgb_anon.png'), night)
            day = np.roll(img, DAY_SHIFT, axis=1)
            _write(os.path.join(out_dir, 'rgb_anon', 'train', 'day', day_rel + '_rgb_anon.png'), day)
            rows.append((f'train/night/{night_rel}', f'train/day/{day_rel}'))
        elif i < num:
            stem = f'{VAL_SEQ}_{frame}'
            _write(os.path.join(out_dir, 'rgb_anon', 'val', 'night', VAL_SEQ, stem + '_rgb_anon.png'), night)
            _write(os.path.join(out_dir, 'gt', 'val', 'night', VAL_SEQ, stem + '_gt_labelTrainIds.png'),
                   lut[label_ids])
        else:
            stem = f'{TEST_SEQ}_{frame}'
            _write(os.path.join(out_dir, 'rgb_anon', 'test', 'night', TEST_SEQ, stem + '_rgb_anon.png'), night)
    corresp = os.path.join(out_dir, 'corresp', 'train', 'night')
    os.makedirs(corresp, exist_ok=True)
    with open(os.path.join(corresp, f'{NIGHT_SEQ}.csv'), 'w', newline='') as f:
        csv.writer(f).writerows(rows)
    return dict(out_dir=out_dir, train=num - num_val, val=num_val, test=num_test)
