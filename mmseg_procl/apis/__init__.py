"""High-level entry points: training and testing from a config."""
from .test import test
from .train import train

__all__ = ['train', 'test']
