"""Class names, palette and label-id tables of the Cityscapes 19-class protocol (docs/data.md §1-2).

The Cityscapes / GTA5 id <-> trainId table, the class names and the palette are read from
``cityscapesscripts.helpers.labels`` (never typed by hand).  The SYNTHIA-RAND-CITYSCAPES class table
is dataset specific and follows the DAFormer converter (github.com/lhoyer/DAFormer,
``tools/convert_datasets/synthia.py``), as documented in docs/data.md §2.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from cityscapesscripts.helpers import labels as cs_labels

IGNORE_INDEX = 255
NUM_CLASSES = 19


def _train_labels() -> List:
    """Cityscapes labels with a train id in 0..18, ordered by train id."""
    used = [lab for lab in cs_labels.labels if 0 <= lab.trainId < IGNORE_INDEX]
    return sorted(used, key=lambda lab: lab.trainId)


CLASSES: Tuple[str, ...] = tuple(lab.name for lab in _train_labels())
PALETTE: Tuple[Tuple[int, int, int], ...] = tuple(tuple(lab.color) for lab in _train_labels())
assert len(CLASSES) == NUM_CLASSES, 'cityscapesscripts must define 19 train ids'

# mIoU-16 (SYNTHIA): drop terrain, truck, train.  mIoU-13: additionally wall, fence, pole.
MIOU16_EXCLUDED = ('terrain', 'truck', 'train')
MIOU13_EXCLUDED = MIOU16_EXCLUDED + ('wall', 'fence', 'pole')
MIOU16_CLASSES = tuple(i for i, c in enumerate(CLASSES) if c not in MIOU16_EXCLUDED)
MIOU13_CLASSES = tuple(i for i, c in enumerate(CLASSES) if c not in MIOU13_EXCLUDED)

# ProCA's 16-class SYNTHIA model (github.com/jiangzhengkai/ProCA core/datasets/synthia.py): the 19 classes
# without terrain, truck and train, in train-id order; pass as metainfo=dict(classes=SYNTHIA16_CLASSES).
SYNTHIA16_CLASSES = tuple(CLASSES[i] for i in MIOU16_CLASSES)

# SYNTHIA class id (red channel of GT/LABELS) -> 19-class train id.
SYNTHIA_ID_TO_TRAINID: Dict[int, int] = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10,
    10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18,
}
# Every id that SYNTHIA-RAND-CITYSCAPES defines (0 void .. 22); ids outside this set are corrupt.
SYNTHIA_KNOWN_IDS = frozenset(range(23))


def cityscapes_id_to_trainid() -> Dict[int, int]:
    """Map every non-negative Cityscapes label id to its train id (255 for ignored classes)."""
    return {lab.id: (lab.trainId if 0 <= lab.trainId < IGNORE_INDEX else IGNORE_INDEX)
            for lab in cs_labels.labels if lab.id >= 0}


def trainid_to_cityscapes_id() -> Dict[int, int]:
    """Map train ids 0..18 to Cityscapes label ids (for labelId submissions)."""
    return {lab.trainId: lab.id for lab in _train_labels()}


def build_lut(mapping: Dict[int, int], size: int = 256, fill: int = IGNORE_INDEX) -> np.ndarray:
    """Dense uint8 lookup table of ``size`` entries from a sparse id mapping."""
    lut = np.full(size, fill, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut


def palette_array() -> np.ndarray:
    """The 19-class palette as a (19, 3) uint8 RGB array."""
    return np.asarray(PALETTE, dtype=np.uint8)


def class_subset(classes: Sequence[str], all_classes: Sequence[str] = CLASSES,
                 all_palette: Sequence[Sequence[int]] = PALETTE, owner: str = 'dataset'
                 ) -> Tuple[Optional[Dict[int, int]], Tuple[Tuple[int, int, int], ...]]:
    """(label_map, palette) of a class subset, as mmseg 1.x's ``metainfo=dict(classes=...)``.

    ``label_map`` maps the index of every class of ``all_classes`` to its index in ``classes``
    (classes left out map to the ignore index 255); it is None when ``classes`` is ``all_classes``
    itself.  The palette is that of the kept classes.

    Raises:
        ValueError: a class name that ``all_classes`` does not define, a duplicate or an empty list.
    """
    classes = tuple(classes)
    unknown = [c for c in classes if c not in all_classes]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise ValueError(f'{owner}: metainfo classes {list(classes)} must be distinct names from '
                         f'{list(all_classes)}' + (f'; unknown: {unknown}' if unknown else ''))
    palette = tuple(tuple(int(v) for v in all_palette[all_classes.index(c)]) for c in classes)
    if classes == tuple(all_classes):
        return None, palette
    label_map = {old: (classes.index(name) if name in classes else IGNORE_INDEX)
                 for old, name in enumerate(all_classes)}
    return label_map, palette
