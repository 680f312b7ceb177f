"""Tests of ClassMix masks (whole-batch class set, docs/methods.md §3 item 2) and one_mix."""
import itertools

import pytest
import torch

from mmseg_procl.uda.mix import batch_class_presence, class_mix_masks, one_mix, sample_mix_classes


def quadrant_map(classes, size=4):
    """(size, size) label map with one class per quadrant (row-major)."""
    half = size // 2
    out = torch.empty(size, size, dtype=torch.long)
    for (r, c), value in zip(itertools.product((0, 1), (0, 1)), classes):
        out[r * half:(r + 1) * half, c * half:(c + 1) * half] = value
    return out


def test_presence_covers_the_whole_batch_including_ignore():
    labels = torch.stack([quadrant_map([0, 0, 1, 1]), quadrant_map([2, 2, 255, 255])])
    present = batch_class_presence(labels)
    assert present.shape == (256,)
    assert present.nonzero().flatten().tolist() == [0, 1, 2, 255]


def test_chosen_set_has_ceil_half_of_batch_classes_per_image():
    labels = torch.stack([quadrant_map([0, 0, 1, 1]), quadrant_map([2, 2, 255, 255])])  # K = {0,1,2,255}
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        chosen = sample_mix_classes(labels, gen)
        assert chosen.shape == (2, 256)
        assert chosen.sum(1).tolist() == [2, 2]
        assert set(chosen.nonzero()[:, 1].tolist()) <= {0, 1, 2, 255}
    # five classes -> ceil(5 / 2) = 3
    five = torch.stack([quadrant_map([0, 1, 2, 3]), quadrant_map([4, 4, 4, 4])])
    assert sample_mix_classes(five, gen).sum(1).tolist() == [3, 3]


def test_mask_over_every_class_map_covers_exactly_half_the_classes():
    full = quadrant_map([0, 1, 2, 255])
    labels = torch.stack([full, full, full])  # every image shows every class of K
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):
        masks = class_mix_masks(labels, gen)
        assert masks.shape == (3, 1, 4, 4) and masks.dtype == torch.float32
        assert set(masks.unique().tolist()) <= {0.0, 1.0}
        # each quadrant (class) is wholly in or out, and exactly 2 of the 4 are in
        quadrant_in = masks[:, 0].reshape(3, 2, 2, 2, 2).mean((2, 4))
        assert set(quadrant_in.unique().tolist()) <= {0.0, 1.0}
        assert quadrant_in.sum((1, 2)).tolist() == [2.0, 2.0, 2.0]


def test_class_only_in_another_image_can_be_chosen_for_image_zero():
    # class 2 occurs only in image 1
    labels = torch.stack([quadrant_map([0, 0, 1, 1]), quadrant_map([2, 2, 2, 2])])
    gen = torch.Generator().manual_seed(2)
    picked_for_zero = [sample_mix_classes(labels, gen)[0] for _ in range(50)]
    assert any(c[2] for c in picked_for_zero)
    # when image 0 draws {2, x}, only x (if it is 0 or 1) is visible in its mask
    for chosen in picked_for_zero:
        assert chosen.sum() == 2
    masks = class_mix_masks(labels, torch.Generator().manual_seed(2))
    chosen0 = sample_mix_classes(labels, torch.Generator().manual_seed(2))[0]
    expected0 = chosen0[labels[0]].float()
    assert torch.equal(masks[0, 0], expected0)


def test_masks_deterministic_under_seed_and_vary_across_seeds():
    gen_labels = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 6, (2, 8, 8), generator=gen_labels)
    labels[0, 0, 0] = 255
    first = class_mix_masks(labels, torch.Generator().manual_seed(11))
    second = class_mix_masks(labels, torch.Generator().manual_seed(11))
    assert torch.equal(first, second)
    others = [class_mix_masks(labels, torch.Generator().manual_seed(s)) for s in range(12, 20)]
    assert any(not torch.equal(first, o) for o in others)
    # (B, 1, H, W) labels give the same masks
    assert torch.equal(class_mix_masks(labels[:, None], torch.Generator().manual_seed(11)), first)


def test_choice_is_uniform_over_classes_and_pairs():
    # 2000 images in one batch, each with the same 4 classes -> each image draws independently
    labels = quadrant_map([0, 1, 2, 255]).expand(2000, 4, 4)
    chosen = sample_mix_classes(labels, torch.Generator().manual_seed(4))
    freq = chosen[:, [0, 1, 2, 255]].float().mean(0)
    torch.testing.assert_close(freq, torch.full((4,), 0.5), atol=0.04, rtol=0)
    pairs = [tuple(row.nonzero().flatten().tolist()) for row in chosen]
    counts = {p: pairs.count(p) / len(pairs) for p in set(pairs)}
    assert len(counts) == 6
    assert all(abs(f - 1 / 6) < 0.04 for f in counts.values())


def test_class_mix_rejects_bad_labels():
    with pytest.raises(ValueError, match='source_labels'):
        class_mix_masks(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match='source_labels'):
        class_mix_masks(torch.zeros(4, 4, dtype=torch.long))


def test_one_mix_images_labels_weights_hand_values():
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])  # (1, 1, 2, 2)
    src_img = torch.ones(1, 3, 2, 2)
    tgt_img = torch.full((1, 3, 2, 2), 2.0)
    mixed = one_mix(mask, src_img, tgt_img)
    assert torch.equal(mixed, torch.tensor([[1.0, 2.0], [2.0, 1.0]]).expand(1, 3, 2, 2))
    assert torch.equal(one_mix(mask[:, 0], src_img, tgt_img), mixed)

    src_lbl = torch.tensor([[[5, 5], [255, 7]]])
    tgt_lbl = torch.tensor([[[1, 2], [3, 4]]])
    lbl = one_mix(mask, src_lbl, tgt_lbl)  # (B, 1, H, W) mask squeezed for (B, H, W) labels
    assert lbl.dtype == torch.long
    assert lbl.tolist() == [[[5, 2], [3, 7]]]
    assert torch.equal(one_mix(mask[:, 0], src_lbl, tgt_lbl), lbl)

    weights = one_mix(mask[:, 0], torch.ones(1, 2, 2), torch.full((1, 2, 2), 0.25))
    assert weights.tolist() == [[[1.0, 0.25], [0.25, 1.0]]]


def test_one_mix_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='source and target'):
        one_mix(torch.ones(1, 1, 2, 2), torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 3))
    with pytest.raises(ValueError, match='mask'):
        one_mix(torch.ones(2, 1, 2, 2), torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 2))
