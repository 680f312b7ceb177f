"""BaseObjective: an additional loss of a UDA algorithm that acts in named training stages.

docs/design.md §3: a method is a self-training core plus a list of objectives; each declares the
stages it acts in (``source``, ``target``, ``mixed``, ...) and returns a dict of losses whose keys
start with ``loss_`` (the algorithm adds the stage prefix).  A term without valid pixels returns 0.
"""
from abc import abstractmethod
from typing import Dict, Sequence, Tuple

import torch
from mmengine.model import BaseModule

from mmseg_procl.uda.stage_context import StageContext

class BaseObjective(BaseModule):
    """Base class of objectives: stages, start iteration, loss keys, ``forward(ctx) -> losses``.

    ``stages`` names the stages of the algorithm the objective acts in (the algorithm refuses names
    it does not run); ``start_iter`` is the first iteration it contributes in (SePiCo's contrast
    starts at 3000).  ``loss_names`` lists the keys ``forward`` returns, so that two terms with
    one key are refused when the algorithm is built.
    """

    def __init__(self, stages: Sequence[str], start_iter: int = 0, init_cfg=None) -> None:
        super().__init__(init_cfg)
        if isinstance(stages, str) or not stages or not all(isinstance(s, str) for s in stages):
            raise ValueError(f'{type(self).__name__}: stages must be a non-empty sequence of stage '
                             f'names, got {stages!r}')
        if isinstance(start_iter, bool) or not isinstance(start_iter, int) or start_iter < 0:
            raise ValueError(f'{type(self).__name__}: start_iter must be an integer >= 0, got '
                             f'{start_iter!r}')
        self.stages = tuple(stages)
        self.start_iter = start_iter

    def acts_in(self, stage: str, iteration: int = 0) -> bool:
        """Whether this objective contributes in ``stage`` at ``iteration``."""
        return stage in self.stages and iteration >= self.start_iter

    @property
    @abstractmethod
    def loss_names(self) -> Tuple[str, ...]:
        """The keys of the loss dict ``forward`` returns."""

    @property
    def prototype_source_names(self) -> Tuple[str, ...]:
        """Names of the algorithm's prototype sources this objective reads."""
        return ()

    @abstractmethod
    def forward(self, ctx: StageContext) -> Dict[str, torch.Tensor]:
        """Loss dict of this objective for one stage."""
