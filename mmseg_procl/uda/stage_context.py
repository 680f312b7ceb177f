"""StageContext: what a training stage hands to the objectives acting in it."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch


@dataclass
class StageContext:
    """Inputs, labels and student outputs of one stage (``source``, ``target`` or ``mixed``).

    ``feats`` are the student's backbone maps and ``logits`` its decode-head output (both with
    gradients); ``labels`` (B, H, W) long and ``weights`` (B, H, W) or None are at input resolution.
    ``extras`` carries stage-specific tensors (e.g. the teacher's target logits).
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
