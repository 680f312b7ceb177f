"""Datasets of mmseg_procl (docs/data.md) and their transforms."""
from . import transforms  # noqa: F401  (registers the transforms)
from .acdc import ACDCDataset
from .base_seg_dataset import BaseSegDataset
from .class_balanced import ClassBalancedSampler
from .cityscapes import CityscapesDataset
from .dark_zurich import DarkZurichDataset
from .gta import GTADataset
from .synthetic_driving import SyntheticDrivingDataset
from .synthia import SynthiaDataset
from .uda_dataset import UDADataset
from .uda_sampler import UDAIndex, UDAInfiniteSampler

__all__ = ['BaseSegDataset', 'CityscapesDataset', 'GTADataset', 'SynthiaDataset',
           'DarkZurichDataset', 'ACDCDataset', 'SyntheticDrivingDataset']
__all__ += ['UDADataset', 'UDAIndex', 'UDAInfiniteSampler', 'ClassBalancedSampler']
