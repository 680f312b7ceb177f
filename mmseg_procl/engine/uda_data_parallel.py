"""UDADataParallel: multi-process data parallelism for UDA algorithms with their own ``train_step``.

mmengine's ``MMDistributedDataParallel.train_step`` runs ``forward(mode='loss')`` once and one
backward, which cannot express the several stages and backward passes of DACS.  This wrapper keeps the
algorithm's ``train_step``; the algorithm averages the gradients of all ranks right before its single
optimizer step (``SourceOnly.sync_gradients``).  Parameters and buffers start equal on every rank (a
broadcast from rank 0), so students stay identical and every rank's EMA teacher follows the same
student: the teacher is correct without extra communication (its BatchNorm statistics, like the
student's, stay per rank, as with ``broadcast_buffers=False``).
"""
from typing import Dict

import torch.distributed as dist
from torch import nn

from mmseg_procl.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class UDADataParallel(nn.Module):
    """Wrap a UDA algorithm for multi-process training; ``module`` holds the algorithm."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        if dist.is_available() and dist.is_initialized():
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(tensor.data, src=0)

    def train_step(self, data, optim_wrapper) -> Dict:
        """The algorithm's own training step (it synchronises gradients itself)."""
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data) -> list:
        """Validation step of the algorithm (student prediction)."""
        return self.module.val_step(data)

    def test_step(self, data) -> list:
        """Test step of the algorithm (student prediction)."""
        return self.module.test_step(data)
