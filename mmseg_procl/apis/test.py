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
from mmseg_procl.evaluation.submissions import check_submission, describe_submission, submission_path
from .train import build_runner

EVAL_OPTION_KEYS = ('imgfile_prefix', 'to_label_id', 'submission')


def evaluator_config(eval_metrics, format_only: bool, eval_options: Dict) -> Dict:
    """IoUMetric config for ``--eval`` or ``--format-only`` (``imgfile_prefix``, ``to_label_id``)."""
    unknown = set(eval_options) - set(EVAL_OPTION_KEYS)
    if unknown:
        raise KeyError(f'--eval-options: unknown keys {sorted(unknown)}; expected {list(EVAL_OPTION_KEYS)}')
    to_label_id = eval_options.get('to_label_id', False)
    if not isinstance(to_label_id, bool):
        raise ValueError(f'--eval-options to_label_id={to_label_id!r}: expected True or False')
    metric = dict(type='IoUMetric', iou_metrics=list(eval_metrics or ['mIoU']))
    submission = eval_options.get('submission')
    if submission is not None and not format_only:
        raise ValueError(f'--eval-options submission={submission} needs --format-only (test labels are withheld)')
    if format_only:
        if 'imgfile_prefix' not in eval_options:
            raise KeyError('--format-only needs --eval-options imgfile_prefix=<output folder>')
        metric.update(format_only=True, output_dir=eval_options['imgfile_prefix'],
                      to_label_id=to_label_id)
        if submission is not None:
            submission_path(eval_options['imgfile_prefix'], submission)       # a bad kind fails here
            metric.update(submission=submission)
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


def use_test_split(cfg) -> str:
    """``--test-set``: the benchmark's test split instead of the validation split of the test dataloader.

    The path component ``val`` of ``test_dataloader.dataset.data_prefix.img_path`` becomes ``test`` (as
    the DAFormer family's ``--test-set``); labels are dropped (``seg_map_path`` and ``LoadAnnotations``),
    since test labels are withheld.  Returns the new image folder.
    """
    dataset = cfg.test_dataloader.dataset
    folder = (dataset.get('data_prefix') or {}).get('img_path', '')
    parts = folder.replace('\\', '/').split('/')
    if 'val' not in parts:
        raise ValueError(f'--test-set replaces the folder "val" of test_dataloader.dataset.data_prefix.img_path '
                         f'with "test", but it is {folder!r}; give the test images with --cfg-options '
                         'test_dataloader.dataset.data_prefix.img_path=...')
    folder = '/'.join('test' if p == 'val' else p for p in parts)
    dataset.data_prefix = dict(img_path=folder)
    dataset.pipeline = [t for t in dataset.pipeline if t.get('type') != 'LoadAnnotations']
    return folder


def build_test_config(config: str, checkpoint: str, eval_metrics=None, show_dir: Optional[str] = None,
                      opacity: float = 0.5, format_only: bool = False,
                      eval_options: Optional[Dict] = None, work_dir: Optional[str] = None,
                      cfg_options: Optional[Dict] = None, launcher: str = 'none', test_set: bool = False):
    """Load a config and set up the test loop, evaluator and output hooks."""
    if not (eval_metrics or format_only or show_dir):
        raise ValueError('nothing to do: give --eval mIoU, --format-only or --show-dir')
    if test_set and not format_only:
        raise ValueError('--test-set needs --format-only: the test labels are withheld, so the test split can '
                         'only be exported for the benchmark server')
    submission = (eval_options or {}).get('submission')
    if submission and launcher != 'none':
        raise ValueError(f'--eval-options submission={submission} writes one archive from one process; run '
                         'without --launcher (several processes would each write a share of the images)')
    if submission and format_only and 'imgfile_prefix' in (eval_options or {}):
        path = submission_path(eval_options['imgfile_prefix'], submission)
        if osp.exists(path):
            raise FileExistsError(f'{path} already exists; remove it or choose another imgfile_prefix')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    for flag, folder in (('--work-dir', work_dir), ('--show-dir', show_dir)):
        if folder and osp.exists(folder) and not osp.isdir(folder):
            raise ValueError(f'{flag} {folder} is a file; expected a folder (or a new path)')
    if not 0.0 < opacity <= 1.0:
        raise ValueError(f'--opacity must be in (0, 1], got {opacity!r}')
    cfg = read_test_config(config, cfg_options)
    if test_set:
        print(f'--test-set: predicting {use_test_split(cfg)} (labels withheld)')
    cfg.model = segmentor_config(cfg.model)
    cfg.work_dir = work_dir or default_test_log_dir(config, checkpoint)
    cfg.load_from, cfg.resume = None, False
    if show_dir and not (eval_metrics or format_only):
        cfg.test_evaluator = []         # only the colour maps: no metric, no labels needed
    else:
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
    metrics = runner.test()
    submission = (kwargs.get('eval_options') or {}).get('submission')
    if submission and kwargs.get('format_only'):
        dataset = runner.test_dataloader.dataset
        paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
        path = submission_path(kwargs['eval_options']['imgfile_prefix'], submission)
        print(describe_submission(path, submission, check_submission(path, submission, paths)))
    return metrics
