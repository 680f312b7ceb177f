"""Validate a config before any work starts: component arguments and top-level keys.

mmengine builds most components late (hooks' extra arguments only at the first save, datasets at the
start of training) and ignores top-level keys it does not read, so a typo can cost a whole run or be
silently dropped.  :func:`check_config` walks the config once, right after it is loaded, and raises
one :class:`~mmseg_procl.errors.ConfigError` listing every problem, one line each:

- every dict with a ``type`` that resolves in the registry of its place (model parts in ``MODELS``,
  datasets, transforms, hooks, metrics, loops, optimizers, schedulers, ...) may only use arguments
  its class (or function) accepts; ``**kwargs`` handed on to a base class count as the base class's
  arguments, ``**kwargs`` handed anywhere else (e.g. mmengine's ``CheckpointHook``, which passes them
  to the saving function) do not, since an unknown key there only fails later;
- a ``type`` in a place that must hold a registered component (hooks, datasets, transforms, ...)
  must exist;
- plain dicts that mmengine reads (data loaders, ``randomness``, ``env_cfg``, ``paramwise_cfg``) may
  only hold the keys it reads;
- a top-level key that is not read but is close to one that is (``randomnes``, ``train_cgf``) is
  reported with the intended key, and mmseg 0.x keys (``lr_config``, ``runner``, ``evaluation``,
  ``checkpoint_config``, ...) with their mmengine equivalent.
Unresolved types inside model configs are left to their owner (``norm_cfg=dict(type='BN')``,
``act_cfg``, ``init_cfg`` are specs interpreted by the module, not registry components).
"""
import difflib
import inspect
from typing import Any, Dict, Iterable, List, Optional, Set

from mmengine.config import Config
from mmengine.registry import Registry
from mmengine.utils import import_modules_from_strings

from mmseg_procl import registry as R
from mmseg_procl.errors import ConfigError

# Top-level keys read by mmengine's Runner.from_cfg / this package's entry points.
RUNNER_KEYS = (
    'model', 'work_dir', 'experiment_name', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'model_wrapper_cfg', 'compile', 'strategy',
    'activation_checkpointing', 'efficient_conv_bn_eval', 'custom_imports', 'runner_type', 'gpu_ids')
PACKAGE_KEYS = ('uda', 'reference_results')
KNOWN_TOP_LEVEL = RUNNER_KEYS + PACKAGE_KEYS
# mmseg 0.x / mmcv 1.x top-level keys (DAFormer-family configs) that mmengine does not read.
LEGACY_KEYS = {
    'optimizer': 'optim_wrapper.optimizer (a top-level optimizer is read only through it)',
    'runner': "train_cfg=dict(type='ResumableIterBasedTrainLoop', max_iters=...)",
    'lr_config': 'param_scheduler',
    'optimizer_config': 'optim_wrapper (clip_grad=...)',
    'evaluation': 'train_cfg.val_interval and val_evaluator',
    'checkpoint_config': 'default_hooks.checkpoint',
    'log_config': 'default_hooks.logger',
    'data': 'train_dataloader / val_dataloader / test_dataloader',
    'workflow': 'train_cfg (mmengine runs one training loop)',
    'dist_params': 'env_cfg.dist_cfg',
    'cudnn_benchmark': 'env_cfg.cudnn_benchmark',
}
DATALOADER_KEYS = {'dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn',
                   'num_batch_per_epoch', 'disable_subprocess_warning', 'batch_size', 'shuffle',
                   'num_workers', 'pin_memory', 'drop_last', 'timeout', 'multiprocessing_context',
                   'generator', 'prefetch_factor', 'persistent_workers', 'pin_memory_device',
                   'in_order'}
PLAIN_DICT_KEYS = {
    'randomness': {'seed', 'diff_rank_seed', 'deterministic'},
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
    'auto_scale_lr': {'enable', 'base_batch_size'},
}
PARAMWISE_KEYS = {'custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
                  'dwconv_decay_mult', 'flat_decay_mult', 'dcn_offset_lr_mult', 'bypass_duplicate'}
CUSTOM_KEY_OPTIONS = {'lr_mult', 'decay_mult'}      # plus the optimizer's own arguments
CLIP_GRAD_KEYS = {'type', 'max_norm', 'norm_type', 'error_if_nonfinite', 'foreach', 'clip_value'}
# (path, minimum) of integers that must be positive for the run to do anything (or not crash)
POSITIVE_INTS = (('train_cfg', 'max_iters'), ('train_cfg', 'val_interval'), ('train_cfg', 'val_begin'))
# Keys the registry / its callers consume before calling the class.
META_KEYS = {'type', '_scope_'}
# Arguments that a builder always passes itself (never written in a config).
INJECTED = {'runner', 'dataloader', 'evaluator', 'optimizer', 'dataset', 'module', 'self'}
# Keys under `model` whose dict values are interpreted by their module, not built from MODELS.
MODEL_SPEC_KEYS = {'init_cfg', 'norm_cfg', 'act_cfg', 'conv_cfg', 'train_cfg', 'test_cfg'}
# Extra keys that the normalisation / activation builders accept besides the layer's arguments.
NORM_EXTRA_KEYS = {'type', 'requires_grad'}


def accepted_arguments(obj: Any) -> Optional[Set[str]]:
    """Keyword arguments ``obj`` accepts (a class's ``__init__`` chain or a function); None if open.

    A ``**kwargs`` in a class's ``__init__`` adds the arguments of the next ``__init__`` in the MRO
    (the usual ``super().__init__(**kwargs)``); the chain ends at ``object`` or at an ``__init__``
    without ``**kwargs``.  A function with ``**kwargs`` accepts anything (None).
    """
    if inspect.isclass(obj):
        names: Set[str] = set()
        for klass in obj.__mro__:
            if klass is object:
                return names
            if '__init__' not in klass.__dict__:
                continue
            params = _parameters(klass.__dict__['__init__'])
            if params is None:
                return None
            names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            if not any(p.kind == p.VAR_KEYWORD for p in params):
                return names
        return names
    params = _parameters(obj)
    if params is None or any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _parameters(func) -> Optional[List[inspect.Parameter]]:
    """The parameters of ``func`` (None when it has no inspectable signature)."""
    try:
        return list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None


def _suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, else ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ''


def _type_name(value: Any) -> Any:
    """A config ``type`` as a name: the string itself or a class's ``__name__``."""
    return getattr(value, '__name__', value)


class ConfigChecker:
    """Collects the problems of one config (see the module docstring)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.errors: List[str] = []

    # ------------------------------------------------------------------ entry
    def run(self) -> List[str]:
        """All problems, one message each."""
        self._top_level()
        cfg = self.cfg
        if isinstance(cfg.get('model'), dict):
            self._model('model', cfg.model)
        if isinstance(cfg.get('uda'), dict) and 'model' not in cfg.get('model', {}):
            self._model('uda', cfg.uda)     # not yet wrapped around the segmentor
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if isinstance(cfg.get(key), dict):
                self._dataloader(key, cfg[key])
        for key in ('train_cfg', 'val_cfg', 'test_cfg'):
            if isinstance(cfg.get(key), dict) and 'type' in cfg[key]:
                self._component(key, cfg[key], R.LOOPS, required=True)
        for key in ('val_evaluator', 'test_evaluator'):
            for i, metric in self._items(cfg.get(key)):
                self._evaluator(f'{key}{i}', metric)
        self._optim_wrapper(cfg.get('optim_wrapper'))
        for i, sched in self._items(cfg.get('param_scheduler')):
            self._component(f'param_scheduler{i}', sched, R.PARAM_SCHEDULERS, required=True)
            self._schedule_length(f'param_scheduler{i}', sched)
        for name, hook in (cfg.get('default_hooks') or {}).items():
            if hook is not None:
                self._component(f'default_hooks.{name}', hook, R.HOOKS, required=True)
        for i, hook in enumerate(cfg.get('custom_hooks') or []):
            self._component(f'custom_hooks[{i}]', hook, R.HOOKS, required=True)
        self._simple_components()
        for key, allowed in PLAIN_DICT_KEYS.items():
            self._plain_dict(key, cfg.get(key), allowed)
        self._values()
        return self.errors

    def _schedule_length(self, where: str, sched: dict) -> None:
        """A poly schedule over the whole run must not end before the run does (the rest would train at
        ``min_lr``); ending after it is an interrupted run (``train_cfg.max_iters`` set lower on purpose)."""
        max_iters = (self.cfg.get('train_cfg') or {}).get('max_iters')
        total = sched.get('total_iters')
        if sched.get('type') != 'PolyLRWithWarmup' or not isinstance(max_iters, int) \
                or not isinstance(total, int) or total >= max_iters:
            return
        self.errors.append(f'{where}.total_iters={total} is shorter than train_cfg.max_iters={max_iters}: '
                           f'iterations {total}..{max_iters} would train at min_lr; set total_iters='
                           f'{max_iters} (schedules/schedule_60k.py and schedule_80k.py carry their own '
                           'poly schedule) or run with --cfg-options max_iters=N')

    @staticmethod
    def _items(value):
        """``('', value)`` for a dict, ``('[i]', item)`` for a list, nothing for None."""
        if isinstance(value, dict):
            return [('', value)]
        if isinstance(value, (list, tuple)):
            return [(f'[{i}]', v) for i, v in enumerate(value) if isinstance(v, dict)]
        return []

    # ------------------------------------------------------------------ top level
    def _top_level(self) -> None:
        """Misspelt known keys and mmseg 0.x keys."""
        for key in self.cfg.keys():
            if key in KNOWN_TOP_LEVEL:
                continue
            if key in LEGACY_KEYS and not self._legacy_key_is_helper(key):
                self.errors.append(f"top-level key '{key}' is an mmseg 0.x key that this package "
                                   f'(mmengine) does not read; use {LEGACY_KEYS[key]}')
                continue
            match = difflib.get_close_matches(key, KNOWN_TOP_LEVEL, n=1, cutoff=0.8)
            if match and match[0] not in self.cfg:
                self.errors.append(f"top-level key '{key}' is not read by the runner; did you mean "
                                   f"'{match[0]}'?")
            elif match:
                self.errors.append(f"top-level key '{key}' is not read by the runner and looks like "
                                   f"a misspelling of '{match[0]}' (which is also set)")

    def _legacy_key_is_helper(self, key: str) -> bool:
        """An ``optimizer`` helper variable reused as ``optim_wrapper.optimizer`` is fine."""
        wrapper = self.cfg.get('optim_wrapper') or {}
        return key == 'optimizer' and wrapper.get('optimizer') == self.cfg.get(key)

    # ------------------------------------------------------------------ components
    def _resolve(self, type_: Any, registry: Registry):
        """The class / function ``type_`` names in ``registry`` (None if unknown)."""
        if not isinstance(type_, str):
            return type_ if callable(type_) else None
        try:
            return registry.get(type_)
        except Exception:   # a registry whose lazy import fails: report as unknown
            return None

    def _component(self, path: str, cfg: Any, registry: Registry, required: bool,
                   extra: Iterable[str] = ()) -> Any:
        """Check one ``dict(type=...)``; returns the resolved object (or None)."""
        if not isinstance(cfg, dict) or 'type' not in cfg:
            if required and isinstance(cfg, dict):
                self.errors.append(f'{path}: no type given (expected a {registry.name} component)')
            return None
        obj = self._resolve(cfg['type'], registry)
        if obj is None:
            close = difflib.get_close_matches(str(cfg['type']), self._registry_names(registry),
                                              n=1, cutoff=0.8)
            if required or close:
                self.errors.append(f"{path}: type '{cfg['type']}' is not a registered "
                                   f'{registry.name}' + _suggest(str(cfg['type']),
                                                                self._registry_names(registry)))
            return None
        self._arguments(path, cfg, obj, extra)
        for key, allowed in getattr(obj, 'CONFIG_DICT_KEYS', {}).items():
            self._plain_dict(f'{path}.{key}', cfg.get(key), set(allowed))
        return obj

    @staticmethod
    def _registry_names(registry: Registry) -> List[str]:
        """Names registered in ``registry`` and its parents."""
        names, reg = [], registry
        while reg is not None:
            names += list(reg.module_dict)
            reg = reg.parent
        return names

    def _arguments(self, path: str, cfg: dict, obj: Any, extra: Iterable[str] = ()) -> None:
        """Report keys of ``cfg`` that ``obj`` does not accept."""
        accepted = accepted_arguments(obj)
        if accepted is None:
            return
        allowed = (accepted | set(extra)) - {'self'}
        name = getattr(obj, '__name__', str(obj))
        for key in cfg:
            if key in META_KEYS or key in allowed:
                continue
            shown = ', '.join(sorted(allowed - INJECTED))
            self.errors.append(f"{path}: {name} has no argument '{key}'"
                               f'{_suggest(key, allowed)} (accepted: {shown})')

    def _plain_dict(self, path: str, value: Any, allowed: Set[str]) -> None:
        """Keys of a plain dict that mmengine reads by name."""
        if not isinstance(value, dict):
            return
        for key in value:
            if key not in allowed:
                self.errors.append(f"{path}: unknown key '{key}'{_suggest(key, allowed)} "
                                   f'(expected: {", ".join(sorted(allowed))})')

    # ------------------------------------------------------------------ model
    def _model(self, path: str, cfg: Any) -> None:
        """Check a model config tree: every resolvable MODELS type, recursively."""
        if isinstance(cfg, dict):
            if 'type' in cfg:
                self._component(path, cfg, R.MODELS, required=path in ('model', 'uda'))
            for key, value in cfg.items():
                if key == 'init_cfg':
                    self._init_cfg(f'{path}.init_cfg', value)
                elif key in ('norm_cfg', 'act_cfg'):
                    self._layer_spec(f'{path}.{key}', value, key)
                elif key not in MODEL_SPEC_KEYS:
                    self._model(f'{path}.{key}', value)
        elif isinstance(cfg, (list, tuple)):
            for i, value in enumerate(cfg):
                self._model(f'{path}[{i}]', value)

    def _init_cfg(self, path: str, value: Any) -> None:
        """``init_cfg``: a weight initializer (``Pretrained``, ``Normal``, ...) or a list of them."""
        for suffix, item in self._items(value):
            self._component(path + suffix, item, R.WEIGHT_INITIALIZERS, required=True)

    def _layer_spec(self, path: str, value: Any, key: str) -> None:
        """``norm_cfg`` / ``act_cfg``: a supported layer type with that layer's arguments."""
        from mmseg_procl.models.utils.layers import ACTIVATIONS, NORM_LAYERS
        if not isinstance(value, dict) or 'type' not in value:
            return
        table = {k: v[0] for k, v in NORM_LAYERS.items()} if key == 'norm_cfg' else ACTIVATIONS
        if value['type'] not in table:
            return                  # another builder's vocabulary (its owner checks it)
        self._arguments(path, value, table[value['type']], extra=NORM_EXTRA_KEYS)

    def _values(self) -> None:
        """Numbers that make a run do nothing or crash late: loop lengths, intervals, seed, lr."""
        for section, key in POSITIVE_INTS:
            value = (self.cfg.get(section) or {}).get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                self.errors.append(f'{section}.{key}: expected an integer >= 1, got {value!r}')
        for name, hook in (self.cfg.get('default_hooks') or {}).items():
            value = hook.get('interval') if isinstance(hook, dict) else None
            allowed = (-1, ) if name == 'checkpoint' else ()     # checkpoint interval -1: never
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or (value < 1 and value not in allowed)):
                self.errors.append(f'default_hooks.{name}.interval: expected an integer >= 1, got '
                                   f'{value!r}')
        seed = (self.cfg.get('randomness') or {}).get('seed')
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            self.errors.append(f'randomness.seed: expected an integer or None, got {seed!r}')
        lr = ((self.cfg.get('optim_wrapper') or {}).get('optimizer') or {}).get('lr')
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
            self.errors.append(f'optim_wrapper.optimizer.lr: expected a number > 0, got {lr!r}')

    # ------------------------------------------------------------------ data
    def _dataloader(self, path: str, cfg: dict) -> None:
        """Loader keys, sampler, collate function and the dataset tree."""
        self._plain_dict(path, cfg, DATALOADER_KEYS)
        for key, registry in (('sampler', R.DATA_SAMPLERS), ('batch_sampler', R.DATA_SAMPLERS)):
            if isinstance(cfg.get(key), dict):
                self._component(f'{path}.{key}', cfg[key], registry, required=True)
        if isinstance(cfg.get('collate_fn'), dict):
            self._component(f'{path}.collate_fn', cfg['collate_fn'], R.FUNCTIONS, required=True)
        if 'dataset' in cfg:
            self._dataset(f'{path}.dataset', cfg['dataset'])
        self._uda_sampler(path, cfg)

    def _uda_sampler(self, path: str, cfg: dict) -> None:
        """A ``UDADataset`` needs ``UDAInfiniteSampler``: index samplers allocate its product length."""
        dataset, sampler = cfg.get('dataset'), cfg.get('sampler')
        if not (isinstance(dataset, dict) and _type_name(dataset.get('type')) == 'UDADataset'
                and isinstance(sampler, dict)):
            return
        if _type_name(sampler.get('type')) == 'UDAInfiniteSampler':
            return
        self.errors.append(f"{path}.sampler: a UDADataset needs sampler=dict(type='UDAInfiniteSampler'), got "
                           f"{sampler.get('type')!r} (an index sampler over len(source) * len(target) items "
                           'allocates that many indices: about 3 GB per pass for GTA5 -> Cityscapes)')

    def _dataset(self, path: str, cfg: Any) -> None:
        """A dataset and what it builds: nested datasets (``source`` / ``target``) and pipelines."""
        if not isinstance(cfg, dict):
            return
        self._component(path, cfg, R.DATASETS, required=True)
        for key, value in cfg.items():
            if key == 'pipeline' and isinstance(value, (list, tuple)):
                for i, step in enumerate(value):
                    self._component(f'{path}.pipeline[{i}]', step, R.TRANSFORMS, required=True)
            elif key in ('source', 'target', 'dataset') and isinstance(value, dict):
                self._dataset(f'{path}.{key}', value)
            elif key == 'datasets' and isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    self._dataset(f'{path}.datasets[{i}]', item)

    # ------------------------------------------------------------------ the rest
    def _evaluator(self, path: str, cfg: dict) -> None:
        """An evaluator (``type`` in EVALUATOR) or a metric (``type`` in METRICS)."""
        if 'type' in cfg and self._resolve(cfg['type'], R.EVALUATOR) is not None:
            self._component(path, cfg, R.EVALUATOR, required=True)
        else:
            self._component(path, cfg, R.METRICS, required=True)

    def _optim_wrapper(self, cfg: Any) -> None:
        """Optimizer wrapper arguments, the optimizer and ``paramwise_cfg`` keys."""
        if not isinstance(cfg, dict):
            return
        wrapper = dict(cfg, type=cfg.get('type', 'OptimWrapper'))
        self._component('optim_wrapper', wrapper, R.OPTIM_WRAPPERS, required=True,
                        extra=('constructor', 'paramwise_cfg', 'optimizer'))
        optimizer = None
        if isinstance(cfg.get('optimizer'), dict):
            optimizer = self._component('optim_wrapper.optimizer', cfg['optimizer'], R.OPTIMIZERS,
                                        required=True)
        self._plain_dict('optim_wrapper.clip_grad', cfg.get('clip_grad'), CLIP_GRAD_KEYS)
        paramwise = cfg.get('paramwise_cfg')
        self._plain_dict('optim_wrapper.paramwise_cfg', paramwise, PARAMWISE_KEYS)
        options = CUSTOM_KEY_OPTIONS | ((accepted_arguments(optimizer) or set()) - {'self', 'params'})
        custom = (paramwise or {}).get('custom_keys') if isinstance(paramwise, dict) else None
        for name, value in (custom or {}).items():
            self._plain_dict(f'optim_wrapper.paramwise_cfg.custom_keys.{name}', value, options)

    def _simple_components(self) -> None:
        """Visualizer (with its backends), log processor and model wrapper."""
        cfg = self.cfg
        if isinstance(cfg.get('visualizer'), dict):
            self._component('visualizer', cfg.visualizer, R.VISUALIZERS, required=True)
            for i, backend in enumerate(cfg.visualizer.get('vis_backends') or []):
                self._component(f'visualizer.vis_backends[{i}]', backend, R.VISBACKENDS,
                                required=True)
        if isinstance(cfg.get('log_processor'), dict):
            processor = dict(cfg.log_processor, type=cfg.log_processor.get('type', 'LogProcessor'))
            self._component('log_processor', processor, R.LOG_PROCESSORS, required=True)
        if isinstance(cfg.get('model_wrapper_cfg'), dict):
            self._component('model_wrapper_cfg', cfg.model_wrapper_cfg, R.MODEL_WRAPPERS,
                            required=True)


def check_config(cfg: Config) -> None:
    """Raise :class:`ConfigError` listing every problem of ``cfg`` (see the module docstring)."""
    imports = cfg.get('custom_imports')
    if isinstance(imports, dict) and imports.get('imports'):
        import_modules_from_strings(imports['imports'],
                                    allow_failed_imports=imports.get('allow_failed_imports', False))
    from mmseg_procl.utils import register_all_modules
    register_all_modules(init_default_scope_=False)
    errors = ConfigChecker(cfg).run()
    where = cfg.filename or '<config>'
    if len(errors) == 1:
        raise ConfigError(f'{where}: {errors[0]}')
    if errors:
        raise ConfigError(f'{where}: {len(errors)} problems in the config:\n  ' + '\n  '.join(errors))
