"""BaseObjective: an additional loss of a UDA algorithm that acts in named training stages.

docs/design.md §3: a method is a self-training core plus a list of objectives; each declares the
stages it acts in (``source``, ``target``, ``mixed``) and returns a dict of losses whose keys start
with ``loss_`` (the algorithm adds the stage prefix).  A term without valid pixels returns 0.
"""
from abc import abstractmethod
from typing import Dict, Sequence

import torch
from mmengine.model import BaseModule

from mmseg_procl.uda.stage_context import StageContext

STAGES = ('source', 'target', 'mixed')


class BaseObjective(BaseModule):
    """Base class of objectives: validates the stages, defines ``forward(ctx) -> losses``."""

    def __init__(self, stages: Sequence[str], init_cfg=None) -> None:
        super().__init__(init_cfg)
        unknown = [s for s in stages if s not in STAGES]
        if unknown or not stages:
            raise ValueError(f'{type(self).__name__}: stages must be a non-empty subset of {STAGES}, '
                             f'got {list(stages)}')
        self.stages = tuple(stages)

    def acts_in(self, stage: str) -> bool:
        """Whether this objective contributes in ``stage``."""
        return stage in self.stages

    @abstractmethod
    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """Loss dict of this objective for one stage."""
