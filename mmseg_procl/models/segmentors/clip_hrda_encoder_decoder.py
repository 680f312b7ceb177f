"""CLIPHRDAEncoderDecoder: HRDA's multi-resolution segmentor with CLIP-ProCL's CLIP-feature fusion.

This package's combination of CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/segmentors/
clip_encoder_decoder_projector.py``; docs/methods.md §2.1) and HRDA (Hoyer et al., ECCV 2022; code in
github.com/lhoyer/MIC ``seg/mmseg/models/segmentors/hrda_encoder_decoder.py``; docs/methods.md §2.3);
neither original repository offers it.  Every backbone pass of HRDA -- the 0.5-scale context image,
the full-resolution detail crop, the batch of overlapping detail windows at inference -- has its last
stage fused with the frozen CLIP tower's stage-4 map *of the same image* (the fusion of
:class:`~mmseg_procl.models.segmentors.clip_encoder_decoder.CLIPEncoderDecoder`, docs/methods.md §2.1.4
step 4), so student, EMA teacher (pseudo-labels on the detail windows), validation and test all read
fused features.  The CLIP map handed to the prompt objectives (``clip_feats``) is the context pass's,
matching ``feats`` (the context features, which the projection head and the feature distance read).

Costs: CLIP runs once per backbone pass (context + detail in training; context + every detail window in
inference), i.e. twice the CLIP work of the single-resolution segmentor per training batch.

Call graph::

    train_forward (HRDA) -> backbone_maps_with_extras(context) -> clip_fused_features -> (feats, clip_feats)
                         -> backbone_maps(detail crop)        -> clip_fused_features[0]
    encode_decode (HRDA) -> backbone_maps(context), backbone_maps(window batch) -> decode_head -> resize
    text_embeddings, clip_logits, clip_features, fuse        (CLIPFusionMixin)
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from mmseg_procl.registry import MODELS
from .clip_encoder_decoder import CLIPFusionMixin
from .hrda_encoder_decoder import HRDAEncoderDecoder


@MODELS.register_module()
class CLIPHRDAEncoderDecoder(CLIPFusionMixin, HRDAEncoderDecoder):
    """HRDAEncoderDecoder whose backbone passes are fused with CLIP (module docstring).

    Arguments are those of :class:`HRDAEncoderDecoder` (``hr_crop_size``, ``crop_coord_divisible``,
    ``hr_slide_inference``, ``hr_slide_overlapping``, ``feature_scale``; decode head ``HRDAHead``) and of
    :class:`CLIPEncoderDecoder` (``clip_visual``, ``clip_text``, ``prompt_learner``, ``clip_weights``,
    ``feature_fusion``, ``fusion_channels``, ``clip_bn``).
    """

    def __init__(self, backbone: dict, decode_head: dict, clip_visual: dict, clip_text: dict,
                 prompt_learner: dict, auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 clip_weights: Optional[str] = None, feature_fusion: bool = True,
                 fusion_channels: Optional[int] = None, clip_bn: str = 'train',
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 hr_crop_size: Sequence[int] = (512, 512), crop_coord_divisible: int = 8,
                 hr_slide_inference: bool = True, hr_slide_overlapping: bool = True,
                 feature_scale: float = 0.5) -> None:
        super().__init__(backbone, decode_head, auxiliary_head, train_cfg, test_cfg, data_preprocessor,
                         init_cfg, hr_crop_size, crop_coord_divisible, hr_slide_inference,
                         hr_slide_overlapping, feature_scale)
        self.build_clip_parts(clip_visual, clip_text, prompt_learner, clip_weights, feature_fusion,
                              fusion_channels, clip_bn)

    def backbone_maps_with_extras(self, inputs: torch.Tensor
                                  ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """CLIP-fused backbone maps of one input and ``{'clip_feats': F4}`` of the same input."""
        return self.clip_fused_features(inputs)

    def backbone_maps(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """CLIP-fused backbone maps of one input (plain backbone maps without ``feature_fusion``)."""
        if not self.feature_fusion:
            return list(self.backbone(inputs))
        return self.clip_fused_features(inputs)[0]
