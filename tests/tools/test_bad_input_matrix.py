"""The bad-input and fault matrix: every case a user can hit, with what the package must do instead
of failing silently or losing work.  Inputs (data trees, configs, checkpoints, weight files) are
generated here; each case is one parametrised entry of ``test_case``.

Cases (what the tools must do):
  size_mismatch_converter     converter lists labels whose size differs from their image
  size_mismatch_evaluation    evaluation dataset refuses them, naming the files
  size_mismatch_training      training dataset warns once, names them, resizes to the image
  label_changed_after_scan    an unannounced mismatch at load time is an error naming both files
  diverging_run               loss above the bound: exit 1, iteration and terms named, no checkpoint
  nan_run                     non-finite loss: exit 1 naming the iteration; saved weights are finite
  nan_weights_never_saved     a checkpoint with NaN weights is refused
  hook_argument_typo          default_hooks.checkpoint.intervall: error before any work
  top_level_typos             randomnes= / train_cgf= / lr_config= in a config file: named with the fix
  nested_typos                train_cfg.max_iter, a backbone argument, a transform name
  unreadable_config           a config with a syntax error or a missing _base_ file: named
  values_and_specs            legacy optimizer key, test_cfg / norm_cfg / init_cfg / clip_grad /
                              custom_keys keys, zero lengths and intervals, bad seed / lr / alpha,
                              helper-variable overrides, max_iters with --resume, to_label_id=no,
                              a class count unlike the dataset's
  refused_resume_keeps_config  a refused --resume leaves the work dir's dumped config as it was
  overwrite_sets_aside        --overwrite moves the previous run's files into previous_<time>/
  other_models_checkpoint     a checkpoint with weights the model lacks (e.g. CLIP fusion): error
  uda_on_plain_data           a UDA algorithm on a plain dataset: named, not 'error: source'
  test_sh_anywhere            sh test.sh from another folder, on a copied work dir: its own files
  partial_checkpoint          evaluating a checkpoint lacking weights of the model: error with the list
  foreign_checkpoint          a checkpoint of another model: error
  existing_work_dir           training into a work dir with checkpoints: refused, nothing touched
  resume_nothing              --resume without a checkpoint: error
  kill_during_save            kill -9 while saving: no truncated file, previous checkpoints intact
  truncated_resume            --resume of a truncated file: one clear line, no traceback
  resume_without_init_files   --resume works after the CLIP / MiT / FD weight files are gone
  two_rank_bn_consistency     2 gloo ranks: logged validation == tools/test.py on the checkpoint
  no_labelled_pixels          evaluating a split without labels: error pointing to --format-only
  worker_error_one_line       an unknown label id in a worker: one line, no traceback
  corrupt_image_named         a corrupt image: one line naming it
  empty_split_file            an empty split file is named
  demo_progress_interval      demo configs log progress (with ETA) at least every 10 iterations
  console_digest              no frozen-parameter flood, one random-CLIP banner, progress line,
                              a custom_keys entry that matches no parameter is named
  short_comparison            the closing comparison is a few short lines
  docs_references             no reference to files outside the repository; docs sections exist
  readme_newcomer_notes       README: unique headings, time, size, CPU-only install, shortening
  max_iters_override          max_iters=N drives schedule, intervals and objective start iterations
"""
import glob
import hashlib
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg_procl.errors import CheckpointError, ConfigError, TrainingDivergedError
import tool_runs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, 'tests', 'fixtures')
TINY = os.path.join(FIXTURES, 'tiny_synthetic.py')
TINY_CLIP = os.path.join(FIXTURES, 'tiny_clip_procl.py')
ENV = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')


# ----------------------------------------------------------------------------------- helpers
def cli(*args, timeout=300):
    """Run a command of the repository; return the completed process."""
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def assert_ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def assert_one_line_error(proc, tool, *needles):
    """Exit 1; the last stderr line is '<tool>: error: ...' holding every needle; no traceback."""
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith(f'{tool}: error: '), proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert sum(line.startswith(f'{tool}: error:') for line in lines) == 1
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


def write_config(path, text):
    path.write_text(text)
    return str(path)


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


logged = tool_runs.logged_entries          # {iter or step: entry} of the lines holding a key


def write_label_tree(root, n=3, size=(64, 32), label_value=None, seed=0):
    """GTA5-style tree: images/<i>.png and labels/<i>_labelTrainIds.png (train ids)."""
    rng = np.random.default_rng(seed)
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    for i in range(n):
        w, h = size
        cv2.imwrite(str(root / 'images' / f'{i:05d}.png'), rng.integers(0, 255, (h, w, 3), np.uint8))
        label = rng.integers(0, 19, (h, w)).astype(np.uint8) if label_value is None else \
            np.full((h, w), label_value, np.uint8)
        cv2.imwrite(str(root / 'labels' / f'{i:05d}_labelTrainIds.png'), label)
    return root


def gta_dataset(root, test_mode, load_image=True):
    from mmseg_procl.datasets import GTADataset
    pipeline = ([dict(type='LoadImageFromFile')] if load_image else []) + \
        [dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    return GTADataset(data_root=str(root), data_prefix=dict(img_path='images', seg_map_path='labels'),
                      pipeline=pipeline, test_mode=test_mode)


class LogRecords:
    """Collect the records of the current MMLogger."""

    def __enter__(self):
        import logging
        from mmengine.logging import MMLogger
        self.records, self.logger = [], MMLogger.get_current_instance()
        self.handler = logging.Handler()
        self.handler.emit = self.records.append
        self.logger.addHandler(self.handler)
        return self.records

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A finished tiny source-only run (checkpoints at iterations 2 and 4)."""
    work_dir = tmp_path_factory.mktemp('trained')
    assert_ok(cli('tools/train.py', TINY, '--work-dir', str(work_dir)))
    return work_dir


# ----------------------------------------------------------------------------------- cases
def case_size_mismatch_converter(tmp_path, trained):
    from PIL import Image
    root = tmp_path / 'gta'
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    for name, label_hw in (('00001', (10, 14)), ('00002', (12, 14))):
        cv2.imwrite(str(root / 'images' / f'{name}.png'), np.zeros((10, 14, 3), np.uint8))
        Image.fromarray(np.full(label_hw, 7, np.uint8), mode='L').convert('P').save(
            root / 'labels' / f'{name}.png')
    out = assert_ok(cli('tools/convert_datasets/gta.py', str(root)))
    assert '1 label files differ in size from their images' in out
    assert f'{root}/labels/00002.png (14x12) vs {root}/images/00002.png (14x10)' in out
    assert '00001.png (' not in out


def case_size_mismatch_evaluation(tmp_path, trained):
    root = write_label_tree(tmp_path / 'gta')
    cv2.imwrite(str(root / 'labels' / '00001_labelTrainIds.png'), np.zeros((30, 64), np.uint8))
    with pytest.raises(ValueError, match=r'1 of 3 label maps differ in size[\s\S]*00001_labelTrainIds'
                                         r'\.png \(64x30\) vs .*00001\.png \(64x32\)'):
        gta_dataset(root, test_mode=True)


def case_size_mismatch_training(tmp_path, trained):
    root = write_label_tree(tmp_path / 'gta')
    cv2.imwrite(str(root / 'labels' / '00001_labelTrainIds.png'), np.full((16, 32), 3, np.uint8))
    with LogRecords() as records:
        dataset = gta_dataset(root, test_mode=False)
    warnings = [r.getMessage() for r in records if 'differ in size' in r.getMessage()]
    assert len(warnings) == 1 and '00001_labelTrainIds.png (32x16)' in warnings[0]
    label = dataset[1]['data_samples'].gt_sem_seg.data
    assert tuple(label.shape) == (1, 32, 64) and int((label == 3).sum()) == 32 * 64
    assert tuple(dataset[0]['data_samples'].gt_sem_seg.data.shape) == (1, 32, 64)


def case_label_changed_after_scan(tmp_path, trained):
    root = write_label_tree(tmp_path / 'gta')
    dataset = gta_dataset(root, test_mode=False)
    cv2.imwrite(str(root / 'labels' / '00002_labelTrainIds.png'), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r'00002_labelTrainIds\.png is 8x8 but its image .*00002\.png '
                                         r'is 64x32'):
        dataset[2]


def case_diverging_run(tmp_path, trained):
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path),
               '--cfg-options', 'optim_wrapper.optimizer.lr=1000')
    assert_one_line_error(proc, 'train.py', 'training diverged at iteration 3',
                          'above max_loss=10000', 'decode.loss_seg=', 'last good iteration: 2',
                          f'{tmp_path}/iter_2.pth holds the weights that produced this loss, so '
                          'last_checkpoint is removed')
    assert sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / '*.pth'))) == ['iter_2.pth']
    assert not (tmp_path / 'last_checkpoint').exists()     # --resume / test.sh will not pick it
    assert not logged(tmp_path, 'mIoU')                     # never evaluated
    every = tmp_path / 'every'                               # a checkpoint after every iteration
    proc = cli('tools/train.py', TINY, '--work-dir', str(every), '--cfg-options',
               'optim_wrapper.optimizer.lr=1000', 'default_hooks.checkpoint.interval=1')
    assert_one_line_error(proc, 'train.py', 'training diverged at iteration 3',
                          f'{every}/iter_2.pth holds the weights that produced this loss, so '
                          f'last_checkpoint now points to {every}/iter_1.pth')
    assert (every / 'last_checkpoint').read_text() == f'{every}/iter_1.pth'


def case_nan_run(tmp_path, trained):
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path), '--cfg-options',
               'optim_wrapper.optimizer.lr=1000', 'default_hooks.loss_guard.max_loss=None')
    assert_one_line_error(proc, 'train.py', 'training diverged at iteration 4',
                          "non-finite loss terms ['decode.loss_seg', 'loss']",
                          f'last checkpoint: {tmp_path}/iter_2.pth')   # followed by a finite step
    for path in glob.glob(str(tmp_path / '*.pth')):
        state = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), path
    assert not logged(tmp_path, 'mIoU')


def case_nan_weights_never_saved(tmp_path, trained):
    from types import SimpleNamespace
    from mmengine.logging import MessageHub
    from mmseg_procl.engine.hooks import LossGuardHook
    from mmseg_procl.engine.hooks.loss_guard_hook import loss_values
    outputs = {'loss': torch.tensor(float('nan')), 'src.loss_ce': torch.tensor(2.0),
               'src.acc_seg': torch.tensor(50.0)}
    values = loss_values(outputs)                                   # read from the tensors
    assert sorted(values) == ['loss', 'src.loss_ce'] and values['src.loss_ce'] == 2.0
    hub = MessageHub.get_instance('loss_guard_case')
    for key, value in (('loss', 7.0), ('src.loss_ce', 3.0)):
        hub.update_scalar(f'train/{key}', value)
    assert loss_values(outputs, hub) == {'loss': 7.0, 'src.loss_ce': 3.0}   # the host copies
    runner = SimpleNamespace(iter=6, work_dir=str(tmp_path))
    hook = LossGuardHook()
    hook.before_save_checkpoint(runner, {'state_dict': {'a': torch.ones(2), 'n': torch.tensor([1])}})
    with pytest.raises(TrainingDivergedError, match=r'iteration 7: the weights hold NaN / inf values '
                                                    r'\(b\.weight\); the checkpoint was not written'):
        hook.before_save_checkpoint(runner, {'state_dict': {'a': torch.ones(2),
                                                            'b.weight': torch.tensor([0., float('inf')])}})


def case_hook_argument_typo(tmp_path, trained):
    start = time.time()
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path / 'w'),
               '--cfg-options', 'default_hooks.checkpoint.intervall=2')
    assert_one_line_error(proc, 'train.py', "default_hooks.checkpoint: CheckpointHook has no argument "
                                            "'intervall'; did you mean 'interval'?")
    assert not (tmp_path / 'w').exists() and time.time() - start < 60       # before any work


def case_top_level_typos(tmp_path, trained):
    from mmseg_procl.apis.config_utils import load_config
    path = write_config(tmp_path / 'typo.py', f"_base_ = [{TINY!r}]\nrandomnes = dict(seed=3)\n"
                                              "train_cgf = dict(max_iters=1)\nlr_config = dict()\n"
                                              "crop_ratio = 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "typo.py: 3 problems in the config" in text and 'crop_ratio' not in text     # a helper variable is fine
    assert "top-level key 'randomnes' is not read by the runner and looks like a misspelling of " \
           "'randomness'" in text
    assert "'train_cgf' is not read by the runner and looks like a misspelling of 'train_cfg'" in text
    assert "'lr_config' is an mmseg 0.x key that this package (mmengine) does not read; use " \
           "param_scheduler" in text


def case_nested_typos(tmp_path, trained):
    from mmseg_procl.apis.config_utils import load_config
    options = {'train_cfg.max_iter': 2, 'model.backbone.drop_path_rat': 0.1,
               'train_dataloader.dataset.pipeline': [dict(type='RandomFlp', prob=0.5)]}
    with pytest.raises(ConfigError) as err:
        load_config(TINY, options)
    lines = str(err.value).splitlines()
    assert len(lines) == 4, lines                  # a header line, then one line per problem
    assert any("train_cfg: ResumableIterBasedTrainLoop has no argument 'max_iter'; did you mean "
               "'max_iters'?" in x for x in lines)
    assert any("model.backbone: mit_b0 has no argument 'drop_path_rat'; did you mean "
               "'drop_path_rate'?" in x for x in lines)
    assert any("pipeline[0]: type 'RandomFlp' is not a registered transform; did you mean "
               "'RandomFlip'?" in x for x in lines)
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path / 'w'),
               '--cfg-options', 'train_cfg.max_iter=2')
    assert_one_line_error(proc, 'train.py', "did you mean 'max_iters'?")


def case_unreadable_config(tmp_path, trained):
    from mmseg_procl.apis.config_utils import load_config
    broken = write_config(tmp_path / 'broken.py', 'model = dict(\n')
    with pytest.raises(ConfigError, match=r'config .*broken\.py could not be read: SyntaxError'):
        load_config(broken)
    orphan = write_config(tmp_path / 'orphan.py', "_base_ = ['missing_base.py']\n")
    with pytest.raises(ConfigError, match=r'orphan\.py could not be read: FileNotFoundError.*'
                                          r'missing_base\.py'):
        load_config(orphan)


def case_values_and_specs(tmp_path, trained):
    from mmseg_procl.apis.config_utils import load_config
    from mmseg_procl.apis.test import evaluator_config
    from mmseg_procl.apis.train import build_train_config
    legacy = write_config(tmp_path / 'legacy.py', f"_base_ = [{TINY!r}]\noptimizer = dict(type='SGD')\n")
    with pytest.raises(ConfigError, match="'optimizer' is an mmseg 0.x key .* use optim_wrapper"):
        load_config(legacy)
    cases = {
        'model.test_cfg.mod': ('slide', "model.test_cfg: unknown key 'mod'; did you mean 'mode'?"),
        'model.decode_head.norm_cfg.requires_gradd': (False, "model.decode_head.norm_cfg: "
                                                      "BatchNorm2d has no argument 'requires_gradd'"),
        'model.backbone.init_cfg': (dict(checkpoint='x.pth'), 'model.backbone.init_cfg: no type given'),
        'optim_wrapper.clip_grad': (dict(max_normm=1), "optim_wrapper.clip_grad: unknown key "
                                                       "'max_normm'; did you mean 'max_norm'?"),
        'optim_wrapper.paramwise_cfg.custom_keys.head.lr_mul': (
            10, "custom_keys.head: unknown key 'lr_mul'; did you mean 'lr_mult'?"),
        'train_cfg.max_iters': (0, 'train_cfg.max_iters: expected an integer >= 1, got 0'),
        'train_cfg.val_interval': (0, 'train_cfg.val_interval: expected an integer >= 1, got 0'),
        'default_hooks.logger.interval': (0, 'default_hooks.logger.interval: expected an integer >= 1'),
        'randomness.seed': ('abc', "randomness.seed: expected an integer or None, got 'abc'"),
        'optim_wrapper.optimizer.lr': (-1, 'optim_wrapper.optimizer.lr: expected a number > 0, got -1'),
        'crop_size': ((16, 16), "'crop_size' is a helper variable of"),
    }
    for key, (value, message) in cases.items():
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(TINY, {key: value})
    with pytest.raises(ConfigError, match='max_iters cannot change the length of a resumed run'):
        build_train_config(TINY, str(trained), resume=True, cfg_options={'max_iters': 8})
    with pytest.raises(ValueError, match=r"to_label_id='no': expected True or False"):
        evaluator_config(['mIoU'], True, dict(imgfile_prefix='x', to_label_id='no'))
    (tmp_path / 'file').write_text('')
    with pytest.raises(ValueError, match='is a file; expected a folder'):
        build_train_config(TINY, str(tmp_path / 'file'))
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path / 'w'),
               '--cfg-options', 'model.decode_head.num_classes=18')
    assert_one_line_error(proc, 'train.py', 'the model predicts 18 classes but train_dataloader.dataset '
                                            '(SyntheticDrivingDataset) has 19')
    assert not glob.glob(str(tmp_path / 'w' / '*.py'))        # nothing dumped for a refused run
    from mmseg_procl.uda import DACS
    cfg = Config.fromfile(os.path.join(FIXTURES, 'tiny_dacs.py'))
    with pytest.raises(ValueError, match=r'EMATeacher: alpha must be a number in \[0, 1\], got 2'):
        DACS(model=cfg.model, teacher=dict(alpha=2))


def case_refused_resume_keeps_config(tmp_path, trained):
    before = {p: sha(p) for p in glob.glob(str(trained / '*.py'))}
    proc = cli('tools/train.py', os.path.join(FIXTURES, 'tiny_dacs.py'), '--work-dir', str(trained),
               '--resume')
    assert_one_line_error(proc, 'train.py', 'the checkpoint does not match the model of this config')
    assert {p: sha(p) for p in glob.glob(str(trained / '*.py'))} == before      # nothing dumped


def case_overwrite_sets_aside(tmp_path, trained):
    import shutil
    work_dir = tmp_path / 'w'
    shutil.copytree(trained, work_dir)
    old = sha(work_dir / 'iter_4.pth')
    out = assert_ok(cli('tools/train.py', TINY, '--work-dir', str(work_dir), '--overwrite',
                        '--cfg-options', 'max_iters=2'))
    aside = glob.glob(str(work_dir / 'previous_*'))
    assert len(aside) == 1 and f'--overwrite: moved the previous run' in out
    assert sorted(os.listdir(aside[0])) == ['iter_2.pth', 'iter_4.pth', 'last_checkpoint',
                                            'tiny_synthetic.py']
    assert sha(os.path.join(aside[0], 'iter_4.pth')) == old                 # kept, not deleted
    assert sorted(os.path.basename(p) for p in glob.glob(str(work_dir / '*.pth'))) == ['iter_2.pth']


def case_other_models_checkpoint(tmp_path, trained):
    from mmseg_procl.registry import MODELS
    from mmseg_procl.utils import load_segmentor_checkpoint, register_all_modules
    register_all_modules()
    ckpt = torch.load(trained / 'iter_4.pth', map_location='cpu', weights_only=True)
    ckpt['state_dict'].update({'filter.weight': torch.zeros(1, 256, 1, 1), 'filter.bias': torch.zeros(1),
                               'auxiliary_head.conv_seg.weight': torch.zeros(19, 8, 1, 1)})
    torch.save(ckpt, tmp_path / 'clip_like.pth')
    model = MODELS.build(Config.fromfile(TINY).model)
    with pytest.raises(CheckpointError, match=r'holds 2 weights that the model of this config does not '
                                              r'have: filter\.weight, filter\.bias'):
        load_segmentor_checkpoint(model, str(tmp_path / 'clip_like.pth'))


def case_uda_on_plain_data(tmp_path, trained):
    from mmseg_procl.errors import describe_error, is_user_error
    from mmseg_procl.uda.source_only import require_branches
    with pytest.raises(KeyError) as err:
        require_branches({'inputs': 0, 'data_samples': []}, ('source', 'target'), 'DACS')
    assert is_user_error(err.value) and describe_error(err.value).startswith(
        "DACS trains on batches with the domain branches ['source', 'target'], but the training batch "
        "has ['data_samples', 'inputs']: use train_dataloader.dataset=dict(type='UDADataset'")
    assert not is_user_error(KeyError('source'))         # a bare lookup error keeps its traceback


def case_test_sh_anywhere(tmp_path, trained):
    import shutil
    copy = tmp_path / 'copy'
    shutil.copytree(trained, copy)
    shutil.copy(trained / 'iter_2.pth', copy / 'iter_4.pth')     # the copy's own (different) weights
    out = subprocess.run(['sh', os.path.join(REPO, 'test.sh'), str(copy)], cwd=str(tmp_path),
                         capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f'Checkpoint: {copy}/iter_4.pth' in out.stdout
    assert len(os.listdir(copy / 'preds')) == 3
    bad = subprocess.run(['sh', os.path.join(REPO, 'test.sh'), str(copy / 'iter_4.pth')],
                         capture_output=True, text=True, env=ENV)
    assert bad.returncode == 2 and 'is a file; expected a work dir' in bad.stderr


def case_partial_checkpoint(tmp_path, trained):
    ckpt = torch.load(trained / 'iter_4.pth', map_location='cpu', weights_only=True)
    ckpt['state_dict'] = {k: v for k, v in ckpt['state_dict'].items()
                          if not k.startswith('decode_head.fuse_layer')}
    torch.save(ckpt, tmp_path / 'partial.pth')
    proc = cli('tools/test.py', TINY, str(tmp_path / 'partial.pth'), '--eval', 'mIoU',
               '--work-dir', str(tmp_path / 't'))
    # fuse layer: branch 0 (conv + 5 BN tensors) + 3 separable branches (2 x 6) + bottleneck (6) = 48
    line = assert_one_line_error(proc, 'test.py', 'partial.pth', 'lacks 48 of the',
                                 'decode_head.fuse_layer.aspp_modules.0.conv.weight')
    assert '(28 more)' in line                     # 20 listed by name


def case_foreign_checkpoint(tmp_path, trained):
    torch.save({'state_dict': {f'layer{i}.weight': torch.zeros(3) for i in range(5)}},
               tmp_path / 'foreign.pth')
    proc = cli('tools/test.py', TINY, str(tmp_path / 'foreign.pth'), '--eval', 'mIoU',
               '--work-dir', str(tmp_path / 't'))
    assert_one_line_error(proc, 'test.py', 'foreign.pth', 'none of its 5 keys match the model')


def case_existing_work_dir(tmp_path, trained):
    before = {p: sha(p) for p in glob.glob(str(trained / '*')) if os.path.isfile(p)}
    proc = cli('tools/train.py', TINY, '--work-dir', str(trained))
    assert_one_line_error(proc, 'train.py', f'work dir {trained} already holds checkpoints',
                          'iter_2.pth', '--resume', '--overwrite')
    assert {p: sha(p) for p in glob.glob(str(trained / '*')) if os.path.isfile(p)} == before
    proc = cli('tools/train.py', TINY, '--work-dir', str(trained), '--resume', '--overwrite')
    assert proc.returncode == 2 and 'give one' in proc.stderr


def case_resume_nothing(tmp_path, trained):
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path), '--resume')
    assert_one_line_error(proc, 'train.py', f'--resume: nothing to resume in {tmp_path}')
    assert not glob.glob(str(tmp_path / '*'))


KILL_SCRIPT = '''
import runpy, sys, time
from mmengine.fileio.backends import local_backend
original = local_backend.LocalBackend.put
def slow_put(self, obj, filepath):
    if 'iter_4' in str(filepath):             # the second checkpoint: half written, then killed
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
        print('HALF-WRITTEN', flush=True)
        time.sleep(600)
    return original(self, obj, filepath)
local_backend.LocalBackend.put = slow_put
sys.argv = ['tools/train.py'] + sys.argv[1:]
runpy.run_path('tools/train.py', run_name='__main__')
'''


def case_kill_during_save(tmp_path, trained):
    work_dir = tmp_path / 'w'
    proc = subprocess.Popen([sys.executable, '-c', KILL_SCRIPT, TINY, '--work-dir', str(work_dir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ENV, start_new_session=True)
    try:
        deadline = time.time() + 240
        for line in proc.stdout:
            if 'HALF-WRITTEN' in line or time.time() > deadline:
                break
        os.killpg(proc.pid, signal.SIGKILL)               # kill -9 the run (and its workers)
    finally:
        proc.wait(timeout=60)
    assert not (work_dir / 'iter_4.pth').exists()         # no truncated checkpoint under its name
    assert torch.load(work_dir / 'iter_2.pth', map_location='cpu', weights_only=True)['meta']['iter'] == 2
    with open(work_dir / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_2.pth')
    out = assert_ok(cli('tools/train.py', TINY, '--work-dir', str(work_dir), '--resume'))
    assert 'resumed epoch: 0, iter: 2' in out and (work_dir / 'iter_4.pth').is_file()
    out = assert_ok(cli('tools/train.py', TINY, '--work-dir', str(work_dir), '--resume'))
    assert 'the resumed checkpoint is at iteration 4, the run ends at max_iters=4: nothing is left ' \
           'to train' in out


def case_truncated_resume(tmp_path, trained):
    data = (trained / 'iter_4.pth').read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 3])
    proc = cli('tools/train.py', TINY, '--work-dir', str(tmp_path / 'w'),
               '--resume', str(tmp_path / 'cut.pth'))
    assert_one_line_error(proc, 'train.py', f'checkpoint {tmp_path}/cut.pth is truncated or not a '
                                            'PyTorch checkpoint')


INIT_FILES_CONFIG = '''
_base_ = [{base!r}]
model = dict(clip_weights={clip!r}, backbone=dict(pretrained={mit!r}))
uda = dict(objectives=[
    dict(type='PrototypeContrast', prototypes=dict(type='CLIPTextPrototypes'), temperature=1.0,
         scale_min_ratio=0.75, loss_weight=1.0, use_weights=False, stages=('source', 'mixed')),
    dict(type='PromptLearning', loss_weight=0.5, stages=('source', 'mixed')),
    dict(type='ImageNetFeatureDistance', lambda_fd=0.005, stages=('source', ))])
'''


def case_resume_without_init_files(tmp_path, trained):
    from open_clip.model import CLIP
    from mmseg_procl.models.backbones import mit_b0
    torch.manual_seed(0)
    clip = CLIP(256, dict(layers=(1, 1, 1, 1), width=32, image_size=224),
                dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2))
    torch.save(clip.state_dict(), tmp_path / 'clip.pth')
    torch.save(mit_b0().state_dict(), tmp_path / 'mit_b0.pth')
    config = write_config(tmp_path / 'cfg.py', INIT_FILES_CONFIG.format(
        base=TINY_CLIP, clip=str(tmp_path / 'clip.pth'), mit=str(tmp_path / 'mit_b0.pth')))
    work_dir = tmp_path / 'w'
    out = assert_ok(cli('tools/train.py', config, '--work-dir', str(work_dir),
                        '--cfg-options', 'train_cfg.max_iters=2'))
    assert 'CLIP weights loaded from' in out and 'src.loss_imnet_feat_dist' in out
    os.remove(tmp_path / 'clip.pth')
    os.remove(tmp_path / 'mit_b0.pth')
    out = assert_ok(cli('tools/train.py', config, '--work-dir', str(work_dir), '--resume'))
    assert 'initial (pretrained) weight files are not read' in out
    assert sorted(logged(work_dir, 'src.loss')) == [1, 2, 3, 4]


def case_two_rank_bn_consistency(tmp_path, trained):
    out = assert_ok(cli('-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', tool_runs.free_port(),
                        'tools/train.py', TINY, '--launcher', 'pytorch', '--work-dir', str(tmp_path)))
    assert 'world size 2' in out
    ckpt = torch.load(tmp_path / 'iter_4.pth', map_location='cpu', weights_only=True)
    assert len(ckpt['rng_states']) == 2 and ckpt['meta']['iter'] == 4     # one RNG state per rank
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])     # unwrapped from DDP
    during = logged(tmp_path, 'mIoU')[4]
    test = assert_ok(cli('tools/test.py', TINY, str(tmp_path / 'iter_4.pth'), '--eval', 'mIoU',
                         '--work-dir', str(tmp_path / 't')))
    line = [x for x in test.splitlines() if 'Iter(test)' in x and 'mIoU:' in x][-1]
    for key in ('aAcc', 'mIoU', 'mAcc', 'IoU.road', 'IoU.car', 'IoU.vegetation'):
        value = float(re.search(rf'{re.escape(key)}: ([0-9.]+)', line).group(1))
        assert value == during[key], (key, value, during[key])


def case_no_labelled_pixels(tmp_path, trained):
    root = write_label_tree(tmp_path / 'unlabelled', label_value=255)
    config = write_config(tmp_path / 'cfg.py', f'''_base_ = [{TINY!r}]
test_dataloader = dict(dataset=dict(
    _delete_=True, type='GTADataset', data_root={str(root)!r},
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
''')
    proc = cli('tools/test.py', config, str(trained / 'iter_4.pth'), '--eval', 'mIoU',
               '--work-dir', str(tmp_path / 't'))
    assert_one_line_error(proc, 'test.py', 'the 3 evaluated images have no labelled pixel',
                          '--format-only --eval-options imgfile_prefix=DIR')
    out = assert_ok(cli('tools/test.py', config, str(trained / 'iter_4.pth'), '--format-only',
                        '--eval-options', f'imgfile_prefix={tmp_path / "png"}',
                        '--work-dir', str(tmp_path / 't')))
    assert 'nan' not in out.lower().split('predictions written')[0][-300:]
    assert len(os.listdir(tmp_path / 'png')) == 3


def training_config(tmp_path, root):
    return write_config(tmp_path / 'cfg.py', f'''_base_ = [{TINY!r}]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='GTADataset', data_root={str(root)!r},
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
''')


def case_worker_error_one_line(tmp_path, trained):
    root = write_label_tree(tmp_path / 'gta', n=2)
    cv2.imwrite(str(root / 'labels' / '00001_labelTrainIds.png'), np.full((32, 64), 99, np.uint8))
    proc = cli('tools/train.py', training_config(tmp_path, root), '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'train.py', f'label file {root}/labels/00001_labelTrainIds.png '
                                            'contains unknown label ids [99]',
                          '(raised in DataLoader worker process 0)')


def case_corrupt_image_named(tmp_path, trained):
    root = write_label_tree(tmp_path / 'gta', n=2)
    (root / 'images' / '00000.png').write_bytes(b'not a png')
    proc = cli('tools/train.py', training_config(tmp_path, root), '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'train.py', f'could not read the size of {root}/images/00000.png')


def case_empty_split_file(tmp_path, trained):
    from mmseg_procl.datasets import CityscapesDataset
    (tmp_path / 'leftImg8bit' / 'val').mkdir(parents=True)
    (tmp_path / 'val.txt').write_text('\n')
    with pytest.raises(ValueError, match=r"split file '.*val\.txt' lists no images"):
        CityscapesDataset(data_root=str(tmp_path), ann_file='val.txt',
                          data_prefix=dict(img_path='leftImg8bit/val'))
    (tmp_path / 'val.txt').write_text('aachen/aachen_000000_000019\n')
    with pytest.raises(FileNotFoundError, match=r"val\.txt' lists 1 images that do not exist"):
        CityscapesDataset(data_root=str(tmp_path), ann_file='val.txt',
                          data_prefix=dict(img_path='leftImg8bit/val'))


def case_demo_progress_interval(tmp_path, trained):
    for path in glob.glob(os.path.join(REPO, 'configs', 'demo', '*.py')):
        cfg = Config.fromfile(path)
        assert cfg.default_hooks.logger.interval <= 10, path


def case_console_digest(tmp_path, trained):
    out = assert_ok(cli('tools/train.py', TINY_CLIP, '--work-dir', str(tmp_path), '--cfg-options',
                        'max_iters=2', 'default_hooks.logger.interval=2',
                        'optim_wrapper.paramwise_cfg.custom_keys.haed.lr_mult=10'))
    assert "custom_keys ['haed'] match no parameter name of this model: they have no effect" in out
    assert out.count('RANDOMLY INITIALISED') == 1
    assert 'is skipped since' not in out and 'paramwise_options' not in out
    assert 'System environment' not in out and '\nConfig:' not in out
    assert re.search(r'optimizer: \d+ frozen parameter tensors are not optimised: ema_model \(\d+\), '
                     r'model\.clip \(\d+\), model\.text \(\d+\)', out)
    assert re.search(r'Iter\(train\) \[2/2\].*eta: ', out)
    log = glob.glob(str(tmp_path / '*' / '*.log'))[0]
    with open(log) as f:
        text = f.read()
    assert 'System environment' in text and 'Config:' in text     # the detail is in the log file


def case_short_comparison(tmp_path, trained):
    from mmseg_procl.evaluation.run_results import comparison_lines, read_recorded_results
    path = os.path.join(REPO, 'configs', 'demo', 'results_synthetic.json')
    lines = comparison_lines(str(trained), read_recorded_results(path), 'configs/demo/results_synthetic.json')
    assert len(lines) == 14 and all(len(line) <= 110 for line in lines), lines     # 12 recorded demos
    assert 'work_dirs' not in '\n'.join(lines)
    assert lines[0].endswith('(recorded at 200, 400 iterations):')   # the tiny run is 4 iterations
    assert lines[1].split()[:7] == ['this', 'run', '(tiny_synthetic,', 'seed', '0,', '4',
                                    'iterations)']


def case_docs_references(tmp_path, trained):
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=REPO,
                           capture_output=True, text=True).stdout.split()
    cited = set()
    for name in files:
        if not name.endswith(('.py', '.md', '.sh')) or not os.path.isfile(os.path.join(REPO, name)):
            continue
        with open(os.path.join(REPO, name), encoding='utf-8') as f:
            text = f.read()
        outside = re.findall(r'\b(?:METHODS|DESIGN)\.md', text)
        assert not outside, (name, outside)       # internal files users never see
        cited |= set(re.findall(r'docs/(\w+\.md) §(\d+(?:\.\d+)*)', text))
    assert len(cited) > 20
    for doc, section in cited:
        path = os.path.join(REPO, 'docs', doc)
        with open(path, encoding='utf-8') as f:
            headings = re.findall(r'^#+ (\d+(?:\.\d+)*)\.? ', f.read(), flags=re.M)
        assert section in headings, (doc, section)


def case_readme_newcomer_notes(tmp_path, trained):
    with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    headings = re.findall(r'^#+ .*$', readme, flags=re.M)
    assert len(headings) == len(set(headings)) and '## Training and testing## ' not in readme
    for needle in ('max_iters=', 'download.pytorch.org/whl/cpu', 'MB per checkpoint', 'docs/methods.md',
                   'within the first minute'):
        assert needle in readme, needle


def case_max_iters_override(tmp_path, trained):
    from mmseg_procl.apis.config_utils import load_config
    cfg = load_config(os.path.join(REPO, 'configs', 'daformer', 'daformer_mitb5_1xb2-40k_gta2cs-512x512.py'),
                      {'max_iters': 100})
    assert cfg.train_cfg.max_iters == 100 and cfg.train_cfg.val_interval == 100
    sched = cfg.param_scheduler[0]
    assert (sched.total_iters, sched.warmup_iters) == (100, 4)            # 1500 / 40000 of the run
    assert cfg.default_hooks.checkpoint.interval == 100 and cfg.default_hooks.logger.interval == 50
    debug = [h for h in cfg.custom_hooks if h.type == 'UDADebugHook'][0]
    assert debug.interval == 100
    demo = load_config(os.path.join(REPO, 'configs', 'demo', 'dacs_synthetic.py'), {'max_iters': 40})
    assert (demo.max_iters, demo.param_scheduler[0].total_iters, demo.param_scheduler[0].warmup_iters,
            demo.train_cfg.val_interval, demo.default_hooks.checkpoint.interval) == (40, 40, 5, 40, 40)
    sepico = os.path.join(REPO, 'configs', 'sepico', 'sepico-distcl_dlv2-r101_1xb2-40k_gta2cs-640x640.py')
    assert load_config(sepico, {'max_iters': 2000}).uda.objectives[0].start_iter == 150    # 3000 / 40000
    assert load_config(sepico, {'max_iters': 1}).uda.objectives[0].start_iter == 0
    with pytest.raises(ConfigError, match='expected an integer >= 1'):
        load_config(TINY, {'max_iters': 0})


CASES = {name[len('case_'):]: fn for name, fn in sorted(globals().items()) if name.startswith('case_')}


@pytest.mark.parametrize('case', sorted(CASES))
def test_case(case, tmp_path, trained):
    CASES[case](tmp_path, trained)


def test_every_documented_case_exists():
    documented = re.findall(r'^  (\w+) {2,}', __doc__, flags=re.M)
    assert sorted(documented) == sorted(CASES)
