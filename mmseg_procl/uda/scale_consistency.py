"""ScaleConsistencyFilter: PCPR's pseudo-label filtering by LR / HR agreement, combined with offline labels.

**A reconstruction, not the authors' code.**  PCPR (github.com/sunrui570-dev/PCPF; docs/methods.md §2.5)
withheld its training algorithm (``mmseg/models/uda/main_PCPF.py`` stops before the pseudo-labels).  What
this rests on: the framework figure (``resources/overview.png``) feeds the teacher's low- and high-resolution
predictions into a "pseudo-label filtering" block ("Consistency Contrast" between the LR and HR predictions)
whose output, the filtered target labels, trains the student together with the source labels; the released
dataset code loads externally produced target labels (``pl2/train``, SAM-refined, SeCo's PSA) and hands them
to the training step as ``pl``.  How the two are combined is not visible.  The rule chosen here:

    y_fused, y_lr, y_hr = argmax of the teacher's fused, context-only and detail-only logits
    label = y_fused                 where y_lr == y_hr (the scales agree)
          = offline label           where they disagree and ``use_offline`` (255 where it has none)
          = 255 (ignored)           where they disagree otherwise

The confidence (and so DACS's batch weight ``q``) stays that of the fused prediction.  The figure's "edge
probability" input is not reconstructed.  Switch it off by leaving DACS's ``label_filter`` unset (MIC).
"""
from typing import Dict, Optional, Tuple

import torch

from mmseg_procl.registry import MODELS


@MODELS.register_module()
class ScaleConsistencyFilter:
    """Keep the teacher's pseudo-label where its context and detail predictions agree; elsewhere take the
    offline label (``use_offline``) or ignore the pixel (module docstring).

    Args:
        use_offline: fill disagreeing pixels with the target's offline pseudo-labels
            (``LoadPseudoLabels``); False ignores them.
        ignore_index: the label of ignored pixels.
    """

    def __init__(self, use_offline: bool = True, ignore_index: int = 255) -> None:
        if not isinstance(use_offline, bool):
            raise ValueError(f'ScaleConsistencyFilter: use_offline must be True or False, '
                             f'got {use_offline!r}')
        self.use_offline, self.ignore_index = use_offline, ignore_index

    def __call__(self, labels: torch.Tensor, scale_logits: Dict[str, torch.Tensor],
                 offline: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """(filtered labels (B, H, W) long, agreement mask (B, H, W) bool).

        ``labels``: the teacher's fused pseudo-labels; ``scale_logits``: its ``context`` and ``detail``
        logits (B, C, H, W) at the same size; ``offline``: (B, H, W) offline labels (255 = none), needed
        when ``use_offline``.
        """
        agree = scale_logits['context'].argmax(dim=1) == scale_logits['detail'].argmax(dim=1)
        if self.use_offline:
            if offline is None:
                raise ValueError('ScaleConsistencyFilter(use_offline=True) needs the offline pseudo-labels '
                                 'of the target batch (LoadPseudoLabels in the target pipeline)')
            if offline.shape != labels.shape:
                raise ValueError(f'ScaleConsistencyFilter: offline labels {tuple(offline.shape)} and pseudo-'
                                 f'labels {tuple(labels.shape)} differ in shape')
            fill = offline.long()
        else:
            fill = torch.full_like(labels, self.ignore_index)
        return torch.where(agree, labels, fill), agree
