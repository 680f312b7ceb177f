"""Offline target pseudo-labels given as colour PNGs -> 8-bit train-id PNGs a dataset can load.

PCPR (github.com/sunrui570-dev/PCPF; docs/data.md §7; its training is not part of this release yet) trains with
externally produced target labels: colour PNGs in the Cityscapes palette, converted to train ids by its
``tools/convert_datasets/cp_pl.py`` into ``data/cityscapes/pl2/train`` (read with the Cityscapes label suffix),
or SAM-refined labels ``<image name>_sam_vit_h.png`` from SeCo's PSA step, read by its
``png_2_label.py``.  Both use the Cityscapes 19-class palette with sky drawn as (0, 130, 180) (the
CBST / FADA palette; the official Cityscapes colour is (70, 130, 180)).  Here:

* every palette colour maps to its train id, both sky colours to 10;
* white (255, 255, 255) and black (0, 0, 0) are "no label" and become 255 (PCPR's SAM reader maps white
  to 19, which is not a class; 255 is the ignore value every loss of this package skips);
* any other colour is an error naming the file, the colour and its pixel count (the reference writes 255
  silently, which hides a wrong palette);
* ``layout='keep'`` writes each file under the same relative path; ``layout='cityscapes'`` writes
  ``<out>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png`` from any input name that starts with a
  Cityscapes frame id (``erfurt_000033_000019_leftImg8bit_sam_vit_h.png``), the layout a
  ``CityscapesDataset`` with ``seg_map_path`` pointing at ``<out>`` reads.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from .label_tables import PALETTE

SKY_TRAIN_ID = 10
EXTRA_COLOURS = {(0, 130, 180): SKY_TRAIN_ID,        # sky in the CBST / FADA / PCPR palette
                 (255, 255, 255): 255, (0, 0, 0): 255}
LAYOUTS = ('keep', 'cityscapes')
FRAME_ID = re.compile(r'^([a-z]+(?:_[a-z]+)*)_(\d{6})_(\d{6})')
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')


def colour_lookup() -> Dict[Tuple[int, int, int], int]:
    """RGB colour -> train id (255 for the no-label colours)."""
    table = {tuple(int(v) for v in colour): i for i, colour in enumerate(PALETTE)}
    table.update(EXTRA_COLOURS)
    return table


def colour_to_train_ids(rgb: np.ndarray, path: str) -> np.ndarray:
    """(H, W) uint8 train ids of an (H, W, 3) RGB colour label; unknown colours raise ``ValueError``."""
    table = colour_lookup()
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in table], dtype=np.int64)
    values = np.array(list(table.values()), dtype=np.uint8)
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys[order], codes), 0, len(keys) - 1)
    known = keys[order][pos] == codes
    if not known.all():
        bad, counts = np.unique(codes[~known], return_counts=True)
        colours = [((int(c) >> 16) & 255, (int(c) >> 8) & 255, int(c) & 255) for c in bad[:3]]
        raise ValueError(f'{path}: {int((~known).sum())} pixels have colours outside the Cityscapes palette, '
                         f'e.g. {colours} ({counts[:3].tolist()} pixels); expected the 19 class colours, '
                         'sky also as (0, 130, 180), white / black for no label')
    return values[order][pos].astype(np.uint8)


def output_name(rel_path: str, layout: str) -> str:
    """Relative output path of an input label file (``ValueError`` when a Cityscapes frame id is needed
    and the name has none)."""
    if layout == 'keep':
        return osp.splitext(rel_path)[0] + '.png'
    match = FRAME_ID.match(osp.basename(rel_path))
    if match is None:
        raise ValueError(f'{rel_path}: layout=cityscapes needs names starting with a Cityscapes frame id '
                         '(<city>_<seq>_<frame>, e.g. erfurt_000033_000019_leftImg8bit_sam_vit_h.png)')
    city = match.group(1)
    return osp.join(city, f'{match.group(0)}_gtFine_labelTrainIds.png')


def plan_conversion(src: str, dst: str, layout: str, overwrite: bool) -> List[Tuple[str, str]]:
    """(input, output) paths of every image file below ``src``; errors for a missing / empty folder, two
    inputs with one output, or an existing output without ``overwrite``."""
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    if not osp.isdir(src):
        raise FileNotFoundError(f'{src}: folder of colour pseudo-labels does not exist')
    jobs, seen = [], {}
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            path = osp.join(root, name)
            out = osp.join(dst, output_name(osp.relpath(path, src), layout))
            if out in seen:
                raise ValueError(f'{path} and {seen[out]} would both be written to {out}')
            seen[out] = path
            jobs.append((path, out))
    if not jobs:
        raise FileNotFoundError(f'{src}: no .png / .jpg label files found')
    existing = [out for _, out in jobs if osp.exists(out)]
    if existing and not overwrite:
        raise FileExistsError(f'{len(existing)} outputs exist already, e.g. {existing[0]}; pass --overwrite')
    return sorted(jobs)


def convert_colour_pseudo_labels(src: str, dst: str, layout: str = 'keep', overwrite: bool = False) -> int:
    """Convert every colour label below ``src`` into a train-id PNG below ``dst``; return the count.

    All names and outputs are checked before anything is written; a file with an unknown colour stops the
    conversion with the file named (files converted before it stay).
    """
    jobs = plan_conversion(src, dst, layout, overwrite)
    for path, out in tqdm(jobs, desc=f'pseudo-labels -> {dst}', unit='img'):
        with Image.open(path) as img:
            rgb = np.array(img.convert('RGB'))
        os.makedirs(osp.dirname(out), exist_ok=True)
        Image.fromarray(colour_to_train_ids(rgb, path)).save(out)
    return len(jobs)
