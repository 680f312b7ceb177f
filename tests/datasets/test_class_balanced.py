"""ProCA's class-balanced source list: the draws by hand, the class shares it produces, the sampler over a
file dataset and the UDADataset option."""
import numpy as np
import pytest

from mmseg_procl.datasets.class_balanced import class_balanced_list


class ScriptedRng:
    """Stands in for numpy's generator: fixed class choices, shuffles that reverse."""

    def __init__(self, choices):
        self.choices, self.probs = list(choices), []

    def choice(self, n, p):
        self.probs.append(np.round(p, 6).tolist())
        return self.choices.pop(0)

    def shuffle(self, items):
        items.reverse()


def test_the_draws_by_hand():
    # files: 0 holds classes {0}, 1 holds {0, 2}, 2 holds {2}; class 1 has no file and is never drawn
    files = [[0], [0, 2], [2]]
    rng = ScriptedRng([0, 0, 0, 1, 1])
    out = class_balanced_list(files, num_draws=2, rng=rng, sub_epoch_size=5)
    # class 0 files [0, 1]: pointer 0 -> file 0, 1 -> file 1, exhausted -> reversed [1, 0], pointer 2 % 1 = 0
    # -> file 1; class 2 files [1, 2]: file 1, file 2
    assert out.tolist() == [0, 1, 1, 1, 2]
    w = lambda shares: (1 / np.log(1.01 + np.array(shares))) / (1 / np.log(1.01 + np.array(shares))).sum()
    assert rng.probs[0] == [0.5, 0.5]                                  # empty sub-epoch: uniform
    assert rng.probs[1] == np.round(w([1.0, 0.0]), 6).tolist()         # after file 0: d = (1, 0)
    assert rng.probs[2] == np.round(w([2 / 3, 1 / 3]), 6).tolist()     # after file 1: counts (2, 1)


def test_the_list_balances_rare_classes():
    rng = np.random.default_rng(0)
    # 90 files hold only class 0, 10 files hold class 0 and the rare class 1
    files = [[0]] * 90 + [[0, 1]] * 10
    out = class_balanced_list(files, num_draws=2999, rng=rng)
    assert len(out) == 3000
    rare = np.isin(out, np.arange(90, 100)).mean()
    assert rare > 0.3                                     # uniform file sampling would give 0.1
    with pytest.raises(ValueError, match='no source file holds any class'):
        class_balanced_list([[], []], 10, rng)


@pytest.fixture(scope='module')
def gta(tmp_path_factory):
    from mmseg_procl.datasets.conversion import convert_gta
    from mmseg_procl.datasets.synthetic_export import export_synthetic
    root = tmp_path_factory.mktemp('gta')
    export_synthetic(str(root), 'source', 6, (64, 32), 0)
    convert_gta(str(root))
    return str(root)


def test_sampler_and_uda_option_draw_from_the_same_list(gta):
    from mmseg_procl.datasets import ClassBalancedSampler, GTADataset, SyntheticDrivingDataset, UDADataset
    from mmseg_procl.datasets.class_balanced import dataset_file_classes
    from mmseg_procl.datasets.class_stats import load_rcs_stats
    dataset = GTADataset(data_root=gta, data_prefix=dict(img_path='images', seg_map_path='labels'))
    classes = dataset_file_classes(dataset)
    stats = dict(load_rcs_stats(gta).sample_class_stats)
    stats = {k.split('/')[-1]: v for k, v in stats.items()}
    assert classes[0] == sorted(stats[dataset.get_data_info(0)['seg_map_path'].split('/')[-1]])
    sampler = ClassBalancedSampler(dataset, num_draws=100, sub_epoch_size=50, seed=3)
    expected = class_balanced_list(classes, 100, np.random.default_rng(3), 50)
    assert np.array_equal(sampler.indices, expected) and len(sampler) == 150
    stream = iter(sampler)
    first = [next(stream) for _ in range(5)]
    assert first == [int(expected[np.random.default_rng((3, 0, k)).integers(150)]) for k in range(5)]
    sampler.set_start(3)
    assert [next(iter(sampler)) for _ in range(1)] == first[3:4]                 # resumes at item 3
    target = SyntheticDrivingDataset(num_samples=2, img_size=(64, 32), pipeline=[dict(type='PackSegInputs')])
    uda = UDADataset(source=dataset, target=target,
                     class_balanced_source=dict(num_draws=100, sub_epoch_size=50, seed=3))
    assert np.array_equal(uda.balanced_sources, expected)
    index = uda.draw_index(np.random.default_rng(7))
    assert index.source == int(expected[np.random.default_rng(7).integers(150)])
    with pytest.raises(KeyError, match='num_draws'):
        UDADataset(source=dataset, target=target, class_balanced_source=dict(draws=1))


def test_an_exhausted_class_restarts_at_pointer_modulo_n_minus_1():
    # class 0 has files [0, 1, 2]: after three draws the list is reshuffled (here: reversed to [2, 1, 0]) and
    # the pointer restarts at 3 % (3 - 1) = 1, i.e. file 1, then 0 (the reference's skipping of file 2)
    rng = ScriptedRng([0] * 5)
    out = class_balanced_list([[0], [0], [0]], num_draws=1, rng=rng, sub_epoch_size=5)
    assert out.tolist() == [0, 1, 2, 1, 0]


def test_file_classes_follow_the_class_subset(gta):
    from mmseg_procl.datasets import GTADataset
    from mmseg_procl.datasets.class_balanced import dataset_file_classes
    from mmseg_procl.datasets.label_tables import SYNTHIA16_CLASSES, class_subset
    full = GTADataset(data_root=gta, data_prefix=dict(img_path='images', seg_map_path='labels'))
    sub = GTADataset(data_root=gta, data_prefix=dict(img_path='images', seg_map_path='labels'),
                     metainfo=dict(classes=SYNTHIA16_CLASSES))
    label_map, _ = class_subset(SYNTHIA16_CLASSES)
    for classes, sub_classes in zip(dataset_file_classes(full), dataset_file_classes(sub)):
        assert sub_classes == [label_map[c] for c in classes if label_map[c] != 255]


def test_uda_list_seed_defaults_to_the_global_generator(gta):
    from mmseg_procl.datasets import GTADataset, SyntheticDrivingDataset, UDADataset
    source = GTADataset(data_root=gta, data_prefix=dict(img_path='images', seg_map_path='labels'))
    target = SyntheticDrivingDataset(num_samples=2, img_size=(64, 32), pipeline=[dict(type='PackSegInputs')])
    lists = []
    for seed in (1, 1, 2):
        np.random.seed(seed)               # the runner seeds numpy with randomness.seed before building data
        uda = UDADataset(source=source, target=target,
                         class_balanced_source=dict(num_draws=60, sub_epoch_size=30))
        lists.append(uda.balanced_sources)
    assert np.array_equal(lists[0], lists[1]) and not np.array_equal(lists[0], lists[2])
