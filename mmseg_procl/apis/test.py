"""Testing entry point used by ``tools/test.py`` and ``test.sh``: evaluate the segmentor of a config.

As the DAFormer family's test tool (docs/checkpoints.md §2): the plain segmentor of the config is built (for
a UDA config its ``model`` entry) and the student weights of the checkpoint are loaded.  A dumped config
of the family's released models (mmseg 0.x ``.json`` / literal ``.py``) is translated first
(:mod:`mmseg_procl.apis.legacy_config`); ``--cfg-options`` may then address the legacy file's keys
(``data.test.data_root=...``) or this package's (``test_dataloader.dataset.data_root=...``).
"""
import os.path as osp
from typing import Dict, Optional

from mmseg_procl.engine.checkpoint_safety import register_checkpoint_safe_globals
from mmseg_procl.engine.runner import SafeRunner
from mmseg_procl.utils.checkpoint import load_checkpoint_file, load_segmentor_checkpoint
from .config_utils import init_cpu_distributed, load_config, segmentor_config
from .legacy_config import is_legacy_config, load_legacy_config
from .train import build_runner

EVAL_OPTION_KEYS = ('imgfile_prefix', 'to_label_id')


def evaluator_config(eval_metrics, format_only: bool, eval_options: Dict) -> Dict:
    """IoUMetric config for ``--eval`` or ``--format-only`` (``imgfile_prefix``, ``to_label_id``)."""
    unknown = set(eval_options) - set(EVAL_OPTION_KEYS)
    if unknown:
        raise KeyError(f'--eval-options: unknown keys {sorted(unknown)}; expected {list(EVAL_OPTION_KEYS)}')
    to_label_id = eval_options.get('to_label_id', False)
    if not isinstance(to_label_id, bool):
        raise ValueError(f'--eval-options to_label_id={to_label_id!r}: expected True or False')
    metric = dict(type='IoUMetric', iou_metrics=list(eval_metrics or ['mIoU']))
    if format_only:
        if 'imgfile_prefix' not in eval_options:
            raise KeyError('--format-only needs --eval-options imgfile_prefix=<output folder>')
        metric.update(format_only=True, output_dir=eval_options['imgfile_prefix'],
                      to_label_id=to_label_id)
    elif 'imgfile_prefix' in eval_options:
        metric.update(output_dir=eval_options['imgfile_prefix'], to_label_id=to_label_id)
    return metric


def read_test_config(config: str, cfg_options: Optional[Dict] = None):
    """This package's config, or the translation of a released model's dumped legacy config."""
    if not is_legacy_config(config):
        return load_config(config, cfg_options)
    translation = load_legacy_config(config, cfg_options)
    model = translation.config.model
    print(f'Legacy config {config} (mmseg 0.x) translated: {model["type"]} with '
          f'{model["backbone"]["type"]} and {model["decode_head"]["type"]}, test data '
          f'{translation.config.test_dataloader.dataset.type}; not used for testing: '
          + (', '.join(translation.unused) or 'nothing'))
    return translation.config


def default_test_log_dir(config: str, checkpoint: str) -> str:
    """``<checkpoint dir>/test``; for a released model ``<checkpoint dir>/preds/test_log``, so that
    nothing but ``preds/`` is written into a released folder."""
    folder = osp.dirname(osp.abspath(checkpoint))
    return osp.join(folder, 'preds', 'test_log') if is_legacy_config(config) else osp.join(folder, 'test')


def build_test_config(config: str, checkpoint: str, eval_metrics=None, show_dir: Optional[str] = None,
                      opacity: float = 0.5, format_only: bool = False,
                      eval_options: Optional[Dict] = None, work_dir: Optional[str] = None,
                      cfg_options: Optional[Dict] = None, launcher: str = 'none'):
    """Load a config and set up the test loop, evaluator and output hooks."""
    if not (eval_metrics or format_only or show_dir):
        raise ValueError('nothing to do: give --eval mIoU, --format-only or --show-dir')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    for flag, folder in (('--work-dir', work_dir), ('--show-dir', show_dir)):
        if folder and osp.exists(folder) and not osp.isdir(folder):
            raise ValueError(f'{flag} {folder} is a file; expected a folder (or a new path)')
    if not 0.0 < opacity <= 1.0:
        raise ValueError(f'--opacity must be in (0, 1], got {opacity!r}')
    cfg = read_test_config(config, cfg_options)
    cfg.model = segmentor_config(cfg.model)
    cfg.work_dir = work_dir or default_test_log_dir(config, checkpoint)
    cfg.load_from, cfg.resume = None, False
    cfg.test_evaluator = evaluator_config(eval_metrics, format_only, eval_options or {})
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') != 'PredictionWriterHook']
    if show_dir:
        hooks.append(dict(type='PredictionWriterHook', out_dir=show_dir, opacity=opacity))
    cfg.custom_hooks = hooks
    cfg.launcher = launcher
    wrapper = init_cpu_distributed(launcher)
    if wrapper is not None:
        cfg.model_wrapper_cfg = wrapper
    return cfg


def test(config: str, checkpoint: str, **kwargs) -> Dict:
    """Evaluate ``checkpoint`` with ``config``'s test split; return the metrics."""
    register_checkpoint_safe_globals()
    cfg = build_test_config(config, checkpoint, **kwargs)
    weights = load_checkpoint_file(checkpoint)          # a bad file is refused before any work
    runner = build_runner(cfg, config)
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    load_segmentor_checkpoint(model, checkpoint, checkpoint=weights)
    return runner.test()
