"""EMA teacher of mean-teacher self-training (DACS / DAFormer, docs/methods.md §1.5 step 1 and §3.3).

``alpha_t = min(1 - 1 / (t + 1), alpha)``; at ``t == 0`` the teacher's parameters are copied from the
student, afterwards ``theta_T <- alpha_t * theta_T + (1 - alpha_t) * theta_S``.  Only parameters are
averaged (those frozen in the student are only copied): the teacher keeps (and updates, since it
runs in train mode) its own BatchNorm buffers.  For pseudo-labelling only Dropout and DropPath are
switched to eval.  Reference: DAFormer (Hoyer et al., CVPR 2022), github.com/lhoyer/DAFormer
``mmseg/models/uda/dacs.py``.
"""
from typing import Iterable

import torch
from timm.layers import DropPath
from torch import nn

from mmseg_procl.registry import MODELS

# nn.MultiheadAttention's mode only switches its attention dropout (a functional argument)
DROPOUT_TYPES = (nn.Dropout, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, DropPath,
                 nn.MultiheadAttention)


def ema_alpha(iteration: int, alpha: float) -> float:
    """The EMA weight ``min(1 - 1 / (t + 1), alpha)`` of iteration ``t``."""
    return min(1.0 - 1.0 / (iteration + 1), alpha)


def freeze(module: nn.Module) -> nn.Module:
    """Detach every parameter of ``module`` from autograd."""
    for param in module.parameters():
        param.requires_grad_(False)
    return module


@torch.no_grad()
def copy_parameters(teacher: nn.Module, student: nn.Module) -> None:
    """teacher parameters <- student parameters (buffers untouched)."""
    torch._foreach_copy_(list(teacher.parameters()), list(student.parameters()))


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float) -> None:
    """teacher parameters <- alpha * teacher + (1 - alpha) * student (buffers untouched).

    Parameters frozen in the student (CLIP towers) are skipped: they equal the teacher's copy made
    at t = 0, so their average is themselves (up to float rounding, which the reference accrues).
    """
    pairs = [(t, s) for t, s in zip(teacher.parameters(), student.parameters()) if s.requires_grad]
    if not pairs:
        return
    t_params = [t for t, _ in pairs]
    torch._foreach_mul_(t_params, alpha)
    torch._foreach_add_(t_params, [s.detach() for _, s in pairs], alpha=1.0 - alpha)


def dropout_modules(module: nn.Module) -> Iterable[nn.Module]:
    """All Dropout / DropPath modules below ``module``."""
    return (m for m in module.modules() if isinstance(m, DROPOUT_TYPES))


def disable_dropout(module: nn.Module) -> None:
    """Put Dropout, DropPath and attention dropout in eval mode; everything else keeps its mode (BN
    stays in train).  Attention written with a functional dropout argument reads the mode of a
    Dropout module (MiT) or is an ``nn.MultiheadAttention`` (CLIP's text tower)."""
    for m in dropout_modules(module):
        m.eval()


@MODELS.register_module()
class EMATeacher:
    """Teacher policy: how the teacher follows the student (registered, built from ``teacher=``).

    ``alpha``: the EMA weight; ``ramp=True`` uses ``min(1 - 1 / (t + 1), alpha)`` (DACS / DAFormer),
    ``False`` a constant ``alpha`` from the first update on; at ``t = 0`` the teacher's parameters are
    copied from the student either way.  ``average_buffers=False`` keeps the teacher's own BatchNorm
    buffers (the DAFormer family); ``True`` averages floating-point buffers with the same weight and
    copies the others (WDASS' ``--bn_buffer``).
    """

    def __init__(self, alpha: float = 0.99, ramp: bool = True, average_buffers: bool = False) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(f'EMATeacher: alpha must be a number in [0, 1], got {alpha!r}')
        self.alpha, self.ramp, self.average_buffers = alpha, ramp, average_buffers

    def weight(self, iteration: int) -> float:
        """The averaging weight of iteration ``iteration`` (> 0)."""
        return ema_alpha(iteration, self.alpha) if self.ramp else self.alpha

    @torch.no_grad()
    def update(self, teacher: nn.Module, student: nn.Module, iteration: int) -> None:
        """t = 0: copy the student's parameters (and buffers if averaged); t > 0: EMA."""
        if iteration == 0:
            copy_parameters(teacher, student)
            if self.average_buffers:
                for t, s in zip(teacher.buffers(), student.buffers()):
                    t.copy_(s)
            return
        alpha = self.weight(iteration)
        ema_update(teacher, student, alpha)
        if self.average_buffers:
            for t, s in zip(teacher.buffers(), student.buffers()):
                if t.is_floating_point():
                    t.mul_(alpha).add_(s, alpha=1.0 - alpha)
                else:
                    t.copy_(s)
