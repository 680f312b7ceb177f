"""StageContext: what a training stage hands to the objectives acting in it."""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import torch


@dataclass
class StageContext:
    """Inputs, labels and student outputs of one stage (``source``, ``target``, ``mixed``, ...).

    ``feats`` are the student's backbone maps and ``logits`` its decode-head output (both with
    gradients; ``logits`` is None in a stage that trains no decode loss); ``labels`` (B, H, W) long
    and ``weights`` (B, H, W) or None are at input resolution.  ``extras`` carries the segmentor's
    extra training outputs (e.g. a CLIP-aware segmentor's CLIP features) and values shared between
    objectives of the stage (``cached``); ``model`` is the student segmentor; ``state`` the
    iteration state (teacher outputs, pseudo-labels, ...); ``prototype_sources`` the algorithm's
    named, stateful prototype sources.
    """

    stage: str
    inputs: torch.Tensor
    data_samples: List[Any]
    feats: List[torch.Tensor]
    logits: Optional[torch.Tensor]
    labels: Optional[torch.Tensor] = None
    weights: Optional[torch.Tensor] = None
    iteration: int = 0
    extras: Dict[str, Any] = field(default_factory=dict)
    model: Any = None
    state: Any = None
    prototype_sources: Mapping[str, Any] = field(default_factory=dict)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``extras[key]``, computed once per stage and shared by the objectives that need it."""
        if key not in self.extras:
            self.extras[key] = compute()
        return self.extras[key]

    def head_output(self, head: str) -> Any:
        """The student's ``head`` on this stage's features (computed once per stage)."""
        return self.cached(f'head:{head}', lambda: self.model.head_forward(head, self.feats))

    def prototype_source(self, name: str) -> Any:
        """The algorithm's prototype source ``name``."""
        if name not in self.prototype_sources:
            raise KeyError(f'no prototype source {name!r}; the algorithm has '
                           f'{sorted(self.prototype_sources)}')
        return self.prototype_sources[name]
