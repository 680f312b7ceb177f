"""Training entry point used by ``tools/train.py`` and ``run_experiments.py``."""
from typing import Dict, Optional

from mmengine.runner import Runner

from mmseg_procl.engine.checkpoint_safety import register_checkpoint_safe_globals
from .config_utils import compose_uda_model, default_work_dir, init_cpu_distributed, load_config


def amp_optim_wrapper(cfg) -> None:
    """Switch the optimizer wrapper to bf16 autocast (``AmpOptimWrapper``, CUDA only)."""
    import torch
    if not torch.cuda.is_available():
        raise ValueError('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); none is available here')
    wrapper = cfg.optim_wrapper
    if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        return
    wrapper.type = 'AmpOptimWrapper'
    wrapper.setdefault('dtype', 'bfloat16')


def build_train_config(config: str, work_dir: Optional[str] = None, resume=False, amp: bool = False,
                       cfg_options: Optional[Dict] = None, launcher: str = 'none'):
    """Load and complete a training config (work dir, resume, AMP, launcher)."""
    cfg = compose_uda_model(load_config(config, cfg_options))
    cfg.work_dir = work_dir or cfg.get('work_dir') or default_work_dir(config)
    if resume:
        cfg.resume = True
        cfg.load_from = None if resume is True else resume
    if amp:
        amp_optim_wrapper(cfg)
    cfg.launcher = launcher
    wrapper = init_cpu_distributed(launcher)
    if wrapper is not None:
        cfg.model_wrapper_cfg = wrapper
    if launcher != 'none' and cfg.get('uda') is not None:
        cfg.model_wrapper_cfg = dict(type='mmseg_procl.UDADataParallel')  # multi-stage train_step
    return cfg


def train(config: str, work_dir: Optional[str] = None, resume=False, amp: bool = False,
          cfg_options: Optional[Dict] = None, launcher: str = 'none') -> Runner:
    """Train ``config``; ``resume=True`` resumes the latest checkpoint, a path resumes that file."""
    register_checkpoint_safe_globals()
    cfg = build_train_config(config, work_dir, resume, amp, cfg_options, launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner
