"""Backbones."""
from .clip_checkpoint import load_clip_weights, read_clip_state_dict
from .clip_resnet import CLIPResNet
from .mit_checkpoint import load_mit_pretrained
from .mit_presets import mit_b0, mit_b1, mit_b2, mit_b3, mit_b4, mit_b5
from .mix_transformer import MixVisionTransformer
from .resnet_v1b import ResNetV1b
from .resnet_v1c import ResNetV1c

__all__ = ['CLIPResNet', 'load_clip_weights', 'read_clip_state_dict', 'ResNetV1b', 'ResNetV1c',
           'MixVisionTransformer', 'load_mit_pretrained', 'mit_b0', 'mit_b1', 'mit_b2', 'mit_b3',
           'mit_b4', 'mit_b5']
