"""UDADataset: source / target pairing with optional Rare Class Sampling.

Specified in docs/methods.md §1.4 and docs/data.md §4.

Behaviour of DAFormer's ``UDADataset`` (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``mmseg/datasets/uda_dataset.py``), rewritten for the mmseg 1.x data format: an item is
``dict(source=<packed source sample>, target=<packed target sample>)`` where a packed sample is what
the dataset's pipeline returns (``dict(inputs, data_samples)``).  Target labels, if the target
pipeline loads any, are removed from the item (target ground truth is never used in training).
With ``day_partners`` (SePiCo's Dark Zurich variant) the item also holds ``target_day``, the night
target's daytime partner through the target pipeline with the same flip (``datasets/day_partners.py``).

- Without RCS, ``len = len(source) * len(target)`` and item ``idx`` pairs source
  ``idx // len(target)`` with target ``idx % len(target)``.
- With RCS (``rare_class_sampling=dict(min_pixels, class_temp, min_crop_ratio)``) an integer ``idx`` is
  ignored: a class ``c`` is drawn with ``P(c) = softmax((1 - f_c) / class_temp)``, then uniformly one of the
  source files holding strictly more than ``min_pixels`` pixels of ``c``; the file is re-loaded
  (new random crop) while its crop holds ``<= min_pixels * min_crop_ratio`` pixels of ``c``, at most
  10 checks, the 11th crop being used unchecked.  The target is drawn uniformly at random.
  All draws use ``np.random`` (seeded per data-loader worker by mmengine) in the reference order:
  class, file, source crop(s), target index, target pipeline.
- Training draws items through :class:`~mmseg_procl.datasets.uda_sampler.UDAInfiniteSampler`, which
  passes a :class:`UDAIndex` instead of an integer: :meth:`UDADataset.draw_index` makes the same draws
  (class, file, target) from the sampler's per-item generator, and the pipelines of the item run on
  numpy's / python's global generators seeded with the item's seed (restored afterwards).  The item is
  then a pure function of the sampler's (seed, rank, position): independent of the worker count and
  exact on resume, with memory that does not grow with ``len(source) * len(target)``.

Statistics come from ``<source data_root>/sample_class_stats.json`` and ``samples_with_class.json``
(written by ``tools/convert_datasets``); a source without files (e.g. ``SyntheticDrivingDataset``)
passes ``rcs_stats=RcsStats(...)`` instead.  Stats files are matched to source samples by the
basename of the label path (``seg_map_path``).  Differences to the reference, on purpose: every
problem (class/palette mismatch, a class without eligible files, a stats file missing from the
dataset, duplicate label basenames) is reported at construction with the offending name.
"""
import contextlib
import copy
import os.path as osp
import random
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from torch.utils.data import Dataset

from mmseg_procl.registry import DATASETS
from .class_balanced import SUB_EPOCH_SIZE, class_balanced_list, dataset_file_classes
from .class_stats import RcsStats, load_rcs_stats, rcs_class_probabilities
from .day_partners import build_day_partners
from .uda_sampler import NO_CLASS, UDAIndex

RCS_KEYS = ('min_pixels', 'class_temp', 'min_crop_ratio')
MAX_CROP_CHECKS = 10


def build_dataset(dataset: Union[dict, Dataset], role: str) -> Dataset:
    """Build a dataset config through the registry (objects pass through) and fully initialise it."""
    if isinstance(dataset, dict):
        dataset = DATASETS.build(copy.deepcopy(dataset))
    elif not hasattr(dataset, '__getitem__') or not hasattr(dataset, '__len__'):
        raise TypeError(f'UDADataset: {role} must be a dataset config dict or a dataset object, '
                        f'got {type(dataset).__name__}')
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    if len(dataset) == 0:
        raise ValueError(f'UDADataset: the {role} dataset {type(dataset).__name__} is empty')
    return dataset


def _normalised_palette(palette) -> Optional[tuple]:
    """Palette as a tuple of int tuples (list / tuple / array spellings compare equal)."""
    if palette is None:
        return None
    return tuple(tuple(int(v) for v in color) for color in palette)


def check_same_label_space(source: Dataset, target: Dataset) -> None:
    """Raise if source and target differ in classes, palette or (when both define it) ignore_index."""
    src_meta, tgt_meta = source.metainfo, target.metainfo
    src_name, tgt_name = type(source).__name__, type(target).__name__
    checks = [('classes', tuple(src_meta.get('classes', ()) or ()),
               tuple(tgt_meta.get('classes', ()) or ())),
              ('palette', _normalised_palette(src_meta.get('palette')),
               _normalised_palette(tgt_meta.get('palette')))]
    src_ignore = getattr(source, 'ignore_index', None)
    tgt_ignore = getattr(target, 'ignore_index', None)
    if src_ignore is not None and tgt_ignore is not None:
        checks.append(('ignore_index', src_ignore, tgt_ignore))
    for key, src_value, tgt_value in checks:
        if src_value != tgt_value:
            raise ValueError(f'UDADataset: source ({src_name}) and target ({tgt_name}) must have '
                             f'identical {key}; source {key}={src_value!r}, '
                             f'target {key}={tgt_value!r}')


def seg_map_basename_to_index(dataset: Dataset) -> Dict[str, int]:
    """``{basename of seg_map_path: index}`` of a dataset; duplicate basenames are an error."""
    mapping: Dict[str, int] = {}
    for i in range(len(dataset)):
        path = _seg_map_path(dataset, i)
        if path is None:
            raise ValueError(f'UDADataset: rare class sampling needs source labels, but sample {i} '
                             f'of {type(dataset).__name__} has no seg_map_path')
        name = osp.basename(path)
        if name in mapping:
            raise ValueError(f'UDADataset: label basename {name!r} occurs twice in the source '
                             f'dataset (samples {mapping[name]} and {i}); rare class sampling '
                             'matches statistics files by basename, so basenames must be unique')
        mapping[name] = i
    return mapping


def _seg_map_path(dataset: Dataset, idx: int) -> Optional[str]:
    """Label path of sample ``idx`` from the dataset's data-info (None if it has no labels)."""
    return dataset.get_data_info(idx).get('seg_map_path')


@contextlib.contextmanager
def seeded_global_generators(seed: int):
    """Run a block with numpy's and python's global generators seeded with ``seed``; restore them after."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def _check_packed(sample, role: str) -> dict:
    """Raise unless ``sample`` is a packed sample ``dict(inputs, data_samples)``."""
    if not isinstance(sample, dict) or 'inputs' not in sample or 'data_samples' not in sample:
        found = sorted(sample) if isinstance(sample, dict) else type(sample).__name__
        raise TypeError(f'UDADataset: the {role} pipeline must end with PackSegInputs and return '
                        f'dict(inputs, data_samples); got {found}')
    return sample


@DATASETS.register_module()
class UDADataset(Dataset):
    """Pairs a labelled source sample with an unlabelled target sample; optional Rare Class Sampling.

    Public attributes with RCS: ``rcs_classes`` (classes by ascending pixel count),
    ``rcs_classprob`` (their float32 probabilities), ``samples_with_class`` (``{class: [label
    basename, ...]}`` of the eligible files) and ``file_to_idx`` (``{label basename: source index}``).
    """

    def __init__(self, source: Union[dict, Dataset], target: Union[dict, Dataset],
                 rare_class_sampling: Optional[dict] = None,
                 rcs_stats: Optional[RcsStats] = None, day_partners: Optional[dict] = None,
                 class_balanced_source: Optional[dict] = None) -> None:
        """Build both datasets, check their label spaces and prepare RCS if configured.

        ``rcs_stats`` replaces the statistics files of ``<source data_root>`` (for in-memory
        sources without a ``data_root``); it is ignored when ``rare_class_sampling`` is None.
        ``day_partners=dict(corresp_dir, day_img_dir, night_key_prefix)`` adds each target's daytime
        partner as ``target_day`` (Dark Zurich correspondences, ``datasets/day_partners.py``).
        ``class_balanced_source=dict(num_draws, sub_epoch_size=3000, seed=None)`` draws the source from
        ProCA's class-balanced list (``datasets/class_balanced.py``) instead of uniformly (not with RCS).
        """
        self.source = build_dataset(source, 'source')
        self.target = build_dataset(target, 'target')
        check_same_label_space(self.source, self.target)
        self.ignore_index = getattr(self.source, 'ignore_index', None)
        self.rcs_enabled = rare_class_sampling is not None
        if self.rcs_enabled:
            self._init_rcs(dict(rare_class_sampling), rcs_stats)
        self.day_partners = build_day_partners(self.target, day_partners)
        self.balanced_sources = self._class_balanced_list(class_balanced_source)

    def _class_balanced_list(self, cfg: Optional[dict]) -> Optional[np.ndarray]:
        """ProCA's class-balanced list of source indices, or None."""
        if cfg is None:
            return None
        if self.rcs_enabled:
            raise ValueError('UDADataset: class_balanced_source and rare_class_sampling are two ways to draw '
                             'the source; configure one of them')
        unknown = sorted(set(cfg) - {'num_draws', 'sub_epoch_size', 'seed'})
        if unknown or 'num_draws' not in cfg:
            raise KeyError(f'UDADataset: class_balanced_source takes num_draws and optionally '
                           f'sub_epoch_size, seed; got {sorted(cfg)}')
        seed = cfg.get('seed')            # default: numpy's generator, seeded by the run's randomness.seed
        rng = np.random.default_rng(int(np.random.randint(2**31)) if seed is None else seed)
        return class_balanced_list(dataset_file_classes(self.source), cfg['num_draws'], rng,
                                   cfg.get('sub_epoch_size', SUB_EPOCH_SIZE))

    # ------------------------------------------------------------------------------ RCS setup
    def _init_rcs(self, rcs_cfg: dict, rcs_stats: Optional[RcsStats]) -> None:
        """Read the statistics, compute class probabilities and the per-class eligible samples."""
        missing = [k for k in RCS_KEYS if k not in rcs_cfg]
        unknown = sorted(set(rcs_cfg) - set(RCS_KEYS))
        if missing or unknown:
            raise KeyError(f'UDADataset: rare_class_sampling must have exactly the keys {RCS_KEYS}; '
                           f'missing {missing}, unknown {unknown}')
        self.rcs_min_pixels = rcs_cfg['min_pixels']
        self.rcs_class_temp = rcs_cfg['class_temp']
        self.rcs_min_crop_ratio = rcs_cfg['min_crop_ratio']
        stats = rcs_stats if rcs_stats is not None else self._load_source_stats()
        self.rcs_classes, self.rcs_classprob = rcs_class_probabilities(
            stats.sample_class_stats, self.rcs_class_temp)
        print_log(f'RCS classes: {self.rcs_classes}', logger='current')
        print_log(f'RCS class probabilities: {self.rcs_classprob}', logger='current')
        self.samples_with_class = self._eligible_files(stats.samples_with_class)
        self.file_to_idx = seg_map_basename_to_index(self.source)
        self._class_indices: Dict[int, List[int]] = {}
        for c, files in self.samples_with_class.items():
            absent = [f for f in files if f not in self.file_to_idx]
            if absent:
                raise ValueError(f'UDADataset: RCS statistics list label file {absent[0]!r} (class {c}, '
                                 f'{len(absent)} such files) that is not in the source dataset '
                                 f'{type(self.source).__name__}; expected the statistics of the '
                                 'same dataset (matched by label basename)')
            self._class_indices[c] = [self.file_to_idx[f] for f in files]

    def _load_source_stats(self) -> RcsStats:
        """Statistics files from the source dataset's ``data_root``."""
        data_root = getattr(self.source, 'data_root', None)
        if not data_root:
            raise ValueError(f'UDADataset: rare class sampling reads <data_root>/sample_class_stats'
                             f'.json, but the source dataset {type(self.source).__name__} has no '
                             'data_root; pass rcs_stats=RcsStats(...) for in-memory datasets')
        return load_rcs_stats(data_root)

    def _eligible_files(self, samples_with_class: Dict[int, Sequence]) -> Dict[int, List[str]]:
        """Per RCS class, the label basenames with strictly more than ``min_pixels`` pixels of it."""
        eligible = {}
        for c in self.rcs_classes:
            if c not in samples_with_class:
                raise ValueError(f'UDADataset: class {c} occurs in sample_class_stats.json but has '
                                 'no entry in samples_with_class.json; re-run the dataset converter')
            files = [osp.basename(f) for f, n in samples_with_class[c] if n > self.rcs_min_pixels]
            if not files:
                raise ValueError(f'UDADataset: RCS class {c} has no source file with more than '
                                 f'min_pixels={self.rcs_min_pixels} pixels of it; expected at least '
                                 'one (lower min_pixels or check the statistics files)')
            eligible[c] = files
        return eligible

    # ------------------------------------------------------------------------------ items
    @property
    def metainfo(self) -> dict:
        """Meta information (classes, palette, ...) of the source dataset."""
        return copy.deepcopy(self.source.metainfo)

    def full_init(self) -> None:
        """No-op: both datasets are fully initialised at construction (mmengine calls this)."""

    def __len__(self) -> int:
        """``len(source) * len(target)``, with and without RCS (as the reference)."""
        return len(self.source) * len(self.target)

    def __getitem__(self, idx: Union[int, UDAIndex]) -> dict:
        """``dict(source=..., target=...)`` of a :class:`UDAIndex` (the sampler's draw) or an integer
        (pair ``idx`` without RCS, a rare-class draw from ``np.random`` with RCS)."""
        if isinstance(idx, UDAIndex):
            return self.get_indexed_sample(idx)
        if self.rcs_enabled:
            return self.get_rare_class_sample()
        if not 0 <= idx < len(self):
            raise IndexError(f'UDADataset: index {idx} out of range [0, {len(self)})')
        source = _check_packed(self.source[idx // len(self.target)], 'source')
        return dict(source=source, **self._target_item(idx % len(self.target)))

    def draw_index(self, rng: np.random.Generator) -> UDAIndex:
        """One item's draws from ``rng``: RCS class and a file holding it (or a position of the
        class-balanced list, or a uniform source), a uniform target, a 32-bit pipeline seed (in this
        order)."""
        if self.rcs_enabled:
            c = int(rng.choice(self.rcs_classes, p=self.rcs_classprob))
            indices = self._class_indices[c]
            source = indices[int(rng.integers(len(indices)))]
        elif self.balanced_sources is not None:
            c, source = NO_CLASS, int(self.balanced_sources[int(rng.integers(len(self.balanced_sources)))])
        else:
            c, source = NO_CLASS, int(rng.integers(len(self.source)))
        target = int(rng.integers(len(self.target)))
        return UDAIndex(source=source, target=target, rcs_class=c, seed=int(rng.integers(2**32)))

    def get_indexed_sample(self, index: UDAIndex) -> dict:
        """The item of a :class:`UDAIndex`, its pipelines run under the index's seed."""
        for name, value, size in (('source', index.source, len(self.source)),
                                  ('target', index.target, len(self.target))):
            if not 0 <= value < size:
                raise IndexError(f'UDADataset: {name} index {value} out of range [0, {size})')
        with seeded_global_generators(index.seed):
            if index.rcs_class == NO_CLASS:
                source = self._load_source(index.source)
            else:
                source = self._load_rare_class_source(index.source, index.rcs_class)
            return dict(source=source, **self._target_item(index.target))

    def get_rare_class_sample(self) -> dict:
        """Draw a class, a source file holding it (re-cropped while the class is too small), a target."""
        c = int(np.random.choice(self.rcs_classes, p=self.rcs_classprob))
        indices = self._class_indices[c]
        source = self._load_rare_class_source(indices[np.random.randint(len(indices))], c)
        return dict(source=source, **self._target_item(np.random.randint(len(self.target))))

    def _load_rare_class_source(self, idx: int, c: int) -> dict:
        """Source ``idx``, re-loaded (new crop) while it holds too few pixels of class ``c``."""
        source = self._load_source(idx)
        if self.rcs_min_crop_ratio > 0:
            for _ in range(MAX_CROP_CHECKS):
                if self._class_pixels(source, c) > self.rcs_min_pixels * self.rcs_min_crop_ratio:
                    break
                source = self._load_source(idx)
        return source

    def _load_source(self, idx: int) -> dict:
        """Source sample ``idx`` through the source pipeline."""
        return _check_packed(self.source[idx], 'source')

    @staticmethod
    def _class_pixels(sample: dict, c: int) -> int:
        """Number of pixels of class ``c`` in a packed sample's ``gt_sem_seg``."""
        data_sample = sample['data_samples']
        if 'gt_sem_seg' not in data_sample:
            raise ValueError('UDADataset: rare class sampling counts class pixels in the source '
                             "sample's gt_sem_seg, but the source pipeline loads no labels "
                             '(add LoadAnnotations)')
        return int((data_sample.gt_sem_seg.data == c).sum())

    def _target_item(self, idx: int) -> dict:
        """``dict(target=...)``, with day partners also ``target_day`` (flipped like the target)."""
        target = self._target_sample(idx)
        if self.day_partners is None:
            return dict(target=target)
        day = self.day_partners.load(self.target, idx, target['data_samples'].metainfo)
        return dict(target=target, target_day=_check_packed(day, 'target (day partner)'))

    def _target_sample(self, idx: int) -> dict:
        """Target sample ``idx`` through the target pipeline, with its labels removed."""
        sample = _check_packed(self.target[idx], 'target')
        if 'gt_sem_seg' in sample['data_samples']:
            del sample['data_samples'].gt_sem_seg
        return sample
