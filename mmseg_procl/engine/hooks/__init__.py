"""Hooks: RNG state for exact resume, loss guard, buffer sync across ranks, progress, prediction images."""
from .buffer_sync_hook import BufferSyncHook
from .evaluation_context_hook import EvaluationContextHook
from .loss_guard_hook import LossGuardHook
from .prediction_writer_hook import PredictionWriterHook
from .progress_bar_hook import ProgressBarHook
from .random_state_hook import RandomStateHook
from .uda_debug_hook import UDADebugHook

__all__ = ['BufferSyncHook', 'EvaluationContextHook', 'LossGuardHook', 'PredictionWriterHook', 'ProgressBarHook',
           'RandomStateHook', 'UDADebugHook']
