"""CLIPResNet: the frozen CLIP image tower (open_clip's ModifiedResNet) as a 4-stage feature extractor.

CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/backbones/resnet.py`` ``ResNetClip``,
docs/methods.md §2.1.2) runs OpenAI CLIP's RN101 image tower without its attention pool and reads the
four stage maps (stride 32 at stage 4).  Dense CLIP embeddings follow MaskCLIP (Zhou et al., ECCV
2022): the attention pool's value and output projections applied at every position as 1x1
convolutions, no query / key, no positional embedding (docs/methods.md §2.1.4 step 1).

Here the tower *is* open_clip's ``ModifiedResNet`` (deep 3-conv stem with average pooling,
anti-aliased bottlenecks), so OpenAI / open_clip weights load by their own names (``conv1``,
``layer1.0.downsample.0``, ``attnpool.v_proj`` ...).  ``forward`` returns the four stage maps;
``dense_embedding`` maps the stage-4 map to CLIP's joint space.  Freezing is the caller's choice
(the CLIP-aware segmentor freezes the tower in its ``__init__``).

``input='imagenet'`` feeds the tower the segmentor's ImageNet-normalised tensor unchanged, as
CLIP-ProCL does (docs/methods.md §3 item 5); ``input='clip'`` first re-normalises it with CLIP's own
mean / std (``input_mean`` / ``input_std`` describe the incoming normalisation, 0-255 scale).
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet

from mmseg_procl.registry import MODELS

IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
CLIP_MEAN = tuple(255 * m for m in (0.48145466, 0.4578275, 0.40821073))
CLIP_STD = tuple(255 * s for s in (0.26862954, 0.26130258, 0.27577711))
INPUTS = ('imagenet', 'clip')
# OpenAI CLIP image towers: stage depths, stem width, joint embedding size (open_clip model_configs)
CLIP_RESNET_ARCHS: Dict[str, dict] = {
    'RN50': dict(layers=(3, 4, 6, 3), width=64, output_dim=1024),
    'RN101': dict(layers=(3, 4, 23, 3), width=64, output_dim=512),
}


def resolve_clip_resnet_arch(arch, layers, width, output_dim) -> Tuple[Sequence[int], int, int]:
    """``(layers, width, output_dim)`` of a named arch, or the explicit values when ``arch`` is None."""
    if arch is None:
        if layers is None or width is None or output_dim is None:
            raise ValueError('CLIPResNet: give arch (one of '
                             f'{sorted(CLIP_RESNET_ARCHS)}) or all of layers, width, output_dim')
        return tuple(layers), width, output_dim
    if arch not in CLIP_RESNET_ARCHS:
        raise ValueError(f'CLIPResNet: unknown arch {arch!r}; expected one of {sorted(CLIP_RESNET_ARCHS)}')
    spec = CLIP_RESNET_ARCHS[arch]
    return spec['layers'], spec['width'], spec['output_dim']


@MODELS.register_module()
class CLIPResNet(ModifiedResNet):
    """CLIP ModifiedResNet returning the four stage maps; MaskCLIP dense embeddings of stage 4."""

    def __init__(self, arch: str = None, layers: Sequence[int] = None, width: int = None,
                 output_dim: int = None, heads: int = None, image_size: int = 224,
                 input: str = 'imagenet', input_mean: Sequence[float] = IMAGENET_MEAN,
                 input_std: Sequence[float] = IMAGENET_STD) -> None:
        layers, width, output_dim = resolve_clip_resnet_arch(arch, layers, width, output_dim)
        if input not in INPUTS:
            raise ValueError(f'CLIPResNet: input must be one of {INPUTS}, got {input!r}')
        heads = heads or width * 32 // 64
        super().__init__(list(layers), output_dim, heads, image_size=image_size, width=width)
        self.arch, self.input = arch, input
        self.out_channels = tuple(width * 4 * 2 ** i for i in range(4))
        self.embed_dim = output_dim
        mean, std = torch.tensor(input_mean), torch.tensor(input_std)
        clip_mean, clip_std = torch.tensor(CLIP_MEAN), torch.tensor(CLIP_STD)
        # x_clip = (x * std + mean - clip_mean) / clip_std = x * scale + shift
        self.register_buffer('renorm_scale', (std / clip_std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('renorm_shift', ((mean - clip_mean) / clip_std).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(B, 3, H, W) -> stage maps at strides 4, 8, 16, 32."""
        if self.input == 'clip':
            x = x * self.renorm_scale + self.renorm_shift
        x = self.stem(x.to(self.conv1.weight.dtype))
        outs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(x)
        return tuple(outs)

    def dense_embedding(self, stage4: torch.Tensor) -> torch.Tensor:
        """MaskCLIP: ``c_proj(v_proj(x))`` as 1x1 convolutions, (B, C4, h, w) -> (B, D, h, w)."""
        v, c = self.attnpool.v_proj, self.attnpool.c_proj
        x = F.conv2d(stage4, v.weight[:, :, None, None], v.bias)
        return F.conv2d(x, c.weight[:, :, None, None], c.bias)
