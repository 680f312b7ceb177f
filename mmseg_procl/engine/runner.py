"""SafeRunner: mmengine's ``Runner`` with checkpoints that are never half-written, resumes that read only
the checkpoint, clear errors for bad checkpoint files, and a readable console.

Differences from ``mmengine.runner.Runner`` (0.10.7), each closing a way to lose work or get a wrong
result silently:

- ``save_checkpoint`` writes ``.<name>.<pid>.tmp`` in the work dir and renames it onto ``<name>``
  (``os.replace``, atomic on one file system): a run killed while saving leaves the previous
  checkpoints intact and no truncated ``iter_N.pth``;
- ``_init_model_weights`` does nothing when resuming: the checkpoint holds every weight, so the initial
  (pretrained) files -- ``mit_b5.pth``, ResNet, CLIP, the ImageNet model of FD -- are not read and need
  not exist any more;
- ``load_checkpoint`` reads with ``torch.load(weights_only=True)`` through
  :func:`mmseg_procl.utils.checkpoint.load_checkpoint_file` (errors name the file); a resumed
  checkpoint must be a training checkpoint (``meta`` / ``state_dict``) and match the model key for
  key and shape for shape, otherwise the resume stops with the list of differences;
- the config is dumped into the work dir only after the checkpoint (if any) has loaded, so a refused
  resume leaves the run's dumped config untouched; before loading, the model's class count is
  checked against the datasets; a resumed run that is already complete says so;
- ``paramwise_cfg.custom_keys`` entries that match no parameter are named (they have no effect);
- the console shows one line about the environment and the dumped config instead of the full
  environment, config and hook table (those still go to the log file), and one summary line instead
  of a notice per parameter (options of every parameter, "skipped since requires_grad=False");
- ``default_hooks`` entries of this package can be removed with ``None`` like mmengine's own.
"""
import logging
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Union

import torch
from mmengine.dist import master_only
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mmseg_procl.engine.hooks.evaluation_context_hook import EvaluationContextHook
from mmseg_procl.errors import CheckpointError, ConfigError
from mmseg_procl.registry import RUNNERS

FILE_ONLY_PREFIXES = ('Config:\n', 'Hooks will be executed in the following order',
                      'paramwise_options -- ',
                      # mmengine-internal notices that say nothing about the run
                      '"FileClient" will be deprecated', '"HardDiskBackend" is the alias',
                      'The prefix is not set in metric class', 'Distributed training is not used')
MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger', 'param_scheduler',
                          'checkpoint')
FROZEN_NOTICE = ' is skipped since its requires_grad=False'
EVAL_PROGRESS = re.compile(r'^Iter\((val|test)\) \[\s*\d+/\d+\]\s+eta:')


class ConsoleDigest(logging.Filter):
    """Console filter: keep verbose records (environment, config, hooks, per-parameter options,
    per-batch evaluation lines, which the evaluation progress bar replaces) out."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for records that only belong in the log file."""
        msg = record.getMessage()
        return not (msg.startswith(FILE_ONLY_PREFIXES) or 'System environment:' in msg[:120]
                    or EVAL_PROGRESS.match(msg))


class FrozenParameterCounter(logging.Filter):
    """Logger filter: swallow mmengine's one-notice-per-frozen-parameter warnings, remembering the names."""

    def __init__(self) -> None:
        super().__init__()
        self.names: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop (and count) a frozen-parameter notice."""
        msg = record.getMessage()
        if msg.endswith(FROZEN_NOTICE):
            self.names.append(msg[:-len(FROZEN_NOTICE)])
            return False
        return True


def name_groups(names: List[str], depth: int = 2) -> str:
    """``'ema_model (212), model.clip (120)'``: counts of names by their first ``depth`` components."""
    counts: Dict[str, int] = {}
    for name in names:
        parts = name.split('.')
        key = '.'.join(parts[:depth] if parts[0] != 'ema_model' else parts[:1])
        counts[key] = counts.get(key, 0) + 1
    return ', '.join(f'{k} ({n})' for k, n in sorted(counts.items()))


def unmatched_custom_keys(optim_cfg, model: torch.nn.Module) -> List[str]:
    """``paramwise_cfg.custom_keys`` that are a substring of no parameter name (mmengine's rule)."""
    paramwise = (optim_cfg or {}).get('paramwise_cfg') if isinstance(optim_cfg, dict) else None
    keys = list(((paramwise or {}).get('custom_keys') or {}))
    if not keys:
        return []
    module = model.module if is_model_wrapper(model) else model
    names = [name for name, _ in module.named_parameters()]
    return [k for k in keys if not any(k in name for name in names)]


def strict_key_report(model_state: Dict[str, torch.Tensor], state: Dict[str, torch.Tensor]) -> List[str]:
    """Missing / unexpected / shape-mismatched keys between a model's and a checkpoint's state dict."""
    missing = [k for k in model_state if k not in state]
    unexpected = [k for k in state if k not in model_state]
    shapes = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
              for k, v in model_state.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    report = []
    for what, items in (('missing', missing), ('unexpected', unexpected), ('shape mismatch', shapes)):
        if items:
            shown = ', '.join(items[:20]) + (f', ... ({len(items) - 20} more)' if len(items) > 20 else '')
            report.append(f'{len(items)} {what}: {shown}')
    return report


@RUNNERS.register_module()
class SafeRunner(Runner):
    """``mmengine.runner.Runner`` with atomic checkpoints, checkpoint-only resume and clear errors."""

    def build_logger(self, log_level: Union[int, str] = 'INFO', log_file: Optional[str] = None,
                     **kwargs) -> MMLogger:
        """mmengine's logger, with the console digest and the frozen-parameter counter attached."""
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        self._frozen_counter = FrozenParameterCounter()
        logger.addFilter(self._frozen_counter)
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.addFilter(ConsoleDigest())
        return logger

    def register_default_hooks(self, hooks: Optional[Dict] = None) -> None:
        """mmengine's default hooks; ``name=None`` removes any of them, also this package's extras."""
        if hooks:
            hooks = {k: v for k, v in hooks.items() if v is not None or k in MMENGINE_DEFAULT_HOOKS}
        super().register_default_hooks(hooks)
        self.register_hook(EvaluationContextHook())      # split, resolution, student / teacher

    def _log_env(self, env_cfg: dict) -> None:
        """Full environment and config into the log file; one summary line on the console."""
        super()._log_env(env_cfg)
        device = f'cuda ({torch.cuda.get_device_name(0)})' if torch.cuda.is_available() else \
            f'cpu ({torch.get_num_threads()} threads)'
        self.logger.info(
            f'{self.experiment_name}: {device}, world size {self._world_size}, seed {self._seed}, '
            f'torch {torch.__version__}; work dir {self.work_dir} (config dumped there; environment, '
            f'config and hooks in {osp.join(self.log_dir, self.timestamp + ".log")})')

    def build_optim_wrapper(self, optim_wrapper):
        """mmengine's optimizer wrapper, then one line about the frozen (not optimised) parameters."""
        counter = getattr(self, '_frozen_counter', None)
        start = len(counter.names) if counter else 0
        wrapper = super().build_optim_wrapper(optim_wrapper)
        if counter and len(counter.names) > start:
            names = counter.names[start:]
            self.logger.info(f'optimizer: {len(names)} frozen parameter tensors are not optimised: '
                             f'{name_groups(names)}')
        unused = unmatched_custom_keys(self.cfg.get('optim_wrapper'), self.model)
        if unused:
            self.logger.warning(f'optim_wrapper.paramwise_cfg.custom_keys {unused} match no parameter '
                                'name of this model: they have no effect')
        return wrapper

    def dump_config(self) -> None:
        """Postponed until the run's checkpoint (if any) has loaded: a refused ``--resume`` or a bad
        checkpoint must not overwrite the dumped config of the run in that work dir."""
        self._config_dump_pending = True

    def load_or_resume(self) -> None:
        """Check model / data agreement, load or resume, then dump the config."""
        check_classes_agree(self)
        super().load_or_resume()
        if getattr(self, '_config_dump_pending', False):
            self._config_dump_pending = False
            super().dump_config()
        loop = self._train_loop
        if self._resume and hasattr(loop, 'max_iters') and loop.iter >= loop.max_iters:
            self.logger.warning(f'the resumed checkpoint is at iteration {loop.iter}, the run ends at '
                                f'max_iters={loop.max_iters}: nothing is left to train')

    def _init_model_weights(self) -> None:
        """Initial weights (pretrained files), except when resuming: the checkpoint has them all."""
        if self._resume:
            self.logger.info('resuming: initial (pretrained) weight files are not read; every weight '
                             'comes from the checkpoint')
            return
        super()._init_model_weights()

    def load_checkpoint(self, filename: str, map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False, revise_keys: list = [(r'^module\.', '')]) -> Dict:
        """Read ``filename`` safely; a resumed checkpoint must match the model exactly."""
        from mmseg_procl.utils.checkpoint import load_checkpoint_file   # (utils imports engine)
        checkpoint = load_checkpoint_file(filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        if self._resume:
            check_training_checkpoint(checkpoint, filename, model)
            strict = True
        elif is_segmentor_checkpoint_for_student(checkpoint, model):
            checkpoint = segmentor_checkpoint_as_student(checkpoint, filename, model)
            self.logger.info(f'load_from {filename}: a segmentor checkpoint; it initialises the student '
                             '(model.*), every student weight checked')
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True, save_param_scheduler: bool = True,
                        meta: Optional[dict] = None, by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Write the checkpoint to a temporary file beside ``filename``, then rename it into place."""
        args = dict(file_client_args=file_client_args, save_optimizer=save_optimizer,
                    save_param_scheduler=save_param_scheduler, meta=meta, by_epoch=by_epoch,
                    backend_args=backend_args)
        if '://' in str(out_dir) or file_client_args is not None or backend_args is not None:
            super().save_checkpoint(out_dir, filename, **args)    # remote storage: as mmengine
            return
        tmp_name = f'.{filename}.{os.getpid()}.tmp'
        tmp_path = osp.join(out_dir, tmp_name)
        try:
            super().save_checkpoint(out_dir, tmp_name, **args)
            os.replace(tmp_path, osp.join(out_dir, filename))
        finally:
            if osp.exists(tmp_path):
                os.remove(tmp_path)


def check_training_checkpoint(checkpoint: Dict, filename: str, model: torch.nn.Module) -> None:
    """Raise :class:`CheckpointError` unless ``checkpoint`` is a training checkpoint of ``model``."""
    missing = [k for k in ('meta', 'state_dict') if k not in checkpoint]
    if missing or 'iter' not in checkpoint.get('meta', {}):
        raise CheckpointError(
            f'--resume {filename}: not a training checkpoint of this package (it has the top-level '
            f'keys {sorted(checkpoint)[:10]}, expected meta with the iteration, state_dict, optimizer, '
            'message_hub); to start a new run from its weights set load_from instead')
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in checkpoint['state_dict'].items()}
    report = strict_key_report(model.state_dict(), state)
    if report:
        raise CheckpointError(f'--resume {filename}: the checkpoint does not match the model of this '
                              'config (a resumed run must continue the same model): ' + '; '.join(report))


def _state_without_module(checkpoint: Dict) -> Dict[str, torch.Tensor]:
    """The checkpoint's state dict (or the bare dict) without DDP's ``module.`` prefixes."""
    state = checkpoint.get('state_dict', checkpoint)
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def is_segmentor_checkpoint_for_student(checkpoint: Dict, model: torch.nn.Module) -> bool:
    """Whether ``load_from`` gives a plain segmentor's weights (``backbone.*``, ``decode_head.*``) to a
    UDA algorithm (whose student lives under ``model.``): e.g. ProCA's source-only stage."""
    if not isinstance(getattr(model, 'model', None), torch.nn.Module) or not isinstance(checkpoint, dict):
        return False
    state = _state_without_module(checkpoint)
    return bool(state) and not any(k.startswith('model.') for k in state) \
        and any(k.startswith('backbone.') for k in state)


def segmentor_checkpoint_as_student(checkpoint: Dict, filename: str, model: torch.nn.Module) -> Dict:
    """The checkpoint with its keys under ``model.``; it must match the student exactly (the other parts
    of the algorithm -- teacher, prototype sources -- keep their initialisation).

    Raises:
        CheckpointError: naming the file and the missing / unexpected / mismatched student keys.
    """
    state = _state_without_module(checkpoint)
    report = strict_key_report(model.model.state_dict(), state)
    if report:
        raise CheckpointError(f'load_from {filename}: the segmentor checkpoint does not match the student '
                              f'{type(model.model).__name__} of this config: ' + '; '.join(report))
    return dict(checkpoint, state_dict={f'model.{k}': v for k, v in state.items()})


def check_classes_agree(runner) -> None:
    """Raise :class:`ConfigError` if the model's class count differs from a built dataset's classes."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    segmentor = getattr(model, 'model', model)
    num_classes = getattr(segmentor, 'num_classes', None)
    if num_classes is None:
        return
    for name in ('train', 'val', 'test'):
        loop = getattr(runner, f'_{name}_loop', None)           # a config dict until it is built
        dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        if classes is not None and len(classes) != num_classes:
            raise ConfigError(f'the model predicts {num_classes} classes but {name}_dataloader.dataset '
                              f'({type(dataset).__name__}) has {len(classes)}: set '
                              f'decode_head.num_classes={len(classes)} or use a matching dataset')
