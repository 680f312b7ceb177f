"""Label conversion to 19-class train ids for GTA5, SYNTHIA and Cityscapes (docs/data.md §1-3).

Output format of DAFormer's converters (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``tools/convert_datasets/{gta,synthia,cityscapes}.py``): ``<label>_labelTrainIds.png`` (uint8 'L', 255 =
ignore) next to every original label, the three RCS statistics files of ``class_stats`` in the dataset
root and, for Cityscapes, ``{train,val,test}.txt``.  Reading follows the reference: GTA palette PNGs with
PIL (indices = Cityscapes label ids), SYNTHIA with OpenCV ``IMREAD_UNCHANGED`` and the last channel of the
BGR array, Cityscapes polygons with ``cityscapesscripts``' ``json2labelImg(..., 'trainIds')``.

Differences from the reference, all on the side of safety: files are processed in sorted path order
(the reference's Cityscapes scan order is the file system's); outputs are written atomically and an output
whose pixels already equal the conversion is left untouched, so re-runs are idempotent; a Cityscapes
frame without ``_gtFine_polygons.json`` is converted from its ``_gtFine_labelIds.png``; an unreadable
file, an unknown id or a broken layout stops the run with a ``ConversionError`` naming the file, before
any statistics file is replaced.
"""
import argparse
import json
import os
import os.path as osp
import sys
import uuid
from multiprocessing import Pool
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label
from cityscapesscripts.preparation.json2labelImg import json2labelImg
from PIL import Image
from tqdm import tqdm

from .class_stats import count_class_pixels, write_class_stats, write_text_atomic
from .conversion_error import ConversionError
from .label_tables import SYNTHIA_ID_TO_TRAINID, SYNTHIA_KNOWN_IDS, build_lut, cityscapes_id_to_trainid

TRAIN_ID_SUFFIX = '_labelTrainIds.png'
DIGIT_PNG = tuple(f'{d}.png' for d in range(10))
CITYSCAPES_SPLITS = ('train', 'val', 'test')
CS_POLYGONS = '_gtFine_polygons.json'
CS_LABEL_IDS = '_gtFine_labelIds.png'
CS_TRAIN_IDS = '_gtFine_labelTrainIds.png'

GTA_LAYOUT = ('expected <root>/images/00001.png ... and <root>/labels/00001.png ... '
              '(palette PNGs whose indices are Cityscapes label ids)')
SYNTHIA_LAYOUT = ('expected <root>/RGB/0000000.png ... and <root>/GT/LABELS/0000000.png ... '
                  '(16-bit multi-channel PNGs, class id in the red channel)')
CITYSCAPES_LAYOUT = ('expected <root>/leftImg8bit/{train,val,test}/<city>/<stem>_leftImg8bit.png and '
                     '<root>/gtFine/{train,val,test}/<city>/<stem>_gtFine_polygons.json '
                     '(or <stem>_gtFine_labelIds.png)')


def scan_files(directory: str, suffixes: Tuple[str, ...]) -> List[str]:
    """Sorted paths relative to ``directory`` of all non-hidden files (recursive) ending in a suffix."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        rel_dir = osp.relpath(dirpath, directory)
        for name in filenames:
            if name.endswith(suffixes) and not name.startswith('.'):
                found.append(osp.normpath(osp.join(rel_dir, name)))
    return sorted(found)


def require_dirs(root: str, subdirs: Sequence[str], layout: str) -> None:
    """Raise ``ConversionError`` naming the first missing folder (or the root) and the expected layout."""
    if not osp.isdir(root):
        raise ConversionError(root, f'dataset root does not exist or is not a folder; {layout}')
    for sub in subdirs:
        path = osp.join(root, sub)
        if not osp.isdir(path):
            raise ConversionError(path, f'folder not found; {layout}')


def parallel_map(func: Callable, items: Sequence, nproc: int = 1, desc: str = '') -> List:
    """``[func(x) for x in items]`` with a progress bar; ``nproc > 1`` uses ``multiprocessing.Pool``."""
    results = []
    with tqdm(total=len(items), desc=desc) as bar:
        if nproc <= 1:
            for item in items:
                results.append(func(item))
                bar.update()
            return results
        with Pool(nproc) as pool:
            for result in pool.imap(func, items, max(1, len(items) // (nproc * 16))):
                results.append(result)
                bar.update()
    return results


def describe_exception(exc: BaseException, path: str) -> str:
    """``'TypeName: message'`` of a decoder error, without repeating ``path``."""
    text = str(exc).replace(f"'{path}'", '').replace(path, '').strip(' :')
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def read_png_pil(path: str) -> np.ndarray:
    """Decode a single-channel PNG with PIL (palette indices for mode 'P')."""
    try:
        with Image.open(path) as img:
            img.load()
            mode, label = img.mode, np.array(img)
    except Exception as exc:
        raise ConversionError(
            path, f'cannot be read as a label image ({describe_exception(exc, path)})') from None
    if label.ndim != 2 or label.dtype.kind not in 'ui':
        raise ConversionError(
            path, f'expected a single-channel label image of integer ids, got PIL mode {mode!r}')
    return label


def read_png_cv2_last_channel(path: str) -> np.ndarray:
    """Decode a multi-channel PNG with OpenCV ``IMREAD_UNCHANGED`` and return its last (red) channel."""
    try:
        label = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except Exception as exc:
        raise ConversionError(path, f'cannot be read ({describe_exception(exc, path)})') from None
    if label is None:
        raise ConversionError(path, 'cannot be decoded as an image (corrupt or not a PNG)')
    if label.ndim != 3:
        raise ConversionError(path, f'expected a multi-channel PNG (class id in the red channel), '
                                    f'got shape {label.shape}')
    return label[:, :, -1]


def image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) from an image file's header, None when the file does not exist."""
    if not osp.isfile(path):
        return None
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as exc:
        raise ConversionError(
            path, f'cannot be read as an image ({describe_exception(exc, path)})') from None


def size_mismatch(label: np.ndarray, label_path: str, image_path: Optional[str]) -> Optional[str]:
    """``'<label> (WxH) vs <image> (WxH)'`` when a label differs in size from its image, else None."""
    size = image_size(image_path) if image_path else None
    if size is None or size == (label.shape[1], label.shape[0]):
        return None
    return (f'{label_path} ({label.shape[1]}x{label.shape[0]}) vs {image_path} '
            f'({size[0]}x{size[1]})')


def present_ids(label: np.ndarray) -> List[int]:
    """Sorted distinct values of an integer label array."""
    if label.dtype in (np.uint8, np.uint16):
        return np.flatnonzero(np.bincount(label.ravel())).tolist()
    return np.unique(label).tolist()


def describe_ids(ids: Iterable[int]) -> str:
    """Short text for a set of ids: ``'0..33'`` when contiguous, else the sorted list."""
    ids = sorted(ids)
    return f'{ids[0]}..{ids[-1]}' if ids == list(range(ids[0], ids[-1] + 1)) else str(ids)


def map_to_train_ids(label: np.ndarray, mapping: Dict[int, int], known: Iterable[int], path: str,
                     id_kind: str) -> np.ndarray:
    """Map ids through ``mapping`` (others -> 255); ids outside ``known`` raise ``ConversionError``."""
    known = set(known)
    unknown = [i for i in present_ids(label) if i not in known]
    if unknown:
        raise ConversionError(
            path, f'unknown {id_kind} ids {unknown}; expected only ids {describe_ids(known)}')
    return build_lut(mapping)[label]


def label_equals_file(path: str, label: np.ndarray) -> bool:
    """True when ``path`` is a readable 'L' PNG whose pixels equal ``label``."""
    if not osp.isfile(path):
        return False
    try:
        with Image.open(path) as img:
            return img.mode == 'L' and np.array_equal(np.asarray(img), label)
    except Exception:
        return False


def temp_path_beside(path: str, suffix: str) -> str:
    """Unused hidden file name in the folder of ``path`` (created later with the umask's permissions)."""
    return osp.join(osp.dirname(osp.abspath(path)),
                    f'.{osp.basename(path)}.{os.getpid()}.{uuid.uuid4().hex}{suffix}')


def write_label_png(path: str, label: np.ndarray) -> bool:
    """Atomically write a uint8 'L' PNG unless the file already holds these pixels; True if written."""
    if label_equals_file(path, label):
        return False
    tmp = temp_path_beside(path, '.tmp')
    try:
        Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8)).save(tmp, format='PNG')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return True


def convert_gta_label(task: Tuple[str, str, str]) -> Tuple[Dict, bool, Optional[str]]:
    """Convert one GTA palette label (Cityscapes ids) to train ids.

    Returns (class stats, written, size mismatch with its image or None).
    """
    src, out, image = task
    mapping = cityscapes_id_to_trainid()
    label = map_to_train_ids(read_png_pil(src), mapping, mapping.keys(), src, 'Cityscapes label')
    return count_class_pixels(label, out), write_label_png(out, label), size_mismatch(label, src, image)


def convert_synthia_label(task: Tuple[str, str, str]) -> Tuple[Dict, bool, Optional[str]]:
    """Convert one SYNTHIA label (red channel) to train ids; as :func:`convert_gta_label`."""
    src, out, image = task
    label = read_png_cv2_last_channel(src)
    label = map_to_train_ids(label, SYNTHIA_ID_TO_TRAINID, SYNTHIA_KNOWN_IDS, src, 'SYNTHIA class')
    return count_class_pixels(label, out), write_label_png(out, label), size_mismatch(label, src, image)


def check_polygons_json(path: str) -> None:
    """Validate a Cityscapes polygons JSON (size, objects, known label names) before rasterising."""
    try:
        with open(path) as f:
            data = json.load(f)
        size_ok = int(data['imgWidth']) > 0 and int(data['imgHeight']) > 0
        objects = list(data['objects'])
    except Exception as exc:
        raise ConversionError(path, f'not a valid Cityscapes polygons JSON ({type(exc).__name__}: {exc}); '
                                    'expected keys imgHeight, imgWidth, objects') from None
    if not size_ok:
        raise ConversionError(path, 'imgWidth and imgHeight must be positive')
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict) or 'label' not in obj or 'polygon' not in obj:
            raise ConversionError(path, f'object {i} must have keys "label" and "polygon"')
        name = str(obj['label'])
        if name not in name2label and name.endswith('group'):
            name = name[:-len('group')]
        if name not in name2label:
            raise ConversionError(path, f'object {i} has unknown label {obj["label"]!r} '
                                        '(not in cityscapesscripts.helpers.labels)')


def rasterise_polygons(src: str, out: str) -> Tuple[np.ndarray, str]:
    """Rasterise polygons with ``json2labelImg(..., 'trainIds')`` into a temp PNG beside ``out``."""
    check_polygons_json(src)
    tmp = temp_path_beside(out, '.png')
    done = False
    try:
        json2labelImg(src, tmp, 'trainIds')
        with Image.open(tmp) as img:
            label = np.array(img)
        done = True
    except (Exception, SystemExit) as exc:
        raise ConversionError(src, f'json2labelImg failed ({type(exc).__name__}: {exc})') from None
    finally:
        if not done and osp.exists(tmp):
            os.remove(tmp)
    return label, tmp


def commit_rendered(tmp: str, out: str, label: np.ndarray) -> bool:
    """Move a rendered temp PNG onto ``out`` unless ``out`` already holds these pixels; True if moved."""
    if label_equals_file(out, label):
        os.remove(tmp)
        return False
    os.replace(tmp, out)
    return True


def convert_cityscapes_label(task: Tuple[str, str, bool, str]
                             ) -> Tuple[Optional[Dict], bool, Optional[str]]:
    """Convert one Cityscapes frame (polygons JSON or labelIds PNG); stats only for train frames."""
    src, out, is_train, image = task
    if src.endswith(CS_POLYGONS):
        label, tmp = rasterise_polygons(src, out)
        written = commit_rendered(tmp, out, label)
    else:
        mapping = cityscapes_id_to_trainid()
        label = map_to_train_ids(read_png_pil(src), mapping, mapping.keys(), src, 'Cityscapes label')
        written = write_label_png(out, label)
    stats = count_class_pixels(label, out) if is_train else None
    return stats, written, size_mismatch(label, src, image)


def check_images_have_labels(image_dir: str, label_dir: str, suffixes: Tuple[str, ...]) -> None:
    """Raise ``ConversionError`` naming the first image whose label file is missing."""
    for rel in scan_files(image_dir, suffixes):
        if not osp.isfile(osp.join(label_dir, rel)):
            raise ConversionError(osp.join(image_dir, rel),
                                  f'image has no label: {osp.join(label_dir, rel)} not found')


def label_tasks(root: str, image_sub: str, label_sub: str, layout: str) -> List[Tuple[str, str, str]]:
    """(source, output, image) for every ``<label_sub>/*<digit>.png`` after checking the layout."""
    require_dirs(root, (image_sub, label_sub), layout)
    image_dir, label_dir = osp.join(root, image_sub), osp.join(root, label_sub)
    labels = scan_files(label_dir, DIGIT_PNG)
    if not labels:
        raise ConversionError(label_dir, f'no label files (*<digit>.png) found; {layout}')
    check_images_have_labels(image_dir, label_dir, DIGIT_PNG)
    return [(osp.join(label_dir, rel), osp.join(label_dir, rel[:-len('.png')] + TRAIN_ID_SUFFIX),
             osp.join(image_dir, rel)) for rel in labels]


def run_label_conversion(root: str, tasks: List[Tuple], func: Callable, nproc: int, desc: str) -> Dict:
    """Convert all tasks, then write the RCS statistics of the frames that return stats into ``root``."""
    results = parallel_map(func, tasks, nproc, desc)
    stats = [s for s, _, _ in results if s is not None]
    return dict(converted=len(results), written=sum(w for _, w, _ in results),
                stats_files=write_class_stats(root, stats), stats_entries=len(stats), split_files=[],
                size_mismatches=[m for _, _, m in results if m is not None])


def convert_gta(root: str, nproc: int = 1) -> Dict:
    """Convert ``<root>/labels/*.png`` to train ids and write the RCS statistics into ``root``."""
    tasks = label_tasks(root, 'images', 'labels', GTA_LAYOUT)
    return run_label_conversion(root, tasks, convert_gta_label, nproc, 'GTA labels')


def convert_synthia(root: str, nproc: int = 1) -> Dict:
    """Convert ``<root>/GT/LABELS/*.png`` to train ids and write the RCS statistics into ``root``."""
    tasks = label_tasks(root, 'RGB', osp.join('GT', 'LABELS'), SYNTHIA_LAYOUT)
    return run_label_conversion(root, tasks, convert_synthia_label, nproc, 'SYNTHIA labels')


def cityscapes_split_stems(split_dir: str) -> Dict[str, str]:
    """``{<city>/<stem>: source file}`` of a gtFine split, polygons JSON preferred over labelIds PNG."""
    if not osp.isdir(split_dir):
        return {}
    sources = {}
    for suffix in (CS_LABEL_IDS, CS_POLYGONS):
        for rel in scan_files(split_dir, (suffix,)):
            sources[rel[:-len(suffix)]] = osp.join(split_dir, rel)
    return dict(sorted(sources.items()))


def write_split_lists(root: str, stems: Dict[str, List[str]]) -> List[str]:
    """Write ``<root>/<split>.txt`` (one ``<city>/<stem>`` per line) atomically; return the paths."""
    paths = []
    for split, names in stems.items():
        path = osp.join(root, f'{split}.txt')
        write_text_atomic(path, ''.join(name + '\n' for name in names))
        paths.append(path)
    return paths


def convert_cityscapes(root: str, nproc: int = 1) -> Dict:
    """Write ``*_gtFine_labelTrainIds.png`` for all splits, train RCS statistics and split lists."""
    require_dirs(root, ('leftImg8bit', 'gtFine'), CITYSCAPES_LAYOUT)
    gt_dir = osp.join(root, 'gtFine')
    per_split = {s: cityscapes_split_stems(osp.join(gt_dir, s)) for s in CITYSCAPES_SPLITS}
    img_dir = osp.join(root, 'leftImg8bit')
    tasks = [(src, osp.join(gt_dir, split, stem + CS_TRAIN_IDS), split == 'train',
              osp.join(img_dir, split, stem + '_leftImg8bit.png'))
             for split, sources in per_split.items() for stem, src in sources.items()]
    if not tasks:
        raise ConversionError(
            gt_dir, f'no *{CS_POLYGONS} or *{CS_LABEL_IDS} files found; {CITYSCAPES_LAYOUT}')
    summary = run_label_conversion(root, tasks, convert_cityscapes_label, nproc, 'Cityscapes labels')
    summary['split_files'] = write_split_lists(root, {s: list(v) for s, v in per_split.items()})
    return summary


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def print_summary(summary: Dict) -> None:
    """Print what a converter wrote: label counts, statistics and split-list paths."""
    print(f'converted {summary["converted"]} label files ({summary["written"]} written, '
          f'{summary["converted"] - summary["written"]} already up to date)')
    print(f'RCS statistics of {summary["stats_entries"]} files: ' + ', '.join(summary['stats_files']))
    if summary['split_files']:
        print('split lists: ' + ', '.join(summary['split_files']))
    mismatches = summary.get('size_mismatches', [])
    if mismatches:
        print(f'WARNING: {len(mismatches)} label files differ in size from their images (training '
              'resizes these labels to the image size, as the reference pipelines do; evaluation '
              'refuses them):')
        print('\n'.join(f'  {m}' for m in mismatches))
    else:
        print('every label file has the size of its image')


def converter_main(convert: Callable[[str, int], Dict], description: str,
                   argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry of a converter: parse ``DATA_ROOT --nproc N``, run, return the exit status."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('data_root', help='dataset root (see docs/data.md §1 for the layout)')
    parser.add_argument('--nproc', type=positive_int, default=1,
                        help='worker processes (default 1: convert in this process)')
    args = parser.parse_args(argv)
    try:
        summary = convert(args.data_root, args.nproc)
    except ConversionError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print_summary(summary)
    return 0
