"""Config helpers shared by the train / test entry points.

``load_config`` reads a config, merges ``--cfg-options`` (where ``max_iters=N`` is the one override
that shortens or lengthens a run consistently, see :func:`apply_max_iters`) and validates the result
(:func:`mmseg_procl.apis.config_check.check_config`) before anything is built.
"""
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config

from mmseg_procl.errors import ConfigError
from .config_check import check_config

SCHEDULE_LENGTH_KEYS = ('total_iters', 'end', 'T_max')
SCHEDULE_POINT_KEYS = ('begin', 'warmup_iters')


def load_config(path: str, cfg_options: Optional[Dict] = None, check: bool = True) -> Config:
    """Read a Python config, merge ``--cfg-options`` and validate; errors name the file or the key."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:       # syntax errors, a missing _base_ file, a bad key in a base ...
        raise ConfigError(f'config {path} could not be read: {type(err).__name__}: {err}') from None
    options = dict(cfg_options or {})
    max_iters = options.pop('max_iters', None)
    for key in options:
        check_override_key(key, cfg, path)
    cfg.merge_from_dict(options)
    if max_iters is not None:
        for line in apply_max_iters(cfg, max_iters):
            print(f'max_iters={max_iters}: {line}')
    if check:
        check_config(cfg)
    mark_evaluation_datasets(cfg)
    return cfg


def check_override_key(key: str, cfg: Config, path: str) -> None:
    """Refuse a ``--cfg-options`` key whose first part is unknown or a helper variable of the file.

    Helper variables (``crop_size``, ``img_size``, ...) are substituted where they are used when the
    file is read, so overriding them afterwards would change nothing but the dumped config.
    """
    from .config_check import KNOWN_TOP_LEVEL
    import difflib
    first = key.split('.')[0]
    if first not in cfg:
        match = difflib.get_close_matches(first, list(cfg.keys()), n=1, cutoff=0.6)
        hint = f"; did you mean '{match[0]}'?" if match else ''
        raise ConfigError(f"--cfg-options {key}: {path} has no top-level key '{first}'{hint}")
    if first not in KNOWN_TOP_LEVEL:
        raise ConfigError(f"--cfg-options {key}: '{first}' is a helper variable of {path}, already "
                          'substituted where the file uses it; override those entries instead (e.g. '
                          'model.data_preprocessor.size for a crop size), or max_iters=N for the '
                          'run length')


def mark_evaluation_datasets(cfg: Config) -> None:
    """``test_mode=True`` (unless set) for the datasets of ``val_dataloader`` / ``test_dataloader``.

    Evaluation datasets then refuse labels whose size differs from their image instead of resizing
    them as training data does (``BaseSegDataset``), and never re-draw a failed sample.
    """
    from mmseg_procl.registry import DATASETS
    from .config_check import accepted_arguments
    for key in ('val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        if not isinstance(dataset, dict) or 'test_mode' in dataset:
            continue
        cls = DATASETS.get(dataset.get('type')) if isinstance(dataset.get('type'), str) else None
        if cls is not None and 'test_mode' in (accepted_arguments(cls) or {'test_mode'}):
            dataset['test_mode'] = True


def _scaled(value, ratio: float, limit: int) -> int:
    """``round(value * ratio)`` clipped to ``[0, limit]``."""
    return max(0, min(limit, int(round(value * ratio))))


def apply_max_iters(cfg: Config, max_iters) -> List[str]:
    """Set the run length to ``max_iters`` everywhere it matters; return what changed, one line each.

    The train loop stops at ``max_iters``; every iteration-based parameter schedule is stretched
    to the new length (its end / total at ``max_iters``, warmup and begin scaled by the same ratio,
    so the schedule keeps its shape); the validation, checkpoint, logging and debug-image intervals
    become at most ``max_iters`` so that the shortened run still validates, saves and logs; the
    objectives' ``start_iter`` scale by the same ratio (an objective still starts before the end).
    (``train_cfg.max_iters=N`` instead only stops the run early, keeping schedule and intervals,
    i.e. it interrupts the configured run.)
    """
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ConfigError(f'--cfg-options max_iters={max_iters!r}: expected an integer >= 1')
    train_cfg = cfg.get('train_cfg') or {}
    old = train_cfg.get('max_iters')
    if not isinstance(old, int):
        raise ConfigError('--cfg-options max_iters: the config has no iteration-based train_cfg '
                          f'(train_cfg={dict(train_cfg)!r}); expected train_cfg.max_iters')
    ratio = max_iters / old
    changes = [f'train_cfg.max_iters {old} -> {max_iters}']
    train_cfg['max_iters'] = max_iters
    if 'max_iters' in cfg:
        cfg['max_iters'] = max_iters
    changes += _clip_interval(train_cfg, 'val_interval', 'train_cfg', max_iters)
    schedulers = cfg.get('param_scheduler') or []
    for i, sched in enumerate([schedulers] if isinstance(schedulers, dict) else schedulers):
        changes += _scale_scheduler(sched, f'param_scheduler[{i}]', old, ratio, max_iters)
    for name, hook in (cfg.get('default_hooks') or {}).items():
        changes += _clip_interval(hook, 'interval', f'default_hooks.{name}', max_iters)
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        changes += _clip_interval(hook, 'interval', f'custom_hooks[{i}] ({hook.get("type")})',
                                  max_iters)
    changes += _scale_start_iters(cfg, ratio, max_iters)
    return changes


def _scale_start_iters(cfg: Config, ratio: float, max_iters: int) -> List[str]:
    """Scale the objectives' ``start_iter`` (e.g. SePiCo's contrast from 3000 of 40000) with the run,
    so that a shortened run still trains every objective for the same share of its length."""
    changes = []
    for owner, path in ((cfg.get('uda'), 'uda'), (cfg.get('model'), 'model')):
        objectives = owner.get('objectives') if isinstance(owner, dict) else None
        for i, objective in enumerate(objectives if isinstance(objectives, list) else []):
            value = objective.get('start_iter') if isinstance(objective, dict) else None
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                continue
            new = min(_scaled(value, ratio, max_iters), max_iters - 1)
            if new != value:
                objective['start_iter'] = new
                changes.append(f'{path}.objectives[{i}] ({objective.get("type")}).start_iter '
                               f'{value} -> {new}')
    return changes


def _clip_interval(owner, key: str, path: str, max_iters: int) -> List[str]:
    """``owner[key] = min(owner[key], max_iters)``; the change as a line."""
    if not isinstance(owner, dict) or not isinstance(owner.get(key), int) or owner[key] <= max_iters:
        return []
    old, owner[key] = owner[key], max_iters
    return [f'{path}.{key} {old} -> {max_iters}']


def _scale_scheduler(sched, path: str, old: int, ratio: float, max_iters: int) -> List[str]:
    """Stretch one iteration-based scheduler config to the new run length."""
    if not isinstance(sched, dict) or sched.get('by_epoch', True) is not False:
        return []
    changes = []
    for key in SCHEDULE_LENGTH_KEYS + SCHEDULE_POINT_KEYS:
        value = sched.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value > 10 * old:
            continue            # absent, or an "until the end" sentinel such as end=INF
        new = max_iters if key in SCHEDULE_LENGTH_KEYS and value == old else \
            _scaled(value, ratio, max_iters)
        if key in SCHEDULE_LENGTH_KEYS:
            new = max(new, 1)
        if new != value:
            sched[key] = new
            changes.append(f'{path}.{key} {value} -> {new}')
    return changes


def compose_uda_model(cfg: Config) -> Config:
    """Wrap ``model`` in the top-level ``uda`` algorithm dict (DAFormer's config convention).

    A config that defines ``uda = dict(type='DACS', ...)`` trains ``dict(**uda, model=model)``; the
    plain segmentor stays available as ``model['model']`` for testing.  Composing twice is a no-op.
    """
    uda = cfg.get('uda')
    if uda is not None and 'model' not in cfg.model:
        cfg.model = dict(uda, model=cfg.model)
    return cfg


def segmentor_config(model_cfg: Dict) -> Dict:
    """The plain segmentor of a model config: ``model_cfg['model']`` for a UDA wrapper, else itself."""
    return model_cfg['model'] if 'model' in model_cfg else model_cfg


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config file stem>``."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def init_cpu_distributed(launcher: str) -> Optional[Dict]:
    """For ``--launcher pytorch`` without CUDA: start a gloo process group; return the DDP wrapper cfg.

    mmengine 0.10.7's launcher calls ``torch.cuda.set_device`` unconditionally (docs/design.md §1),
    so on CPU the group is created here, before the Runner, which then skips its own init.
    """
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available():
        return None
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise ConfigError(f'--launcher pytorch needs the torchrun environment; missing {missing} '
                           '(start with: torchrun --nproc_per_node N tools/train.py CONFIG '
                           '--launcher pytorch)')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    return dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)



def existing_checkpoints(work_dir: str) -> List[str]:
    """Checkpoint files (``*.pth`` and the ``last_checkpoint`` pointer) directly in ``work_dir``."""
    if not osp.isdir(work_dir):
        return []
    return sorted(n for n in os.listdir(work_dir) if n.endswith('.pth') or n == 'last_checkpoint')
