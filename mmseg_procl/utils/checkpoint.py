"""Loading segmentor weights from mmengine, mmseg 0.x and DAFormer-family (UDA) checkpoints.

Checkpoints are read with ``torch.load(..., weights_only=True)`` (never executing code from a file).
Key handling follows the test tool of the DAFormer family (docs/checkpoints.md §2): a ``module.`` prefix is
removed; in a UDA checkpoint the student ``model.*`` weights are used, and the teacher
(``ema_model.*``) and the ImageNet feature model (``imnet_model.*``) are ignored.  Unlike the
reference's unanchored regex (docs/methods.md §3 item 17), only a leading ``model.`` is removed.  Released
CLIP-ProCL checkpoints (``ctx``, ``clip.stem.*``, ``text.layers.*``, 4-d ``q_proj``) are mapped to
``CLIPEncoderDecoder``'s names (``models/backbones/clip_checkpoint.py``).
"""
import logging
import os
import os.path as osp
import zipfile
from collections import Counter
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from mmseg_procl.engine.checkpoint_safety import register_checkpoint_safe_globals
from mmseg_procl.models.backbones.clip_checkpoint import is_procl_segmentor_state, procl_segmentor_to_ours
from mmseg_procl.errors import CheckpointError, load_failure

UDA_IGNORED_PREFIXES = ('ema_model.', 'imnet_model.')
AUXILIARY_PREFIXES = ('auxiliary_head.',)       # training-only heads: extra ones are harmless


def check_checkpoint_archive(path: str) -> None:
    """Cheap integrity check of a ``torch.save`` file: it exists and is a complete zip archive.

    Reads only the archive's central directory (at the end of the file), so a truncated file
    (e.g. a run killed while saving with a non-atomic writer) is caught before any work starts.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f'checkpoint {path} is truncated or not a PyTorch checkpoint '
                              f'({os.path.getsize(path)} bytes; {err}); expected a complete file '
                              'written by torch.save') from None
    if not any(n.endswith('data.pkl') for n in names):
        raise CheckpointError(f'checkpoint {path} is a zip archive without data.pkl; expected a '
                              'file written by torch.save')


def load_checkpoint_file(path: str) -> Dict:
    """``torch.load(path, map_location='cpu', weights_only=True)`` with errors that name the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    register_checkpoint_safe_globals()
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:    # corrupt zip, truncated file, disallowed pickle global ...
        raise CheckpointError(f'could not load checkpoint {path}: {load_failure(path, err)}') from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'checkpoint {path} holds a {type(ckpt).__name__}, expected a dict '
                              '(a state dict or {"state_dict": ...})')
    return ckpt


def segmentor_state_dict(ckpt: Dict) -> Tuple[Dict[str, torch.Tensor], str]:
    """The segmentor weights of a checkpoint and a note on where they came from."""
    state = ckpt.get('state_dict', ckpt)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    origin = 'segmentor state dict'
    if any(k.startswith('model.') for k in state):
        others = Counter(k.split('.')[0] + '.*' for k in state if not k.startswith('model.'))
        state = {k[len('model.'):]: v for k, v in state.items() if k.startswith('model.')}
        origin = 'student (model.*) of a UDA checkpoint'
        if others:
            origin += ', ignored ' + ', '.join(f'{n} {p}' for p, n in sorted(others.items()))
    if is_procl_segmentor_state(state):
        rebuilt = [k for k in ('token_prefix', 'token_suffix') if k in state]
        state = procl_segmentor_to_ours(state)
        origin += ' (CLIP-ProCL names mapped' + (f'; {", ".join(rebuilt)} rebuilt from the token ids'
                                                 if rebuilt else '') + ')'
    return state, origin


def load_segmentor_checkpoint(model: nn.Module, path: str, strict: bool = False,
                              logger: Optional[str] = 'current', max_missing: int = 0,
                              max_unexpected: int = 0, checkpoint: Optional[Dict] = None) -> Dict:
    """Load segmentor weights into ``model``; return the checkpoint.

    Keys that prediction needs and the checkpoint lacks are an error when there are more than
    ``max_missing`` of them (the model would predict with randomly initialised parts); keys the
    checkpoint holds and the model does not (outside auxiliary heads) are an error when there are
    more than ``max_unexpected`` (the model is not the one that was trained, e.g. a CLIP-fused
    segmentor evaluated without its fusion).  Missing keys under the model's
    ``INFERENCE_UNUSED_PREFIXES`` (auxiliary / projection heads, CLIP's text tower) and unexpected
    auxiliary-head keys are reported as warnings with their names.  ``checkpoint`` is the already
    loaded content of ``path`` (read again when None).
    """
    ckpt = load_checkpoint_file(path) if checkpoint is None else checkpoint
    state, origin = segmentor_state_dict(ckpt)
    state = {k: v for k, v in state.items() if not k.startswith(UDA_IGNORED_PREFIXES)}
    own = model.state_dict()
    shape_errors = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                    for k, v in state.items() if k in own and own[k].shape != v.shape]
    if shape_errors:
        raise CheckpointError(f'checkpoint {path}: shape mismatch for ' + '; '.join(shape_errors[:10]))
    if not set(state) & set(own):
        raise CheckpointError(f'checkpoint {path}: none of its {len(state)} keys match the model '
                              f'(first key {next(iter(state), None)!r}, model expects e.g. '
                              f'{next(iter(own), None)!r})')
    unused = tuple(getattr(model, 'INFERENCE_UNUSED_PREFIXES', ()))
    missing = [k for k in own if k not in state]
    needed = [k for k in missing if not k.startswith(unused)]
    if strict and missing or len(needed) > max_missing:
        raise CheckpointError(
            f'checkpoint {path} ({origin}) lacks {len(needed)} of the {len(own)} weights the model '
            f'needs for prediction (at most {max_missing} may be missing): {key_list(needed)}; is it '
            'a checkpoint of this config\'s model?')
    foreign = [k for k in state if k not in own and not k.startswith(AUXILIARY_PREFIXES)]
    if len(foreign) > max_unexpected:
        raise CheckpointError(
            f'checkpoint {path} ({origin}) holds {len(foreign)} weights that the model of this config '
            f'does not have: {key_list(foreign)}; it was trained with a different model (evaluate it '
            "with its own config)")
    result = model.load_state_dict(state, strict=strict)
    print_log(f'loaded {origin} from {path}; missing keys: {len(result.missing_keys)}, '
              f'unexpected keys: {len(result.unexpected_keys)}', logger=logger)
    if result.missing_keys:
        print_log('missing keys (not used for prediction): ' + key_list(result.missing_keys),
                  logger=logger, level=logging.WARNING)
    if result.unexpected_keys:
        print_log('unexpected keys (ignored): ' + key_list(result.unexpected_keys), logger=logger,
                  level=logging.WARNING)
    return ckpt


def key_list(keys: List[str], limit: int = 20) -> str:
    """The first ``limit`` keys, comma separated, with the number of the others."""
    more = f', ... ({len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more
