"""Benchmark-server archives written by ``tools/test.py --format-only --eval-options submission=...``.

Three layouts, each one zip ``<imgfile_prefix>/<kind>_submission.zip`` written directly (no loose files):

``dark_zurich``
    ``labelTrainIds/``, ``labelTrainIds_invalid/``, ``confidence/`` with one PNG per test image
    (:class:`~mmseg_procl.evaluation.dark_zurich_submission.DarkZurichSubmissionWriter`), the layout the
    Dark Zurich server (codalab.lisn.upsaclay.fr/competitions/3783) requires, as SePiCo's README
    (github.com/BIT-DA/SePiCo, "Evaluation on Dark Zurich") describes it.
``acdc``
    ``labelTrainIds/<image name>.png``: 8-bit train-id PNGs named after the images
    (``GOPR0475_frame_000247_rgb_anon.png``), what the DAFormer-family ``tools/test.py --format-only
    --eval-option imgfile_prefix=labelTrainIds to_label_id=False`` writes for the ACDC server
    (github.com/lhoyer/DAFormer README).  The server's own specification could not be checked offline.
``cityscapes``
    ``<image name>.png`` 8-bit Cityscapes *label ids* (``to_label_id``), which the Cityscapes server's
    ``evalPixelLevelSemanticLabeling`` pairs with its ground truth by ``<city>_<seq>_<frame>``.

After writing, :func:`check_submission` compares the archive with the split that was predicted: one PNG per
image of the dataset in every folder, names derived from the image names, and warns when the image count
differs from the official test split (Dark Zurich night test 151, ACDC test 2000, Cityscapes test 1525).
"""
import logging
import os
import os.path as osp
import zipfile
from typing import Dict, Optional, Sequence

import torch
from mmengine.logging import print_log

from .dark_zurich_submission import SUBMISSION_DIRS, DarkZurichSubmissionWriter
from .prediction_export import _LABELID_LUT, encode_png, label_map_to_uint8, prediction_filename

SUBMISSION_KINDS = ('dark_zurich', 'acdc', 'cityscapes')
OFFICIAL_TEST_SIZES = {'dark_zurich': 151, 'acdc': 2000, 'cityscapes': 1525}
FOLDERS = {'dark_zurich': SUBMISSION_DIRS, 'acdc': ('labelTrainIds',), 'cityscapes': ('',)}
SERVERS = {'dark_zurich': 'codalab.lisn.upsaclay.fr/competitions/3783',
           'acdc': 'acdc.vision.ee.ethz.ch (Submit)', 'cityscapes': 'www.cityscapes-dataset.com (Submit)'}


def submission_path(out_dir: str, kind: str) -> str:
    """``<out_dir>/<kind>_submission.zip``; an unknown kind is a ``KeyError`` naming the known ones."""
    if kind not in SUBMISSION_KINDS:
        raise KeyError(f'--eval-options submission={kind!r}: expected one of {list(SUBMISSION_KINDS)}')
    return osp.join(out_dir, f'{kind}_submission.zip')


class SubmissionArchive:
    """One server archive being written: ``add(img_path, seg_logits, pred)`` per image, then ``close``."""

    def __init__(self, out_dir: str, kind: str, overwrite: bool = False) -> None:
        self.kind, self.path = kind, submission_path(out_dir, kind)
        if kind == 'dark_zurich':
            self._dz: Optional[DarkZurichSubmissionWriter] = DarkZurichSubmissionWriter(self.path, overwrite=overwrite)
            return
        self._dz = None
        if osp.exists(self.path) and not overwrite:
            raise FileExistsError(f'{self.path} already exists; remove it or choose another imgfile_prefix')
        os.makedirs(out_dir, exist_ok=True)
        self._partial = self.path + '.partial'
        self._zip = zipfile.ZipFile(self._partial, 'w', compression=zipfile.ZIP_STORED)
        self._names: set = set()

    def add(self, img_path: str, seg_logits: torch.Tensor, pred: torch.Tensor) -> str:
        """Add one image's (C, H, W) logits (Dark Zurich: confidence) and (H, W) prediction."""
        if self._dz is not None:
            return self._dz.add(img_path, seg_logits)
        name = prediction_filename(img_path)
        if name in self._names:
            raise ValueError(f'{img_path}: a prediction named {name} is already in {self.path}')
        label = label_map_to_uint8(pred, img_path)
        if self.kind == 'cityscapes':
            label = _LABELID_LUT[label]
        entry = f'labelTrainIds/{name}' if self.kind == 'acdc' else name
        self._zip.writestr(entry, encode_png(label, entry))
        self._names.add(name)
        return name

    def close(self) -> str:
        """Finish the archive; return its path."""
        if self._dz is not None:
            self._dz.close()
        else:
            self._zip.close()
            os.replace(self._partial, self.path)
        return self.path

    def discard(self) -> None:
        """Abandon the archive (partial file removed)."""
        if self._dz is not None:
            self._dz.discard()
        elif osp.exists(self._partial):
            self._zip.close()
            os.remove(self._partial)


def check_submission(path: str, kind: str, image_paths: Sequence[str]) -> Dict[str, int]:
    """Check an archive against the predicted split; raise ``ValueError`` naming missing / extra files.

    Every folder of the layout must hold exactly one PNG per image (named ``<image name>.png``).  Returns
    ``{folder: count}``; logs a warning when the count differs from the official test split.
    """
    expected = sorted(prediction_filename(p) for p in image_paths)
    with zipfile.ZipFile(path) as archive:
        entries = [n for n in archive.namelist() if not n.endswith('/')]
    counts = {}
    for folder in FOLDERS[kind]:
        prefix = f'{folder}/' if folder else ''
        names = sorted(n[len(prefix):] for n in entries if n.startswith(prefix) and '/' not in n[len(prefix):])
        missing, extra = sorted(set(expected) - set(names)), sorted(set(names) - set(expected))
        if missing or extra or len(names) != len(expected):
            raise ValueError(f'{path}: folder {folder or "<root>"!r} has {len(names)} PNGs for {len(expected)} '
                             f'images; missing {missing[:3]}, unexpected {extra[:3]}')
        counts[folder or '<root>'] = len(names)
    official = OFFICIAL_TEST_SIZES[kind]
    if len(expected) != official:
        print_log(f'{path}: {len(expected)} images, but the official {kind} test split has {official}; '
                  'the server rejects a partial split', logger='current', level=logging.WARNING)
    return counts


def describe_submission(path: str, kind: str, counts: Dict[str, int]) -> str:
    """One line for the console: archive, folders and counts, where to upload."""
    folders = ', '.join(f'{k}/ {v}' for k, v in counts.items())
    return f'{kind} submission written: {path} ({folders} PNGs); upload it at {SERVERS[kind]}'


__all__ = ['SubmissionArchive', 'check_submission', 'describe_submission', 'submission_path', 'SUBMISSION_KINDS']
