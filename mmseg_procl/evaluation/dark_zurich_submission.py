"""DarkZurichSubmissionWriter: the test-server zip of Dark Zurich (uncertainty-aware UIoU protocol).

The Dark Zurich test set (Sakaridis et al., ICCV 2019 "GCMA" / TPAMI 2020 "MGCDA") is evaluated
only on its server (CodaLab competition 23553, linked from github.com/sakaridis/MGCDA; since moved
to codalab.lisn.upsaclay.fr/competitions/3783), which computes IoU, UIoU and average UIoU.  The zip
must hold exactly three top-level folders, with one PNG per test image in each, flat (no
sequence sub-folders):

``labelTrainIds/<name>``
    8-bit single-channel PNG, the hard prediction in Cityscapes train ids 0..18 (argmax over
    classes).  The standard IoU is computed from this folder.
``labelTrainIds_invalid/<name>``
    8-bit single-channel PNG, the same prediction with the pixels the method declares invalid set
    to 255.  Rule implemented here: a pixel is invalid iff its confidence (maximum class
    probability) is strictly below ``invalid_threshold``, the rule of the authors' own code
    (MGCDA ``source/Evaluation/Semantic_segmentation/``
    ``soft_to_hard_prediction_with_invalid_regions.m``:
    invalid where the max probability ``< confidence_threshold``;
    ``Cityscapes_class_indices2labelTrainIds_invalid.m``: invalid -> 255).  The default
    ``invalid_threshold=0.0`` marks no pixel invalid, so UIoU equals IoU; this is what the
    DAFormer-family repositories submit (SePiCo README copies ``labelTrainIds`` into
    ``labelTrainIds_invalid``; DANNet issue #11, maintainer's answer).
``confidence/<name>``
    16-bit single-channel PNG, the confidence (maximum softmax probability) in [0, 1] scaled to
    0..65535 (``round(p * 65535)``), used for the average UIoU over thresholds; format as written
    for this server by CIConv ``experiments/3_segmentation/predict_dz.py``
    (github.com/Attila94/CIConv, uint16 ``65535 * max softmax``).

``<name>`` is ``<image basename without extension>.png``, e.g.
``GOPR0364_frame_000001_rgb_anon.png`` (rule of :func:`prediction_filename`, as mmseg's
``results2img``; the same name in all three folders).  Submissions whose layout or content the
server cannot pair with its ground truth fail with "Missing prediction for ground truth file
GOPR0364_frame_000001_gt_labelTrainIds.png" (github.com/ygjwd12345/BiMix issue #7,
github.com/W-zx-Y/DANNet issue #17).  The server code is not public; we assume it pairs
``<seq>_frame_<frame>_gt_labelTrainIds.png`` with the one prediction matching
``<seq>_frame_<frame>*.png``, as cityscapesScripts' ``getPrediction`` does, which the names above
satisfy.  Predictions must be at the original resolution (1080 x 1920 for Dark Zurich); pass
``expected_hw`` to have it checked.  ACDC (same authors) uses the same trainId PNG convention;
whether its server accepts this exact zip was not verified here.

The zip is written directly (PNG bytes encoded in memory, no temporary folder tree) into
``<out_zip>.partial`` and renamed to ``out_zip`` on a successful :meth:`close`; on an exception
inside the ``with`` block the partial file is deleted.
"""
import logging
import os
import os.path as osp
import zipfile
from typing import Optional, Set, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log

from .prediction_export import encode_png, prediction_filename

LABEL_DIR = 'labelTrainIds'
INVALID_DIR = 'labelTrainIds_invalid'
CONFIDENCE_DIR = 'confidence'
SUBMISSION_DIRS = (LABEL_DIR, INVALID_DIR, CONFIDENCE_DIR)
INVALID_VALUE = 255
CONFIDENCE_SCALE = 65535


class DarkZurichSubmissionWriter:
    """Streams per-image class scores into a Dark Zurich / ACDC UIoU submission zip.

    Call graph: ``add`` -> ``_maps`` (softmax, argmax, invalid rule, 16-bit confidence; on the
    scores' device) -> ``encode_png`` x3 -> ``ZipFile.writestr``; ``close`` renames the partial zip.
    """

    def __init__(self, out_zip: str, invalid_threshold: float = 0.0, overwrite: bool = False,
                 expected_hw: Optional[Tuple[int, int]] = None) -> None:
        if not 0.0 <= invalid_threshold <= 1.0:
            raise ValueError(f'invalid_threshold must lie in [0, 1] (a probability), '
                             f'got {invalid_threshold}')
        if osp.exists(out_zip) and not overwrite:
            raise FileExistsError(f'{out_zip} already exists; pass overwrite=True to replace it')
        self.out_zip = out_zip
        self.invalid_threshold = float(invalid_threshold)
        self.expected_hw = tuple(expected_hw) if expected_hw is not None else None
        self._partial = out_zip + '.partial'
        os.makedirs(osp.dirname(osp.abspath(out_zip)), exist_ok=True)
        self._zip: Optional[zipfile.ZipFile] = zipfile.ZipFile(
            self._partial, 'w', compression=zipfile.ZIP_STORED)
        for folder in SUBMISSION_DIRS:
            self._zip.writestr(folder + '/', b'')
        self._names: Set[str] = set()

    def __enter__(self) -> 'DarkZurichSubmissionWriter':
        """Use as a context manager; the zip is finished on a clean exit."""
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        """Close on success, discard the partial zip on an exception."""
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def __len__(self) -> int:
        """Number of images added so far."""
        return len(self._names)

    def add(self, image_path: str, scores: Union[torch.Tensor, np.ndarray],
            probabilities: bool = False) -> str:
        """Add one image's full-size (C, H, W) logits or probabilities; return its PNG name."""
        if self._zip is None:
            raise RuntimeError(f'{self.out_zip}: writer already closed; cannot add {image_path}')
        name = prediction_filename(image_path)
        if name in self._names:
            raise ValueError(f'{image_path}: a prediction named {name} was already added to '
                             f'{self.out_zip} (image names must be unique)')
        label, label_invalid, confidence = self._maps(torch.as_tensor(scores), probabilities,
                                                      image_path)
        for folder, array in zip(SUBMISSION_DIRS, (label, label_invalid, confidence)):
            entry = f'{folder}/{name}'
            self._zip.writestr(entry, encode_png(array, entry))
        self._names.add(name)
        return name

    def _maps(self, scores: torch.Tensor, probabilities: bool,
              image_path: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """trainId map, trainId map with invalid=255 (uint8) and 16-bit confidence, on the host."""
        if scores.dim() != 3:
            raise ValueError(f'{image_path}: scores must have shape (C, H, W), '
                             f'got {tuple(scores.shape)}')
        if self.expected_hw is not None and tuple(scores.shape[1:]) != self.expected_hw:
            raise ValueError(f'{image_path}: prediction size {tuple(scores.shape[1:])} differs '
                             f'from expected_hw={self.expected_hw} (full image resolution)')
        if scores.shape[0] > INVALID_VALUE:
            raise ValueError(f'{image_path}: {scores.shape[0]} classes do not fit 8-bit train ids')
        probs = scores.float() if probabilities else scores.float().softmax(dim=0)
        if probabilities:
            low, high = float(probs.min()), float(probs.max())
            if low < 0.0 or high > 1.0 + 1e-4:
                raise ValueError(f'{image_path}: probabilities must lie in [0, 1], got range '
                                 f'{low:.4g}..{high:.4g}')
        confidence, label = probs.max(dim=0)
        invalid = confidence < self.invalid_threshold
        label_invalid = label.masked_fill(invalid, INVALID_VALUE)
        conf16 = torch.round(confidence.clamp(0.0, 1.0) * CONFIDENCE_SCALE).to(torch.int32)
        packed = torch.stack([label.to(torch.int32), label_invalid.to(torch.int32), conf16]).cpu()
        arrays = packed.numpy()
        return arrays[0].astype(np.uint8), arrays[1].astype(np.uint8), arrays[2].astype(np.uint16)

    def close(self) -> None:
        """Finish the zip and move it to ``out_zip`` (idempotent)."""
        if self._zip is None:
            return
        self._zip.close()
        self._zip = None
        os.replace(self._partial, self.out_zip)
        if not self._names:
            print_log(f'{self.out_zip}: submission written without any image', logger='current',
                      level=logging.WARNING)

    def discard(self) -> None:
        """Abandon the submission: close and delete the partial zip (idempotent)."""
        if self._zip is None:
            return
        self._zip.close()
        self._zip = None
        if osp.exists(self._partial):
            os.remove(self._partial)
