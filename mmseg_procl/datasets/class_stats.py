"""Per-file class pixel statistics for Rare Class Sampling (docs/methods.md §1.4 and docs/data.md §3).

Output format of DAFormer's converters (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``tools/convert_datasets/{gta,synthia,cityscapes}.py``, function ``save_class_stats``).  Three JSON files are
written into the dataset root with ``json.dump(..., indent=2)`` (no trailing newline), byte for byte what the
reference writes for the same file list:

- ``sample_class_stats.json``: list, one dict per label file in conversion order,
  ``{"<trainId>": n_pixels, ..., "file": "<label path>"}`` with only the train ids 0..18 that occur
  (ascending), 255 excluded, ``"file"`` last;
- ``sample_class_stats_dict.json``: ``{"<label path>": {"<trainId>": n_pixels, ...}}``, the same counts
  without the ``"file"`` key;
- ``samples_with_class.json``: ``{"<trainId>": [["<label path>", n_pixels], ...]}``, classes in order of
  first appearance over the files, files in conversion order.

JSON object keys are strings (the reference's int keys are stringified by ``json``).  The label path is the
``*_labelTrainIds.png`` path joined onto the dataset root exactly as it was given on the command line
(relative root -> relative paths, absolute root -> absolute paths), as in the reference; Rare Class
Sampling matches files by the basename of this path.
"""
import json
import os
import os.path as osp
import uuid
from typing import Dict, List, NamedTuple, Tuple

import numpy as np

from .label_tables import NUM_CLASSES

STATS_FILE = 'sample_class_stats.json'
STATS_DICT_FILE = 'sample_class_stats_dict.json'
SAMPLES_WITH_CLASS_FILE = 'samples_with_class.json'
STATS_FILES = (STATS_FILE, STATS_DICT_FILE, SAMPLES_WITH_CLASS_FILE)


class RcsStats(NamedTuple):
    """Parsed RCS statistics: ``[(file, {trainId: n})]`` and ``{trainId: [(file, n)]}`` (int class keys)."""

    sample_class_stats: List[Tuple[str, Dict[int, int]]]
    samples_with_class: Dict[int, List[Tuple[str, int]]]


def count_class_pixels(label: np.ndarray, file: str) -> Dict:
    """Pixel count of every train id 0..18 present in a trainId label, plus ``'file': file``."""
    counts = np.bincount(np.asarray(label, dtype=np.uint8).ravel(), minlength=256)
    stats: Dict = {c: int(counts[c]) for c in range(NUM_CLASSES) if counts[c] > 0}
    stats['file'] = file
    return stats


def build_stats_dict(sample_class_stats: List[Dict]) -> Dict[str, Dict[int, int]]:
    """``{file: {trainId: n}}`` from the per-file dicts (the input is not modified)."""
    return {s['file']: {c: n for c, n in s.items() if c != 'file'} for s in sample_class_stats}


def build_samples_with_class(stats_dict: Dict[str, Dict[int, int]]) -> Dict[int, List[Tuple[str, int]]]:
    """``{trainId: [(file, n), ...]}``; classes in order of first appearance, files in input order."""
    samples: Dict[int, List[Tuple[str, int]]] = {}
    for file, counts in stats_dict.items():
        for c, n in counts.items():
            samples.setdefault(c, []).append((file, n))
    return samples


def write_text_atomic(path: str, text: str) -> bool:
    """Write ``text`` through a temporary file in the same folder; keep an identical file untouched.

    Returns whether the file was (re)written, so re-running a converter leaves finished files as they
    were (content and modification time).
    """
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            if f.read() == text:
                return False
    name = f'.{osp.basename(path)}.{os.getpid()}.{uuid.uuid4().hex}.tmp'
    tmp = osp.join(osp.dirname(osp.abspath(path)), name)
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return True


def write_json_atomic(path: str, obj) -> bool:
    """Write ``obj`` as ``json.dump(indent=2)`` text atomically (see ``write_text_atomic``)."""
    return write_text_atomic(path, json.dumps(obj, indent=2))


def write_class_stats(out_dir: str, sample_class_stats: List[Dict]) -> List[str]:
    """Write the three RCS statistics files into ``out_dir``; return their paths."""
    stats_dict = build_stats_dict(sample_class_stats)
    contents = (sample_class_stats, stats_dict, build_samples_with_class(stats_dict))
    paths = [osp.join(out_dir, name) for name in STATS_FILES]
    for path, obj in zip(paths, contents):
        write_json_atomic(path, obj)
    return paths


def _read_json(path: str, data_root: str):
    """Parse one statistics file; clear errors for a missing or non-JSON file."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: run tools/convert_datasets/{{gta,synthia,cityscapes}}.py {data_root} '
            'to write the rare-class-sampling statistics')
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f'{path}: not a valid JSON file ({exc}); re-run the dataset converter') from exc


def _train_id(key, path: str, where: str) -> int:
    """Parse a JSON class key as a train id 0..18."""
    try:
        c = int(key)
    except (TypeError, ValueError):
        c = -1
    if not 0 <= c < NUM_CLASSES or str(c) != str(key):
        raise ValueError(f'{path}: {where} has key {key!r}; expected a train id "0".."{NUM_CLASSES - 1}"')
    return c


def _pixel_count(value, path: str, where: str) -> int:
    """Check a JSON pixel count (a positive integer)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f'{path}: {where} has pixel count {value!r}; expected a positive integer')
    return value


def _parse_sample_class_stats(data, path: str) -> List[Tuple[str, Dict[int, int]]]:
    """Validate ``sample_class_stats.json`` content and convert its class keys to int."""
    if not isinstance(data, list):
        raise ValueError(f'{path}: expected a JSON list of per-file dicts, got {type(data).__name__}')
    parsed = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get('file'), str):
            raise ValueError(f'{path}: entry {i} must be a dict with a string key "file"')
        counts = {_train_id(k, path, f'entry {i}'): _pixel_count(v, path, f'entry {i} key {k!r}')
                  for k, v in entry.items() if k != 'file'}
        parsed.append((entry['file'], counts))
    return parsed


def _parse_samples_with_class(data, path: str) -> Dict[int, List[Tuple[str, int]]]:
    """Validate ``samples_with_class.json`` content and convert its class keys to int."""
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a JSON object {{class: [[file, pixels], ...]}}')
    parsed = {}
    for key, items in data.items():
        c = _train_id(key, path, 'the top level')
        if not isinstance(items, list) or not all(
                isinstance(it, list) and len(it) == 2 and isinstance(it[0], str) for it in items):
            raise ValueError(f'{path}: key {key!r} must map to a list of [file, pixels] pairs')
        parsed[c] = [(f, _pixel_count(n, path, f'key {key!r} file {f!r}')) for f, n in items]
    return parsed


def load_rcs_stats(data_root: str) -> RcsStats:
    """Load ``sample_class_stats.json`` and ``samples_with_class.json`` from a dataset root."""
    stats_path = osp.join(data_root, STATS_FILE)
    samples_path = osp.join(data_root, SAMPLES_WITH_CLASS_FILE)
    stats = _parse_sample_class_stats(_read_json(stats_path, data_root), stats_path)
    samples = _parse_samples_with_class(_read_json(samples_path, data_root), samples_path)
    return RcsStats(stats, samples)


def rcs_class_probabilities(sample_class_stats: List[Tuple[str, Dict[int, int]]],
                            temperature: float) -> Tuple[List[int], np.ndarray]:
    """Rare-class-sampling distribution ``P(c) = softmax((1 - f_c) / T)`` (docs/methods.md §1.4 step 2).

    Pixel counts are summed over files; only classes that occur are kept, ordered by ascending
    count (ties keep first-seen order); ``f_c`` is the class's share of all counted pixels.  The
    softmax runs in float32 as in the reference (DAFormer ``get_rcs_class_probs``).
    """
    if temperature <= 0:
        raise ValueError(f'RCS class_temp must be > 0, got {temperature!r}')
    totals: Dict[int, int] = {}
    for _, counts in sample_class_stats:
        for c, n in counts.items():
            totals[c] = totals.get(c, 0) + n
    if not totals:
        raise ValueError('RCS statistics contain no labelled pixels')
    classes = sorted(totals, key=lambda c: totals[c])
    freq = np.asarray([totals[c] for c in classes], dtype=np.float32)
    logits = (1 - freq / freq.sum()) / np.float32(temperature)
    probs = np.exp(logits - logits.max())
    return classes, (probs / probs.sum()).astype(np.float32)
