"""Layer building blocks with mmcv-compatible parameter names."""
from .conv_module import ConvModule
from .depthwise_separable_conv_module import DepthwiseSeparableConvModule
from .layers import build_activation, build_norm, flat_pixels, nearest_labels, resize

__all__ = ['ConvModule', 'DepthwiseSeparableConvModule', 'build_activation', 'build_norm', 'resize',
           'nearest_labels', 'flat_pixels']
