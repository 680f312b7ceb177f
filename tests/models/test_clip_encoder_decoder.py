"""CLIPEncoderDecoder: CLIP fusion of the last stage, freezing, BN / input switches, weights, loading."""
import pytest
import torch
import torch.nn.functional as F
from tiny_clip import build_tiny_clip_segmentor, openai_state_dict, to_procl_segmentor_layout

from mmseg_procl.models.backbones.clip_resnet import CLIP_MEAN, CLIP_STD, CLIPResNet
from mmseg_procl.utils import load_segmentor_checkpoint


def test_fusion_is_last_stage_times_filter_response():
    model = build_tiny_clip_segmentor().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        plain = model.backbone(x)
        clip4 = model.clip(x)[-1]                                   # (2, 512, 2, 2)
        prior = F.normalize(F.interpolate(clip4, size=plain[-1].shape[2:], mode='bilinear',
                                          align_corners=True), dim=1)
        response = F.conv2d(plain[-1] * prior, model.filter.weight, model.filter.bias)
        fused = model.extract_feat(x)
        assert response.shape == (2, 1, 8, 8)
        torch.testing.assert_close(fused[-1], plain[-1] * response)
        for a, b in zip(fused[:3], plain[:3]):
            assert torch.equal(a, b)
        metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))] * 2
        logits = F.interpolate(model.decode_head(fused), size=(64, 64), mode='bilinear')
        torch.testing.assert_close(model.encode_decode(x, metas), logits)


def test_frozen_towers_and_trainable_parts():
    model = build_tiny_clip_segmentor()
    assert not any(p.requires_grad for p in model.clip.parameters())
    assert not any(p.requires_grad for p in model.text.parameters())
    for name in ('prompt_learner.ctx', 'filter.weight', 'filter.bias',
                 'auxiliary_head.convs.0.conv.weight', 'decode_head.aspp_modules.0.conv.weight'):
        assert model.get_parameter(name).requires_grad, name
    bound = 1 / 512 ** 0.5                            # kaiming_uniform(a=sqrt(5)) default bound
    assert model.filter.weight.shape == (1, 512, 1, 1)
    assert model.filter.weight.abs().max() <= bound and model.filter.weight.std() > bound / 3


@pytest.mark.parametrize('clip_bn', ['train', 'frozen'])
def test_clip_batchnorm_modes(clip_bn):
    model = build_tiny_clip_segmentor(clip_bn=clip_bn).train()
    before = model.clip.bn1.running_mean.clone()
    model.extract_feat(torch.randn(2, 3, 64, 64))
    changed = not torch.equal(before, model.clip.bn1.running_mean)
    assert model.clip.training == (clip_bn == 'train') and changed == (clip_bn == 'train')
    assert model.backbone.training and model.decode_head.training


def test_clip_input_renormalisation():
    torch.manual_seed(0)
    ours = CLIPResNet(layers=(1, 1, 1, 1), width=8, output_dim=16, input='clip').eval()
    plain = CLIPResNet(layers=(1, 1, 1, 1), width=8, output_dim=16, input='imagenet').eval()
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(1, 3, 32, 32)
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    raw = x * std.view(1, 3, 1, 1) + mean.view(1, 3, 1, 1)
    clip_x = (raw - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(ours(x)[-1], plain(clip_x)[-1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="'bgr'"):
        CLIPResNet(layers=(1, 1, 1, 1), width=8, output_dim=16, input='bgr')


def test_random_clip_warns_loudly_once_and_initialises_context(monkeypatch):
    import logging
    from mmengine.logging import MMLogger
    from mmseg_procl.models.backbones import clip_checkpoint
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    monkeypatch.setattr(clip_checkpoint, '_random_clip_warned', False)
    try:
        model = build_tiny_clip_segmentor()
        model.init_weights()
        build_tiny_clip_segmentor().init_weights()          # a teacher: no second banner
    finally:
        logger.removeHandler(handler)
    banners = [r for r in records if 'RANDOMLY INITIALISED' in r.getMessage()]
    assert len(banners) == 1 and banners[0].levelno == logging.WARNING
    a_row = model.text.token_embedding.weight[320]            # "a" starts and ends "a photo of a"
    assert torch.equal(model.prompt_learner.ctx[0], a_row) and torch.equal(model.prompt_learner.ctx[-1], a_row)


def test_init_weights_loads_openai_layout_file(tmp_path):
    state = openai_state_dict(4)
    torch.save(state, tmp_path / 'clip.pth')
    model = build_tiny_clip_segmentor(clip_weights=str(tmp_path / 'clip.pth'))
    model.init_weights()
    assert torch.equal(model.clip.layer4[0].conv3.weight, state['visual.layer4.0.conv3.weight'])
    assert torch.equal(model.text.text_projection, state['text_projection'])
    assert torch.equal(model.prompt_learner.ctx[0], state['token_embedding.weight'][320])
    bad = build_tiny_clip_segmentor(clip_weights=str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        bad.init_weights()


def test_text_embeddings_and_dense_clip_logits():
    model = build_tiny_clip_segmentor()
    text = model.text_embeddings()
    assert text.shape == (19, 32)
    torch.testing.assert_close(text.norm(dim=1), torch.ones(19))
    clip4 = model.clip(torch.randn(1, 3, 64, 64))[-1]
    logits = model.clip_logits(clip4, text)
    dense = F.normalize(model.clip.dense_embedding(clip4), dim=1)
    torch.testing.assert_close(logits, torch.einsum('bdhw,cd->bchw', dense, text))
    assert logits.abs().max() <= 1 + 1e-5


def test_released_layout_checkpoint_loads_the_student(tmp_path):
    source = build_tiny_clip_segmentor(seed=1)
    state = source.state_dict()
    released = to_procl_segmentor_layout(state)
    assert 'ctx' in released and released['q_proj.weight'].dim() == 4
    ckpt = {'state_dict': {**{'model.' + k: v for k, v in released.items()},
                           **{'ema_model.' + k: torch.zeros_like(v) for k, v in released.items()}}}
    torch.save(ckpt, tmp_path / 'latest.pth')
    target = build_tiny_clip_segmentor(seed=2)
    load_segmentor_checkpoint(target, str(tmp_path / 'latest.pth'))
    for k, v in target.state_dict().items():
        if k != 'clip.attnpool.positional_embedding':          # not in released files
            assert torch.equal(v, state[k]), k
