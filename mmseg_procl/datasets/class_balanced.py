"""ProCA's class-balanced source sampling, for plain datasets (a sampler) and for ``UDADataset``.

ProCA (github.com/jiangzhengkai/ProCA ``core/datasets/gtav.py`` / ``synthia.py``, the ``max_iters``
branch; docs/methods.md §2.6) re-orders the source file list before training: in sub-epochs of 3000
draws, the next class is drawn with weight ``1 / log(1.01 + d_c)``, where ``d`` is the normalised count
of files holding each class drawn so far in the sub-epoch (uniform at its start), and the next file of
that class is taken from the class's file list in turn (the list is shuffled when exhausted).  The
list of ``(num_draws // 3000 + 1) * 3000`` files is then read in a shuffled order.

Here the list is generated once from ``numpy.random.default_rng(seed)`` and every drawn item takes a
uniformly random position of it (with replacement: the reference's loader visits each position once per
pass; the marginal distribution over files is the same).  Class presence comes from the converters'
``sample_class_stats.json`` (any pixel of the class, as ProCA's ``generate_*_label_info.py``); classes
without files are never drawn (the reference's 16-class SYNTHIA table has none of them).  Two oddities
of the reference are kept: the file pointer of an exhausted class restarts at ``pointer % (n - 1)``
(i.e. at 1, skipping the first file of the reshuffled list; at 0 when a class has one file, where the
reference divides by zero).
"""
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmseg_procl.registry import DATA_SAMPLERS
from .class_stats import load_rcs_stats
from .label_tables import IGNORE_INDEX

SUB_EPOCH_SIZE = 3000


def class_balanced_list(file_classes: Sequence[Sequence[int]], num_draws: int, rng: np.random.Generator,
                        sub_epoch_size: int = SUB_EPOCH_SIZE) -> np.ndarray:
    """(num_draws // sub_epoch_size + 1) * sub_epoch_size indices into ``file_classes`` (see the module doc).

    Raises:
        ValueError: no file holds any class, or non-positive sizes.
    """
    if num_draws <= 0 or sub_epoch_size <= 0:
        raise ValueError(f'class-balanced sampling: num_draws and sub_epoch_size must be > 0, got '
                         f'{num_draws} and {sub_epoch_size}')
    classes = sorted({int(c) for cs in file_classes for c in cs})
    if not classes:
        raise ValueError('class-balanced sampling: no source file holds any class')
    column = {c: i for i, c in enumerate(classes)}
    files: Dict[int, List[int]] = {c: [] for c in classes}
    for index, cs in enumerate(file_classes):
        for c in cs:
            files[int(c)].append(index)
    rows = [np.array([column[int(c)] for c in cs], dtype=np.int64) for cs in file_classes]
    pointer = {c: 0 for c in classes}
    out = []
    for _ in range(num_draws // sub_epoch_size + 1):
        counts = np.zeros(len(classes))
        for _ in range(sub_epoch_size):
            share = counts / counts.sum() if counts.sum() else counts
            weight = 1.0 / np.log(1.01 + share)
            c = classes[int(rng.choice(len(classes), p=weight / weight.sum()))]
            if pointer[c] > len(files[c]) - 1:
                rng.shuffle(files[c])
                pointer[c] = pointer[c] % (len(files[c]) - 1) if len(files[c]) > 1 else 0
            index = files[c][pointer[c]]
            pointer[c] += 1
            out.append(index)
            counts[rows[index]] += 1
    return np.asarray(out, dtype=np.int64)


def dataset_file_classes(dataset) -> List[List[int]]:
    """Per sample of a file dataset, the classes present in its label, from the converter's
    ``<data_root>/sample_class_stats.json`` (matched by label basename), through the dataset's
    ``label_map`` when it trains a class subset (classes left out are dropped).

    Raises:
        ValueError: the dataset has no ``data_root`` or a sample has no statistics entry.
    """
    data_root = getattr(dataset, 'data_root', None)
    if not data_root:
        raise ValueError(f'class-balanced sampling reads <data_root>/sample_class_stats.json, but '
                         f'{type(dataset).__name__} has no data_root')
    stats = {osp.basename(f): sorted(counts) for f, counts in load_rcs_stats(data_root).sample_class_stats}
    label_map = getattr(dataset, 'label_map', None) or {}        # a class subset (ProCA's 16-class SYNTHIA)
    out = []
    for i in range(len(dataset)):
        name = osp.basename(dataset.get_data_info(i)['seg_map_path'])
        if name not in stats:
            stats_file = osp.join(data_root, 'sample_class_stats.json')
            raise ValueError(f'class-balanced sampling: {name} has no entry in {stats_file}; re-run the '
                             'dataset converter')
        classes = [label_map.get(c, c) for c in stats[name]]
        out.append([c for c in classes if c != IGNORE_INDEX])
    return out


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """Endless indices of a file dataset drawn from ProCA's class-balanced list (ProCA's source-only stage).

    Item ``k`` of rank ``r`` is the list entry at a position drawn from ``default_rng((seed, r, k))``, so
    the stream does not depend on the number of workers and resumes exactly (``set_start``).

    Args:
        dataset: a file dataset whose ``data_root`` holds ``sample_class_stats.json``.
        num_draws: length of ProCA's list before rounding up (``MAX_ITER * BATCH_SIZE``).
        sub_epoch_size: draws per sub-epoch (3000).
        seed: seed of the list and of the stream (None: shared random seed, mmengine's convention).
        shuffle: must be True (config compatibility with ``InfiniteSampler``).
    """

    def __init__(self, dataset, num_draws: int, sub_epoch_size: int = SUB_EPOCH_SIZE,
                 seed: Optional[int] = None, shuffle: bool = True) -> None:
        if not shuffle:
            raise ValueError('ClassBalancedSampler: shuffle=False is not supported (the stream is random)')
        self.seed = int(sync_random_seed() if seed is None else seed)
        self.rank, self.world_size = get_dist_info()
        self.indices = class_balanced_list(dataset_file_classes(dataset), num_draws,
                                           np.random.default_rng(self.seed), sub_epoch_size)
        self.start = 0

    def set_start(self, position: int) -> None:
        """Begin the next ``iter()`` at item ``position`` of this rank."""
        self.start = int(position)

    def __iter__(self) -> Iterator[int]:
        position = self.start
        while True:
            rng = np.random.default_rng((self.seed, self.rank, position))
            yield int(self.indices[int(rng.integers(len(self.indices)))])
            position += 1

    def __len__(self) -> int:
        """The list's length."""
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """No-op (mmengine's ``DistSamplerSeedHook`` calls this)."""
