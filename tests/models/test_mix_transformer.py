"""MixVisionTransformer: original key layout, sizes, hand-checked modules, pretrained loading."""
import hashlib
import json
import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmseg_procl.models.backbones import (MixVisionTransformer, load_mit_pretrained, mit_b0,
                                          mit_b5)
from mmseg_procl.models.backbones.mit_attention import EfficientSelfAttention
from mmseg_procl.models.backbones.mit_block import MiTBlock
from mmseg_procl.models.backbones.mit_mixffn import MixFFN
from mmseg_procl.models.backbones.mit_presets import MIT_ARCH_SETTINGS
from mmseg_procl.registry import MODELS
from mmseg_procl.errors import CheckpointError

# copy of shared/reference/original_state_dicts.json (original state-dict keys and shapes)
REFERENCE_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'fixtures', 'original_state_dicts.json')
# sha256 of the sorted 'key:[shape]' lines of original_state_dicts.json['daformer_mitb5']
# ['backbone_shapes'] with 'backbone.' removed (= SegFormer's mit_b5.pth without head.*).
MIT_B5_KEYS_SHA256 = 'bba7cf8b2aa9dbc16c344aeae4c539b94ad55ca97cc42b2e779f417d732962d6'
MIT_B5_NUM_KEYS = 1052
MIT_B5_PARAMS = 81_443_008
MIT_B0_PARAMS = 3_319_392


def shape_lines_digest(shapes: dict) -> str:
    """sha256 of the sorted ``key:[d0, d1, ...]`` lines."""
    lines = '\n'.join(f'{k}:{list(v)}' for k, v in sorted(shapes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def mit_params_by_formula(embed_dims, depths, sr_ratios, in_channels=3, mlp_ratio=4):
    """Parameter count of a MiT written out from the architecture (no model involved)."""
    total, c_in = 0, in_channels
    for s, (c, depth, sr) in enumerate(zip(embed_dims, depths, sr_ratios)):
        k = 7 if s == 0 else 3
        patch_embed = k * k * c_in * c + c + 2 * c          # conv weight + bias, LayerNorm
        q, kv, proj = c * c + c, 2 * c * c + 2 * c, c * c + c
        reduction = c * c * sr * sr + c + 2 * c if sr > 1 else 0   # sr conv + its LayerNorm
        h = mlp_ratio * c
        ffn = (c * h + h) + (9 * h + h) + (h * c + c)       # fc1, 3x3 depthwise, fc2
        block = 2 * c + q + kv + proj + reduction + 2 * c + ffn
        total += patch_embed + depth * block + 2 * c        # + closing stage LayerNorm
        c_in = c
    return total


def randomise_(model: nn.Module, seed: int) -> nn.Module:
    """Overwrite every parameter with N(0, 0.05) values (LayerNorm weights around 1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.05
            p.copy_(noise + 1 if name.endswith('norm.weight') or 'norm1.weight' in name
                    or 'norm2.weight' in name else noise)
    return model.eval()


@pytest.fixture(scope='module')
def b5():
    """MiT-B5 in eval mode."""
    torch.manual_seed(0)
    return mit_b5().eval()


@pytest.fixture(scope='module')
def b0_source():
    """MiT-B0 with random weights (eval) standing in for a SegFormer ImageNet checkpoint."""
    return randomise_(mit_b0(), seed=1)


@pytest.fixture(scope='module')
def image():
    """A 2x3x64x64 input batch."""
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))


def test_mit_b5_keys_and_shapes_equal_original(b5):
    shapes = {k: tuple(v.shape) for k, v in b5.state_dict().items()}
    assert len(shapes) == MIT_B5_NUM_KEYS
    assert shape_lines_digest(shapes) == MIT_B5_KEYS_SHA256
    assert not any(k.startswith('head.') for k in shapes)
    assert len(list(b5.buffers())) == 0
    assert sum(p.numel() for p in b5.parameters()) == MIT_B5_PARAMS
    assert shapes['block1.0.attn.sr.weight'] == (64, 64, 8, 8)
    assert shapes['block3.39.mlp.dwconv.dwconv.weight'] == (1280, 1, 3, 3)
    assert 'block4.0.attn.sr.weight' not in shapes


def test_mit_b5_keys_and_shapes_equal_reference_json(b5):
    with open(REFERENCE_JSON) as f:
        ref = json.load(f)['daformer_mitb5']['backbone_shapes']
    expected = {k[len('backbone.'):]: tuple(v) for k, v in ref.items()}
    assert {k: tuple(v.shape) for k, v in b5.state_dict().items()} == expected


def test_mit_b5_output_shapes(b5, image):
    with torch.no_grad():
        outs = b5(image)
    assert [tuple(o.shape) for o in outs] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 320, 4, 4),
                                              (2, 512, 2, 2)]
    assert all(torch.isfinite(o).all() for o in outs)


def test_parameter_counts_by_hand():
    b0 = mit_b0()
    assert mit_params_by_formula((32, 64, 160, 256), (2, 2, 2, 2), (8, 4, 2, 1)) == MIT_B0_PARAMS
    assert sum(p.numel() for p in b0.parameters()) == MIT_B0_PARAMS
    assert mit_params_by_formula((64, 128, 320, 512), (3, 6, 40, 3), (8, 4, 2, 1)) == MIT_B5_PARAMS


def test_presets_match_segformer_sizes():
    wide = (64, 128, 320, 512)
    assert MIT_ARCH_SETTINGS == {
        'mit_b0': dict(embed_dims=(32, 64, 160, 256), depths=(2, 2, 2, 2)),
        'mit_b1': dict(embed_dims=wide, depths=(2, 2, 2, 2)),
        'mit_b2': dict(embed_dims=wide, depths=(3, 4, 6, 3)),
        'mit_b3': dict(embed_dims=wide, depths=(3, 4, 18, 3)),
        'mit_b4': dict(embed_dims=wide, depths=(3, 8, 27, 3)),
        'mit_b5': dict(embed_dims=wide, depths=(3, 6, 40, 3))}
    for name in MIT_ARCH_SETTINGS:
        assert MODELS.get(name) is not None
    model = MODELS.build(dict(type='mit_b0', style='pytorch', drop_path_rate=0.2))
    assert isinstance(model, MixVisionTransformer)
    assert [model.block3[0].attn.num_heads, model.block4[1].attn.num_heads] == [5, 8]
    assert model.block1[0].attn.q.bias is not None
    assert model.block4[1].drop_path.drop_prob == pytest.approx(0.2)


def test_stochastic_depth_linear_and_norm_eps(b5):
    blocks = [blk for s in range(1, 5) for blk in getattr(b5, f'block{s}')]
    assert len(blocks) == 52
    assert isinstance(blocks[0].drop_path, nn.Identity)
    rates = [blk.drop_path.drop_prob for blk in blocks[1:]]
    assert rates == pytest.approx([0.1 * i / 51 for i in range(1, 52)], abs=1e-7)
    # block / stage norms use 1e-6; the patch-embedding and sr norms keep PyTorch's 1e-5 (original)
    assert blocks[0].norm1.eps == blocks[0].norm2.eps == b5.norm3.eps == 1e-6
    assert b5.patch_embed2.norm.eps == blocks[0].attn.norm.eps == 1e-5


def test_initialisation_as_original():
    torch.manual_seed(3)
    model = mit_b0()
    conv = model.patch_embed1.proj          # fan_out = 7 * 7 * 32
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (49 * 32)), rel=0.05)
    dw = model.block1[0].mlp.dwconv.dwconv  # fan_out = 3 * 3 * 128 / 128 groups
    assert dw.weight.std().item() == pytest.approx(math.sqrt(2 / 9), rel=0.05)
    fc1 = model.block2[0].mlp.fc1
    assert fc1.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert fc1.weight.abs().max().item() <= 2.0
    assert torch.count_nonzero(fc1.bias) == 0 and torch.count_nonzero(conv.bias) == 0
    assert torch.equal(model.norm2.weight, torch.ones(64))
    assert torch.count_nonzero(model.norm2.bias) == 0


def test_attention_sr1_equals_manual_softmax():
    torch.manual_seed(4)
    attn = EfficientSelfAttention(dim=4, num_heads=2, sr_ratio=1).eval()
    for p in attn.parameters():
        nn.init.normal_(p)
    x = torch.randn(1, 6, 4)
    q, k, v = attn.q(x), *attn.kv(x).split(4, dim=-1)
    heads = []
    for h in range(2):
        sl = slice(2 * h, 2 * h + 2)
        scores = q[0, :, sl] @ k[0, :, sl].T / math.sqrt(2)
        heads.append(torch.softmax(scores, dim=-1) @ v[0, :, sl])
    expected = attn.proj(torch.cat(heads, dim=-1))[None]
    with torch.no_grad():
        torch.testing.assert_close(attn(x, (2, 3)), expected, rtol=1e-5, atol=1e-6)


def test_attention_sr2_uses_reduced_keys():
    torch.manual_seed(5)
    attn = EfficientSelfAttention(dim=2, num_heads=1, sr_ratio=2).eval()
    for p in attn.parameters():
        nn.init.normal_(p)
    x = torch.randn(1, 8, 2)                # a 2 x 4 token grid -> 1 x 2 reduced grid
    grid = x.transpose(1, 2).reshape(1, 2, 2, 4)
    reduced = F.conv2d(grid, attn.sr.weight, attn.sr.bias, stride=2).flatten(2).transpose(1, 2)
    reduced = F.layer_norm(reduced, (2,), attn.norm.weight, attn.norm.bias, eps=1e-5)
    k, v = attn.kv(reduced).split(2, dim=-1)
    probs = torch.softmax(attn.q(x) @ k.transpose(1, 2) / math.sqrt(2), dim=-1)
    with torch.no_grad():
        out = attn(x, (2, 4))
        torch.testing.assert_close(out, attn.proj(probs @ v), rtol=1e-5, atol=1e-6)
    assert probs.shape == (1, 8, 2)


def test_mixffn_equals_manual_composition():
    torch.manual_seed(6)
    ffn = MixFFN(dim=3, hidden_dim=6).eval()
    x = torch.randn(2, 4, 3)                # tokens on a 2 x 2 grid
    hidden = ffn.fc1(x).transpose(1, 2).reshape(2, 6, 2, 2)
    hidden = F.conv2d(hidden, ffn.dwconv.dwconv.weight, ffn.dwconv.dwconv.bias, padding=1, groups=6)
    expected = ffn.fc2(F.gelu(hidden.flatten(2).transpose(1, 2)))
    with torch.no_grad():
        torch.testing.assert_close(ffn(x, (2, 2)), expected)


def test_block_with_drop_path_one_is_identity_in_training():
    block = MiTBlock(dim=4, num_heads=2, drop_path=1.0, sr_ratio=1).train()
    x = torch.randn(2, 6, 4)
    assert torch.equal(block(x, (2, 3)), x)
    block.eval()
    assert not torch.equal(block(x, (2, 3)), x)


def test_output_sizes_for_odd_input(b0_source):
    with torch.no_grad():
        outs = b0_source(torch.randn(1, 3, 50, 70))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 13, 18), (1, 64, 7, 9), (1, 160, 4, 5),
                                              (1, 256, 2, 3)]


def _assert_same_outputs(model, source, image):
    """Outputs of ``model`` and ``source`` are bit-identical on ``image``."""
    model.eval()
    with torch.no_grad():
        for got, ref in zip(model(image), source(image)):
            assert torch.equal(got, ref)


def test_load_segformer_layouts(tmp_path, b0_source, image):
    state = b0_source.state_dict()
    wrapped = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': state}, wrapped)
    raw = tmp_path / 'mit_b0.pth'            # SegFormer ImageNet layout: raw dict + classifier
    torch.save({**state, 'head.weight': torch.randn(1000, 256), 'head.bias': torch.randn(1000)},
               raw)
    prefixed = tmp_path / 'segmentor.pth'    # a segmentor checkpoint saved from DDP
    torch.save({'model': {**{f'module.backbone.{k}': v for k, v in state.items()},
                          'module.decode_head.conv_seg.bias': torch.zeros(19)}}, prefixed)
    for path, ignored in ((wrapped, []), (raw, []), (prefixed, ['decode_head.conv_seg.bias'])):
        model = randomise_(mit_b0(), seed=9)
        assert load_mit_pretrained(model, str(path)) == ignored
        _assert_same_outputs(model, b0_source, image)


def test_init_weights_loads_pretrained(tmp_path, b0_source, image):
    path = tmp_path / 'mit_b0.pth'
    torch.save(b0_source.state_dict(), path)
    by_arg = mit_b0(pretrained=str(path))
    by_cfg = MODELS.build(dict(type='mit_b0',
                               init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    for model in (by_arg, by_cfg):
        assert not torch.equal(model.norm1.bias, b0_source.norm1.bias)
        model.init_weights()
        _assert_same_outputs(model, b0_source, image)
    with pytest.raises(ValueError, match='either pretrained or init_cfg'):
        mit_b0(pretrained=str(path), init_cfg=dict(type='Pretrained', checkpoint=str(path)))


def test_missing_or_misshaped_key_names_file_and_key(tmp_path, b0_source):
    state = dict(b0_source.state_dict())
    del state['block1.0.attn.q.weight']
    missing = tmp_path / 'missing.pth'
    torch.save(state, missing)
    with pytest.raises(CheckpointError,
                       match=r"missing\.pth.*1 missing key\(s\): block1\.0\.attn\.q\.weight"):
        load_mit_pretrained(mit_b0(), str(missing))
    state = dict(b0_source.state_dict(), **{'norm4.weight': torch.ones(5)})
    wrong = tmp_path / 'wrong.pth'
    torch.save(state, wrong)
    with pytest.raises(CheckpointError,
                       match=r"wrong\.pth.*norm4\.weight \(file \(5,\), model \(256,\)\)"):
        load_mit_pretrained(mit_b0(), str(wrong))


def test_unreadable_files_raise_naming_the_path(tmp_path):
    absent = tmp_path / 'absent.pth'
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_mit_pretrained(mit_b0(), str(absent))
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'this is not a torch checkpoint')
    with pytest.raises(CheckpointError, match=r'cannot read MiT checkpoint .*corrupt\.pth'):
        load_mit_pretrained(mit_b0(), str(corrupt))
    not_tensors = tmp_path / 'not_tensors.pth'
    torch.save({'state_dict': {'norm1.weight': 3}}, not_tensors)
    with pytest.raises(CheckpointError, match=r'not_tensors\.pth.*state dict of tensors'):
        load_mit_pretrained(mit_b0(), str(not_tensors))
