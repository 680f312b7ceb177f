"""EncoderDecoder: backbone -> decode head (+ auxiliary heads), with whole and sliding-window inference.

Interface of MMSegmentation 1.x's ``EncoderDecoder`` (``forward(inputs, data_samples, mode)`` with
modes ``loss`` / ``predict`` / ``tensor``; ``extract_feat``, ``encode_decode``, ``inference``).
Inference follows mmseg 0.16 as used by the DAFormer family (docs/methods.md §1.8): ``whole`` runs the
resized image at once; ``slide`` tiles ``crop_size`` windows with ``stride`` (grid
``max(L - crop + stride - 1, 0) // stride + 1`` per axis, the last window shifted to end at the
border), sums the window logits and divides by the per-pixel count (``batched_slide`` runs all
windows as one batch, as HRDA does).  ``predict`` removes the padding, resizes the logits bilinearly
(align_corners=False) to the original image size and takes the argmax.

``test_cfg.class_prior=dict(frequencies='dark_zurich', scale=0.16, img_suffix='_rgb_anon.png')`` is
SePiCo's test-time prior (github.com/BIT-DA/SePiCo ``mmseg/models/segmentors/encoder_decoder_projector.py``
``simple_test``; docs/methods.md §2.2.6): for an image whose file name ends with ``img_suffix`` the
softmax is multiplied by the log-frequency class weights (``models/utils/class_prior.py``), resized to
the original size and arg-maxed; ``seg_logits`` are then the log of those weighted probabilities (their
argmax is the prediction).  Other images are predicted as usual.

Call graph::

    forward(mode='loss')    -> loss -> extract_feat -> decode_head.loss (+ auxiliary heads)
    forward(mode='predict') -> predict -> inference -> whole_inference | slide_inference
                                       -> postprocess_result
    forward(mode='tensor')  -> extract_feat -> decode_head.forward
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import nn

from mmseg_procl.models.utils import resize
from mmseg_procl.models.utils.class_prior import class_prior_weights
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample


def add_prefix(losses: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    """``{'loss_seg': x}`` -> ``{'<prefix>.loss_seg': x}``."""
    return {f'{prefix}.{k}': v for k, v in losses.items()}


def check_config_dict_keys(owner: str, allowed: Dict[str, Sequence[str]], given: Dict[str, dict]) -> None:
    """Raise ``KeyError`` naming a key of a plain-dict argument that ``owner`` does not read."""
    for name, cfg in given.items():
        unknown = sorted(set(cfg or {}) - set(allowed[name]))
        if unknown:
            raise KeyError(f'{owner}: {name} has unknown keys {unknown}; it reads '
                           f'{list(allowed[name]) or "no keys"}')


def sample_metas(data_samples: Optional[Sequence], inputs: torch.Tensor) -> List[dict]:
    """Meta information of each sample, or a default built from the batch shape."""
    if data_samples:
        return [s.metainfo for s in data_samples]
    hw = tuple(inputs.shape[2:])
    return [dict(ori_shape=hw, img_shape=hw, pad_shape=hw)] * inputs.shape[0]


def slide_grid(length: int, crop: int, stride: int) -> List[int]:
    """Window starts along one axis (last window shifted to end at the border)."""
    n = max(length - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, length) - crop, 0) for i in range(n)]


@MODELS.register_module()
class EncoderDecoder(BaseModel):
    """A segmentor: ``backbone`` features -> ``decode_head`` logits, optional ``auxiliary_head``."""

    # state-dict prefixes that prediction never reads (a checkpoint may lack them)
    INFERENCE_UNUSED_PREFIXES: Tuple[str, ...] = ('auxiliary_head.',)
    # the keys read from the plain-dict arguments (others are refused, also by the config check)
    CONFIG_DICT_KEYS = dict(train_cfg=(), test_cfg=('mode', 'crop_size', 'stride', 'batched_slide',
                                                    'class_prior'))

    def __init__(self, backbone: dict, decode_head: dict,
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        self.num_classes = self.decode_head.num_classes
        self.align_corners = self.decode_head.align_corners
        self.auxiliary_head = self._build_auxiliary(auxiliary_head)
        self.train_cfg = train_cfg or {}
        self.test_cfg = dict(mode='whole') if test_cfg is None else dict(test_cfg)
        check_config_dict_keys(type(self).__name__, self.CONFIG_DICT_KEYS,
                               dict(train_cfg=self.train_cfg, test_cfg=self.test_cfg))
        if self.test_cfg.get('mode', 'whole') not in ('whole', 'slide'):
            raise ValueError(f"test_cfg.mode must be 'whole' or 'slide', got {self.test_cfg['mode']!r}")
        self.test_prior, self.test_prior_suffix = self._build_test_prior(self.test_cfg.get('class_prior'))

    def _build_test_prior(self, cfg: Optional[dict]) -> Tuple[Optional[torch.Tensor], Optional[str]]:
        """(C,) class weights and image-name suffix of ``test_cfg.class_prior`` (None, None without)."""
        if cfg is None:
            return None, None
        owner = f'{type(self).__name__}.test_cfg.class_prior'
        cfg = dict(cfg)
        suffix = cfg.pop('img_suffix', None)
        if not isinstance(suffix, str) or not suffix:
            raise KeyError(f"{owner} needs img_suffix (e.g. '_rgb_anon.png'): the images it applies to")
        weights = class_prior_weights(cfg, owner)
        if len(weights) != self.num_classes:
            raise ValueError(f'{owner}: {len(weights)} class weights for {self.num_classes} classes')
        print_log(f'{type(self).__name__}: test-time class prior (scale {cfg["scale"]}) on the softmax of '
                  f'images named *{suffix}', logger='current')
        return weights, suffix

    @staticmethod
    def _build_auxiliary(cfg: Optional[Union[dict, List[dict]]]) -> Optional[nn.Module]:
        """One auxiliary head, a ModuleList of several, or None."""
        if cfg is None:
            return None
        if isinstance(cfg, (list, tuple)):
            return nn.ModuleList(MODELS.build(c) for c in cfg)
        return MODELS.build(cfg)

    @property
    def with_auxiliary_head(self) -> bool:
        """Whether auxiliary heads exist."""
        return self.auxiliary_head is not None

    def extract_feat(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Backbone feature maps."""
        return self.backbone(inputs)

    def feature_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """The image ``train_forward``'s ``feats`` are computed on (the input itself here)."""
        return inputs

    def extract_feat_with_extras(self, inputs: torch.Tensor
                                 ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """Backbone maps and segmentor-specific training tensors (none for the plain segmentor)."""
        return self.extract_feat(inputs), {}

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Logits resized to the input size."""
        return self.decode_head.predict(self.extract_feat(inputs), batch_img_metas, self.test_cfg)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict, List, torch.Tensor]:
        """Dispatch on ``mode``: 'loss', 'predict' or 'tensor'."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.decode_head.forward(self.extract_feat(inputs))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        """Decode-head (``decode.*``) and auxiliary-head (``aux[_i].*``) losses."""
        return self.train_forward(inputs, data_samples)[0]

    def train_forward(self, inputs: torch.Tensor, data_samples: List,
                      loss_heads: Sequence[str] = ('decode_head', 'auxiliary_head')
                      ) -> Tuple[Dict[str, torch.Tensor], Dict[str, object]]:
        """The training path of one batch: losses of ``loss_heads`` and the outputs objectives read.

        ``data_samples`` carry ``gt_sem_seg`` (and optionally ``seg_weight``).  Returns
        ``(losses, outputs)``: ``decode.*`` losses when ``decode_head`` is listed, the losses of
        auxiliary heads that define one when ``auxiliary_head`` is listed; ``outputs`` holds
        ``feats`` (backbone maps), ``logits`` (decode head, when computed) and the segmentor's
        extras (``extract_feat_with_extras``).  Self-training algorithms call only this (and
        ``head_forward`` / ``encode_decode``): a segmentor with its own training path (e.g. several
        resolutions) overrides it.
        """
        feats, extras = self.extract_feat_with_extras(inputs)
        outputs: Dict[str, object] = dict(extras, feats=feats)
        losses: Dict[str, torch.Tensor] = {}
        if 'decode_head' in loss_heads:
            logits = self.decode_head.forward(feats)
            losses.update(add_prefix(self.decode_head.loss_by_feat(logits, data_samples), 'decode'))
            outputs['logits'] = logits
        if 'auxiliary_head' in loss_heads:
            losses.update(self.auxiliary_losses(feats, data_samples))
        return losses, outputs

    def head_forward(self, head: str, feats: Sequence[torch.Tensor]):
        """Output of the head ``head`` (e.g. ``auxiliary_head``: pixel embeddings) on backbone maps."""
        return self.get_submodule(head)(feats)

    def auxiliary_losses(self, feats: List[torch.Tensor], data_samples: List) -> Dict:
        """Losses of auxiliary heads that define ``loss`` (embedding heads do not)."""
        heads = [] if self.auxiliary_head is None else (
            list(self.auxiliary_head) if isinstance(self.auxiliary_head, nn.ModuleList)
            else [self.auxiliary_head])
        losses = {}
        for i, head in enumerate(heads):
            if hasattr(head, 'loss'):
                name = 'aux' if len(heads) == 1 else f'aux_{i}'
                losses.update(add_prefix(head.loss(feats, data_samples, self.train_cfg), name))
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: Optional[List] = None) -> List[SegDataSample]:
        """SegDataSamples with ``seg_logits`` and ``pred_sem_seg`` at the original image size."""
        metas = sample_metas(data_samples, inputs)
        return self.postprocess_result(self.inference(inputs, metas), metas, data_samples)

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Logits of the padded batch with the configured test mode."""
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.encode_decode(inputs, batch_img_metas)

    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Average of overlapping ``crop_size`` windows taken with ``stride``."""
        h_stride, w_stride = self.test_cfg['stride']
        h_crop, w_crop = self.test_cfg['crop_size']
        batch, _, h_img, w_img = inputs.shape
        boxes = [(y, x) for y in slide_grid(h_img, h_crop, h_stride)
                 for x in slide_grid(w_img, w_crop, w_stride)]
        crops = [inputs[:, :, y:y + h_crop, x:x + w_crop] for y, x in boxes]
        metas = [dict(m, img_shape=tuple(crops[0].shape[2:]), pad_shape=tuple(crops[0].shape[2:]))
                 for m in batch_img_metas]
        logits = self._window_logits(crops, metas)
        preds = inputs.new_zeros((batch, self.num_classes, h_img, w_img))
        count = inputs.new_zeros((batch, 1, h_img, w_img))
        for (y, x), window in zip(boxes, logits):
            preds[:, :, y:y + window.shape[2], x:x + window.shape[3]] += window
            count[:, :, y:y + window.shape[2], x:x + window.shape[3]] += 1
        return preds / count

    def _window_logits(self, crops: List[torch.Tensor], metas: List[dict]) -> List[torch.Tensor]:
        """Logits of every window, one batch at a time or all windows at once."""
        if not self.test_cfg.get('batched_slide', False):
            return [self.encode_decode(c, metas) for c in crops]
        sizes = {tuple(c.shape[2:]) for c in crops}
        if len(sizes) != 1:
            raise ValueError(f'batched_slide needs equal window sizes, got {sorted(sizes)}')
        out = self.encode_decode(torch.cat(crops), metas * len(crops))
        return list(out.split(crops[0].shape[0]))

    def applies_test_prior(self, meta: dict) -> bool:
        """Whether ``test_cfg.class_prior`` re-weights the image of ``meta`` (its name ends with the suffix)."""
        return self.test_prior is not None and str(meta.get('img_path', '')).endswith(self.test_prior_suffix)

    def apply_test_prior(self, logits: torch.Tensor, meta: dict) -> torch.Tensor:
        """(1, C, h, w) logits, or softmax x class weights when the prior applies to this image."""
        if not self.applies_test_prior(meta):
            return logits
        return torch.softmax(logits, dim=1) * logits.new_tensor(self.test_prior.tolist()).view(1, -1, 1, 1)

    def postprocess_result(self, seg_logits: torch.Tensor, batch_img_metas: List[dict],
                           data_samples: Optional[List] = None) -> List[SegDataSample]:
        """Crop padding, resize to ``ori_shape``, argmax; fill (or create) SegDataSamples."""
        data_samples = data_samples or [SegDataSample(metainfo=m) for m in batch_img_metas]
        for i, (sample, meta) in enumerate(zip(data_samples, batch_img_metas)):
            h, w = meta.get('img_shape', seg_logits.shape[2:])[:2]
            logits = self.apply_test_prior(seg_logits[i:i + 1, :, :h, :w], meta)
            logits = resize(logits, meta.get('ori_shape', (h, w))[:2], align_corners=self.align_corners)[0]
            if self.applies_test_prior(meta):          # resized weighted probabilities -> log
                logits = logits.clamp(min=torch.finfo(logits.dtype).tiny).log()
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(data=logits.argmax(0, keepdim=True))
        return data_samples
