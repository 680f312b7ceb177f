"""Training entry point used by ``tools/train.py`` and ``run_experiments.py``.

Before anything is built the config is validated (``load_config``) and the work dir is checked: a
work dir that already holds checkpoints is only reused with ``resume`` (continue it) or
``overwrite=True`` (start again); ``resume`` needs a complete checkpoint to continue from.  Training
runs in :class:`mmseg_procl.engine.SafeRunner` (atomic checkpoints, resume from the checkpoint alone).
"""
import os
import os.path as osp
import shutil
import time
from typing import Dict, Optional, Union

from mmseg_procl.engine.checkpoint_safety import register_checkpoint_safe_globals
from mmseg_procl.engine.runner import SafeRunner
from mmseg_procl.errors import ConfigError, WorkDirError
from mmseg_procl.utils.checkpoint import check_checkpoint_archive
from .config_utils import (compose_uda_model, default_work_dir, existing_checkpoints,
                           init_cpu_distributed, load_config)


def amp_optim_wrapper(cfg) -> None:
    """Switch the optimizer wrapper to bf16 autocast (``AmpOptimWrapper``, CUDA only): forward passes of
    the stages and of the teacher in bf16, weights, gradients, optimizer state and the EMA teacher in fp32."""
    import torch
    if not torch.cuda.is_available():
        raise ValueError('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); none is available here')
    wrapper = cfg.optim_wrapper
    if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        return
    wrapper.type = 'AmpOptimWrapper'
    wrapper.setdefault('dtype', 'bfloat16')
    # bf16 has float32's exponent range: no loss scaling (a static scale of 1); the scaler still skips
    # steps with non-finite gradients, inside the fused AdamW kernel (no host synchronisation)
    if wrapper.dtype in ('bfloat16', 'bf16'):
        wrapper.setdefault('loss_scale', 1.0)


def latest_checkpoint(work_dir: str) -> str:
    """The checkpoint ``<work_dir>/last_checkpoint`` points to (moved work dirs are followed)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        found = existing_checkpoints(work_dir)
        raise WorkDirError(f'--resume: nothing to resume in {work_dir}: no last_checkpoint file'
                           + (f' (found {found}; pass one of them: --resume <file>)' if found else
                              ' and no checkpoint; start without --resume'))
    with open(pointer, encoding='utf-8') as f:
        path = f.read().strip()
    if not osp.isfile(path) and osp.isfile(osp.join(work_dir, osp.basename(path))):
        path = osp.join(work_dir, osp.basename(path))      # the work dir was moved or renamed
    if not osp.isfile(path):
        raise WorkDirError(f'--resume: {pointer} points to {path!r}, which does not exist')
    return path


def resolve_resume(work_dir: str, resume: Union[bool, str], overwrite: bool,
                   config: Optional[str] = None) -> Optional[str]:
    """The checkpoint to resume (checked to be complete), or None for a new run in ``work_dir``."""
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise WorkDirError(f'work dir {work_dir} is a file; expected a folder (or a new path)')
    if resume:
        path = latest_checkpoint(work_dir) if resume is True else resume
        check_checkpoint_archive(path)
        return path
    found = existing_checkpoints(work_dir)
    if found and not overwrite:
        raise WorkDirError(
            f'work dir {work_dir} already holds checkpoints ({", ".join(found[:5])}); a new run '
            'would overwrite them: pass --resume to continue that run, --overwrite to start again '
            'in it, or choose another --work-dir')
    if found and int(os.environ.get('RANK', '0')) == 0:      # one process moves the files
        set_aside_previous_run(work_dir, keep=config)
    return None


def set_aside_previous_run(work_dir: str, keep: Optional[str] = None) -> str:
    """``--overwrite``: move the previous run's checkpoints, pointer, dumped configs and debug
    images into ``<work_dir>/previous_<time>/`` (nothing is deleted; logs are timestamped already).
    ``keep`` (the config being run, if it lives in the work dir) stays where it is."""
    target = osp.join(work_dir, f'previous_{time.strftime("%Y%m%d_%H%M%S")}')
    os.makedirs(target)
    names = [n for n in os.listdir(work_dir) if n.endswith(('.pth', '.py')) or n in (
        'last_checkpoint', 'debug')]
    names = [n for n in names if not (keep and osp.samefile(osp.join(work_dir, n), keep))]
    for name in names:
        shutil.move(osp.join(work_dir, name), osp.join(target, name))
    print(f'--overwrite: moved the previous run\'s {", ".join(sorted(names))} to {target}')
    return target


def build_train_config(config: str, work_dir: Optional[str] = None, resume=False, amp: bool = False,
                       cfg_options: Optional[Dict] = None, launcher: str = 'none',
                       overwrite: bool = False):
    """Load, validate and complete a training config (work dir, resume, AMP, launcher)."""
    if resume and 'max_iters' in (cfg_options or {}):
        raise ConfigError('--cfg-options max_iters cannot change the length of a resumed run: its '
                          'schedule comes from the checkpoint (train_cfg.max_iters=N stops it earlier)')
    cfg = compose_uda_model(load_config(config, cfg_options))
    cfg.work_dir = work_dir or cfg.get('work_dir') or default_work_dir(config)
    if not resume and cfg.get('resume'):           # resume=True written in the config itself
        resume = cfg.get('load_from') or True
    checkpoint = resolve_resume(cfg.work_dir, resume, overwrite, config)
    if checkpoint is not None:
        cfg.resume, cfg.load_from = True, checkpoint
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
          cfg_options: Optional[Dict] = None, launcher: str = 'none',
          overwrite: bool = False) -> SafeRunner:
    """Train ``config``; ``resume=True`` resumes the work dir's latest checkpoint, a path that file."""
    register_checkpoint_safe_globals()
    cfg = build_train_config(config, work_dir, resume, amp, cfg_options, launcher, overwrite)
    runner = build_runner(cfg, config)
    runner.train()
    return runner


def build_runner(cfg, config: str) -> SafeRunner:
    """``SafeRunner.from_cfg``; an argument the config gives a component that the component's own
    builder rejects (a typo in a nested spec) becomes one :class:`ConfigError`."""
    try:
        return SafeRunner.from_cfg(cfg)
    except TypeError as err:
        if 'argument' not in str(err):
            raise
        raise ConfigError(f'{config}: a component could not be built from the config: {err}') \
            from None
