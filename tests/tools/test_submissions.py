"""Server archives from the test tool: --test-set, submission=dark_zurich / acdc / cityscapes, checks against
the split, and the errors (evaluation/submissions.py, apis/test.py)."""
import io
import os
import zipfile

import numpy as np
import pytest
import torch
from dark_zurich_tree import write_dark_zurich_tree
from PIL import Image

import tool_runs
from mmseg_procl.apis.test import test as run_test
from mmseg_procl.evaluation.submissions import check_submission
from mmseg_procl.registry import MODELS
from mmseg_procl.utils import register_all_modules

TINY = os.path.join(tool_runs.REPO, 'tests', 'fixtures', 'tiny_synthetic.py')
CITYSCAPES_LABEL_IDS = {0, 7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A Dark Zurich tree (2 val, 3 test images), a config testing on it, a random-weight checkpoint."""
    root = write_dark_zurich_tree(tmp_path_factory.mktemp('dz'), num=2, num_test=3)
    config = root / 'cfg.py'
    config.write_text(f'''_base_ = [{TINY!r}]
test_dataloader = dict(dataset=dict(_delete_=True, type='DarkZurichDataset', data_root={str(root)!r},
    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
''')
    register_all_modules()
    from mmengine.config import Config
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    ckpt = root / 'model.pth'
    torch.save({'state_dict': {'model.' + k: v for k, v in model.state_dict().items()}}, ckpt)
    return root, str(config), str(ckpt)


def png(archive, name):
    return np.array(Image.open(io.BytesIO(archive.read(name))))


def test_dark_zurich_test_set_archive(setup, tmp_path, capsys):
    root, config, ckpt = setup
    out = tmp_path / 'dz_test'
    run_test(config, ckpt, format_only=True, test_set=True, work_dir=str(tmp_path / 'log'),
         eval_options=dict(imgfile_prefix=str(out), submission='dark_zurich'))
    path = out / 'dark_zurich_submission.zip'
    names = [f'GOPR0364_frame_{i:06d}_rgb_anon.png' for i in range(3)]
    with zipfile.ZipFile(path) as archive:
        files = sorted(n for n in archive.namelist() if not n.endswith('/'))
        assert files == sorted(f'{d}/{n}' for d in ('confidence', 'labelTrainIds', 'labelTrainIds_invalid')
                               for n in names)
        label = png(archive, f'labelTrainIds/{names[0]}')
        assert label.shape == (32, 64) and label.dtype == np.uint8 and label.max() < 19
        assert np.array_equal(png(archive, f'labelTrainIds_invalid/{names[0]}'), label)   # threshold 0
        confidence = png(archive, f'confidence/{names[0]}')
        assert confidence.dtype == np.uint16 and confidence.min() >= 65535 // 19        # max softmax >= 1/19
    printed = capsys.readouterr().out
    assert '--test-set: predicting' in printed and 'rgb_anon/test/night' in printed
    assert f'dark_zurich submission written: {path} (labelTrainIds/ 3, labelTrainIds_invalid/ 3, ' \
        'confidence/ 3 PNGs); upload it at codalab.lisn.upsaclay.fr/competitions/3783' in printed
    with pytest.raises(FileExistsError, match='dark_zurich_submission.zip already exists'):
        run_test(config, ckpt, format_only=True, test_set=True, work_dir=str(tmp_path / 'log'),
             eval_options=dict(imgfile_prefix=str(out), submission='dark_zurich'))


def test_acdc_and_cityscapes_layouts(setup, tmp_path):
    root, config, ckpt = setup
    for kind in ('acdc', 'cityscapes'):
        out = tmp_path / kind
        run_test(config, ckpt, format_only=True, work_dir=str(tmp_path / 'log'),
             eval_options=dict(imgfile_prefix=str(out), submission=kind))
        with zipfile.ZipFile(out / f'{kind}_submission.zip') as archive:
            files = sorted(archive.namelist())
            folder = 'labelTrainIds/' if kind == 'acdc' else ''
            assert files == [f'{folder}GOPR0356_frame_{i:06d}_rgb_anon.png' for i in range(2)]   # val split
            values = set(np.unique(png(archive, files[0])).tolist())
            assert values <= (set(range(19)) if kind == 'acdc' else CITYSCAPES_LABEL_IDS)


def test_archive_check_names_missing_and_extra_files(tmp_path):
    path = tmp_path / 'a.zip'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('labelTrainIds/x_rgb_anon.png', b'')
        archive.writestr('labelTrainIds/stray.png', b'')
    with pytest.raises(ValueError, match=r"has 2 PNGs for 2 images; missing \['y_rgb_anon.png'\], unexpected "
                                         r"\['stray.png'\]"):
        check_submission(str(path), 'acdc', ['a/x_rgb_anon.png', 'b/y_rgb_anon.png'])
    assert check_submission(str(path), 'acdc', ['a/x_rgb_anon.png', 'c/stray.jpg']) == {'labelTrainIds': 2}


def test_bad_submission_options_are_named(setup, tmp_path):
    root, config, ckpt = setup
    kwargs = dict(work_dir=str(tmp_path / 'log'))
    with pytest.raises(ValueError, match='submission=acdc needs --format-only'):
        run_test(config, ckpt, eval_metrics=['mIoU'], eval_options=dict(submission='acdc'), **kwargs)
    with pytest.raises(KeyError, match="submission='kitti': expected one of"):
        run_test(config, ckpt, format_only=True, eval_options=dict(imgfile_prefix=str(tmp_path), submission='kitti'),
             **kwargs)
    with pytest.raises(ValueError, match='writes one archive from one process; run without --launcher'):
        run_test(config, ckpt, format_only=True, launcher='pytorch',
                 eval_options=dict(imgfile_prefix=str(tmp_path), submission='acdc'), **kwargs)
    with pytest.raises(ValueError, match='--test-set needs --format-only'):
        run_test(config, ckpt, eval_metrics=['mIoU'], test_set=True, **kwargs)
    with pytest.raises(ValueError, match="--test-set replaces the folder \"val\" .* but it is 'x/train'"):
        run_test(config, ckpt, format_only=True, test_set=True, eval_options=dict(imgfile_prefix=str(tmp_path)),
             cfg_options={'test_dataloader.dataset.data_prefix.img_path': 'x/train'}, **kwargs)
