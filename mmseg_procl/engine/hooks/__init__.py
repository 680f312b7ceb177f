"""Hooks: RNG state for exact resume, evaluation progress bar, prediction images."""
from .prediction_writer_hook import PredictionWriterHook
from .progress_bar_hook import ProgressBarHook
from .random_state_hook import RandomStateHook
from .uda_debug_hook import UDADebugHook

__all__ = ['PredictionWriterHook', 'ProgressBarHook', 'RandomStateHook', 'UDADebugHook']
