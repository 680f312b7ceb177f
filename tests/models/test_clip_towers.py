"""CLIP image / text towers: shapes, MaskCLIP dense output, prompt encoding, weight files on disk."""
import json
import os

import open_clip
import pytest
import torch
from tiny_clip import (EMBED, IMAGE, VIS_WIDTH, openai_clip, openai_state_dict, tiny_towers,
                       to_procl_layout)

from mmseg_procl.models.backbones.clip_checkpoint import (load_clip_weights, procl_segmentor_to_ours,
                                                          read_clip_state_dict)
from mmseg_procl.models.backbones.clip_resnet import CLIPResNet

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures',
                       'original_state_dicts.json')


def assert_towers_equal(visual, text, state):
    for k, v in visual.state_dict().items():
        assert torch.equal(v, state['visual.' + k]), k
    for k, v in text.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_stage_shapes_and_strides():
    visual, _ = tiny_towers()
    outs = visual(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 4 * VIS_WIDTH * 2 ** i, 16 // 2 ** i, 24 // 2 ** i)
                                              for i in range(4)]
    assert visual.out_channels == (64, 128, 256, 512)


def test_named_arch_and_bad_arch():
    assert CLIPResNet(arch='RN50').out_channels[-1] == 2048
    with pytest.raises(ValueError, match='RN77'):
        CLIPResNet(arch='RN77')


def test_openai_layout_file_loads_and_matches_open_clip(tmp_path):
    model = openai_clip(1)
    path = tmp_path / 'open_clip_pytorch_model.bin'
    torch.save(model.state_dict(), path)
    visual, text = tiny_towers()
    load_clip_weights(visual, text, str(path))
    assert_towers_equal(visual, text, model.state_dict())
    visual.eval()
    img = torch.randn(2, 3, IMAGE, IMAGE)
    stage4 = visual(img)[-1]
    ref = model.visual.layer4(model.visual.layer3(model.visual.layer2(model.visual.layer1(
        model.visual.stem(img)))))
    torch.testing.assert_close(stage4, ref)
    # MaskCLIP: value then output projection of the attention pool at every position
    pool = model.visual.attnpool
    per_pos = pool.c_proj(pool.v_proj(stage4.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
    torch.testing.assert_close(visual.dense_embedding(stage4), per_pos, rtol=1e-5, atol=1e-5)
    # text: prompt embeddings (cut after the last EOT) == open_clip's encode_text on token ids
    ids = open_clip.tokenize(['a photo of a traffic light.', 'road'])
    ours = text.encode_embeddings(text.token_embedding(ids), ids)
    torch.testing.assert_close(ours, model.encode_text(ids), rtol=1e-5, atol=1e-5)


def test_procl_converted_file_loads(tmp_path):
    state = openai_state_dict(2)
    path = tmp_path / 'RN101_clip_weights.pth'
    converted = to_procl_layout(state)
    assert converted['q_proj']['weight'].shape == (16 * 32, 16 * 32, 1, 1)
    torch.save(converted, path)
    loaded = read_clip_state_dict(str(path))
    expected = {k: v for k, v in state.items() if k != 'visual.attnpool.positional_embedding'}
    assert set(loaded) == set(expected)
    for k, v in expected.items():
        assert torch.equal(loaded[k], v), k
    visual, text = tiny_towers()
    load_clip_weights(visual, text, str(path))          # attnpool positional embedding optional
    assert torch.equal(visual.attnpool.v_proj.weight, state['visual.attnpool.v_proj.weight'])


def test_safetensors_and_wrapped_state_dicts(tmp_path):
    from safetensors.torch import save_file
    state = openai_state_dict(3)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / 'w.safetensors'))
    torch.save({'state_dict': {'module.' + k: v for k, v in state.items()}}, tmp_path / 'w.pth')
    for name in ('w.safetensors', 'w.pth'):
        visual, text = tiny_towers()
        load_clip_weights(visual, text, str(tmp_path / name))
        assert_towers_equal(visual, text, state)


def test_bad_clip_files(tmp_path):
    visual, text = tiny_towers()
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        load_clip_weights(visual, text, str(tmp_path / 'missing.pt'))
    scripted = tmp_path / 'RN101.pt'
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(scripted))
    with pytest.raises(ValueError, match='TorchScript'):
        load_clip_weights(visual, text, str(scripted))
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='corrupt.pth'):
        load_clip_weights(visual, text, str(corrupt))
    torch.save({'foo': torch.zeros(1)}, tmp_path / 'foreign.pth')
    with pytest.raises(ValueError, match=r"lack \['visual.conv1.weight'"):
        load_clip_weights(visual, text, str(tmp_path / 'foreign.pth'))
    torch.save(openai_state_dict(), tmp_path / 'tiny.pth')
    wider = CLIPResNet(layers=(1, 1, 1, 1), width=8, output_dim=EMBED, image_size=IMAGE)
    with pytest.raises(ValueError, match='visual|conv1.weight'):
        load_clip_weights(wider, text, str(tmp_path / 'tiny.pth'))


def test_released_procl_checkpoint_names_map_onto_ours():
    """Every key of the released CLIP-ProCL model maps onto CLIPEncoderDecoder with equal shapes;
    the reference has 52,678,042 trainable parameters, 9,747 of them its unused ProjHead
    classifier (512 * 19 + 19), which the paper config does not build."""
    from mmengine.config import Config

    from mmseg_procl.registry import MODELS
    from mmseg_procl.utils import register_all_modules
    register_all_modules()
    ref = json.load(open(FIXTURE))['clip_procl_deeplabv2red_r101_clip_rn101']
    cfg = Config.fromfile('configs/clip_procl/clip_procl_dlv2red-r101_1xb2-40k_gta2cs-640x640.py')
    cfg.model.backbone.pop('init_cfg')
    model = MODELS.build(cfg.model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    unused_classifier = 512 * 19 + 19                 # 9,747: ProjHead.conv_seg, never used
    assert trainable + unused_classifier == ref['trainable_parameters'] == 52678042
    # all parameters: ours drops the classifier, keeps the attention pool's positional embedding
    # (50 x 2048, unused by dense features; the converted file drops it)
    total = sum(p.numel() for p in model.parameters())
    assert total - 50 * 2048 + unused_classifier == ref['parameters']
    mapped = procl_segmentor_to_ours({k: torch.empty(s, device='meta')
                                      for k, s in ref['state_dict_shapes'].items()})
    own = model.state_dict()
    assert set(mapped) - set(own) == {'auxiliary_head.conv_seg.weight', 'auxiliary_head.conv_seg.bias'}
    assert set(own) - set(mapped) == {'clip.attnpool.positional_embedding'}
    assert all(tuple(v.shape) == tuple(own[k].shape) for k, v in mapped.items() if k in own)
    assert ref['state_dict_shapes']['ctx'] == [16, 512]


def test_openai_tag_needs_a_named_arch():
    from mmseg_procl.models.backbones.clip_checkpoint import resolve_clip_weights
    with pytest.raises(ValueError, match='named CLIP arch'):
        resolve_clip_weights('openai', None)
    assert resolve_clip_weights('pretrained/x.pth', 'RN101') == 'pretrained/x.pth'


def test_quick_gelu_switch_matches_open_clip_quick_gelu_model():
    from open_clip.model import CLIP
    from tiny_clip import TEXT_CFG, VISION_CFG
    torch.manual_seed(5)
    reference = CLIP(EMBED, VISION_CFG, TEXT_CFG, quick_gelu=True).eval()
    ids = open_clip.tokenize(['a photo of a bus.'])
    for activation, same in (('quick_gelu', True), ('gelu', False)):
        _, text = tiny_towers(activation)
        text.load_state_dict({k: v for k, v in reference.state_dict().items()
                              if not k.startswith(('visual.', 'logit_scale'))})
        ours = text.encode_embeddings(text.token_embedding(ids), ids)
        assert torch.allclose(ours, reference.encode_text(ids), atol=1e-5) == same
    with pytest.raises(ValueError, match="'relu'"):
        tiny_towers('relu')
