"""Released models of the DAFormer family: ``sh test.sh <released work dir>`` and the legacy config translator.

The released-style work dirs (tests/fixtures/released_models.py) hold a dumped mmseg 0.x JSON config
and an mmcv checkpoint in the original key layout (random weights of the full-size models).  Evaluated
through ``sh test.sh`` they must predict exactly what this package's own config of the same model
predicts with the same weights loaded directly, and report the same mIoU as computing it by hand.
"""
import json
import os
import os.path as osp
import re
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from released_models import (CITIES, RUN_NAMES, legacy_config, our_segmentor, write_cityscapes_val,
                             write_released_dir)
from tool_runs import ENV, REPO

from mmseg_procl.apis.legacy_config import (is_legacy_config, literal_assignments, load_legacy_config,
                                            translate)
from mmseg_procl.apis.work_dir_files import resolve_work_dir
from mmseg_procl.errors import ConfigError, WorkDirError

TEST_SCALE = (96, 48)


def direct_predictions(model, data_root, scale=TEST_SCALE):
    """{frame: (pred, label)} of ``model`` on the val frames, read and resized by this package's own
    pipeline (the weights loaded directly, no legacy translation involved)."""
    from mmengine.dataset import pseudo_collate
    from mmseg_procl.registry import DATASETS
    dataset = DATASETS.build(dict(
        type='CityscapesDataset', data_root=str(data_root), test_mode=True,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=scale, keep_ratio=True),
                  dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
    out = {}
    with torch.no_grad():
        for i in range(len(dataset)):
            data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
            sample = model.predict(data['inputs'], data['data_samples'])[0]
            name = osp.basename(sample.img_path)[:-len('_leftImg8bit.png')]
            out[name] = (sample.pred_sem_seg.data[0].numpy(), sample.gt_sem_seg.data[0].numpy())
    return out


def miou_by_hand(pairs):
    """mIoU (%) over the classes present in prediction or label, summed over all frames."""
    inter, union = np.zeros(19), np.zeros(19)
    for pred, label in pairs:
        valid = label != 255
        for c in range(19):
            p, g = (pred == c) & valid, (label == c) & valid
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    present = union > 0
    return 100 * float(np.mean(inter[present] / union[present]))


def files_below(folder):
    """{relative path: (size, mtime_ns)} of every file below ``folder`` (links not followed)."""
    out = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = osp.join(base, name)
            st = os.lstat(path)
            out[osp.relpath(path, folder)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize('kind', ['dlv2red', 'daformer', 'clip_procl', 'sepico', 'mic_hrda'])
def test_released_work_dir_through_test_sh(kind, tmp_path):
    model = our_segmentor(kind)
    folder = write_released_dir(tmp_path / 'pretrained', kind, model.state_dict())
    # HRDA's 0.5-scale context must stay >= 32 px for MiT: test it at 192 x 96 (detail window: the image)
    scale, size = ((192, 96), (192, 96)) if kind == 'mic_hrda' else (TEST_SCALE, (96, 48))
    data_root = write_cityscapes_val(tmp_path / 'cityscapes', size=size)
    before = files_below(folder)
    png = tmp_path / 'png'
    options = ['--cfg-options', f'data.test.data_root={data_root}',
               f'data.test.pipeline.1.img_scale={scale}', '--eval-options', f'imgfile_prefix={png}']
    if kind == 'sepico':      # SePiCo's README command: python -m tools.test CONFIG CHECKPOINT --eval mIoU
        command = ['python', '-m', 'tools.test', f'{folder}/{RUN_NAMES[kind]}.json',
                   f'{folder}/{RUN_NAMES[kind]}.pth', '--eval', 'mIoU', '--show-dir', f'{folder}/preds']
    else:
        command = ['sh', osp.join(REPO, 'test.sh'), folder + '/']
    out = subprocess.run(command + options, cwd=REPO if kind == 'sepico' else str(tmp_path),
                         capture_output=True, text=True, env=ENV)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    if kind != 'sepico':
        suffix = '.py' if kind == 'mic_hrda' else '.json'              # MIC dumps a literal .py
        assert f'Config: {folder}/{RUN_NAMES[kind]}{suffix}' in log    # not the .log.json
        assert f'Checkpoint: {folder}/latest.pth' in log
    assert 'translated: ' in log and 'not used for testing: ' in log and 'uda' in log
    loaded = re.search(r'loaded (.*) from .*; missing keys: (\d+), unexpected keys: (\d+)', log)
    ignored = {'dlv2red': 'ignored 4 ema_model.*', 'daformer': 'ignored 58 ema_model.*, 4 imnet_model.*',
               'mic_hrda': 'ignored 74 ema_model.*, 4 imnet_model.*',
               'clip_procl': 'ignored 4 ema_model.* (CLIP-ProCL names mapped; token_prefix, token_suffix '
                             'rebuilt from the token ids)', 'sepico': 'ignored 8 ema_model.*'}[kind]
    assert loaded and f'student (model.*) of a UDA checkpoint, {ignored}' in loaded.group(1), log[-3000:]
    # missing: what the released file never held (CLIP's attention-pool position embedding)
    expected = {'clip_procl': ('1', '0')}.get(kind, ('0', '0'))
    assert loaded.groups()[1:] == expected, loaded.group(0)
    # nothing but preds/ was written into the released folder, and nothing there changed
    after = files_below(folder)
    assert {k: v for k, v in after.items() if not k.startswith('preds' + os.sep)} == before
    translation = osp.join(folder, 'preds', 'test_log', f'{RUN_NAMES[kind]}_translated.py')
    assert osp.isfile(translation) and 'test_dataloader' in open(translation).read()   # inspectable
    assert sorted(n for n in os.listdir(osp.join(folder, 'preds')) if n.endswith('.png')) == sorted(
        osp.basename(c) + '_leftImg8bit.png' for c in CITIES)
    # the same predictions as this package's own model with the weights loaded directly
    direct = direct_predictions(model, data_root, scale)
    assert sorted(direct) == sorted(osp.basename(c) for c in CITIES)
    for name, (pred, _) in direct.items():
        written = np.array(Image.open(png / f'{name}_leftImg8bit.png'))
        assert written.shape == size[::-1] and np.array_equal(written, pred), name
    miou = float(re.findall(r'mIoU: (\d+\.\d+)', log)[-1])
    assert miou == pytest.approx(miou_by_hand(direct.values()), abs=0.006)


def test_unknown_type_in_a_legacy_config_is_refused_by_test_sh(tmp_path):
    folder = tmp_path / RUN_NAMES['dlv2red']
    folder.mkdir()
    cfg = legacy_config('dlv2red')
    cfg['model']['decode_head']['type'] = 'ISAHead'
    (folder / f'{RUN_NAMES["dlv2red"]}.json').write_text(json.dumps(cfg))
    torch.save({'state_dict': {'model.x': torch.zeros(1)}}, folder / 'latest.pth')
    out = subprocess.run(['sh', osp.join(REPO, 'test.sh'), str(folder)], capture_output=True,
                         text=True, env=ENV)
    assert out.returncode == 1
    assert "legacy config: model.decode_head.type='ISAHead' has no counterpart in this package; " \
           "expected one of ['DLV2Head', 'DAFormerHead', 'UniHead', 'SegFormerHead']" in out.stderr
    assert not (folder / 'preds').exists()
    aug = subprocess.run(['python', 'tools/test.py', str(folder), '--aug-test'], cwd=REPO, capture_output=True,
                         text=True, env=ENV)
    assert aug.returncode == 1 and "--aug-test (scales 0.5-1.75 + flip) is not supported" in aug.stderr


# ----------------------------------------------------------------------------- translator
def translated(cfg):
    """Translation of a legacy config dict after a JSON round trip (tuples become lists)."""
    return translate(json.loads(json.dumps(cfg)), 'x.json')


def test_translation_of_the_three_models():
    dlv2 = translated(legacy_config('dlv2red')).config
    assert dlv2.model.backbone == dict(type='ResNetV1c', depth=101, num_stages=4, out_indices=(0, 1, 2, 3),
                                       dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                                       norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                                       style='pytorch', contract_dilation=True)
    assert dlv2.model.decode_head == dict(type='DLV2Head', in_channels=2048, in_index=3, dilations=(6, 12),
                                          num_classes=19, align_corners=False)
    assert dlv2.model.data_preprocessor == dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
    dataset = dlv2.test_dataloader.dataset
    assert dataset.type == 'CityscapesDataset' and dataset.data_root == 'data/cityscapes/'
    assert dataset.data_prefix == dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')
    assert dataset.pipeline[1] == dict(type='Resize', scale=(1024, 512), keep_ratio=True)
    daformer = translated(legacy_config('daformer')).config.model
    assert daformer.backbone == dict(type='mit_b5', style='pytorch')
    assert daformer.decode_head.decoder_params.fusion_cfg.dilations == (1, 6, 12, 18)
    clip = translated(legacy_config('clip_procl')).config
    assert clip.model.type == 'CLIPEncoderDecoder' and clip.randomness.seed == 42
    assert clip.model.clip_visual == dict(type='CLIPResNet', arch='RN101', input='imagenet')
    assert clip.model.clip_text == dict(type='CLIPTextEncoder', context_length=77, vocab_size=49408,
                                        width=512, heads=8, layers=12, output_dim=512, activation='gelu')
    assert clip.model.auxiliary_head == dict(
        type='ProjHead', in_channels=2048, in_index=3, channels=512, num_convs=1,
        norm_cfg=dict(type='BN', requires_grad=True), align_corners=False, kernel_size=3,
        keep_conv_seg=True, num_classes=19)
    assert clip.model.prompt_learner.n_ctx == 16 and clip.model.clip_weights is None
    assert clip.test_dataloader.dataset.pipeline[1].scale == (1280, 640)


def test_sepico_projection_head_and_legacy_names():
    cfg = legacy_config('daformer')
    cfg['model']['type'] = 'EncoderDecoderProjector'
    cfg['model']['auxiliary_head'] = dict(
        type='ProjHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
        input_transform='resize_concat', channels=512, num_convs=2, dropout_ratio=0.1, num_classes=19,
        norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='ContrastiveLoss', use_dist=True, contrast_temp=100.0))
    cfg['model']['decode_head']['type'] = 'UniHead'                    # DAFormer's pre-release name
    cfg['model']['decode_head']['decoder_params']['fusion_cfg']['fusion'] = 'aspp'
    cfg['model']['backbone']['ema_drop_path_rate'] = 0.1
    model = translated(cfg).config.model
    assert model.type == 'EncoderDecoder' and model.auxiliary_head.kernel_size == 1
    assert model.auxiliary_head.in_index == (0, 1, 2, 3) and 'keep_conv_seg' not in model.auxiliary_head
    assert model.decode_head.type == 'DAFormerHead' and 'fusion' not in model.decode_head.decoder_params.fusion_cfg
    assert model.backbone == dict(type='mit_b5', style='pytorch')
    # SePiCo's simple_test re-weights the softmax of *_rgb_anon.png images (Dark Zurich, ACDC)
    assert model.test_cfg == dict(mode='whole', class_prior=dict(frequencies='dark_zurich', scale=0.16,
                                                                 img_suffix='_rgb_anon.png'))


@pytest.mark.parametrize('change, message', [
    (lambda c: c['model']['decode_head'].update(type='HRDAHead'),
     "model.decode_head.type='HRDAHead' needs an HRDA segmentor"),
    (lambda c: c['model']['backbone'].update(with_dcn=True),
     'model.backbone.with_dcn (type \'ResNetV1c\') has no counterpart in this package'),
    (lambda c: c['model']['decode_head'].update(sampler=dict(type='OHEMPixelSampler')),
     'model.decode_head.sampler (type \'DLV2Head\') has no counterpart'),
    (lambda c: c['data']['test']['pipeline'][1].update(flip=True),
     'multi-scale / flip testing (img_ratios=None, flip=True) is not supported'),
    (lambda c: c['data']['test']['pipeline'][1]['transforms'].append(dict(type='CLAHE')),
     "transform type 'CLAHE' has no counterpart"),
    (lambda c: c['data']['test'].update(type='ADE20KDataset'), "data.test.type='ADE20KDataset' has no counterpart"),
    (lambda c: c['model'].update(auxiliary_head=dict(type='FCNHead', in_channels=1024)),
     "model.auxiliary_head.type='FCNHead' has no counterpart in this package (expected 'ProjHead'); it is "
     'not used for prediction: drop it with --cfg-options model.auxiliary_head=None'),
    (lambda c: c['data'].pop('test'), 'legacy config: data.test is missing'),
])
def test_untranslatable_entries_are_named(change, message):
    cfg = legacy_config('dlv2red')
    change(cfg)
    with pytest.raises(ConfigError, match=re.escape(message)):
        translated(cfg)


def test_hrda_translation_and_fixed_settings():
    model = translated(legacy_config('mic_hrda')).config.model
    assert model.type == 'HRDAEncoderDecoder' and model.hr_crop_size == (512, 512)
    assert model.feature_scale == 0.5 and model.crop_coord_divisible == 8 and model.hr_slide_inference
    head = model.decode_head
    assert head.type == 'HRDAHead' and head.scales == (0.5, 1) and head.hr_loss_weight == 0.1
    assert head.head.type == 'DAFormerHead' and head.head.decoder_params.fusion_cfg.type == 'aspp'
    assert 'single_scale_head' not in head.head and 'hr_loss_weight' not in head.head
    assert model.test_cfg == dict(mode='slide', batched_slide=True, stride=(512, 512), crop_size=(1024, 1024))
    cfg = legacy_config('mic_hrda')
    cfg['model']['decode_head']['lr_loss_weight'] = 0.5
    with pytest.raises(ConfigError, match='model.decode_head.lr_loss_weight=0.5 has no counterpart here'):
        translated(cfg)


def test_clip_text_settings_without_counterpart_are_refused():
    cfg = legacy_config('clip_procl')
    cfg['model']['clip']['clip_text_cfg']['pre_norm'] = True
    with pytest.raises(ConfigError, match=r'clip_text_cfg.pre_norm=True has no counterpart here '
                                          r'\(CLIPTextEncoder reproduces pre_norm=False\)'):
        translated(cfg)


def test_cfg_options_in_both_namespaces(tmp_path):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps(legacy_config('daformer')))
    cfg = load_legacy_config(str(path), {'data.test.data_root': '/data/cs/',
                                         'data.test.img_dir': 'leftImg8bit/test',
                                         'test_dataloader.num_workers': 0}).config
    dataset = cfg.test_dataloader.dataset
    assert dataset.data_root == '/data/cs/' and dataset.data_prefix.img_path == 'leftImg8bit/test'
    assert cfg.test_dataloader.num_workers == 0
    with pytest.raises(ConfigError, match="has no top-level key 'tset_dataloader'; did you mean "
                                          "'test_dataloader'"):
        load_legacy_config(str(path), {'tset_dataloader.num_workers': 0})
    with pytest.raises(ConfigError, match=r"--cfg-options data.test.pipeline.7.img_scale: .*run.json has no "
                                          r"entry 'data.test.pipeline.7'"):
        load_legacy_config(str(path), {'data.test.pipeline.7.img_scale': (1, 2)})
    with pytest.raises(ConfigError, match=r"--cfg-options data.tset.data_root: .*run.json has no entry "
                                          r"'data.tset'; did you mean 'test'\?"):
        load_legacy_config(str(path), {'data.tset.data_root': '/data/cs/'})
    with pytest.raises(ConfigError, match=r"has no entry 'data.test.pipeline.1.img_scal'; did you mean "
                                          r"'img_scale'\?"):              # a typo that would test at 1024x512
        load_legacy_config(str(path), {'data.test.pipeline.1.img_scal': (96, 48)})
    with pytest.raises(ConfigError, match=r"run.json: legacy config: model.decode_head.num_clases \(type "
                                          r"'DAFormerHead'\) has no counterpart in this package; did you mean "
                                          r"'num_classes'\?"):
        load_legacy_config(str(path), {'model.decode_head.num_clases': 19})
    with pytest.raises(ConfigError, match=r'20211108.log.json is a training log'):
        load_legacy_config(str(tmp_path / '20211108.log.json'))
    with pytest.raises(ConfigError, match=r"legacy config: data.test.data_rot \(type 'CityscapesDataset'\) "
                                          'has no counterpart in this package'):
        load_legacy_config(str(path), {'data.test.data_rot': '/data/cs/'})


def test_dumped_py_configs_are_read_without_executing(tmp_path):
    text = ("norm_cfg = dict(type='BN', requires_grad=True)\ncrop_size = (512, 512)\n"
            "model = dict(type='EncoderDecoder', pretrained=None, backbone=dict(depth=-1))\n"
            "data = dict(test=dict(img_dir='x', pipeline=[{'type': 'LoadImageFromFile'}]))\n")
    content = literal_assignments(text, 'run.py')
    assert content['crop_size'] == (512, 512) and content['model']['backbone']['depth'] == -1
    assert content['data']['test']['pipeline'] == [{'type': 'LoadImageFromFile'}]
    (tmp_path / 'run.py').write_text(text)
    assert is_legacy_config(str(tmp_path / 'run.py'))
    (tmp_path / 'ours.py').write_text("_base_ = ['a.py']\ncrop = (1, 2)\nmodel = dict(size=crop)\n")
    assert not is_legacy_config(str(tmp_path / 'ours.py'))
    with pytest.raises(ConfigError, match=r"run.py:2: expected only \"name = <literal>\" assignments"):
        literal_assignments("a = 1\nimport os\n", 'run.py')
    with pytest.raises(ConfigError, match=r"run.py:1: .__import__\(.os.\).system\(.id.\). is not a literal"):
        literal_assignments("a = __import__('os').system('id')\n", 'run.py')


# ----------------------------------------------------------------------------- work dirs
def touch_checkpoint(path):
    torch.save({'state_dict': {}}, path)


def test_released_work_dir_files(tmp_path):
    folder = tmp_path / '211108_1622_gta2cs_daformer_s0_7f24c'
    folder.mkdir()
    (folder / '211108_1622_gta2cs_daformer_s0_7f24c.json').write_text('{}')
    (folder / '20211108_162247.log.json').write_text('{}')
    for n in (4000, 36000, 8000):
        touch_checkpoint(folder / f'iter_{n}.pth')
    files = resolve_work_dir(str(folder) + '/')
    assert files.released and files.config.endswith('7f24c/211108_1622_gta2cs_daformer_s0_7f24c.json')
    assert files.checkpoint.endswith('iter_36000.pth')                 # newest, not last in name order
    assert files.log_dir == osp.join(str(folder), 'preds', 'test_log')
    os.symlink('iter_40000.pth', folder / 'latest.pth')                # a link whose target is missing
    with pytest.raises(WorkDirError, match=r"latest.pth' is a link to 'iter_40000.pth', which does not exist"):
        resolve_work_dir(str(folder))
    touch_checkpoint(folder / 'iter_40000.pth')
    assert resolve_work_dir(str(folder)).checkpoint.endswith('latest.pth')
    renamed = tmp_path / 'daformer_gta'                 # a downloaded folder renamed by its user
    os.rename(folder, renamed)
    files = resolve_work_dir(str(renamed))
    assert files.config == str(renamed / '211108_1622_gta2cs_daformer_s0_7f24c.json')
    (renamed / 'copy.json').write_text('{}')
    with pytest.raises(WorkDirError, match=r"holds no single dumped config: .*found \['20211108_162247.log.json', "
                                           r"'211108_1622_gta2cs_daformer_s0_7f24c.json', 'copy.json'\]"):
        resolve_work_dir(str(renamed))


def test_sepico_pair_and_missing_files(tmp_path):
    pair = tmp_path / 'sepico_distcl_gta2city_dlv2'
    pair.mkdir()
    (pair / 'sepico_distcl_gta2city_dlv2.json').write_text('{}')
    with pytest.raises(WorkDirError, match="holds no checkpoint to test: expected latest.pth, iter_<N>.pth "
                                           "or a single <model>.pth; found no .pth file"):
        resolve_work_dir(str(pair))
    touch_checkpoint(pair / 'sepico_distcl_gta2city_dlv2.pth')
    assert resolve_work_dir(str(pair)).checkpoint.endswith('sepico_distcl_gta2city_dlv2.pth')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(WorkDirError, match="holds no single dumped config: .* found no .json / .py file"):
        resolve_work_dir(str(empty))


def test_released_sepico_dark_zurich_submission_applies_the_test_prior(tmp_path):
    """SePiCo's README command on a released Dark Zurich model (data.test = rgb_anon/test/night) writes the
    server zip; its labels are this package's predictions with the 0.16 class prior on the softmax."""
    import io
    import zipfile
    from dark_zurich_tree import write_dark_zurich_tree
    from mmseg_procl.models.utils.class_prior import DARK_ZURICH_CLASS_FREQUENCIES, log_frequency_weights
    model = our_segmentor('sepico').eval()
    folder = write_released_dir(tmp_path / 'pretrained', 'sepico', model.state_dict())
    root = write_dark_zurich_tree(tmp_path / 'dark_zurich', num=1, size=(96, 48), num_test=2)
    config = f'{folder}/{RUN_NAMES["sepico"]}.json'
    cfg = json.load(open(config))
    cfg['data']['test'] = dict(type='DarkZurichDataset', data_root=str(root), img_dir='rgb_anon/test/night',
                               test_mode=True, pipeline=cfg['data']['test']['pipeline'])
    json.dump(cfg, open(config, 'w'))
    out = tmp_path / 'dark_test'
    run = subprocess.run(['python', '-m', 'tools.test', config, f'{folder}/{RUN_NAMES["sepico"]}.pth', '--format-only',
                          '--eval-options', f'imgfile_prefix={out}', 'submission=dark_zurich',
                          '--cfg-options', 'data.test.pipeline.1.img_scale=[96,48]'],
                         cwd=REPO, capture_output=True, text=True, env=ENV)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert 'test-time class prior (scale 0.16) on the softmax of images named *_rgb_anon.png' in log
    assert 'test: student predictions on DarkZurichDataset' in log and '(2 images, no labels' in log
    # this package's model with the weights loaded directly, prior by hand
    cw = log_frequency_weights(DARK_ZURICH_CLASS_FREQUENCIES, 0.16).view(1, -1, 1, 1)
    with zipfile.ZipFile(out / 'dark_zurich_submission.zip') as archive:
        for i in range(2):
            name = f'GOPR0364_frame_{i:06d}_rgb_anon.png'
            img = np.array(Image.open(root / 'rgb_anon' / 'test' / 'night' / 'GOPR0364' / name))
            data = model.data_preprocessor(dict(inputs=[torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)],
                                                data_samples=None), False)
            with torch.no_grad():
                meta = [dict(img_shape=(48, 96), pad_shape=(48, 96))]
                probs = torch.softmax(model.encode_decode(data['inputs'], meta), 1) * cw
            written = np.array(Image.open(io.BytesIO(archive.read(f'labelTrainIds/{name}'))))
            assert np.array_equal(written, probs.argmax(1)[0].numpy()), name
