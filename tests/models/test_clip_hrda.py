"""CLIPHRDAEncoderDecoder: every HRDA backbone pass (context, detail crop, detail windows) is CLIP-fused with
CLIP's map of the same image; the prompt objectives get the context pass's CLIP map; names and loading."""
import numpy as np
import torch
import torch.nn.functional as F
import pytest
from tiny_clip import EMBED, IMAGE, TEXT_WIDTH, VIS_WIDTH, openai_state_dict, register_test_backbone

from mmseg_procl.models.segmentors import CLIPEncoderDecoder, CLIPHRDAEncoderDecoder, HRDAEncoderDecoder
from mmseg_procl.registry import MODELS
from mmseg_procl.utils import load_segmentor_checkpoint, register_all_modules

BN = dict(type='BN', requires_grad=True)
HEAD = dict(type='DAFormerHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3], channels=16,
            num_classes=19, norm_cfg=BN, align_corners=False,
            decoder_params=dict(embed_dims=16, embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6), pool=False,
                                                act_cfg=dict(type='ReLU'), norm_cfg=BN)),
            loss_decode=dict(type='CrossEntropyLoss'))


def build(seed=0, **overrides):
    """Tiny CLIP-fused HRDA: MiT-B0 (stage 4: 256 channels) + tiny CLIP (stage 4: 512, adapter 512 -> 256)."""
    register_all_modules()
    register_test_backbone()
    cfg = dict(type='CLIPHRDAEncoderDecoder', backbone=dict(type='mit_b0', drop_path_rate=0.0),
               decode_head=dict(type='HRDAHead', head=HEAD, attention_embed_dim=8),
               auxiliary_head=dict(type='ProjHead', in_channels=256, in_index=3, channels=EMBED, num_convs=1,
                                   kernel_size=1),
               clip_visual=dict(type='CLIPResNet', layers=(1, 1, 1, 1), width=VIS_WIDTH, output_dim=EMBED,
                                image_size=IMAGE),
               clip_text=dict(type='CLIPTextEncoder', width=TEXT_WIDTH, heads=2, layers=2, output_dim=EMBED),
               prompt_learner=dict(type='PromptLearner', n_ctx=4), clip_weights=None, fusion_channels=256,
               hr_crop_size=(64, 64), crop_coord_divisible=8,
               test_cfg=dict(mode='slide', batched_slide=True, stride=(64, 64), crop_size=(128, 128)))
    cfg.update(overrides)
    torch.manual_seed(seed)
    return MODELS.build(cfg)


def fused_by_hand(model, image):
    """Backbone maps of ``image`` with stage 4 * filter(stage 4 * normalize(resize(adapter(CLIP stage 4))))."""
    plain = model.backbone(image)
    clip4 = F.conv2d(model.clip(image)[-1], model.clip_adapter.weight)
    prior = F.normalize(F.interpolate(clip4, size=plain[-1].shape[2:], mode='bilinear', align_corners=True),
                        dim=1)
    return list(plain[:3]) + [plain[-1] * F.conv2d(plain[-1] * prior, model.filter.weight, model.filter.bias)]


def assert_maps_close(actual, expected):
    assert len(actual) == len(expected) == 4
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e)


def test_context_and_detail_passes_are_fused_with_clip_of_the_same_image():
    model = build().eval()
    inputs = torch.randn(2, 3, 128, 128)
    np.random.seed(3)
    with torch.no_grad():
        _, outputs = model.train_forward(inputs, [], loss_heads=())
        y1, y2, x1, x2 = outputs['crop_box']
        assert (y2 - y1, x2 - x1) == (64, 64) and y1 % 8 == 0 and x1 % 8 == 0
        context = F.interpolate(inputs, scale_factor=0.5, mode='bilinear', align_corners=False)
        assert_maps_close(outputs['feats'], fused_by_hand(model, context))
        assert_maps_close(outputs['detail_feats'], fused_by_hand(model, inputs[:, :, y1:y2, x1:x2]))
        # the prompt objectives read the context pass's CLIP map (what `feats` were fused with)
        torch.testing.assert_close(outputs['clip_feats'], model.clip(context)[-1])
        assert outputs['clip_feats'].shape == (2, 512, 2, 2)
        assert not torch.allclose(outputs['feats'][-1], model.backbone(context)[-1])    # fusion acts
        text = model.text_embeddings()
        assert model.clip_logits(outputs['clip_feats'], text).shape == (2, 19, 2, 2)
        assert_maps_close(model.extract_feat(inputs), fused_by_hand(model, context))    # FD's features
        feats, extras = model.extract_feat_with_extras(inputs)
        assert_maps_close(feats, fused_by_hand(model, context))
        torch.testing.assert_close(extras['clip_feats'], model.clip(context)[-1])


def test_inference_fuses_context_and_every_detail_window():
    model = build().eval()
    calls = {'backbone': [], 'clip': []}
    for name in calls:
        module = getattr(model, name)
        forward = module.forward
        module.forward = (lambda f, log: lambda x: log.append(tuple(x.shape)) or f(x))(forward, calls[name])
    with torch.no_grad():
        logits = model.encode_decode(torch.randn(1, 3, 128, 192), [])
    assert logits.shape == (1, 19, 128, 192)
    # context (0.5 scale) and one batch of the 3 x 5 detail windows (64, stride 32): each paired with CLIP
    assert calls['backbone'] == calls['clip'] == [(1, 3, 64, 96), (15, 3, 64, 64)]


def test_fused_windows_give_the_hrda_prediction_of_fused_maps():
    model = build().eval()
    plain = MODELS.build(dict(type='HRDAEncoderDecoder', backbone=dict(type='mit_b0'),
                              decode_head=dict(type='HRDAHead', head=HEAD, attention_embed_dim=8),
                              hr_crop_size=(64, 64))).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if k.startswith(('backbone.', 'decode_head.'))})
    plain.backbone_maps = lambda x: fused_by_hand(model, x)       # HRDA's inference on hand-fused maps
    inputs = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_decode(inputs, []), plain.encode_decode(inputs, []))


def test_without_fusion_maps_are_plain_but_clip_features_still_reach_the_objectives():
    model = build(feature_fusion=False).eval()
    assert not hasattr(model, 'filter') and not hasattr(model, 'clip_adapter')
    inputs = torch.randn(1, 3, 128, 128)
    np.random.seed(0)
    with torch.no_grad():
        _, outputs = model.train_forward(inputs, [], loss_heads=())
        context = F.interpolate(inputs, scale_factor=0.5, mode='bilinear', align_corners=False)
        assert_maps_close(outputs['feats'], list(model.backbone(context)))
        torch.testing.assert_close(outputs['clip_feats'], model.clip(context)[-1])


def test_parts_names_freezing_and_checkpoint_round_trip(tmp_path):
    model = build(seed=1)
    assert isinstance(model, HRDAEncoderDecoder) and not isinstance(model, CLIPEncoderDecoder)
    assert {k.split('.')[0] for k in model.state_dict()} == {
        'backbone', 'decode_head', 'auxiliary_head', 'clip', 'text', 'prompt_learner', 'filter', 'clip_adapter'}
    assert 'decode_head.scale_attention.conv_seg.weight' in model.state_dict()
    assert CLIPHRDAEncoderDecoder.INFERENCE_UNUSED_PREFIXES == CLIPEncoderDecoder.INFERENCE_UNUSED_PREFIXES
    assert not any(p.requires_grad for p in model.clip.parameters())
    assert not any(p.requires_grad for p in model.text.parameters())
    assert model.prompt_learner.ctx.requires_grad and model.filter.weight.requires_grad
    torch.save({'state_dict': {'model.' + k: v for k, v in model.state_dict().items()}}, tmp_path / 'it.pth')
    other = build(seed=2)
    load_segmentor_checkpoint(other, str(tmp_path / 'it.pth'))
    inputs = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(other.eval().predict(inputs)[0].seg_logits.data,
                                   model.eval().predict(inputs)[0].seg_logits.data)


def test_init_weights_loads_clip_and_initialises_the_prompt_context(tmp_path):
    state = openai_state_dict(4)
    torch.save(state, tmp_path / 'clip.pth')
    model = build(clip_weights=str(tmp_path / 'clip.pth'))
    model.init_weights()
    assert torch.equal(model.clip.layer4[0].conv3.weight, state['visual.layer4.0.conv3.weight'])
    assert torch.equal(model.text.text_projection, state['text_projection'])
    assert torch.equal(model.prompt_learner.ctx[0], state['token_embedding.weight'][320])   # 'a'
    with pytest.raises(ValueError, match="CLIPHRDAEncoderDecoder: clip_bn must be 'train' or 'frozen'"):
        build(clip_bn='fozen')


def test_clip_bn_frozen_keeps_the_tower_in_eval_mode():
    model = build(clip_bn='frozen').train()
    assert model.training and model.backbone.training and not model.clip.training
