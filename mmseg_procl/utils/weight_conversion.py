"""Convert downloaded backbone weights into the files the configs read, verified against the models.

``tools/convert_weights.py`` (docs/checkpoints.md §4) reads a weight file as its authors publish it
(``torch.load(..., weights_only=True)``, or safetensors), maps it to this package's names, checks every
key and shape against the model that will read it, and writes a plain state dict:

=================  ===============================================  ===================================
kind               accepted input                                   output (read by)
=================  ===============================================  ===================================
``mit``            SegFormer ``mit_b0.pth`` ... ``mit_b5.pth``       ``pretrained/mit_bX.pth`` (MiT
                   (ImageNet-1k; the ``head.*`` classifier dropped)  backbones, DAFormer configs)
``resnet_v1c``     open-mmlab ``resnet{50,101}_v1c-*.pth``;         ``pretrained/resnet{50,101}_v1c.pth``
                   timm deep-stem ``resnet{50,101}c``               (``open-mmlab://resnet101_v1c``)
``torchvision``    torchvision ``resnet{50,101}-*.pth`` (7x7 stem)   ``pretrained/resnet{50,101}_torchvision
                                                                    .pth`` (ProCA's ResNetV1b configs)
``proca``          ProCA's released / trained models                ``pretrained/proca_<name>.pth``: a
                   (``{feature_extractor, classifier}``)            segmentor checkpoint for
                                                                    ``tools/test.py`` with configs/proca/
``clip``           open_clip / OpenAI state dicts (``.bin``, ``.pth``,  ``pretrained/clip_rn{50,101}.pth``
                   ``.safetensors``), CLIP-ProCL's                  (``model.clip_weights=...``)
                   ``RN101_clip_weights.pth``
=================  ===============================================  ===================================

OpenAI's TorchScript ``RN101.pt`` is refused (loading it would execute its code).  File names that
carry a checksum prefix (torchvision / open-mmlab: ``<name>-<first hex digits of the sha256>.pth``)
and files whose full sha256 is published (:data:`PUBLISHED_SHA256`) are checked against it.  Nothing is
written when a check fails, and an existing output is never replaced unless asked.
"""
import hashlib
import io
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch

from mmseg_procl.errors import CheckpointError, load_failure

# sha256 of published files, as their publishers state them (the path component of OpenAI's URLs)
PUBLISHED_SHA256 = {
    'RN101.pt': '8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599',   # OpenAI CLIP
}
CHECKSUM_IN_NAME = re.compile(r'-([0-9a-f]{8,64})\.pth$')
TORCHVISION_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


@dataclass
class Conversion:
    """A converted state dict, the model description it was verified against, the default output."""

    state: Dict[str, torch.Tensor]
    verified_against: str
    default_output: str


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def check_published_checksum(path: str, digest: str) -> str:
    """Compare ``digest`` with the checksum the file's name or :data:`PUBLISHED_SHA256` states.

    Returns a sentence for the report; a mismatch is a :class:`CheckpointError` (a truncated or
    altered download)."""
    name = osp.basename(path)
    expected = PUBLISHED_SHA256.get(name)
    match = CHECKSUM_IN_NAME.search(name)
    if expected is None and match is None:
        return 'no published checksum is known for this file name'
    prefix = expected or match.group(1)
    if not digest.startswith(prefix):
        raise CheckpointError(f'{path}: sha256 {digest} does not match the published checksum '
                              f'{prefix}{"..." if len(prefix) < 64 else ""} of {name}: the download is '
                              'incomplete or altered; download it again')
    return f'matches the published checksum {prefix}{"..." if len(prefix) < 64 else ""}'


def count_blocks(state: Dict[str, torch.Tensor], pattern: str) -> Tuple[int, ...]:
    """Number of blocks per stage, from keys ``pattern.format(stage) + '<i>.'``."""
    counts = []
    for stage in range(1, 5):
        prefix = pattern.format(stage)
        ids = {k[len(prefix):].split('.')[0] for k in state if k.startswith(prefix)}
        counts.append(len(ids))
    return tuple(counts)


def compare_with_model(path: str, state: Dict[str, torch.Tensor], model: torch.nn.Module,
                       what: str, optional: Tuple[str, ...] = ('num_batches_tracked',)) -> None:
    """Every model key present with its shape and no extra key (keys ending in ``optional`` may be
    absent); else a :class:`CheckpointError` naming the keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(optional)]
    extra = [k for k in state if k not in own]
    wrong = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state.items() if k in own and own[k].shape != v.shape]
    if missing or extra or wrong:
        raise CheckpointError(f'{path} does not fit {what}: missing {missing[:5]} ({len(missing)}), '
                              f'unexpected {extra[:5]} ({len(extra)}), wrong shapes {wrong[:5]}')


def convert_mit(path: str) -> Conversion:
    """SegFormer ImageNet MiT weights -> MiT backbone state dict (arch from the stage depths)."""
    from mmseg_procl.models.backbones.mit_checkpoint import backbone_state_dict, read_checkpoint_state_dict
    from mmseg_procl.models.backbones.mit_presets import MIT_ARCH_SETTINGS
    from mmseg_procl.registry import MODELS
    state = backbone_state_dict(read_checkpoint_state_dict(path))
    depths = count_blocks(state, 'block{}.')
    width = tuple(int(state[f'patch_embed{i}.proj.weight'].shape[0]) for i in range(1, 5)
                  if f'patch_embed{i}.proj.weight' in state)
    arch = [n for n, s in MIT_ARCH_SETTINGS.items() if s['depths'] == depths and s['embed_dims'] == width]
    if not arch:
        raise CheckpointError(f'{path}: stage depths {depths} and widths {width} match no MiT preset '
                              f'({", ".join(MIT_ARCH_SETTINGS)}); expected a SegFormer mit_b*.pth file')
    model = MODELS.build(dict(type=arch[0]))
    compare_with_model(path, state, model, f'MixVisionTransformer {arch[0]}')
    return Conversion(state, f'{arch[0]} (MixVisionTransformer)', f'pretrained/{arch[0]}.pth')


def convert_resnet_v1c(path: str) -> Conversion:
    """open-mmlab / timm deep-stem ResNet weights -> ResNetV1c state dict (depth from layer3)."""
    from mmseg_procl.models.backbones.resnet_checkpoint import convert_resnet_v1c_state_dict, read_state_dict
    from mmseg_procl.models.backbones.resnet_v1c import ResNetV1c
    state = convert_resnet_v1c_state_dict(read_state_dict(path))
    depth = depth_from_blocks(path, count_blocks(state, 'layer{}.'))
    compare_with_model(path, state, ResNetV1c(depth=depth), f'ResNetV1c-{depth}')
    return Conversion(state, f'ResNetV1c-{depth}', f'pretrained/resnet{depth}_v1c.pth')


def convert_torchvision(path: str) -> Conversion:
    """torchvision ImageNet ResNet weights -> the same state dict without the ``fc`` classifier."""
    import torchvision
    from mmseg_procl.models.backbones.resnet_checkpoint import read_state_dict, strip_prefixes
    state = {k: v for k, v in strip_prefixes(read_state_dict(path)).items() if not k.startswith('fc.')}
    if 'conv1.weight' not in state or state['conv1.weight'].shape[-1] != 7:
        raise CheckpointError(f'{path}: no 7x7 stem conv1.weight; expected a torchvision ResNet '
                              '(for open-mmlab / timm deep-stem weights use the kind resnet_v1c)')
    depth = depth_from_blocks(path, count_blocks(state, 'layer{}.'))
    model = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    model.fc = torch.nn.Identity()
    compare_with_model(path, state, model, f'torchvision resnet{depth}')
    return Conversion(state, f'torchvision resnet{depth} (without fc)',
                      f'pretrained/resnet{depth}_torchvision.pth')


def depth_from_blocks(path: str, blocks: Tuple[int, ...]) -> int:
    """ResNet depth of the bottleneck counts per stage (50 or 101)."""
    for depth, counts in TORCHVISION_DEPTHS.items():
        if counts == blocks:
            return depth
    raise CheckpointError(f'{path}: blocks per stage {blocks} are not ResNet-50 {TORCHVISION_DEPTHS[50]} '
                          f'or ResNet-101 {TORCHVISION_DEPTHS[101]}')


def convert_clip(path: str) -> Conversion:
    """open_clip / OpenAI / CLIP-ProCL CLIP weights -> OpenAI-layout state dict, verified by loading
    both towers strictly into towers sized from the file (RN50 / RN101 are named)."""
    from mmseg_procl.models.backbones.clip_checkpoint import load_clip_weights, read_clip_state_dict
    from mmseg_procl.models.backbones.clip_resnet import CLIP_RESNET_ARCHS, CLIPResNet
    from mmseg_procl.models.text.clip_text_encoder import CLIPTextEncoder
    state = read_clip_state_dict(path)
    visual = {k[len('visual.'):]: v for k, v in state.items() if k.startswith('visual.')}
    layers = tuple(n for n in count_blocks(visual, 'layer{}.'))
    width, embed = int(visual['conv1.weight'].shape[0]) * 2, int(state['text_projection'].shape[1])
    arch = next((n for n, a in CLIP_RESNET_ARCHS.items()
                 if a == dict(layers=layers, width=width, output_dim=embed)), None)
    grid = visual.get('attnpool.positional_embedding')
    image_size = 32 * round((grid.shape[0] - 1) ** 0.5) if grid is not None else 224
    text_width = int(state['token_embedding.weight'].shape[1])
    text_layers = len({k.split('.')[2] for k in state if k.startswith('transformer.resblocks.')})
    text = CLIPTextEncoder(context_length=int(state['positional_embedding'].shape[0]),
                           vocab_size=int(state['token_embedding.weight'].shape[0]), width=text_width,
                           heads=max(text_width // 64, 1), layers=text_layers, output_dim=embed)
    tower = CLIPResNet(arch=arch) if arch else CLIPResNet(layers=layers, width=width, output_dim=embed,
                                                          image_size=image_size)
    load_clip_weights(tower, text, path)
    name = arch or f'ModifiedResNet {layers} width {width}'
    return Conversion(state, f'CLIP {name} image tower and {text_layers}-layer text tower',
                      f'pretrained/clip_{(arch or "custom").lower()}.pth')


PROCA_PARTS = ('feature_extractor', 'classifier')
PROCA_CLASSIFIER_KEY = re.compile(r'^conv2d_list\.(\d+)\.(weight|bias)$')


def strip_module(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Keys without DDP's ``module.`` prefix."""
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def read_proca_checkpoint(path: str) -> Dict[str, Dict[str, torch.Tensor]]:
    """``{'feature_extractor': ..., 'classifier': ...}`` of a ProCA checkpoint (``weights_only`` load)."""
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # corrupt archive, truncated file, disallowed pickle global
        raise CheckpointError(f'cannot read {path} as a ProCA checkpoint: '
                              f'{load_failure(path, err)}') from None
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), dict) for k in PROCA_PARTS):
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f'{path}: expected a ProCA checkpoint with the state dicts {PROCA_PARTS} '
                              f'(train_proca.py / train_src.py / train_ssl.py layout), got {keys}')
    return {k: strip_module(obj[k]) for k in PROCA_PARTS}


def convert_proca(path: str) -> Conversion:
    """ProCA's released model (``feature_extractor`` = ``backbone.*`` of a torchvision ResNet-101,
    ``classifier`` = ``conv2d_list.{0..3}.*`` of ASPP_Classifier_V2) -> this package's DeepLab-v2
    segmentor (``backbone.*``, ``decode_head.aspp_modules.{i}.conv.*``; 19 or 16 classes from the file),
    verified against ``configs/_base_/models/deeplabv2_r101v1b.py``."""
    from mmseg_procl.registry import MODELS
    from mmseg_procl.utils import register_all_modules
    parts = read_proca_checkpoint(path)
    state = dict(parts['feature_extractor'])
    for key, value in parts['classifier'].items():
        match = PROCA_CLASSIFIER_KEY.match(key)
        if match is None:
            raise CheckpointError(f'{path}: unexpected classifier key {key!r}; expected '
                                  'conv2d_list.<i>.weight / bias (ProCA ASPP_Classifier_V2)')
        state[f'decode_head.aspp_modules.{match.group(1)}.conv.{match.group(2)}'] = value
    if 'decode_head.aspp_modules.0.conv.weight' not in state:
        raise CheckpointError(f'{path}: the classifier has no conv2d_list.0.weight')
    classes = state['decode_head.aspp_modules.0.conv.weight'].shape[0]
    register_all_modules()
    model = MODELS.build(dict(      # configs/_base_/models/deeplabv2_r101v1b.py without its loss / init
        type='EncoderDecoder', backbone=dict(type='ResNetV1b', depth=101, contract_dilation=True),
        decode_head=dict(type='DLV2Head', in_channels=2048, in_index=3, dilations=(6, 12, 18, 24),
                         num_classes=classes)))
    compare_with_model(path, state, model, f'DeepLab-v2 (torchvision R101, {classes} classes)')
    stem = osp.splitext(osp.basename(path))[0]
    return Conversion(state, f'DeepLab-v2 (torchvision R101, {classes} classes)',
                      f'pretrained/proca_{stem}.pth')


CONVERTERS: Dict[str, Callable[[str], Conversion]] = {
    'mit': convert_mit, 'resnet_v1c': convert_resnet_v1c, 'torchvision': convert_torchvision,
    'clip': convert_clip, 'proca': convert_proca}


def save_state_dict(state: Dict[str, torch.Tensor], path: str, overwrite: bool = False) -> None:
    """Write ``state`` to ``path`` through a temporary file; refuse to replace a file unless asked.

    The archive is serialised in memory first: ``torch.save`` names the records of a file after the
    file, so writing the temporary file directly would make the bytes (and the printed sha256) depend
    on the temporary name; this way equal tensors give an equal file whatever the output is called.
    """
    if osp.isdir(path):
        raise ValueError(f'--out {path} is a folder; expected the path of the file to write')
    if osp.exists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; pass --overwrite to replace it (or another output path)')
    buffer = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in state.items()}, buffer)
    tmp = f'{path}.{os.getpid()}.tmp'
    try:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(tmp, 'wb') as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as err:
        raise ValueError(f'--out {path}: cannot write the output file there ({err.strerror}: '
                         f'{err.filename})') from None
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def convert_weights(kind: str, source: str, output: str = None, overwrite: bool = False) -> Dict:
    """Convert ``source`` with the converter ``kind``; return the report (paths, checksums, sizes)."""
    if kind not in CONVERTERS:
        raise KeyError(f'unknown kind {kind!r}; expected one of {sorted(CONVERTERS)}')
    if not osp.isfile(source):
        raise FileNotFoundError(f'weight file not found: {source}')
    source_sha = sha256_of(source)
    published = check_published_checksum(source, source_sha)
    conversion = CONVERTERS[kind](source)
    output = output or conversion.default_output
    if osp.exists(output) and osp.samefile(output, source):
        raise FileExistsError(f'the output {output} is the input file; choose another output path')
    save_state_dict(conversion.state, output, overwrite)
    params = sum(v.numel() for k, v in conversion.state.items() if not k.endswith('num_batches_tracked'))
    return dict(kind=kind, source=source, source_sha256=source_sha, published_checksum=published,
                verified_against=conversion.verified_against, tensors=len(conversion.state),
                elements=params, output=output, output_sha256=sha256_of(output))
