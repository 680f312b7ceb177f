"""Reading CLIP weights (image + text towers) into ``CLIPResNet`` and ``CLIPTextEncoder``.

Accepted sources, all read without executing code (``torch.load(weights_only=True)`` or safetensors):

* ``'openai'``: open_clip's release of OpenAI's weights for the tower's arch (a state-dict file on the
  Hugging Face hub, e.g. ``timm/resnet101_clip.openai``), fetched or taken from open_clip's cache;
* a state dict in OpenAI / open_clip layout (``visual.conv1.weight``, ``visual.attnpool.v_proj.*``,
  ``transformer.resblocks.*``, ``token_embedding.weight``, ``ln_final.*``, ``text_projection``), e.g.
  ``open_clip_pytorch_model.bin`` / ``open_clip_model.safetensors``, optionally under ``state_dict``
  and with a ``module.`` prefix;
* CLIP-ProCL's converted file ``RN101_clip_weights.pth`` (github.com/bupt-ai-cz/CLIP-ProCL
  ``tools/maskclip_utils/convert_clip_weights.py``, docs/methods.md §2.1.2: a dict with ``visual``,
  ``text``, ``q_proj``, ``k_proj``, ``v_proj``, ``c_proj``, ``logit_scale``), mapped back to the
  OpenAI names by inverting that conversion.

OpenAI's original ``RN101.pt`` is a TorchScript archive; loading it would run its code, so it is
refused with a message pointing to the alternatives.  The same inverse key map turns a released
CLIP-ProCL segmentor checkpoint (``clip.stem.0.*``, ``text.layers.*``, ``q_proj.weight`` (o, i, 1, 1),
``ctx``) into this package's names (``procl_segmentor_to_ours``).
"""
import logging
import os.path as osp
import re
import zipfile
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from torch import nn

from mmseg_procl.errors import CheckpointError, load_failure

VISUAL_STEM = {'stem.0.': 'conv1.', 'stem.1.': 'bn1.', 'stem.3.': 'conv2.', 'stem.4.': 'bn2.',
               'stem.6.': 'conv3.', 'stem.7.': 'bn3.'}
TEXT_RENAMES = (('attn.attn.', 'attn.'), ('ln1.', 'ln_1.'), ('ln2.', 'ln_2.'),
                ('ffn.layers.0.0.', 'mlp.c_fc.'), ('ffn.layers.1.', 'mlp.c_proj.'))
TEXT_ROOT_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.', 'ln_final.',
                  'text_projection')
PROJECTIONS = ('q_proj', 'k_proj', 'v_proj', 'c_proj')
OPTIONAL_VISUAL = ('attnpool.positional_embedding',)   # unused by dense (MaskCLIP) features
HOW_TO_GET = ("clip_weights='openai' (open_clip's state-dict release of OpenAI's weights), an "
              "open_clip_pytorch_model.bin / open_clip_model.safetensors file, or CLIP-ProCL's "
              "converted RN101_clip_weights.pth")


def procl_visual_key(key: str) -> str:
    """CLIP-ProCL ``ResNetClip`` name -> OpenAI ``visual`` name (inverse of its conversion)."""
    for old, new in VISUAL_STEM.items():
        if key.startswith(old):
            return new + key[len(old):]
    return re.sub(r'\.downsample\.(\d+)\.',
                  lambda m: f'.downsample.{int(m.group(1)) - 1}.', key)


def procl_text_key(key: str) -> str:
    """CLIP-ProCL text-transformer name -> OpenAI text name."""
    if key.startswith('ln0.'):
        return 'ln_final.' + key[len('ln0.'):]
    match = re.match(r'layers\.(\d+)\.(.*)', key)
    if not match:
        return key
    rest = match.group(2)
    for old, new in TEXT_RENAMES:
        if rest.startswith(old):
            rest = new + rest[len(old):]
            break
    return f'transformer.resblocks.{match.group(1)}.{rest}'


def projection_tensor(value: torch.Tensor) -> torch.Tensor:
    """1x1-conv weight (o, i, 1, 1) -> linear weight (o, i); other tensors unchanged."""
    return value.flatten(1) if value.dim() == 4 else value


def procl_converted_to_openai(obj: Dict) -> Dict[str, torch.Tensor]:
    """CLIP-ProCL's ``{visual, text, q_proj, ...}`` file -> one OpenAI-layout state dict."""
    state = {'visual.' + procl_visual_key(k): v for k, v in obj['visual'].items()}
    state.update({procl_text_key(k): v for k, v in obj['text'].items()})
    for name in PROJECTIONS:
        for k, v in obj.get(name, {}).items():
            state[f'visual.attnpool.{name}.{k}'] = projection_tensor(v)
    if torch.is_tensor(obj.get('logit_scale')):
        state['logit_scale'] = obj['logit_scale']
    return state


def procl_segmentor_to_ours(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Keys of a released CLIP-ProCL segmentor -> ``CLIPEncoderDecoder`` keys (others unchanged)."""
    out = {}
    for key, value in state.items():
        if key in ('token_prefix', 'token_suffix'):
            continue                                   # rebuilt from the token ids
        if key == 'ctx':
            out['prompt_learner.ctx'] = value
        elif key.startswith('clip.'):
            out['clip.' + procl_visual_key(key[len('clip.'):])] = value
        elif key.startswith('text.'):
            out['text.' + procl_text_key(key[len('text.'):])] = value
        elif key.split('.')[0] in PROJECTIONS:
            out['clip.attnpool.' + key] = projection_tensor(value)
        else:
            out[key] = value
    return out


def is_procl_segmentor_state(state: Dict[str, torch.Tensor]) -> bool:
    """Whether a segmentor state dict uses CLIP-ProCL's names (top-level ``ctx`` / ``text.layers``)."""
    return 'ctx' in state or any(k.startswith(('text.layers.', 'clip.stem.')) for k in state)


def is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript zip (its records include ``code/`` or ``constants.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any('/code/' in n or n.endswith('constants.pkl') for n in archive.namelist())


def resolve_clip_weights(spec: str, arch: Optional[str]) -> str:
    """A local file for ``spec``: the path itself, or open_clip's file for ``'openai'``."""
    if spec != 'openai':
        return spec
    import open_clip
    cfg = open_clip.get_pretrained_cfg(arch or '', 'openai')
    if not cfg:
        raise ValueError(f"clip_weights='openai' needs a named CLIP arch (RN50 / RN101), got {arch!r}")
    try:
        return open_clip.download_pretrained(cfg)
    except Exception as err:   # offline, hub unreachable, ...
        raise CheckpointError(f"clip_weights='openai': open_clip could not fetch the {arch} weights "
                           f"({type(err).__name__}: {err}); pass a local file instead: "
                           f'{HOW_TO_GET}') from err


def read_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """OpenAI-layout CLIP state dict from a file (see the module docstring for the layouts)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'CLIP weights not found: {path!r}; expected {HOW_TO_GET}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        obj = load_file(path)
    elif is_torchscript_archive(path):
        raise ValueError(f'CLIP weights {path!r} are a TorchScript archive (OpenAI\'s original '
                         f'release); loading it would execute its code. Use {HOW_TO_GET}')
    else:
        try:
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as err:
            raise ValueError(f'cannot read CLIP weights {path!r} with weights_only=True '
                             f'({load_failure(path, err)}); expected {HOW_TO_GET}') from None
    return openai_layout(obj, path)


def openai_layout(obj, path: str) -> Dict[str, torch.Tensor]:
    """Unwrap ``state_dict`` / ``module.`` / the CLIP-ProCL layout; check the OpenAI keys exist."""
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if isinstance(obj, dict) and isinstance(obj.get('visual'), dict) and isinstance(obj.get('text'), dict):
        obj = procl_converted_to_openai(obj)
    if not isinstance(obj, dict):
        raise ValueError(f'CLIP weights {path!r} hold a {type(obj).__name__}; expected a state dict')
    state = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in obj.items()}
    missing = [k for k in ('visual.conv1.weight', 'token_embedding.weight') if k not in state]
    if missing:
        raise ValueError(f'CLIP weights {path!r} lack {missing} (first keys: {list(state)[:5]}); '
                         f'expected a CLIP ModifiedResNet state dict in OpenAI layout or {HOW_TO_GET}')
    return state


def load_tower(module: nn.Module, state: Dict[str, torch.Tensor], path: str, tower: str,
               optional: tuple = ()) -> None:
    """Strict load of one tower; a missing or mis-shaped key raises naming the file and the key."""
    own = module.state_dict()
    wrong = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in state and k not in optional]
    unexpected = [k for k in state if k not in own]
    if wrong or missing or unexpected:
        raise ValueError(f'CLIP weights {path!r} do not fit the {tower} tower: shape mismatches '
                         f'{wrong[:5]}, missing {missing[:5]}, unexpected {unexpected[:5]} '
                         f'(check the CLIP arch of the config)')
    module.load_state_dict(state, strict=False)


def load_clip_weights(visual: nn.Module, text: nn.Module, path: str) -> None:
    """Load an OpenAI-layout CLIP file into the image tower and (if given) the text tower."""
    state = read_clip_state_dict(path)
    visual_state = {k[len('visual.'):]: v for k, v in state.items() if k.startswith('visual.')}
    load_tower(visual, visual_state, path, 'image', OPTIONAL_VISUAL)
    if text is not None:
        text_state = {k: v for k, v in state.items() if k.startswith(TEXT_ROOT_KEYS)}
        load_tower(text, text_state, path, 'text')


RANDOM_CLIP_WARNING = (
    '\n' + '!' * 78 + '\n!! clip_weights=None: the CLIP towers are RANDOMLY INITIALISED.\n'
    '!! There is no CLIP prior in this run (text prototypes and CLIP image features are\n'
    '!! random projections); it exercises the CLIP-ProCL code path only.\n' + '!' * 78)


_random_clip_warned = False


def warn_random_clip() -> None:
    """The random-CLIP banner, once per process (student and teacher both initialise their towers)."""
    global _random_clip_warned
    if not _random_clip_warned:
        _random_clip_warned = True
        print_log(RANDOM_CLIP_WARNING, logger='current', level=logging.WARNING)


def init_clip_towers(visual: nn.Module, text: Optional[nn.Module], clip_weights: Optional[str]) -> None:
    """Load ``clip_weights`` (file or ``'openai'``) into the towers, or warn loudly when None."""
    if clip_weights is None:
        warn_random_clip()
        return
    path = resolve_clip_weights(clip_weights, getattr(visual, 'arch', None))
    load_clip_weights(visual, text, path)
    print_log(f'CLIP weights loaded from {path}', logger='current')
