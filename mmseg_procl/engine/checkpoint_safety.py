"""Checkpoints that load with ``torch.load(..., weights_only=True)``.

mmengine 0.10.7 stores its MessageHub as pickled ``HistoryBuffer`` objects whose state holds bound
methods (``getattr`` in the pickle) and numpy arrays; on torch >= 2.6 ``--resume`` therefore fails
(docs/design.md §1).  Allow-listing ``builtins.getattr`` would let a checkpoint call arbitrary
attributes, so instead :class:`WeightsOnlyCheckpointHook` rewrites the MessageHub into tensors and
plain values before saving and rebuilds the HistoryBuffers after loading.  For checkpoints written
elsewhere (e.g. mmseg 0.x files whose meta holds numpy values) :func:`register_checkpoint_safe_globals`
allow-lists numpy's array / scalar reconstruction, which executes no user code.
"""
from typing import Any, Dict

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

from mmseg_procl.registry import HOOKS

BUFFER_TAG = '__history_buffer__'
ARRAY_TAG = '__ndarray__'


def register_checkpoint_safe_globals() -> None:
    """Allow-list numpy array / dtype / scalar reconstruction for ``weights_only`` loading."""
    core = getattr(np, '_core', None) or np.core
    safe = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    safe += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    torch.serialization.add_safe_globals(safe)


def to_safe(obj: Any) -> Any:
    """Replace HistoryBuffers, numpy arrays and numpy scalars (recursively) by tensors / plain values."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {BUFFER_TAG: True, 'log': torch.from_numpy(np.asarray(log, np.float64).copy()),
                'count': torch.from_numpy(np.asarray(count, np.float64).copy()),
                'max_length': int(obj.max_length)}
    if isinstance(obj, np.ndarray):
        return {ARRAY_TAG: torch.from_numpy(obj.copy()) if obj.dtype != object else obj.tolist()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_safe(v) for v in obj)
    return obj


def from_safe(obj: Any) -> Any:
    """Inverse of :func:`to_safe`."""
    if isinstance(obj, dict) and obj.get(BUFFER_TAG):
        return HistoryBuffer(obj['log'].numpy(), obj['count'].numpy(), obj['max_length'])
    if isinstance(obj, dict) and ARRAY_TAG in obj and len(obj) == 1:
        value = obj[ARRAY_TAG]
        return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if isinstance(obj, dict):
        return {k: from_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_safe(v) for v in obj)
    return obj


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Store MessageHub state and meta as tensors / plain values so resume needs no unsafe globals."""

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Convert the MessageHub and meta entries."""
        for key in ('message_hub', 'meta'):
            if key in checkpoint:
                checkpoint[key] = to_safe(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Rebuild HistoryBuffers and numpy values."""
        for key in ('message_hub', 'meta'):
            if key in checkpoint:
                checkpoint[key] = from_safe(checkpoint[key])
