"""Pre-resized cache: the tool writes it, LoadResizedCache reproduces the replaced steps exactly, and a
changed resize, a missing file, a broken manifest or other label settings stop with a clear error."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mmseg_procl.datasets import GTADataset
from mmseg_procl.datasets.conversion import convert_gta
from mmseg_procl.datasets.resized_cache import cache_key, manifest_path
from mmseg_procl.datasets.synthetic_export import export_synthetic
from mmseg_procl.datasets.transforms import LoadResizedCache
from mmseg_procl.utils import register_all_modules
import tool_runs

STEPS = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
         dict(type='Resize', scale=(40, 20), keep_ratio=True)]
REST = [dict(type='RandomCrop', crop_size=(8, 8), cat_max_ratio=0.75), dict(type='PackSegInputs')]


@pytest.fixture(scope='module')
def gta_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('cache') / 'gta'
    export_synthetic(str(root), 'source', 3, (72, 40), 0)          # 72 x 40 -> 36 x 20 (factor 0.5)
    convert_gta(str(root))
    return root


@pytest.fixture(scope='module')
def built(gta_root):
    config = gta_root.parent / 'cfg.py'
    source = dict(type='GTADataset', data_root=str(gta_root),
                  data_prefix=dict(img_path='images', seg_map_path='labels'), pipeline=STEPS + REST)
    config.write_text(f'train_dataloader = dict(dataset=dict(type="UDADataset", source={source!r}, '
                      f'target={source!r}))\n')
    log = tool_runs.run([sys.executable, 'tools/cache_resized_images.py', str(config)])
    return config, log


def gta(root, pipeline):
    register_all_modules()
    return GTADataset(data_root=str(root), data_prefix=dict(img_path='images', seg_map_path='labels'),
                      pipeline=pipeline)


def test_cached_results_equal_the_replaced_steps(gta_root, built):
    _, log = built
    cache_dir = str(gta_root / 'resized_cache')
    key = cache_key(STEPS)
    assert f'resized cache written: 3 files in {os.path.join(cache_dir, key)}' in log
    assert "dict(type='LoadResizedCache', steps=" in log
    original = gta(gta_root, STEPS)
    cached = gta(gta_root, [dict(type='LoadResizedCache', steps=STEPS, cache_dir=cache_dir)])
    for i in range(3):
        a, b = original.prepare_data(i), cached.prepare_data(i)
        assert b['img'].shape == (20, 36, 3) and np.array_equal(a['img'], b['img'])
        assert np.array_equal(a['gt_seg_map'], b['gt_seg_map']) and b['seg_fields'] == ['gt_seg_map']
        for k in ('img_shape', 'ori_shape', 'scale', 'scale_factor', 'keep_ratio', 'img_path',
                  'seg_map_path'):
            assert tuple(np.atleast_1d(a[k])) == tuple(np.atleast_1d(b[k])), k
    assert b['ori_shape'] == (40, 72) and b['scale_factor'] == (0.5, 0.5)


def test_a_complete_cache_is_left_as_it_is(gta_root, built):
    config, _ = built
    manifest = manifest_path(str(gta_root / 'resized_cache'), cache_key(STEPS))
    before = os.stat(manifest).st_mtime_ns
    log = tool_runs.run([sys.executable, 'tools/cache_resized_images.py', str(config)])
    assert 'resized cache already complete, left as it is: 3 files' in log
    assert os.stat(manifest).st_mtime_ns == before


def test_changed_steps_missing_files_and_broken_manifests_are_errors(gta_root, built, tmp_path):
    cache_dir = str(gta_root / 'resized_cache')
    other = STEPS[:2] + [dict(type='Resize', scale=(48, 24), keep_ratio=True)]
    pattern = f'no resized cache for these steps \\(key {cache_key(other)}\\).*tools/cache_resized_images.py'
    with pytest.raises(FileNotFoundError, match=pattern):
        gta(gta_root, [dict(type='LoadResizedCache', steps=other, cache_dir=cache_dir)]).prepare_data(0)
    with pytest.raises(ValueError, match='cached steps must be LoadImageFromFile'):
        LoadResizedCache(steps=[dict(type='Resize', scale=(4, 4))], cache_dir=cache_dir)
    # a copy of the cache with one file deleted and one manifest broken
    key = cache_key(STEPS)
    manifest = json.loads(open(manifest_path(cache_dir, key)).read())
    copy_dir = tmp_path / 'copy'
    os.makedirs(copy_dir / key)
    (copy_dir / key / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(FileNotFoundError, match=f'image file not found: {copy_dir}'):
        gta(gta_root, [dict(type='LoadResizedCache', steps=STEPS, cache_dir=str(copy_dir))]).prepare_data(0)
    (copy_dir / key / 'manifest.json').write_text('{"key": ')
    with pytest.raises(ValueError, match='manifest.json is not a readable JSON manifest'):
        gta(gta_root, [dict(type='LoadResizedCache', steps=STEPS, cache_dir=str(copy_dir))]).prepare_data(0)
    (copy_dir / key / 'manifest.json').write_text(json.dumps(dict(manifest, complete=False)))
    with pytest.raises(ValueError, match='is incomplete'):
        gta(gta_root, [dict(type='LoadResizedCache', steps=STEPS, cache_dir=str(copy_dir))]).prepare_data(0)
    (copy_dir / key / 'manifest.json').write_text(json.dumps(dict(manifest, label_settings=dict(
        reduce_zero_label=True, label_map=None))))
    with pytest.raises(ValueError, match='was built with label settings'):
        gta(gta_root, [dict(type='LoadResizedCache', steps=STEPS, cache_dir=str(copy_dir))]).prepare_data(0)


def test_a_pipeline_without_a_cacheable_head_is_refused(gta_root, tmp_path):
    source = dict(type='GTADataset', data_root=str(gta_root), data_prefix=dict(img_path='images'),
                  pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=(8, 8))])
    config = tmp_path / 'cfg.py'
    config.write_text(f'train_dataloader = dict(dataset={source!r})\n')
    out = subprocess.run([sys.executable, 'tools/cache_resized_images.py', str(config)], cwd=tool_runs.REPO,
                         capture_output=True, text=True, env=tool_runs.ENV)
    assert out.returncode != 0
    assert ('source pipeline: the pipeline: the cached steps must be LoadImageFromFile, [LoadAnnotations,] '
            "Resize (deterministic); got ['LoadImageFromFile']") in out.stderr


def test_rebuild_on_changed_label_settings_foreign_roots_and_symlinked_roots(gta_root, built, tmp_path):
    from mmseg_procl.datasets.resized_cache import build_resized_cache
    register_all_modules()
    source = dict(type='GTADataset', data_root=str(gta_root), data_prefix=dict(img_path='images',
                                                                                seg_map_path='labels'))
    cache_dir = str(tmp_path / 'own')
    assert not build_resized_cache(source, STEPS, cache_dir, progress=False)['skipped']
    assert build_resized_cache(source, STEPS, cache_dir, progress=False)['skipped']
    # other label settings: the stale cache is rebuilt, not skipped; an interrupted rebuild leaves no manifest
    remapped = dict(source, reduce_zero_label=True)
    import mmseg_procl.datasets.resized_cache as resized_cache

    def interrupted(job):
        raise KeyboardInterrupt

    original = resized_cache._cache_one
    resized_cache._cache_one = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            build_resized_cache(remapped, STEPS, cache_dir, progress=False)
    finally:
        resized_cache._cache_one = original
    assert not os.path.exists(manifest_path(cache_dir, cache_key(STEPS)))
    assert not build_resized_cache(remapped, STEPS, cache_dir, progress=False)['skipped']
    manifest = json.loads(open(manifest_path(cache_dir, cache_key(STEPS))).read())
    assert manifest['label_settings'] == dict(reduce_zero_label=True, label_map=None)
    # another dataset's root in the same cache dir: refused, nothing overwritten
    other_root = tmp_path / 'other_gta'
    export_synthetic(str(other_root), 'source', 2, (72, 40), 5)
    convert_gta(str(other_root))
    with pytest.raises(FileExistsError, match='holds the cache of .*give this dataset its own --cache-dir'):
        build_resized_cache(dict(source, data_root=str(other_root)), STEPS, cache_dir, progress=False)
    assert json.loads(open(manifest_path(cache_dir, cache_key(STEPS))).read()) == manifest
    # the same data through a symlinked root (another checkout) reads the same cache
    link = tmp_path / 'link_gta'
    os.symlink(gta_root, link)
    head = dict(type='LoadResizedCache', steps=STEPS, cache_dir=str(gta_root / 'resized_cache'))
    cached = gta(link, [head])
    assert cached.prepare_data(0)['img'].shape == (20, 36, 3)
    with pytest.raises(ValueError, match=r'to_float32=True\) cannot be cached'):
        LoadResizedCache(steps=[dict(STEPS[0], to_float32=True)] + STEPS[1:], cache_dir=cache_dir)
