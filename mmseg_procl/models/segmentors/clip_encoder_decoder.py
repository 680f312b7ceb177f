"""CLIPEncoderDecoder: a segmentor whose last backbone stage is fused with frozen CLIP image features.

CLIP-ProCL (github.com/bupt-ai-cz/CLIP-ProCL ``mmseg/models/segmentors/
clip_encoder_decoder_projector.py``, docs/methods.md §2.1.1-2.1.4).  Besides backbone, decode head and
projection head (``auxiliary_head``) it owns the frozen CLIP image tower ``clip`` (with its attention
pool projections), the frozen text tower ``text``, the CoOp ``prompt_learner`` (learnable ``ctx``)
and the fusion ``filter`` (the "AFM" of the paper's figure):

    F4 = clip(img)[3]                                   (no grad; B, C_clip, h/32, w/32)
    A  = filter(x4 * normalize_c(resize(F4, x4, align_corners=True)))     (B, 1, h/8, w/8)
    x4 <- x4 * A                                        (stages 1-3 unchanged)

so that everything reading features -- student, EMA teacher (pseudo-labels), validation and test --
uses fused features.  ``filter`` is ``Conv2d(C, 1, 1)`` with PyTorch's default init and no
activation.  When the backbone's last stage is narrower than CLIP's (MiT-B5: 512 vs 2048) a learned
1x1 ``clip_adapter`` maps CLIP's map to the backbone width first (this package's extension; the
reference only pairs a ResNet-101 with CLIP RN101).  The text side is only run on request
(``text_embeddings``), i.e. by the objectives during training.

Faithful by default, corrections as switches (docs/methods.md §3 items 4 and 5):
``clip_bn='train'`` lets the frozen tower's BatchNorm follow the runner's train mode (batch
statistics, drifting running buffers, as the reference) vs ``'frozen'`` (always eval);
``input='imagenet'`` of ``clip_visual`` feeds CLIP the segmentor's ImageNet-normalised tensor (reference) vs
``'clip'`` (re-normalised with CLIP's own mean / std; ``clip_visual.input``); the text activation is chosen in
``clip_text`` (``'gelu'`` reference, ``'quick_gelu'`` as CLIP was trained).

CLIP weights are loaded in ``init_weights`` (training start), never at build time: test-time models
take them from the checkpoint.  ``clip_weights=None`` leaves both towers randomly initialised and
says so loudly (demo / tests only).

The CLIP parts live in :class:`CLIPFusionMixin`, shared with the HRDA variant
(``clip_hrda_encoder_decoder.py``).

Call graph::

    extract_feat -> clip_fused_features: backbone -> clip_features (no grad) -> fuse (filter) -> feats
    extract_feat_with_extras -> clip_fused_features -> (feats, {'clip_feats': F4})   # training stages
    text_embeddings -> prompt_learner -> text.encode_embeddings -> L2 normalise   (C, D)
    clip_logits(F4, T) -> clip.dense_embedding -> L2 normalise -> cosine with T   (B, C, h, w)
    encode_decode -> extract_feat -> decode_head.predict
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from mmseg_procl.models.backbones.clip_checkpoint import init_clip_towers
from mmseg_procl.models.utils import resize
from mmseg_procl.registry import MODELS
from .encoder_decoder import EncoderDecoder


class CLIPFusionMixin:
    """The CLIP parts of a segmentor: frozen towers, CoOp prompts, fusion of the last backbone stage.

    Mixed into :class:`CLIPEncoderDecoder` and
    :class:`~mmseg_procl.models.segmentors.clip_hrda_encoder_decoder.CLIPHRDAEncoderDecoder`, before their
    segmentor base (``class X(CLIPFusionMixin, EncoderDecoder)``); ``build_clip_parts`` is called at the
    end of ``__init__`` so that the module order (and the random initialisation) follows the backbone and
    heads.  Registers ``clip``, ``text``, ``prompt_learner`` and, with fusion, ``filter`` (and
    ``clip_adapter`` when the widths differ): the state-dict names of a released CLIP-ProCL checkpoint.
    """

    # prediction reads the CLIP stage maps only: text tower, prompts, attention pool are training-only
    INFERENCE_UNUSED_PREFIXES = ('auxiliary_head.', 'text.', 'prompt_learner.', 'clip.attnpool.')

    def build_clip_parts(self, clip_visual: dict, clip_text: dict, prompt_learner: dict,
                         clip_weights: Optional[str], feature_fusion: bool, fusion_channels: Optional[int],
                         clip_bn: str) -> None:
        """Build the towers, the prompt learner and the fusion filter (errors name the bad argument)."""
        name = type(self).__name__
        if clip_bn not in ('train', 'frozen'):
            raise ValueError(f"{name}: clip_bn must be 'train' or 'frozen', got {clip_bn!r}")
        self.clip_bn, self.clip_weights = clip_bn, clip_weights
        self.clip = MODELS.build(clip_visual).requires_grad_(False)
        self.text = MODELS.build(clip_text).requires_grad_(False)
        self.prompt_learner = MODELS.build(dict(prompt_learner, ctx_dim=self.text.width))
        if self.text.embed_dim != self.clip.embed_dim:
            raise ValueError(f'{name}: text embedding {self.text.embed_dim} != image '
                             f'embedding {self.clip.embed_dim}; use towers of one CLIP model')
        self.feature_fusion = feature_fusion
        clip_channels = self.clip.out_channels[-1]
        fusion_channels = fusion_channels or clip_channels
        if feature_fusion:
            self.filter = nn.Conv2d(fusion_channels, 1, kernel_size=1)
            if fusion_channels != clip_channels:
                self.clip_adapter = nn.Conv2d(clip_channels, fusion_channels, 1, bias=False)

    def train(self, mode: bool = True):
        """Runner's train / eval; with ``clip_bn='frozen'`` the CLIP tower stays in eval mode."""
        super().train(mode)
        if self.clip_bn == 'frozen':
            self.clip.eval()
        return self

    def init_weights(self) -> None:
        """Usual init, then CLIP weights into both towers and the context initialisation."""
        super().init_weights()
        init_clip_towers(self.clip, self.text, self.clip_weights)
        self.prompt_learner.init_context(self.text.token_embedding)

    @torch.no_grad()
    def clip_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Stage-4 map of the frozen CLIP tower (no gradient)."""
        return self.clip(inputs)[-1]

    def fuse(self, last: torch.Tensor, clip_feats: torch.Tensor) -> torch.Tensor:
        """``last * filter(last * normalize(resize(F4)))`` (docs/methods.md §2.1.4 step 4)."""
        if hasattr(self, 'clip_adapter'):
            clip_feats = self.clip_adapter(clip_feats)
        prior = F.normalize(resize(clip_feats, last.shape[2:], align_corners=True), dim=1)
        return last * self.filter(last * prior)

    def clip_fused_features(self, inputs: torch.Tensor
                            ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """Backbone maps of ``inputs`` with the last stage fused with CLIP's map of the same image
        (unfused without ``feature_fusion``), and ``{'clip_feats': F4}`` for the training objectives."""
        feats = list(self.backbone(inputs))
        clip_feats = self.clip_features(inputs)
        if self.feature_fusion:
            feats[-1] = self.fuse(feats[-1], clip_feats)
        return feats, {'clip_feats': clip_feats}

    def text_embeddings(self) -> torch.Tensor:
        """(num_classes, D) L2-normalised text embeddings of the learned prompts (grad to ``ctx``)."""
        prompts = self.prompt_learner(self.text.token_embedding)
        feats = self.text.encode_embeddings(prompts, self.prompt_learner.token_ids,
                                            self.prompt_learner.seq_length)
        return F.normalize(feats, dim=-1)

    def clip_logits(self, clip_feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of dense (MaskCLIP) embeddings and text embeddings, (B, C, h, w)."""
        with torch.no_grad():
            dense = F.normalize(self.clip.dense_embedding(clip_feats), dim=1)
        return torch.einsum('bdhw,cd->bchw', dense, text)


@MODELS.register_module()
class CLIPEncoderDecoder(CLIPFusionMixin, EncoderDecoder):
    """EncoderDecoder + frozen CLIP towers, CoOp prompts and CLIP-feature fusion of the last stage."""

    def __init__(self, backbone: dict, decode_head: dict, clip_visual: dict, clip_text: dict,
                 prompt_learner: dict, auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 clip_weights: Optional[str] = None, feature_fusion: bool = True,
                 fusion_channels: Optional[int] = None, clip_bn: str = 'train',
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, decode_head, auxiliary_head, train_cfg, test_cfg,
                         data_preprocessor, init_cfg)
        self.build_clip_parts(clip_visual, clip_text, prompt_learner, clip_weights, feature_fusion,
                              fusion_channels, clip_bn)

    def extract_feat_with_extras(self, inputs: torch.Tensor
                                 ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """Fused backbone maps and ``{'clip_feats': F4}`` for the training objectives."""
        return self.clip_fused_features(inputs)

    def extract_feat(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Backbone maps with the last stage fused with CLIP (unchanged without fusion)."""
        if not self.feature_fusion:
            return super().extract_feat(inputs)
        return self.clip_fused_features(inputs)[0]
