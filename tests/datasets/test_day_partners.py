"""Dark Zurich day partners: correspondence pairing, the shared flip, and clear errors (docs/data.md)."""
import numpy as np
import pytest
from dark_zurich_tree import DAY_SEQ, NIGHT_SEQ, day_stem, night_stem, write_dark_zurich_tree

from mmseg_procl.datasets import DarkZurichDataset, SyntheticDrivingDataset, UDADataset
from mmseg_procl.datasets.day_partners import read_correspondences
from mmseg_procl.datasets.transforms import PackSegInputs, RandomFlip
from mmseg_procl.utils import register_all_modules


def target(root, flip_prob=0.5, extra=()):
    register_all_modules()
    return dict(type='DarkZurichDataset', data_root=str(root), data_prefix=dict(img_path='rgb_anon/train/night'),
                pipeline=[dict(type='LoadImageFromFile'), *extra, dict(type='RandomFlip', prob=flip_prob),
                          dict(type='PackSegInputs')])


def source():
    return SyntheticDrivingDataset(style='source', num_samples=2, img_size=(64, 32), seed=3,
                                   pipeline=[PackSegInputs()])


def uda(root, **kwargs):
    return UDADataset(source=source(), target=target(root, **kwargs), day_partners=dict())


def test_each_night_image_gets_its_day_partner_flipped_alike(tmp_path):
    root = write_dark_zurich_tree(tmp_path, num=2)
    ds = uda(root)
    assert [p.split('/')[-1] for p in ds.day_partners.paths] == [f'{day_stem(i)}_rgb_anon.png' for i in range(2)]
    flips = set()
    for seed in range(12):
        np.random.seed(seed)
        item = ds[seed % len(ds)]
        night, day = item['target'], item['target_day']
        flip = night['data_samples'].metainfo['flip']
        flips.add(flip)
        assert day['data_samples'].metainfo['flip'] == flip
        assert day['data_samples'].metainfo['img_path'].endswith(f'{DAY_SEQ}/{day_stem(seed % 2)}_rgb_anon.png')
        img = day['inputs']                                   # (3, 32, 64): the white half moved with the flip
        white = (img[:, :, :32] == 255).all() if flip else (img[:, :, 32:] == 255).all()
        assert white
        # the day image is the night image + 60 on its other half, in the same orientation
        half = slice(32, 64) if flip else slice(0, 32)
        diff = day['inputs'][:, :, half].int() - night['inputs'][:, :, half].int()
        assert ((diff == 60) | (night['inputs'][:, :, half] > 195)).all()
    assert flips == {True, False}


def test_relative_data_root(tmp_path, monkeypatch):
    write_dark_zurich_tree(tmp_path / 'data' / 'dz', num=2)
    monkeypatch.chdir(tmp_path)
    ds = uda('data/dz/')
    assert ds.day_partners.paths[1] == f'data/dz/rgb_anon/train/day/{DAY_SEQ}/{day_stem(1)}_rgb_anon.png'
    assert ds[1]['target_day']['inputs'].shape == (3, 32, 64)


def test_random_flip_keeps_a_preset_decision_without_drawing():
    flip = RandomFlip(prob=0.5)
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    state = np.random.get_state()
    out = flip.transform(dict(img=img.copy(), flip=True, flip_direction='horizontal', seg_fields=[]))
    assert out['flip'] and np.array_equal(out['img'], img[:, ::-1])
    out = flip.transform(dict(img=img.copy(), flip=False, flip_direction=None, seg_fields=[]))
    assert not out['flip'] and np.array_equal(out['img'], img)
    assert np.array_equal(np.random.get_state()[1], state[1])           # no random number consumed


def test_missing_pair_missing_file_and_bad_rows_are_named(tmp_path):
    root = write_dark_zurich_tree(tmp_path, num=2)
    csv = root / 'corresp' / 'train' / 'night' / f'{NIGHT_SEQ}.csv'
    rows = csv.read_text().splitlines()
    csv.write_text(rows[0] + '\n')
    with pytest.raises(KeyError, match=f"1 of 2 night images have no row .*'train/night/{NIGHT_SEQ}/{night_stem(1)}'"):
        uda(root)
    csv.write_text('\n'.join(rows) + '\n')
    (root / 'rgb_anon' / 'train' / 'day' / DAY_SEQ / f'{day_stem(1)}_rgb_anon.png').unlink()
    with pytest.raises(FileNotFoundError, match=f'1 day images do not exist, e.g. .*{day_stem(1)}_rgb_anon.png'):
        uda(root)
    csv.write_text(rows[0] + '\nonly_one_field\n')
    with pytest.raises(ValueError, match=f'{NIGHT_SEQ}.csv:2: expected "<night key>,<day key>"'):
        read_correspondences(str(csv.parent))
    csv.write_text(rows[0] + '\n' + rows[0].split(',')[0] + ',train/day/X/other\n')
    with pytest.raises(ValueError, match=f'{NIGHT_SEQ}.csv:2: night image .* is paired with'):
        read_correspondences(str(csv.parent))
    with pytest.raises(FileNotFoundError, match='correspondence folder .*nowhere does not exist'):
        UDADataset(source=source(), target=target(root), day_partners=dict(corresp_dir='nowhere'))
    with pytest.raises(KeyError, match=r"day_partners has unknown keys \['corresp'\]"):
        UDADataset(source=source(), target=target(root), day_partners=dict(corresp='x'))


def test_a_random_crop_in_the_target_pipeline_is_refused(tmp_path):
    root = write_dark_zurich_tree(tmp_path, num=1)
    with pytest.raises(ValueError, match='the target pipeline has RandomCrop'):
        uda(root, extra=[dict(type='RandomCrop', crop_size=(16, 16))])


def test_without_day_partners_items_have_no_day_branch(tmp_path):
    root = write_dark_zurich_tree(tmp_path, num=1, partners=False)
    ds = UDADataset(source=source(), target=target(root))
    assert set(ds[0]) == {'source', 'target'} and ds.day_partners is None
    assert isinstance(ds.target, DarkZurichDataset)
