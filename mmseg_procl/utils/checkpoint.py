"""Loading segmentor weights from mmengine, mmseg 0.x and DAFormer-family (UDA) checkpoints.

Checkpoints are read with ``torch.load(..., weights_only=True)`` (never executing code from a file).
Key handling follows the test tool of the DAFormer family (METHODS.md 4.1): a ``module.`` prefix is
removed; in a UDA checkpoint the student ``model.*`` weights are used, and the teacher
(``ema_model.*``) and the ImageNet feature model (``imnet_model.*``) are ignored.  Unlike the
reference's unanchored regex (METHODS.md 5.17), only a leading ``model.`` is removed.  Released
CLIP-ProCL checkpoints (``ctx``, ``clip.stem.*``, ``text.layers.*``, 4-d ``q_proj``) are mapped to
``CLIPEncoderDecoder``'s names (``models/backbones/clip_checkpoint.py``).
"""
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from mmseg_procl.engine.checkpoint_safety import register_checkpoint_safe_globals
from mmseg_procl.models.backbones.clip_checkpoint import is_procl_segmentor_state, procl_segmentor_to_ours

UDA_IGNORED_PREFIXES = ('ema_model.', 'imnet_model.')


def load_checkpoint_file(path: str) -> Dict:
    """``torch.load(path, map_location='cpu', weights_only=True)`` with errors that name the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    register_checkpoint_safe_globals()
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:    # corrupt zip, truncated file, disallowed pickle global ...
        raise ValueError(f'could not load checkpoint {path} with weights_only=True: {err}') from err
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {path} holds a {type(ckpt).__name__}, expected a dict '
                         '(a state dict or {"state_dict": ...})')
    return ckpt


def segmentor_state_dict(ckpt: Dict) -> Tuple[Dict[str, torch.Tensor], str]:
    """The segmentor weights of a checkpoint and a note on where they came from."""
    state = ckpt.get('state_dict', ckpt)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    origin = 'segmentor state dict'
    if any(k.startswith('model.') for k in state):
        state = {k[len('model.'):]: v for k, v in state.items() if k.startswith('model.')}
        origin = 'student (model.*) of a UDA checkpoint'
    if is_procl_segmentor_state(state):
        state = procl_segmentor_to_ours(state)
        origin += ' (CLIP-ProCL names mapped)'
    return state, origin


def load_segmentor_checkpoint(model: nn.Module, path: str, strict: bool = False,
                              logger: Optional[str] = 'current') -> Dict:
    """Load segmentor weights into ``model``; report missing / unexpected keys; return the checkpoint."""
    ckpt = load_checkpoint_file(path)
    state, origin = segmentor_state_dict(ckpt)
    state = {k: v for k, v in state.items() if not k.startswith(UDA_IGNORED_PREFIXES)}
    own = model.state_dict()
    shape_errors = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                    for k, v in state.items() if k in own and own[k].shape != v.shape]
    if shape_errors:
        raise ValueError(f'checkpoint {path}: shape mismatch for ' + '; '.join(shape_errors[:10]))
    if not set(state) & set(own):
        raise ValueError(f'checkpoint {path}: none of its {len(state)} keys match the model '
                         f'(first key {next(iter(state), None)!r}, model expects e.g. '
                         f'{next(iter(own), None)!r})')
    result = model.load_state_dict(state, strict=strict)
    print_log(f'loaded {origin} from {path}; missing keys: {len(result.missing_keys)}, '
              f'unexpected keys: {len(result.unexpected_keys)}', logger=logger)
    if result.missing_keys:
        print_log('missing keys: ' + ', '.join(result.missing_keys[:20]), logger=logger)
    return ckpt
