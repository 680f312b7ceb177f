"""UDAInfiniteSampler: an endless stream of source / target draws in O(1) memory, exact on resume.

``UDADataset`` has ``len(source) * len(target)`` items (74 million for GTA5 -> Cityscapes).  mmengine's
``InfiniteSampler`` materialises a permutation of that length as a Python list (about 3 GB of host
memory in every training process, re-made at every pass).  This sampler never looks at that length: item ``k`` of rank
``r`` is drawn from its own generator ``numpy.random.default_rng((seed, r, k))`` (a SeedSequence over the
three numbers), so

- memory is O(1): nothing but the position is kept;
- the stream is a pure function of ``(seed, rank, position)``: the same with any number of workers, and
  a resumed run starts at position ``iterations * batch_size`` without producing the skipped items
  (:class:`mmseg_procl.engine.loops.ResumableIterBasedTrainLoop` does this);
- source and target are drawn independently: the source uniformly or, with Rare Class Sampling, as a
  class then a file holding it (:meth:`UDADataset.draw_index`), the target uniformly.  Drawing a pair
  uniformly from the product, as DAFormer's shuffled ``InfiniteSampler`` does, is the same distribution
  up to sampling without replacement within one pass over 74 million pairs.

Each item also carries a 32-bit seed; the dataset runs the item's pipelines (random crop, flip,
photometric distortion, RCS crop retries) on numpy's global generator seeded with it and restores the
generator afterwards, so the data never consumes the random stream of the model and vice versa.
"""
from typing import Iterator, NamedTuple, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmseg_procl.registry import DATA_SAMPLERS

NO_CLASS = -1


class UDAIndex(NamedTuple):
    """One drawn item: source index, target index, the RCS class (``-1`` without RCS), a pipeline seed."""
    source: int
    target: int
    rcs_class: int
    seed: int


def item_generator(seed: int, rank: int, position: int) -> np.random.Generator:
    """The generator of item ``position`` of ``rank`` (independent streams via numpy's SeedSequence)."""
    return np.random.default_rng((seed, rank, position))


@DATA_SAMPLERS.register_module()
class UDAInfiniteSampler(Sampler):
    """Endless :class:`UDAIndex` draws for a :class:`UDADataset`, one independent stream per rank.

    Args:
        dataset: the ``UDADataset`` (anything with ``draw_index(rng) -> UDAIndex``).
        seed: the stream's seed; None draws one and shares it across ranks (mmengine's convention,
            the runner passes ``randomness.seed``).
        shuffle: accepted for config compatibility with ``InfiniteSampler``; must be True (the
            stream is random by construction).

    Raises:
        TypeError: the dataset cannot draw UDA indices (not a ``UDADataset``).
        ValueError: ``shuffle=False`` or a negative seed.
    """

    def __init__(self, dataset, seed: Optional[int] = None, shuffle: bool = True) -> None:
        if not callable(getattr(dataset, 'draw_index', None)):
            raise TypeError(f'UDAInfiniteSampler: expected a UDADataset (a dataset with draw_index), got '
                            f'{type(dataset).__name__}; use InfiniteSampler for a single dataset')
        if not shuffle:
            raise ValueError('UDAInfiniteSampler: shuffle=False is not supported (source and target are '
                             'drawn at random); use DefaultSampler over a plain dataset for ordered passes')
        seed = sync_random_seed() if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f'UDAInfiniteSampler: seed must be an integer >= 0, got {seed!r}')
        self.dataset = dataset
        self.seed = int(seed)
        self.rank, self.world_size = get_dist_info()
        self.start = 0

    def set_start(self, position: int) -> None:
        """Begin the next ``iter()`` at item ``position`` of this rank (items, not iterations)."""
        if isinstance(position, bool) or not isinstance(position, (int, np.integer)) or position < 0:
            raise ValueError(f'UDAInfiniteSampler.set_start: expected an item position >= 0, got '
                             f'{position!r}')
        self.start = int(position)

    def draw(self, position: int) -> UDAIndex:
        """Item ``position`` of this rank's stream (a pure function of seed, rank and position)."""
        return self.dataset.draw_index(item_generator(self.seed, self.rank, position))

    def __iter__(self) -> Iterator[UDAIndex]:
        position = self.start
        while True:
            yield self.draw(position)
            position += 1

    def __len__(self) -> int:
        """The dataset's nominal length (a number only; nothing of that size is allocated)."""
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """No-op: the stream has no epochs (mmengine's ``DistSamplerSeedHook`` calls this)."""
