"""CLIP-ProCL on the DACS core: one training step, gradient routing to the context, EMA coverage."""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.registry import DATASETS, MODELS
from mmseg_procl.uda.prototypes.clip_text_prototypes import SharedTextEmbeddings
from mmseg_procl.utils import register_all_modules
from loss_traces import check_trace

TINY = 'tests/fixtures/tiny_clip_procl.py'


@pytest.fixture(scope='module')
def setup():
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY))
    torch.manual_seed(0)
    algo = MODELS.build(cfg.model)
    algo.init_weights()                     # random CLIP towers (banner tested elsewhere)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    random.seed(0), np.random.seed(0)                           # the pipeline's random flips
    batch = pseudo_collate([dataset[0], dataset[7]])
    return cfg, algo, batch


def frozen_state(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()
            if n.startswith(('clip.', 'text.'))}


def test_one_step_keeps_clip_and_trains_context(setup):
    cfg, algo, batch = setup
    algo.train()
    wrapper = build_optim_wrapper(algo, cfg.optim_wrapper)
    frozen = frozen_state(algo.model)
    ctx_before = algo.model.prompt_learner.ctx.detach().clone()
    random.seed(0), np.random.seed(0), torch.manual_seed(0)      # mixing / augmentation draws
    log_vars = algo.train_step(batch, wrapper)
    check_trace('tiny_clip_procl.py one step',
                {k: [float(v)] for k, v in log_vars.items() if 'loss' in k})
    for key in ('src.loss_align', 'src.loss_prompt', 'mix.loss_align', 'mix.loss_prompt',
                'src.decode.loss_seg', 'mix.decode.loss_seg'):
        assert 0 < log_vars[key].item() < 10, key
    for name, value in frozen_state(algo.model).items():
        assert torch.equal(value, frozen[name]), name
    for name, value in frozen_state(algo.ema_model).items():
        assert torch.equal(value, frozen[name]), name
    assert not torch.equal(algo.model.prompt_learner.ctx, ctx_before)


def stage_ctx_grad(algo, batch, wrapper, objectives):
    algo.objectives = nn.ModuleList(objectives)
    algo.zero_grad()
    state = algo.iteration_state(algo.data_preprocessor(batch, True))
    algo.run_stage(algo.stages[0], state, wrapper)            # the source stage, with its backward
    state.run_deferred()                                      # the text tower's backward (once per iteration)
    grad = algo.model.prompt_learner.ctx.grad
    return None if grad is None else grad.clone()


def test_context_gradient_comes_only_from_prompt_learning(setup):
    cfg, algo, batch = setup
    wrapper = build_optim_wrapper(algo, cfg.optim_wrapper)
    align, prompt = list(algo.objectives)
    full = stage_ctx_grad(algo, batch, wrapper, [align, prompt])
    only_prompt = stage_ctx_grad(algo, batch, wrapper, [prompt])
    only_align = stage_ctx_grad(algo, batch, wrapper, [align])
    algo.objectives = nn.ModuleList([align, prompt])
    assert full.abs().sum() > 0
    torch.testing.assert_close(full, only_prompt, rtol=1e-6, atol=0)
    assert only_align is None or only_align.abs().sum() == 0


def test_teacher_ema_covers_context_filter_and_heads(setup):
    _, algo, _ = setup
    algo.set_iteration(0)
    algo.update_teacher()                                   # t = 0: copy
    names = ['prompt_learner.ctx', 'filter.weight', 'clip_adapter.weight',
             'auxiliary_head.convs.0.conv.weight', 'decode_head.conv_seg.weight']
    old = {n: algo.ema_model.get_parameter(n).detach().clone() for n in names}
    with torch.no_grad():
        for n in names:
            algo.model.get_parameter(n).add_(1.0)
    algo.set_iteration(1)
    algo.update_teacher()                                   # alpha_1 = min(1 - 1/2, 0.99) = 0.5
    for n in names:
        expected = 0.5 * old[n] + 0.5 * algo.model.get_parameter(n)
        torch.testing.assert_close(algo.ema_model.get_parameter(n), expected)
    for (n, t), s in zip(frozen_state(algo.ema_model).items(), frozen_state(algo.model).values()):
        assert torch.equal(t, s), n


def test_text_tower_runs_once_per_iteration_with_the_same_context_gradient(setup, monkeypatch):
    cfg, algo, batch = setup
    wrapper = build_optim_wrapper(algo, cfg.optim_wrapper)
    calls = []
    encode = algo.model.text.encode_embeddings
    monkeypatch.setattr(algo.model.text, 'encode_embeddings', lambda *a: calls.append(1) or encode(*a))

    def context_grad():
        """(ctx.grad after both stages and the deferred backward, text-tower passes)."""
        algo.zero_grad()
        calls.clear()
        random.seed(0), np.random.seed(0), torch.manual_seed(0)
        state = algo.iteration_state(algo.data_preprocessor(batch, True))
        for stage in algo.stages:
            algo.run_stage(stage, state, wrapper)
        state.run_deferred()
        return algo.model.prompt_learner.ctx.grad.clone(), len(calls)

    shared, shared_calls = context_grad()
    # the reference's way: a fresh text-tower pass (and its own backward) in every stage
    monkeypatch.setattr(SharedTextEmbeddings, 'leaf', lambda self: algo.model.text_embeddings())
    monkeypatch.setattr(SharedTextEmbeddings, 'backward', lambda self: None)
    separate, separate_calls = context_grad()
    assert shared_calls == 1 and separate_calls == 3     # 1 + one per stage (src, mix)
    # float32 round-off of one text-tower backward of the sum vs two backwards (|diff| ~1e-5 of max)
    torch.testing.assert_close(shared, separate, rtol=0, atol=1e-4 * float(separate.abs().max()))
    assert shared.abs().sum() > 0
