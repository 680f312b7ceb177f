"""UDAInfiniteSampler: O(1) memory over a 10^8-item product, per-item purity, resume, distributions."""
import tracemalloc

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from mmseg_procl.datasets import UDADataset, UDAIndex, UDAInfiniteSampler
from mmseg_procl.datasets import uda_sampler
from mmseg_procl.datasets.transforms import PackSegInputs, RandomCrop, RandomFlip
from mmseg_procl.structures import SegDataSample
from test_uda_dataset import LOAD, PACK, gta, rcs, stem_of, synthetic
from test_uda_dataset import layout_root  # noqa: F401  (a fixture)


class LazyDataset:
    """``n`` items made on demand (nothing stored): item ``i`` is a 1x1x1 image of value ``i``."""

    metainfo = dict(classes=('a', 'b'), palette=[[0, 0, 0], [1, 1, 1]])

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return dict(inputs=torch.full((1, 1, 1), float(i)), data_samples=SegDataSample())


def flipping_pair(n_source=4, n_target=3):
    """UDADataset of tiny synthetic scenes whose pipelines flip and crop at random (np.random)."""
    def pipeline():
        return [RandomCrop(crop_size=(4, 8)), RandomFlip(prob=0.5), PackSegInputs()]
    source, target = synthetic('source', n_source), synthetic('target', n_target)
    source.pipeline.transforms[:] = pipeline()
    target.pipeline.transforms[:] = pipeline()
    return UDADataset(source=source, target=target)


def test_memory_does_not_grow_with_a_10_to_the_8_product():
    ds = UDADataset(source=LazyDataset(10**4), target=LazyDataset(10**4))
    assert len(ds) == 10**8
    tracemalloc.start()
    sampler = UDAInfiniteSampler(ds, seed=3)
    stream = iter(sampler)
    indices = [next(stream) for _ in range(2000)]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # 2000 small named tuples (~0.3 MB with their ints); a list of 10^8 indices would be ~3.2 GB
    assert peak < 2 * 2**20, peak
    assert len(sampler) == 10**8
    sources = np.array([i.source for i in indices])
    targets = np.array([i.target for i in indices])
    assert sources.min() >= 0 and sources.max() < 10**4 and len(set(sources)) > 1800
    assert targets.min() >= 0 and targets.max() < 10**4 and len(set(targets)) > 1800
    item = ds[indices[0]]
    assert item['source']['inputs'].item() == indices[0].source
    assert item['target']['inputs'].item() == indices[0].target


def test_stream_is_a_pure_function_of_seed_rank_and_position(monkeypatch):
    ds = UDADataset(source=LazyDataset(50), target=LazyDataset(40))
    stream = iter(UDAInfiniteSampler(ds, seed=11))
    first = [next(stream) for _ in range(30)]
    assert first == [UDAInfiniteSampler(ds, seed=11).draw(k) for k in range(30)]
    resumed = UDAInfiniteSampler(ds, seed=11)
    resumed.set_start(17)
    tail = iter(resumed)
    assert [next(tail) for _ in range(13)] == first[17:]
    # by hand: item k is drawn from default_rng((seed, rank, k)) as source, target, pipeline seed
    rng = np.random.default_rng((11, 0, 5))
    expected = UDAIndex(source=int(rng.integers(50)), target=int(rng.integers(40)), rcs_class=-1,
                        seed=int(rng.integers(2**32)))
    assert first[5] == expected
    other_seed = [UDAInfiniteSampler(ds, seed=12).draw(k) for k in range(30)]
    assert other_seed != first
    monkeypatch.setattr(uda_sampler, 'get_dist_info', lambda: (1, 2))
    rank1 = UDAInfiniteSampler(ds, seed=11)
    assert rank1.rank == 1 and [rank1.draw(k) for k in range(30)] != first


def test_source_and_target_are_uniform_and_independent():
    ds = UDADataset(source=LazyDataset(4), target=LazyDataset(3))
    sampler = UDAInfiniteSampler(ds, seed=0)
    n = 12000
    pairs = np.array([(i.source, i.target) for i in (sampler.draw(k) for k in range(n))])
    joint = np.zeros((4, 3))
    np.add.at(joint, (pairs[:, 0], pairs[:, 1]), 1)
    p = 1 / 12
    assert np.all(np.abs(joint / n - p) < 4 * np.sqrt(p * (1 - p) / n)), joint / n
    chi2 = (((joint - n * p) ** 2) / (n * p)).sum()
    assert chi2 < 31.3     # 11 degrees of freedom, p = 0.001


def test_rare_class_draws_follow_the_class_probabilities(layout_root):  # noqa: F811
    ds = UDADataset(source=gta(layout_root, LOAD + PACK), target=gta(layout_root, LOAD + PACK),
                    rare_class_sampling=rcs())
    sampler = UDAInfiniteSampler(ds, seed=5)
    n = 3000
    draws = [sampler.draw(k) for k in range(n)]
    classes, probs = ds.rcs_classes, np.asarray(ds.rcs_classprob, float)
    freq = np.bincount([classes.index(i.rcs_class) for i in draws], minlength=len(classes)) / n
    assert np.all(np.abs(freq - probs) < 4 * np.sqrt(probs * (1 - probs) / n)), (freq, probs)
    for i in draws[:40]:
        assert i.source in ds._class_indices[i.rcs_class]
    item = ds[draws[0]]
    eligible = {f[:5] for f in ds.samples_with_class[draws[0].rcs_class]}
    assert stem_of(item['source']) in eligible


def test_an_item_is_the_same_whatever_the_global_random_state():
    ds = flipping_pair()
    index = UDAInfiniteSampler(ds, seed=1).draw(0)
    np.random.seed(0)
    first = ds[index]
    state = np.random.get_state()
    np.random.seed(123)
    np.random.rand(7)
    again = ds[index]
    np.random.seed(0)
    ds[index]
    assert np.random.get_state()[1].tolist() == state[1].tolist()      # the global stream untouched
    for role in ('source', 'target'):
        assert torch.equal(first[role]['inputs'], again[role]['inputs'])
    flips = {ds[UDAIndex(0, 0, -1, s)]['source']['data_samples'].flip for s in range(16)}
    assert flips == {True, False}                                      # the seed drives the pipeline


@pytest.mark.parametrize('num_workers', [2])
def test_batches_do_not_depend_on_the_worker_count(num_workers):
    ds = flipping_pair()

    def batches(workers):
        loader = DataLoader(ds, batch_size=2, sampler=UDAInfiniteSampler(ds, seed=4), num_workers=workers,
                            collate_fn=pseudo_collate)
        stream = iter(loader)
        return [torch.stack(next(stream)['source']['inputs']) for _ in range(3)]

    for a, b in zip(batches(0), batches(num_workers)):
        assert torch.equal(a, b)


def test_bad_sampler_arguments_are_refused():
    with pytest.raises(TypeError, match='expected a UDADataset .* got LazyDataset'):
        UDAInfiniteSampler(LazyDataset(3), seed=0)
    ds = UDADataset(source=LazyDataset(2), target=LazyDataset(2))
    with pytest.raises(ValueError, match='shuffle=False is not supported'):
        UDAInfiniteSampler(ds, seed=0, shuffle=False)
    with pytest.raises(ValueError, match='seed must be an integer >= 0, got -1'):
        UDAInfiniteSampler(ds, seed=-1)
    with pytest.raises(ValueError, match='item position >= 0, got -2'):
        UDAInfiniteSampler(ds, seed=0).set_start(-2)
    with pytest.raises(IndexError, match=r'target index 5 out of range \[0, 2\)'):
        ds[UDAIndex(0, 5, -1, 0)]
