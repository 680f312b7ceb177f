"""Hooks: RNG state for exact resume, evaluation progress bar, prediction images."""
from .prediction_writer_hook import PredictionWriterHook
from .progress_bar_hook import ProgressBarHook
from .random_state_hook import RandomStateHook

__all__ = ['PredictionWriterHook', 'ProgressBarHook', 'RandomStateHook']
