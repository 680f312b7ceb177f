"""DACS: self-training with an EMA teacher, ClassMix and strong augmentation (DAFormer's core), as
stages over a per-iteration state, with its policies as registered parts.

DACS (Tranheden et al., WACV 2021) as implemented by DAFormer (Hoyer et al., CVPR 2022,
github.com/lhoyer/DAFormer ``mmseg/models/uda/dacs.py``), step for step as docs/methods.md §1.5 /
§1.9: EMA teacher update at the start of the iteration, a ``source`` stage on clean source images,
pseudo-labels from the teacher (train mode, Dropout / DropPath off) with a batch-scalar confidence
weight and masked rows, ClassMix with classes drawn from the whole source batch, colour jitter
(kornia-0.5 semantics) and Gaussian blur, a weighted ``mixed`` stage, one optimizer step.  The
teacher lives under ``ema_model.`` and keeps its own BatchNorm statistics.

The same class runs SePiCo, CLIP-ProCL and the other methods of the family by configuration: the
stage list (e.g. SePiCo's ``source`` on strongly augmented images, ``target`` contrast on the
augmented target crop, ``mixed``), the objectives, the named prototype sources and the policies
``teacher`` (``EMATeacher``), ``pseudo_labeller`` (``PseudoLabeller``), ``mix`` (``ClassMix``),
``strong_aug`` (``StrongAugmentation``) and ``target_crop`` (``ClassBalancedCrop`` or None).

State entries (computed once per iteration, on first request)::

    source, source_samples, source_labels         the clean source batch
    target_full, target_samples                   the target batch as loaded
    target_day_full                               the day partners of the target batch (SePiCo's Dark
                                                  Zurich variant: ``target_day`` branch), or None
    pseudo_margin_mask                            the pipeline's pseudo-label margin mask, or None
    target_pseudo                                 teacher labels of the target; with target_crop:
                                                  crop windows chosen on the full image's labels,
                                                  the target cropped, labels regenerated (or cropped)
    target, pseudo_labels, pseudo_weights         the (cropped) clean target and its pseudo-labels (with a
                                                  label_filter: filtered; its agreement mask is kept as
                                                  ``scale_agreement``)
    offline_pseudo_labels                         externally produced target labels (LoadPseudoLabels),
                                                  cropped like the target
    target_day                                    the (cropped) day partners, or None
    aug_switches                                  this iteration's colour-jitter / blur switches
    source_strong, target_strong                  strongly augmented source / target batches
    mix, mixed, mixed_labels, mixed_weights, mix_masks   ClassMix of source into target, augmented
    masked, masked_inputs, masked_labels, masked_weights MIC: block-masked target (or source 0 +
                                                  target 0) with the unmasked images' pseudo-labels

Call graph::

    train_step -> data_preprocessor -> before_stages (teacher policy update, dropout off)
               -> iteration_state -> update_prototype_sources
               -> run_stage('source') -> run_stage(...) -> run_stage('mixed')
                  (each pulls its inputs / labels / weights from the state)
               -> after_stages (debug record) -> step_optimizer
"""
from typing import Dict, Optional, Sequence

import torch

from mmseg_procl.models.decode_heads.decode_head import stack_pixel_field
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .iteration_state import IterationState
from .source_only import SourceOnly
from .teacher import disable_dropout, freeze

PREDICT_ON = ('student', 'teacher')
MASK_MODES = ('separatetrgaug', 'separate')      # MIC: GTA/SYNTHIA -> CS; CS -> ACDC / Dark Zurich


def build_part(cfg: Optional[dict], default_type: Optional[str]):
    """A policy part from its config (``type`` defaults to ``default_type``; None gives None)."""
    if cfg is None and default_type is None:
        return None
    cfg = dict(cfg or {})
    cfg.setdefault('type', default_type)
    return MODELS.build(cfg)


@MODELS.register_module()
class DACS(SourceOnly):
    """Mean-teacher self-training with ClassMix (the self-training core of the DAFormer family).

    Args:
        model: the segmentor (student; the teacher is a second copy).
        teacher: teacher policy (``EMATeacher``: alpha, ramp, buffer averaging).
        pseudo_labeller: pseudo-label policy (``PseudoLabeller``: threshold, ignored rows, weighting).
        mix: mixing policy (``ClassMix``).
        strong_aug: strong augmentation (``StrongAugmentation``: jitter strength / probability, blur).
        target_crop: target crop policy (``ClassBalancedCrop``) or None (the loaded crop).
        stages, objectives, prototype_sources, backward: see ``SourceOnly``.
        predict_on: ``'student'`` (the reference) or ``'teacher'`` for validation during training.
        masking: MIC's masking policy (``BlockMasking``) for a ``masked`` stage, or None.
        mask_mode: what MIC masks: ``'separatetrgaug'`` (augmented target batch) or ``'separate'``
            (source image 0 + target image 0).
        label_filter: a pseudo-label filter over the teacher's per-scale predictions
            (``ScaleConsistencyFilter``, PCPR's reconstruction; needs a segmentor with
            ``encode_decode_scales``, e.g. ``PCPREncoderDecoder``) or None.
    """

    DEFAULT_STAGES = (
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
    )
    BRANCHES = ('source', 'target')

    def __init__(self, model: dict, teacher: Optional[dict] = None,
                 pseudo_labeller: Optional[dict] = None, mix: Optional[dict] = None,
                 strong_aug: Optional[dict] = None, target_crop: Optional[dict] = None,
                 stages: Optional[Sequence[dict]] = None, objectives: Sequence[dict] = (),
                 prototype_sources: Optional[Dict[str, dict]] = None, backward: str = 'stage',
                 predict_on: str = 'student', masking: Optional[dict] = None,
                 mask_mode: str = 'separatetrgaug', label_filter: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False, compile_segmentor: Optional[dict] = None) -> None:
        if predict_on not in PREDICT_ON:
            raise ValueError(f'DACS: predict_on must be one of {PREDICT_ON}, got {predict_on!r}')
        if mask_mode not in MASK_MODES:
            raise ValueError(f'DACS: mask_mode must be one of {MASK_MODES}, got {mask_mode!r}')
        super().__init__(model, objectives, stages, prototype_sources, backward, data_preprocessor,
                         init_cfg, channels_last, compile_segmentor)
        self.ema_model = freeze(MODELS.build(model))
        self.apply_speed_options(self.ema_model)
        self.teacher_policy = build_part(teacher, 'EMATeacher')
        self.pseudo_labeller = build_part(pseudo_labeller, 'PseudoLabeller')
        self.mixer = build_part(mix, 'ClassMix')
        self.strong_aug = build_part(strong_aug, 'StrongAugmentation')
        self.target_crop = build_part(target_crop, None)
        self.predict_on = predict_on
        self.masking, self.mask_mode = build_part(masking, None), mask_mode
        self.label_filter = build_part(label_filter, None)
        self._check_label_filter()
        self.debug_next = False          # set by the visualisation hook for the next iteration
        self.debug_output: Dict[str, torch.Tensor] = {}

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """Student (or, with ``predict_on='teacher'``, teacher) forward for evaluation."""
        if mode == 'predict' and self.predict_on == 'teacher':
            return self.ema_model(inputs, data_samples, mode)
        return self.model(inputs, data_samples, mode)

    def _check_label_filter(self) -> None:
        """A label filter needs per-scale teacher outputs, the uncropped target and a plain labeller."""
        if self.label_filter is None:
            return
        name = type(self.label_filter).__name__
        if not hasattr(self.ema_model, 'encode_decode_scales'):
            raise ValueError(f'label_filter {name} reads the teacher\'s context and detail predictions; the '
                             f'segmentor {type(self.ema_model).__name__} has none (use PCPREncoderDecoder)')
        if self.target_crop is not None:
            raise ValueError(f'label_filter {name} filters the pseudo-labels of the loaded target; it cannot '
                             f'be combined with target_crop {type(self.target_crop).__name__}')
        if getattr(self.pseudo_labeller, 'uses_day_partner', False):
            raise ValueError(f'label_filter {name} cannot be combined with the day-night pseudo_labeller '
                             f'{type(self.pseudo_labeller).__name__}')

    # ------------------------------------------------------------------ teacher
    def before_stages(self) -> None:
        """Update the teacher (copy at t = 0, EMA afterwards); its dropout stays off."""
        self.update_teacher()

    def update_teacher(self) -> None:
        """The teacher policy's update for the current iteration, then Dropout / DropPath off."""
        self.teacher_policy.update(self.ema_model, self.model, self.local_iter)
        disable_dropout(self.ema_model)

    @torch.no_grad()
    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher logits at the input size (train mode, dropout off; under the wrapper's autocast,
        returned in float32 so that confidences are not rounded to bf16)."""
        hw = inputs.shape[2:]
        metas = [dict(img_shape=tuple(hw), pad_shape=tuple(hw))] * inputs.shape[0]
        with self.forward_precision():
            logits = self.ema_model.encode_decode(inputs, metas)
        return resize(logits.float(), hw, align_corners=self.ema_model.align_corners)

    @torch.no_grad()
    def teacher_embeddings(self, inputs: torch.Tensor, head: str) -> torch.Tensor:
        """The teacher's ``head`` output (e.g. projected pixel embeddings) on ``inputs``."""
        with self.forward_precision():
            embeddings = self.ema_model.head_forward(head, self.ema_model.extract_feat(inputs))
        return embeddings.float()

    # ------------------------------------------------------------------ state entries
    def provide_target_full(self, state: IterationState) -> torch.Tensor:
        """The target images as loaded (B, 3, H, W)."""
        return state['batch']['target']['inputs']

    def provide_target_day_full(self, state: IterationState) -> Optional[torch.Tensor]:
        """The day partners of the target batch as loaded (B, 3, H, W), or None without a ``target_day``
        branch (``UDADataset(day_partners=...)``)."""
        day = state['batch'].get('target_day')
        return None if day is None else day['inputs']

    def provide_target_samples(self, state: IterationState) -> list:
        """The target data samples (metas only: target labels are never used)."""
        return state['batch']['target']['data_samples']

    def provide_pseudo_margin_mask(self, state: IterationState) -> Optional[torch.Tensor]:
        """(B, H, W) validity mask of the target's pseudo-labels from the data pipeline
        (``PseudoLabelMargins``, HRDA's image margins), or None when the pipeline adds none."""
        mask = stack_pixel_field(state['target_samples'], 'valid_pseudo_mask')
        if mask is not None and (self.pseudo_labeller.ignore_top or self.pseudo_labeller.ignore_bottom):
            raise ValueError('the target pipeline adds pseudo-label margins (PseudoLabelMargins) and the '
                             'pseudo_labeller also ignores rows of the crop (ignore_top / ignore_bottom); '
                             'use one of them (HRDA: margins, ignore_top=0, ignore_bottom=0)')
        return mask

    @torch.no_grad()
    def filtered_pseudo_labels(self, target: torch.Tensor, state: IterationState):
        """(labels, confidence): the pseudo-label policy on the teacher's fused logits of the (uncropped)
        ``target``, then ``label_filter`` with its context / detail logits and, if it uses them, the
        offline labels."""
        with self.forward_precision():
            scales = self.ema_model.encode_decode_scales(target)
        scales = {name: logits.float() for name, logits in scales.items()}
        labels, confidence = self.pseudo_labeller.label(scales['fused'])
        offline = self.full_offline_pseudo_labels(state) if self.label_filter.use_offline else None
        labels, agree = self.label_filter(labels, scales, offline)
        state.cached('scale_agreement', lambda: agree)          # (B, H, W) bool, for inspection
        return labels, confidence

    def teacher_pseudo_labels(self, target: torch.Tensor, day: Optional[torch.Tensor],
                              state: Optional[IterationState] = None):
        """(labels, confidence) of the pseudo-label policy on the teacher's logits of ``target`` (and, for
        a day-night policy, of its day partners ``day``, run first as the reference does; with a
        ``label_filter``, filtered with the teacher's per-scale predictions, see
        :meth:`filtered_pseudo_labels`)."""
        uses_day = getattr(self.pseudo_labeller, 'uses_day_partner', False)
        if uses_day and day is None:
            raise ValueError(f'pseudo_labeller {type(self.pseudo_labeller).__name__} fuses night and day '
                             'predictions, but the batch has no target_day branch; set '
                             'day_partners=dict() in the UDADataset')
        if not uses_day and day is not None:
            raise ValueError(f'the batch has day partners (target_day) but pseudo_labeller '
                             f'{type(self.pseudo_labeller).__name__} does not use them; use '
                             "pseudo_labeller=dict(type='DayNightPseudoLabeller') or drop day_partners")
        if day is None and self.label_filter is not None:
            return self.filtered_pseudo_labels(target, state)
        if day is None:
            return self.pseudo_labeller.label(self.teacher_logits(target))
        day_logits = self.teacher_logits(day)
        return self.pseudo_labeller.label(self.teacher_logits(target), day_logits)

    def provide_target_pseudo(self, state: IterationState) -> dict:
        """Clean target (cropped if a crop policy is set), its pseudo-labels and weights (times the
        pseudo-label margin mask when the pipeline provides one); day partners are cropped alike."""
        full, margins, day = state['target_full'], state['pseudo_margin_mask'], state['target_day_full']
        labels, confidence = self.teacher_pseudo_labels(full, day, state)
        if self.target_crop is None:
            weights = self.pseudo_labeller.weights(confidence)
            return dict(target=full, labels=labels, day=day,
                        weights=weights if margins is None else weights * margins)
        boxes = self.target_crop.choose_batch(labels)
        target = self.target_crop.crop(full, boxes)
        day = None if day is None else self.target_crop.crop(day, boxes)
        if self.target_crop.regenerate:
            labels, crop_confidence = self.teacher_pseudo_labels(target, day)
            weights = self.pseudo_labeller.weights(crop_confidence)
        else:
            ratio = (confidence >= self.pseudo_labeller.threshold).float().mean()
            labels = self.target_crop.crop(labels, boxes)
            weights = self.pseudo_labeller.weights(self.target_crop.crop(confidence, boxes), ratio)
        if margins is not None:
            weights = weights * self.target_crop.crop(margins, boxes)
        return dict(target=target, labels=labels, weights=weights, boxes=boxes, day=day)

    def provide_target(self, state: IterationState) -> torch.Tensor:
        """The clean target batch the stages train on (B, 3, h, w)."""
        return state['target_pseudo']['target']

    @staticmethod
    def full_offline_pseudo_labels(state: IterationState) -> torch.Tensor:
        """(B, H, W) long offline pseudo-labels of the loaded target batch (255 = none)."""
        labels = stack_pixel_field(state['target_samples'], 'pseudo_label')
        if labels is None:
            raise KeyError('offline pseudo-labels are read (a stage or the label_filter) but the target '
                           'samples carry none; add LoadPseudoLabels to the target pipeline and the '
                           "dataset's data_prefix.pseudo_label_path (or, for a label_filter, set "
                           'use_offline=False)')
        return labels.long()

    def provide_offline_pseudo_labels(self, state: IterationState) -> torch.Tensor:
        """(B, h, w) long offline pseudo-labels of the target batch (255 = none), cropped with the target."""
        labels = self.full_offline_pseudo_labels(state)
        if self.target_crop is not None:
            labels = self.target_crop.crop(labels, state['target_pseudo']['boxes'])
        return labels

    def provide_target_day(self, state: IterationState) -> Optional[torch.Tensor]:
        """The (cropped) day partners of ``target``, or None."""
        return state['target_pseudo']['day']

    def provide_pseudo_labels(self, state: IterationState) -> torch.Tensor:
        """Teacher pseudo-labels of ``target`` (B, h, w) long."""
        return state['target_pseudo']['labels']

    def provide_pseudo_weights(self, state: IterationState) -> torch.Tensor:
        """Pixel weights of the pseudo-labels (B, h, w)."""
        return state['target_pseudo']['weights']

    def provide_aug_switches(self, state: IterationState):
        """This iteration's (colour jitter, blur) switches, drawn once."""
        return self.strong_aug.draw_switches()

    def _augment(self, imgs: torch.Tensor, state: IterationState, per_image_sigma: bool,
                 switches=None) -> torch.Tensor:
        """Strong augmentation of a normalised batch with this iteration's (or the given) switches."""
        pre = self.data_preprocessor
        switches = state['aug_switches'] if switches is None else switches
        return self.strong_aug(imgs, pre.mean.flatten(), pre.std.flatten(), switches,
                               per_image_sigma=per_image_sigma)

    def provide_source_strong(self, state: IterationState) -> torch.Tensor:
        """The source batch strongly augmented (one blur sigma for the batch, as SePiCo)."""
        return self._augment(state['source'], state, per_image_sigma=False)

    def provide_target_strong(self, state: IterationState) -> torch.Tensor:
        """The (cropped) target batch strongly augmented (one blur sigma for the batch)."""
        return self._augment(state['target'], state, per_image_sigma=False)

    def provide_mix(self, state: IterationState) -> dict:
        """ClassMix of the clean source into the clean target, then strong augmentation per image."""
        src_labels = state['source_labels']
        masks = self.mixer.masks(src_labels)
        images = self.mixer.mix(masks, state['source'], state['target'])
        labels = self.mixer.mix(masks[:, 0], src_labels, state['pseudo_labels'])
        weights = self.mixer.mix(masks[:, 0], torch.ones_like(state['pseudo_weights']),
                                 state['pseudo_weights'])
        images = self._augment(images, state, per_image_sigma=True)   # sigmas drawn only if blurred
        return dict(inputs=images, labels=labels, weights=weights, masks=masks)

    def provide_mixed(self, state: IterationState) -> torch.Tensor:
        """Mixed, augmented images."""
        return state['mix']['inputs']

    def provide_mixed_labels(self, state: IterationState) -> torch.Tensor:
        """Mixed labels (source ground truth / pseudo-labels)."""
        return state['mix']['labels']

    def provide_mixed_weights(self, state: IterationState) -> torch.Tensor:
        """Mixed pixel weights (1 on source pixels, pseudo weights on target pixels)."""
        return state['mix']['weights']

    def provide_mix_masks(self, state: IterationState) -> torch.Tensor:
        """ClassMix masks (B, 1, H, W)."""
        return state['mix']['masks']

    def provide_masked(self, state: IterationState) -> dict:
        """MIC's masked batch (docs/methods.md §2.4) with the pseudo-labels of the *unmasked* images.

        ``'separatetrgaug'``: the clean target batch, colour jitter / blur with freshly drawn switches
        (blur always eligible, one sigma for the batch), block-masked; labels and weights are the
        teacher's pseudo-labels and weights of this iteration (the teacher never sees masked input).
        ``'separate'``: source image 0 and target image 0 (ground truth with weight 1, pseudo-label
        with its weights), block-masked without colour augmentation.
        """
        if self.masking is None:
            raise ValueError("a stage reads the masked_* entries but DACS has no masking policy; set "
                             "masking=dict(type='BlockMasking', mask_ratio=0.7, mask_block_size=64)")
        labels, weights = state['pseudo_labels'], state['pseudo_weights']
        if self.mask_mode == 'separatetrgaug':
            switches = self.strong_aug.draw_switches(blur_eligible=True)
            imgs = self._augment(state['target'], state, per_image_sigma=False, switches=switches)
        else:
            imgs = torch.stack([state['source'][0], state['target'][0]])
            labels = torch.stack([state['source_labels'][0], labels[0]])
            weights = torch.stack([torch.ones_like(weights[0]), weights[0]])
        return dict(inputs=self.masking(imgs), labels=labels, weights=weights)

    def provide_masked_inputs(self, state: IterationState) -> torch.Tensor:
        """MIC's masked images (B, 3, H, W)."""
        return state['masked']['inputs']

    def provide_masked_labels(self, state: IterationState) -> torch.Tensor:
        """Labels of the masked images: pseudo-labels of the unmasked target (and source ground truth)."""
        return state['masked']['labels']

    def provide_masked_weights(self, state: IterationState) -> torch.Tensor:
        """Pixel weights of the masked images."""
        return state['masked']['weights']

    # ------------------------------------------------------------------ debug images
    def after_stages(self, state: IterationState) -> None:
        """Keep this iteration's tensors for the visualisation hook when it asked for them."""
        if not self.debug_next:
            return
        self.debug_next = False
        if not state.computed('mix'):
            return
        self.debug_output = dict(
            source_img=state['source'].detach(), target_img=state['target'].detach(),
            mixed_img=state['mixed'].detach(), pseudo_label=state['pseudo_labels'],
            pseudo_weight=state['pseudo_weights'], source_label=state['source_labels'],
            mixed_label=state['mixed_labels'], mix_mask=state['mix_masks'][:, 0])
