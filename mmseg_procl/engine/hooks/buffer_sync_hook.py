"""BufferSyncHook: make every rank's buffers (BatchNorm statistics) equal before they are used or saved.

In multi-process training each rank updates its BatchNorm running statistics from its own batches
(``broadcast_buffers=False``, and ``UDADataParallel`` never synchronises buffers), so without this
hook the validation run during training evaluates each rank's share of the images with that rank's
statistics, while the checkpoint holds rank 0's: the logged mIoU differs from ``tools/test.py`` on the
saved checkpoint.  Right before an iteration's checkpoint or validation (and before every validation
epoch) the hook averages all floating-point buffers over the ranks (the statistics of the union of
the ranks' batches, as mmengine's ``SyncBuffersHook`` does per epoch) and copies integer buffers
(batch counters, the iteration counter) from rank 0.  Training losses are unaffected: BatchNorm uses
batch statistics in train mode.  A single process is left untouched.  Prototype sources
(``prototype_sources.*``, e.g. SePiCo's class statistics) keep themselves equal on every rank at each
update and are skipped (averaging per-rank variances or bank slots would be wrong).
"""
from typing import List

import torch
import torch.distributed as dist
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from torch import nn

from mmseg_procl.registry import HOOKS
from .schedule import checkpoint_due, validation_due

OWN_SYNC_PREFIXES = ('prototype_sources.',)          # names on the unwrapped model


def unwrap(model: nn.Module) -> nn.Module:
    """The model behind a DDP-style wrapper."""
    return getattr(model, 'module', model)


@torch.no_grad()
def sync_buffers(model: nn.Module) -> None:
    """Average floating-point buffers over all ranks; broadcast the others from rank 0."""
    world = get_world_size()
    if world == 1:
        return
    buffers = [b for name, b in model.named_buffers()
               if b.numel() > 0 and not name.startswith(OWN_SYNC_PREFIXES)]
    floats: List[torch.Tensor] = [b for b in buffers if b.is_floating_point()]
    others = [b for b in buffers if not b.is_floating_point()]
    for group, reduce in ((floats, True), (others, False)):
        for dtype in sorted({b.dtype for b in group}, key=str):
            tensors = [b for b in group if b.dtype == dtype]
            flat = torch._utils._flatten_dense_tensors(tensors)
            if reduce:
                dist.all_reduce(flat)
                flat /= world
            else:
                dist.broadcast(flat, src=0)
            for buf, synced in zip(tensors, torch._utils._unflatten_dense_tensors(flat, tensors)):
                buf.copy_(synced)


@HOOKS.register_module()
class BufferSyncHook(Hook):
    """Synchronise buffers across ranks before checkpoints and validation."""

    priority = 'LOW'   # after the optimizer step and logging, before CheckpointHook (VERY_LOW)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Synchronise when this iteration is followed by a checkpoint or a validation."""
        if get_world_size() > 1 and (checkpoint_due(runner) or validation_due(runner)):
            sync_buffers(unwrap(runner.model))

    def before_val_epoch(self, runner) -> None:
        """Synchronise before every validation (also a stand-alone ``runner.val()``)."""
        sync_buffers(unwrap(runner.model))
