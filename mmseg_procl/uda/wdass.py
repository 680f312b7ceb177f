"""WDASS: weakly-supervised domain adaptation with prototypical contrast, on the DACS core.

Das, Xian, Dai, Schiele, "Weakly-Supervised Domain Adaptive Semantic Segmentation with Prototypical
Contrastive Learning", CVPR 2023 (github.com/anurag-198/WDASS ``train.py``; docs/methods.md §2.7).  The
target images come with weak labels (image-level, points or coarse regions; ``LoadPseudoLabels`` with the
files of ``tools/convert_datasets/weak_labels.py``).  Per iteration, in one backward:

* the EMA teacher (fixed alpha 0.999, BatchNorm buffers averaged too) runs once on the target batch:
  low-resolution logits (softmax: labels, confidences) and L2-normalised embeddings of the
  representation head (the segmentor's ``auxiliary_head``);
* ``target`` stage: the student on the target; cross entropy on the weak labels (point / coarse, mean over
  labelled pixels); the objectives' image-level loss and intra-domain contrast against P^R;
* ``source`` stage: cross entropy on the source, the edge loss, the intra-domain contrast against P^S and
  the asymmetric inter-domain contrast (source anchors pulled to P^R);
* ``mixed`` stage: ClassMix of source into target with the teacher's full-resolution pseudo-labels (with
  point / coarse labels: overwritten by the weak labels), pixel weights ``q * 1[p >= 0.968]``, rows 15 /
  120 zeroed, cross entropy averaged over labelled pixels.

The contrast and image-level terms start after iteration 10000 (``start_iter=10001`` of the objectives).
With image-level labels the dense weak labels are discarded after the image labels are read from them
(``weak_labels`` is all ignore), as the reference does.

State entries added to DACS's (computed on first request)::

    weak_labels            (B, H, W) the target's weak labels (all 255 for weak_label='image')
    image_labels           (B, C) multi-hot of the classes in each target crop's weak labels
    teacher_target         the teacher on the target: embeddings (B, D, h, w), logits (B, C, h, w),
                           labels (B, h, w) with confidence < prototype_threshold set to 255, probs (B, h, w)
    target_region_labels   L (B, h, w): teacher labels overwritten by the weak labels, on the feature grid

Call graph (DACS's ``train_step``)::

    before_stages (EMA update incl. buffers) -> update_prototype_sources (P^R <- teacher_target, L, weak)
    -> run_stage('target') -> run_stage('source') (P^S updated by the contrast objective)
    -> run_stage('mixed') (target_pseudo <- teacher_target logits upsampled; weak overwrite)
    -> one backward -> step_optimizer
"""
from typing import Optional

import torch

from mmseg_procl.models.losses.weak_label import merge_weak_labels, multi_hot
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .dacs import DACS
from .iteration_state import IterationState

WEAK_LABEL_KINDS = ('image', 'point', 'coarse')


@MODELS.register_module()
class WDASS(DACS):
    """DACS with weak target labels, a teacher with embeddings and WDASS's pseudo-label merge.

    Args:
        weak_label: kind of the target's weak labels: ``'image'``, ``'point'`` or ``'coarse'``.
        overwrite_pseudo_labels: replace the teacher's pseudo-labels by the weak labels where given
            (WDASS ``--use_wl``; point / coarse).
        prototype_threshold: confidence below which the teacher's low-resolution labels are unknown (255)
            for the prototypes and the inter-domain contrast (0.95).
        embedding_head: the segmentor head giving the L2-normalised pixel embeddings.
        Other args: as :class:`DACS` (``target_crop``, ``label_filter`` and ``masking`` are refused;
        ``backward`` defaults to ``'iteration'``).
    """

    DEFAULT_STAGES = (
        dict(name='target', inputs='target', labels='weak_labels', metas='target'),
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
    )

    def __init__(self, model: dict, weak_label: str = 'point', overwrite_pseudo_labels: bool = True,
                 prototype_threshold: float = 0.95, embedding_head: str = 'auxiliary_head',
                 backward: str = 'iteration', **kwargs) -> None:
        if weak_label not in WEAK_LABEL_KINDS:
            raise ValueError(f'WDASS: weak_label must be one of {WEAK_LABEL_KINDS}, got {weak_label!r}')
        for key in ('target_crop', 'label_filter', 'masking'):
            if kwargs.get(key) is not None:
                raise ValueError(f'WDASS: {key} is not part of the method (the target is used as loaded); '
                                 f'got {kwargs[key]!r}')
        if model.get(embedding_head) is None:
            raise ValueError(f'WDASS: the segmentor needs a representation head {embedding_head!r} for the '
                             'prototypes and the contrast (e.g. ProjHead(channels=256, num_convs=1, '
                             'kernel_size=1, norm_cfg=None, act_cfg=None))')
        if isinstance(prototype_threshold, bool) or not isinstance(prototype_threshold, (int, float)) \
                or not 0 <= prototype_threshold <= 1:
            raise ValueError(f'WDASS: prototype_threshold must be a confidence in [0, 1], got '
                             f'{prototype_threshold!r}')
        self.weak_label, self.embedding_head = weak_label, embedding_head    # read by the parts' checks
        super().__init__(model, backward=backward, **kwargs)
        self.overwrite_pseudo_labels = bool(overwrite_pseudo_labels)
        self.prototype_threshold = prototype_threshold
        self.num_classes = self.model.decode_head.num_classes
        self._check_weak_label_stages()

    def _check_weak_label_stages(self) -> None:
        """Image-level labels give no dense target labels: no stage may train on ``weak_labels`` and the
        pseudo-labels are not overwritten."""
        if self.weak_label != 'image':
            return
        used = [s.name for s in self.stages if s.labels == 'weak_labels']
        if used or self.overwrite_pseudo_labels:
            overwrite = self.overwrite_pseudo_labels
            raise ValueError(f"WDASS: weak_label='image' discards the dense weak labels, but stages {used} "
                             f'train on weak_labels / overwrite_pseudo_labels={overwrite}; use labels=None, '
                             'loss_heads=() for the target stage and overwrite_pseudo_labels=False')

    # ------------------------------------------------------------------ weak labels
    def provide_weak_labels(self, state: IterationState) -> torch.Tensor:
        """(B, H, W) long weak labels of the target (all 255 for image-level labels)."""
        weak = state['offline_pseudo_labels']
        return torch.full_like(weak, 255) if self.weak_label == 'image' else weak

    def provide_image_labels(self, state: IterationState) -> torch.Tensor:
        """(B, C) multi-hot of the classes in each target crop's weak labels."""
        return multi_hot(state['offline_pseudo_labels'], self.num_classes)

    # ------------------------------------------------------------------ teacher
    @torch.no_grad()
    def provide_teacher_target(self, state: IterationState) -> dict:
        """The teacher on the target batch (train mode, dropout off): one backbone pass, the decode head's
        low-resolution logits and the representation head's embeddings (float32)."""
        with self.forward_precision():
            feats = self.ema_model.extract_feat(state['target_full'])
            logits = self.ema_model.decode_head.forward(feats)
            embeddings = self.ema_model.head_forward(self.embedding_head, feats)
        logits = logits.float()
        probs, labels = torch.softmax(logits, dim=1).max(dim=1)
        labels = torch.where(probs < self.prototype_threshold, torch.full_like(labels, 255), labels)
        return dict(embeddings=embeddings.float(), logits=logits, labels=labels, probs=probs)

    def provide_target_region_labels(self, state: IterationState) -> torch.Tensor:
        """L: the teacher's confident low-resolution labels overwritten by the weak labels, on the
        feature grid (nearest resizes as the reference)."""
        teacher = state['teacher_target']
        return merge_weak_labels(teacher['labels'], state['weak_labels'], teacher['embeddings'].shape[2:])

    def teacher_pseudo_labels(self, target: torch.Tensor, day: Optional[torch.Tensor],
                              state: Optional[IterationState] = None):
        """(labels, confidence) of the teacher's logits of this iteration's target batch, upsampled to the
        image (the same teacher pass as the prototypes)."""
        logits = resize(state['teacher_target']['logits'], target.shape[2:],
                        align_corners=self.ema_model.align_corners)
        return self.pseudo_labeller.label(logits)

    def provide_target_pseudo(self, state: IterationState) -> dict:
        """DACS's pseudo-labels and weights; with ``overwrite_pseudo_labels`` the weak labels replace
        the labels where given (the weights stay the teacher's)."""
        out = super().provide_target_pseudo(state)
        if self.overwrite_pseudo_labels:
            weak = state['weak_labels']
            out['labels'] = torch.where(weak != 255, weak, out['labels'])
        return out
