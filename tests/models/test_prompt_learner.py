"""CoOp prompt learner: token layout, context initialisation by linear interpolation, gradients."""
import pytest
import torch
from torch import nn

from mmseg_procl.datasets.label_tables import CLASSES
from mmseg_procl.models.text import PromptLearner

SOT, EOT, X, DOT = 49406, 49407, 343, 269


def test_token_layout_of_cityscapes_prompts():
    learner = PromptLearner(n_ctx=16, ctx_dim=8)
    ids = learner.token_ids
    assert ids.shape == (19, 77) and learner.class_names == CLASSES
    assert (ids[:, 0] == SOT).all() and (ids[:, 1:17] == X).all()
    # "road." -> road, '.', EOT;  "traffic light." -> traffic, light, '.', EOT
    assert ids[0, 17:21].tolist() == [1759, DOT, EOT, 0]
    assert ids[6, 17:22].tolist() == [3399, 1395, DOT, EOT, 0]
    assert learner.seq_length == int(ids.argmax(-1).max()) + 1 == 21


def test_context_init_is_linear_interpolation_of_a_photo_of_a():
    table = nn.Embedding(49408, 4)
    learner = PromptLearner(n_ctx=16, ctx_dim=4)
    learner.init_context(table)
    rows = table.weight[[320, 1125, 539, 320]].detach()     # BPE of "a photo of a"
    expected = torch.empty(16, 4)
    for i in range(16):                                      # align_corners=False sampling
        src = min(max((i + 0.5) * 4 / 16 - 0.5, 0.0), 3.0)
        lo = int(src)
        hi = min(lo + 1, 3)
        expected[i] = rows[lo] * (1 - (src - lo)) + rows[hi] * (src - lo)
    torch.testing.assert_close(learner.ctx.detach(), expected)
    assert torch.equal(learner.ctx[0], rows[0]) and torch.equal(learner.ctx[15], rows[3])


def test_forward_splices_context_and_only_ctx_gets_gradient():
    table = nn.Embedding(49408, 4).requires_grad_(False)
    learner = PromptLearner(class_names=['sky', 'car'], n_ctx=3, ctx_dim=4)
    prompts = learner(table)
    fixed = table(learner.token_ids)
    assert prompts.shape == (2, 77, 4)
    assert torch.equal(prompts[:, 0], fixed[:, 0])
    assert torch.equal(prompts[:, 1:4], learner.ctx.detach().expand(2, -1, -1))
    assert torch.equal(prompts[:, 4:], fixed[:, 4:])
    prompts.sum().backward()
    assert torch.equal(learner.ctx.grad, torch.full((3, 4), 2.0))


def test_bad_class_names():
    with pytest.raises(ValueError, match='empty'):
        PromptLearner(class_names=[], ctx_dim=4)
    with pytest.raises(ValueError, match='exceed 77 tokens'):
        PromptLearner(class_names=['word ' * 70], ctx_dim=4)
