"""Tests of the dataset converters (tools/convert_datasets/*.py) and the RCS statistics they write.

Expected outputs follow DAFormer's converters (github.com/lhoyer/DAFormer, tools/convert_datasets/*.py):
trainId PNGs next to the labels and sample_class_stats*.json / samples_with_class.json in the root.
"""
import json
import os
import os.path as osp
import stat
import subprocess
import sys

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers import labels as cs_labels
from PIL import Image

from mmseg_procl.datasets.class_stats import count_class_pixels, load_rcs_stats
from mmseg_procl.datasets.conversion import convert_cityscapes, convert_gta, convert_synthia
from mmseg_procl.datasets.conversion_error import ConversionError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Cityscapes / GTA5 label id -> train id, built from cityscapesscripts (docs/data.md §2).
CS_ID_TO_TRAIN = {lab.id: (lab.trainId if 0 <= lab.trainId < 255 else 255)
                  for lab in cs_labels.labels if lab.id >= 0}
CS_COLOR = {lab.id: lab.color for lab in cs_labels.labels if lab.id >= 0}
# SYNTHIA class id -> train id, the table of docs/data.md §2 (everything else -> 255).
SYNTHIA_TABLE = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11, 17: 12,
                 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18}
STATS_NAMES = ('sample_class_stats.json', 'sample_class_stats_dict.json', 'samples_with_class.json')


def apply_map(ids, mapping):
    """Reference mapping applied pixel by pixel (unmapped -> 255)."""
    return np.vectorize(lambda v: mapping.get(int(v), 255), otypes=[np.uint8])(ids)


def save_gta_label(path, ids):
    """Save a GTA-style palette PNG whose indices are Cityscapes label ids."""
    img = Image.fromarray(ids.astype(np.uint8))
    palette = np.zeros((256, 3), np.uint8)
    for i, color in CS_COLOR.items():
        palette[i] = color
    img.putpalette(palette.ravel().tolist())
    assert img.mode == 'P'
    img.save(path)


def make_gta(root, labels):
    """GTA tree: images/<name>.png and labels/<name>.png for every {name: id array}."""
    os.makedirs(root / 'images')
    os.makedirs(root / 'labels')
    for name, ids in labels.items():
        Image.fromarray(np.zeros(ids.shape + (3,), np.uint8)).save(root / 'images' / f'{name}.png')
        save_gta_label(root / 'labels' / f'{name}.png', ids)
    return root


def random_gta(root, n=3, seed=0):
    """GTA tree of n random 10x14 labels over all Cityscapes ids 0..33 (incl. void 0/1/9/14/29)."""
    rng = np.random.default_rng(seed)
    return make_gta(root, {f'{i:05d}': rng.integers(0, 34, (10, 14)) for i in range(1, n + 1)})


def make_synthia(root, n=3, seed=1):
    """SYNTHIA tree: RGB/*.png and 16-bit 3-channel GT/LABELS/*.png (class id in red, junk elsewhere)."""
    rng = np.random.default_rng(seed)
    os.makedirs(root / 'RGB')
    os.makedirs(root / 'GT' / 'LABELS')
    classes = {}
    for i in range(n):
        name = f'{i:07d}'
        cls = rng.integers(0, 23, (9, 11)).astype(np.uint16)
        bgr = np.stack([rng.integers(0, 60000, cls.shape), rng.integers(0, 60000, cls.shape), cls], -1)
        assert cv2.imwrite(str(root / 'GT' / 'LABELS' / f'{name}.png'), bgr.astype(np.uint16))
        cv2.imwrite(str(root / 'RGB' / f'{name}.png'), np.zeros((9, 11, 3), np.uint8))
        classes[name] = cls
    return root, classes


def rect(x0, y0, x1, y1):
    """Axis-aligned polygon (PIL fills it inclusively)."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


POLYGON_OBJECTS = [('road', rect(0, 4, 11, 7)), ('sky', rect(0, 0, 11, 3)), ('car', rect(2, 3, 6, 6)),
                   ('license plate', rect(3, 4, 4, 5)), ('persongroup', rect(8, 1, 9, 2)),
                   ('out of roi', rect(10, 0, 11, 7)), ('guard rail', rect(0, 6, 1, 7))]


def expected_polygon_label():
    """Hand-rasterised trainIds of POLYGON_OBJECTS (license plate skipped, void classes 255)."""
    exp = np.full((8, 12), 255, np.uint8)
    exp[4:8, :] = 0
    exp[0:4, :] = 10
    exp[3:7, 2:7] = 13
    exp[1:3, 8:10] = 11
    exp[:, 10:12] = 255
    exp[6:8, 0:2] = 255
    return exp


def make_cityscapes(root, seed=2):
    """Cityscapes tree: polygons JSON frames (train, val) and labelIds-only frames (train, test)."""
    rng = np.random.default_rng(seed)
    frames = {'train': ['aachen/aachen_000000_000019', 'bochum/bochum_000000_000001'],
              'val': ['frankfurt/frankfurt_000000_000294'], 'test': ['berlin/berlin_000000_000019']}
    ids = {}
    for split, stems in frames.items():
        for stem in stems:
            os.makedirs(root / 'leftImg8bit' / split / osp.dirname(stem), exist_ok=True)
            os.makedirs(root / 'gtFine' / split / osp.dirname(stem), exist_ok=True)
            Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(
                root / 'leftImg8bit' / split / f'{stem}_leftImg8bit.png')
            gt = root / 'gtFine' / split / stem
            if stem.startswith(('aachen', 'frankfurt')):
                poly = dict(imgHeight=8, imgWidth=12,
                            objects=[dict(label=lab, polygon=pts) for lab, pts in POLYGON_OBJECTS])
                with open(f'{gt}_gtFine_polygons.json', 'w') as f:
                    json.dump(poly, f)
            else:
                ids[stem] = rng.integers(0, 34, (8, 12)).astype(np.uint8)
                Image.fromarray(ids[stem]).save(f'{gt}_gtFine_labelIds.png')
    return root, ids


def snapshot(root):
    """{relative path: (bytes, mtime_ns)} of every file below root."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = (f.read(), os.stat(path).st_mtime_ns)
    return out


def run_tool(tool, root, *args):
    """Run tools/convert_datasets/<tool>.py as a subprocess from the repository root."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, f'tools/convert_datasets/{tool}.py', str(root), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def read_png(path):
    """Decode a PNG with PIL, checking it is uint8 'L'."""
    with Image.open(path) as img:
        assert img.mode == 'L'
        return np.array(img)


def load_json(path):
    """Parse a JSON file."""
    with open(path) as f:
        return json.load(f)


def test_reference_tables_match_methods():
    """The cityscapesscripts-derived table agrees with docs/data.md §2."""
    table = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
             26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    assert {k: v for k, v in CS_ID_TO_TRAIN.items() if v != 255} == table
    assert sorted(CS_ID_TO_TRAIN) == list(range(34))


def test_gta_cli_values_and_stats(tmp_path):
    root = random_gta(tmp_path / 'gta')
    res = run_tool('gta', root)
    assert res.returncode == 0, res.stderr
    assert 'converted 3 label files (3 written' in res.stdout
    stats = load_json(root / 'sample_class_stats.json')
    assert len(stats) == 3
    for i, entry in enumerate(stats, start=1):
        with Image.open(root / 'labels' / f'{i:05d}.png') as img:
            ids = np.array(img)  # palette indices
        expected = apply_map(ids, CS_ID_TO_TRAIN)
        out = root / 'labels' / f'{i:05d}_labelTrainIds.png'
        np.testing.assert_array_equal(read_png(out), expected)
        counts = np.bincount(expected.ravel(), minlength=256)
        assert entry == dict({str(c): int(counts[c]) for c in range(19) if counts[c]}, file=str(out))
        assert counts[255] == int(np.isin(ids, [k for k, v in CS_ID_TO_TRAIN.items() if v == 255]).sum())


def test_rcs_stats_hand_checked(tmp_path):
    root = make_gta(tmp_path / 'gta', {
        '00001': np.array([[7, 7, 7], [26, 0, 23]]),    # road x3, car, void, sky
        '00002': np.array([[24, 24, 8], [8, 29, 7]]),   # person x2, sidewalk x2, caravan (void), road
    })
    summary = convert_gta(str(root))
    f1 = osp.join(str(root), 'labels', '00001_labelTrainIds.png')
    f2 = osp.join(str(root), 'labels', '00002_labelTrainIds.png')
    np.testing.assert_array_equal(read_png(f1), [[0, 0, 0], [13, 255, 10]])
    np.testing.assert_array_equal(read_png(f2), [[11, 11, 1], [1, 255, 0]])
    exp_stats = [{'0': 3, '10': 1, '13': 1, 'file': f1}, {'0': 1, '1': 2, '11': 2, 'file': f2}]
    exp_dict = {f1: {'0': 3, '10': 1, '13': 1}, f2: {'0': 1, '1': 2, '11': 2}}
    exp_with = {'0': [[f1, 3], [f2, 1]], '10': [[f1, 1]], '13': [[f1, 1]], '1': [[f2, 2]], '11': [[f2, 2]]}
    for name, exp in zip(STATS_NAMES, (exp_stats, exp_dict, exp_with)):
        text = (root / name).read_text()
        assert text == json.dumps(exp, indent=2)  # DAFormer's json.dump(indent=2) layout, key order included
    assert list(load_json(root / 'samples_with_class.json')) == ['0', '10', '13', '1', '11']
    assert summary['stats_files'] == [osp.join(str(root), n) for n in STATS_NAMES]
    assert summary['converted'] == 2 and summary['written'] == 2
    rcs = load_rcs_stats(str(root))
    assert rcs.sample_class_stats == [(f1, {0: 3, 10: 1, 13: 1}), (f2, {0: 1, 1: 2, 11: 2})]
    assert rcs.samples_with_class == {0: [(f1, 3), (f2, 1)], 10: [(f1, 1)], 13: [(f1, 1)], 1: [(f2, 2)],
                                      11: [(f2, 2)]}
    assert all(isinstance(c, int) for c in rcs.samples_with_class)


def test_relative_root_gives_relative_paths(tmp_path, monkeypatch):
    make_gta(tmp_path / 'gta', {'00001': np.array([[7, 26]]), '00002': np.array([[0, 33]])})
    monkeypatch.chdir(tmp_path)
    convert_gta('gta')
    assert load_json(tmp_path / 'gta' / 'sample_class_stats.json') == [
        {'0': 1, '13': 1, 'file': 'gta/labels/00001_labelTrainIds.png'},
        {'18': 1, 'file': 'gta/labels/00002_labelTrainIds.png'}]


def test_parallel_error_names_file(tmp_path):
    root = random_gta(tmp_path / 'gta', n=5)
    save_gta_label(root / 'labels' / '00004.png', np.array([[7, 250]]))
    with pytest.raises(ConversionError, match=r'labels/00004.png: unknown Cityscapes label ids \[250\]; '
                                              r'expected only ids 0..33'):
        convert_gta(str(root), nproc=2)
    assert not (root / 'sample_class_stats.json').exists()


def test_count_class_pixels_excludes_ignore():
    label = np.array([[255, 18, 18], [0, 255, 5]], np.uint8)
    assert count_class_pixels(label, 'x.png') == {0: 1, 5: 1, 18: 2, 'file': 'x.png'}
    assert list(count_class_pixels(label, 'x.png')) == [0, 5, 18, 'file']


def test_synthia_cli_values(tmp_path):
    root, classes = make_synthia(tmp_path / 'synthia')
    res = run_tool('synthia', root)
    assert res.returncode == 0, res.stderr
    stats = load_json(root / 'sample_class_stats.json')
    assert [e['file'] for e in stats] == [str(root / 'GT' / 'LABELS' / f'{n}_labelTrainIds.png')
                                          for n in sorted(classes)]
    for entry, (name, cls) in zip(stats, sorted(classes.items())):
        expected = apply_map(cls, SYNTHIA_TABLE)
        np.testing.assert_array_equal(read_png(entry['file']), expected)
        counts = np.bincount(expected.ravel(), minlength=256)
        assert {k: v for k, v in entry.items() if k != 'file'} == {
            str(c): int(counts[c]) for c in range(19) if counts[c]}
    assert set(load_json(root / 'samples_with_class.json')) == {
        str(t) for n, cls in classes.items() for i, t in SYNTHIA_TABLE.items() if (cls == i).any()}


def test_cityscapes_cli_polygons_and_label_ids(tmp_path):
    root, ids = make_cityscapes(tmp_path / 'cityscapes')
    res = run_tool('cityscapes', root)
    assert res.returncode == 0, res.stderr
    gt = root / 'gtFine'
    poly_exp = expected_polygon_label()
    aachen = gt / 'train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png'
    bochum = gt / 'train/bochum/bochum_000000_000001_gtFine_labelTrainIds.png'
    np.testing.assert_array_equal(read_png(aachen), poly_exp)
    frankfurt = gt / 'val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png'
    np.testing.assert_array_equal(read_png(frankfurt), poly_exp)
    bochum_exp = apply_map(ids['bochum/bochum_000000_000001'], CS_ID_TO_TRAIN)
    np.testing.assert_array_equal(read_png(bochum), bochum_exp)
    np.testing.assert_array_equal(read_png(gt / 'test/berlin/berlin_000000_000019_gtFine_labelTrainIds.png'),
                                  apply_map(ids['berlin/berlin_000000_000019'], CS_ID_TO_TRAIN))
    stats = load_json(root / 'sample_class_stats.json')  # train frames only
    counts = np.bincount(bochum_exp.ravel(), minlength=256)
    assert stats == [{'0': 21, '10': 31, '11': 4, '13': 20, 'file': str(aachen)},
                     dict({str(c): int(counts[c]) for c in range(19) if counts[c]}, file=str(bochum))]
    assert (root / 'train.txt').read_text() == 'aachen/aachen_000000_000019\nbochum/bochum_000000_000001\n'
    assert (root / 'val.txt').read_text() == 'frankfurt/frankfurt_000000_000294\n'
    assert (root / 'test.txt').read_text() == 'berlin/berlin_000000_000019\n'


def test_polygon_expectation_counts():
    exp = expected_polygon_label()
    assert {c: int((exp == c).sum()) for c in (0, 10, 11, 13)} == {0: 21, 10: 31, 11: 4, 13: 20}


def build_tree(kind, root):
    """Fixture tree of one dataset kind and its conversion function."""
    if kind == 'gta':
        return random_gta(root), convert_gta
    if kind == 'synthia':
        return make_synthia(root)[0], convert_synthia
    return make_cityscapes(root)[0], convert_cityscapes


@pytest.mark.parametrize('kind', ['gta', 'synthia', 'cityscapes'])
def test_idempotent_and_originals_untouched(tmp_path, kind):
    root, convert = build_tree(kind, tmp_path / kind)
    originals = snapshot(root)
    convert(str(root))
    first = snapshot(root)
    summary = convert(str(root))
    second = snapshot(root)
    assert summary['written'] == 0
    assert {k: v[0] for k, v in first.items()} == {k: v[0] for k, v in second.items()}
    assert {k: first[k][1] for k in first if not k.endswith('.json') and not k.endswith('.txt')} == \
        {k: second[k][1] for k in first if not k.endswith('.json') and not k.endswith('.txt')}
    assert {k: second[k] for k in originals} == originals
    assert not [k for k in second if osp.basename(k).startswith('.')]  # no temp files left
    umask = os.umask(0)
    os.umask(umask)
    for rel in set(second) - set(originals):  # outputs get ordinary permissions, not a temp file's 0600
        assert stat.S_IMODE(os.stat(root / rel).st_mode) == 0o666 & ~umask, rel


@pytest.mark.parametrize('kind', ['gta', 'synthia', 'cityscapes'])
def test_nproc2_equals_nproc1(tmp_path, kind):
    root, convert = build_tree(kind, tmp_path / kind)
    originals = snapshot(root)
    convert(str(root), nproc=1)
    one = {k: v[0] for k, v in snapshot(root).items()}
    for rel in set(one) - set(originals):
        os.remove(root / rel)
    convert(str(root), nproc=2)
    assert {k: v[0] for k, v in snapshot(root).items()} == one


def test_cli_nproc2_equals_nproc1(tmp_path):
    root = random_gta(tmp_path / 'gta', n=6)
    assert run_tool('gta', root, '--nproc', '1').returncode == 0
    one = {k: v[0] for k, v in snapshot(root).items()}
    for rel in one:
        if rel.endswith(('.json', '_labelTrainIds.png')):
            os.remove(root / rel)
    res = run_tool('gta', root, '--nproc', '2')
    assert res.returncode == 0, res.stderr
    assert {k: v[0] for k, v in snapshot(root).items()} == one


def assert_clean_failure(res, *needles):
    """Exit status 1, one 'error:' line containing every needle, no traceback."""
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, res.stderr
    assert 'Traceback' not in res.stderr
    for needle in needles:
        assert str(needle) in errors[0], errors[0]


def test_cli_missing_root(tmp_path):
    res = run_tool('gta', tmp_path / 'nowhere')
    assert_clean_failure(res, tmp_path / 'nowhere', 'labels/00001.png')


def test_cli_empty_labels_dir(tmp_path):
    root = make_gta(tmp_path / 'gta', {})
    res = run_tool('gta', root)
    assert_clean_failure(res, root / 'labels', 'no label files')
    assert snapshot(root) == {}


def failing_after_good_run(tmp_path, tool, corrupt):
    """Convert a good GTA tree, apply ``corrupt(root)``, re-run the CLI; check nothing present changed."""
    root = random_gta(tmp_path / 'gta')
    convert_gta(str(root))
    corrupt(root)
    before = snapshot(root)
    res = run_tool(tool, root)
    assert snapshot(root) == before
    return root, res


def test_cli_image_without_label(tmp_path):
    def add_image(root):
        """An image whose label is missing."""
        Image.fromarray(np.zeros((10, 14, 3), np.uint8)).save(root / 'images' / '00007.png')
    root, res = failing_after_good_run(tmp_path, 'gta', add_image)
    assert_clean_failure(res, root / 'images' / '00007.png', root / 'labels' / '00007.png')


def test_cli_unknown_label_id(tmp_path):
    def add_bad(root):
        """A label with ids outside 0..33."""
        save_gta_label(root / 'labels' / '00002.png', np.array([[7, 77], [200, 8]]))
    root, res = failing_after_good_run(tmp_path, 'gta', add_bad)
    assert_clean_failure(res, root / 'labels' / '00002.png', '[77, 200]')


def test_cli_corrupt_png(tmp_path):
    def add_corrupt(root):
        """A label file of random bytes (with its image)."""
        (root / 'labels' / '00004.png').write_bytes(np.random.default_rng(3).bytes(500))
        Image.fromarray(np.zeros((10, 14, 3), np.uint8)).save(root / 'images' / '00004.png')
    root, res = failing_after_good_run(tmp_path, 'gta', add_corrupt)
    assert_clean_failure(res, root / 'labels' / '00004.png', 'cannot be read')


def test_synthia_bad_inputs(tmp_path):
    root, _ = make_synthia(tmp_path / 'synthia')
    bad = root / 'GT' / 'LABELS' / '0000001.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(100))
    with pytest.raises(ConversionError, match='0000001.png: cannot be decoded'):
        convert_synthia(str(root))
    cls = np.full((4, 5), 23, np.uint16)
    cv2.imwrite(str(bad), np.stack([cls, cls, cls], -1))
    with pytest.raises(ConversionError, match=r'0000001.png: unknown SYNTHIA class ids \[23\]'):
        convert_synthia(str(root))
    assert not (root / 'sample_class_stats.json').exists()
    os.rename(root / 'RGB', root / 'rgb_moved')
    with pytest.raises(ConversionError, match='RGB: folder not found; expected'):
        convert_synthia(str(root))


def test_cityscapes_bad_inputs(tmp_path):
    root, _ = make_cityscapes(tmp_path / 'cityscapes')
    poly = root / 'gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_polygons.json'
    poly.write_text(json.dumps(dict(imgHeight=8, imgWidth=12, objects=[dict(label='spaceship',
                                                                            polygon=rect(0, 0, 2, 2))])))
    with pytest.raises(ConversionError, match="unknown label 'spaceship'"):
        convert_cityscapes(str(root))
    poly.write_text('{"imgHeight": 8')
    with pytest.raises(ConversionError, match='frankfurt_000000_000294_gtFine_polygons.json: not a valid'):
        convert_cityscapes(str(root))
    ids = root / 'gtFine/test/berlin/berlin_000000_000019_gtFine_labelIds.png'
    poly.unlink()
    Image.fromarray(np.array([[7, 34]], np.uint8)).save(ids)
    with pytest.raises(ConversionError, match=r'berlin_000000_000019_gtFine_labelIds.png: unknown .* \[34\]'):
        convert_cityscapes(str(root))
    assert sorted(p.name for p in root.iterdir()) == ['gtFine', 'leftImg8bit']
    os.rename(root / 'gtFine', root / 'gt')
    res = run_tool('cityscapes', root)
    assert_clean_failure(res, root / 'gtFine', 'leftImg8bit/{train,val,test}')


def test_load_rcs_stats_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='stats.json not found: run tools/convert_datasets'):
        load_rcs_stats(str(tmp_path))
    (tmp_path / 'sample_class_stats.json').write_text('[{"0": 5, "file": "a.png"}]')
    (tmp_path / 'samples_with_class.json').write_text('{"0": [["a.png", 5]]')
    with pytest.raises(ValueError, match='samples_with_class.json: not a valid JSON'):
        load_rcs_stats(str(tmp_path))
    (tmp_path / 'samples_with_class.json').write_text('{"19": [["a.png", 5]]}')
    with pytest.raises(ValueError, match="samples_with_class.json: the top level has key '19'"):
        load_rcs_stats(str(tmp_path))
    (tmp_path / 'sample_class_stats.json').write_text('[{"0": 5, "file": "a.png"}, {"x": 1, "file": "b"}]')
    with pytest.raises(ValueError, match="sample_class_stats.json: entry 1 has key 'x'"):
        load_rcs_stats(str(tmp_path))
    (tmp_path / 'sample_class_stats.json').write_text('[{"0": 5}]')
    with pytest.raises(ValueError, match='entry 0 must be a dict with a string key "file"'):
        load_rcs_stats(str(tmp_path))
