"""SourceOnly: one UDA batch trains on the source branch only; iteration counter round trip."""
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.registry import DATASETS, MODELS
from mmseg_procl.utils import register_all_modules

TINY = 'tests/fixtures/tiny_dacs.py'


def test_one_step_uses_source_only_and_counts_iterations():
    register_all_modules()
    cfg = Config.fromfile(TINY)
    cfg.uda = dict(type='SourceOnly')
    cfg = compose_uda_model(cfg)
    torch.manual_seed(0)
    algo = MODELS.build(cfg.model)
    assert not hasattr(algo, 'ema_model')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[0], dataset[7]])
    wrapper = build_optim_wrapper(algo, cfg.optim_wrapper)
    before = [p.detach().clone() for p in algo.model.parameters()]
    log_vars = algo.train_step(batch, wrapper)
    assert set(log_vars) == {'src.loss', 'src.decode.loss_seg', 'src.decode.acc_seg'}
    assert 0 < log_vars['src.loss'].item() < 10
    assert any(not torch.equal(a, b) for a, b in zip(before, algo.model.parameters()))
    assert algo.local_iter == 1 and algo.iteration.item() == 1
    fresh = MODELS.build(cfg.model)
    fresh.load_state_dict(algo.state_dict())
    assert fresh.local_iter == 1
