"""StageContext: what a training stage hands to the objectives acting in it."""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch


@dataclass
class StageContext:
    """Inputs, labels and student outputs of one stage (``source``, ``target`` or ``mixed``).

    ``feats`` are the student's backbone maps and ``logits`` its decode-head output (both with
    gradients); ``labels`` (B, H, W) long and ``weights`` (B, H, W) or None are at input resolution.
    ``extras`` carries stage-specific tensors (e.g. the teacher's target logits, a CLIP-aware
    segmentor's CLIP features) and values shared between objectives (``cached``); ``model`` is the
    student segmentor (for objectives that read its heads or text prototypes).
    """

    stage: str
    inputs: torch.Tensor
    data_samples: List[Any]
    feats: List[torch.Tensor]
    logits: torch.Tensor
    labels: Optional[torch.Tensor] = None
    weights: Optional[torch.Tensor] = None
    iteration: int = 0
    extras: Dict[str, Any] = field(default_factory=dict)
    model: Any = None

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``extras[key]``, computed once per stage and shared by the objectives that need it."""
        if key not in self.extras:
            self.extras[key] = compute()
        return self.extras[key]
