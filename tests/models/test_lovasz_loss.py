"""Lovász-softmax: a hand-computed value, the definition (per-class loop without ignored pixels), ignore /
absent-class / per-image semantics, gradients, the registered loss."""
import pytest
import torch

from mmseg_procl.models.losses import LovaszLoss, lovasz_softmax


def two_class(p0, labels):
    """(1, 2, 1, P) probabilities of class 0 = p0, class 1 = 1 - p0, and (1, 1, P) labels."""
    p0 = torch.tensor(p0, dtype=torch.float64)
    return torch.stack([p0, 1 - p0])[None, :, None], torch.tensor(labels)[None, None]


def by_definition(probs, labels, classes='present', ignore=255):
    """The loss as Berman et al. define it: valid pixels only, one sort per class, mean over classes."""
    flat = probs.permute(0, 2, 3, 1).reshape(-1, probs.shape[1])
    labels = labels.reshape(-1)
    keep = labels != ignore
    flat, labels = flat[keep], labels[keep]
    losses = []
    for c in range(flat.shape[1]):
        fg = (labels == c).double()
        if classes == 'present' and fg.sum() == 0:
            continue
        errors = (fg - flat[:, c]).abs()
        order = torch.argsort(errors, descending=True)
        gt = fg[order]
        jaccard = 1 - (gt.sum() - gt.cumsum(0)) / (gt.sum() + (1 - gt).cumsum(0))
        increments = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append((errors[order] * increments).sum())
    return torch.stack(losses).mean() if losses else torch.zeros((), dtype=flat.dtype)


def test_hand_computed_two_class_value():
    # class 0: errors (0.1, 0.4, 0.3, 0.2), sorted fg (1, 0, 0, 1): increments (1/2, 1/6, 1/12, 1/4)
    #          -> 0.4/2 + 0.3/6 + 0.2/12 + 0.1/4 = 0.2916667
    # class 1: the same errors, sorted fg (0, 1, 1, 0): increments (1/3, 1/3, 1/3, 0) -> 0.3
    probs, labels = two_class([0.9, 0.6, 0.3, 0.2], [0, 0, 1, 1])
    assert lovasz_softmax(probs, labels).item() == pytest.approx((0.2916667 + 0.3) / 2, abs=1e-6)
    perfect, _ = two_class([1.0, 1.0, 0.0, 0.0], [0, 0, 1, 1])
    assert lovasz_softmax(perfect, labels).item() == 0


@pytest.mark.parametrize('classes', ['present', 'all'])
def test_equals_the_definition_with_ignored_pixels_and_absent_classes(classes):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 5, 6, 7, generator=g, dtype=torch.float64), dim=1)
    labels = torch.randint(0, 4, (2, 6, 7), generator=g)          # class 4 absent
    labels[0, :2] = 255
    value = lovasz_softmax(probs, labels, classes=classes)
    torch.testing.assert_close(value, by_definition(probs, labels, classes), rtol=1e-12, atol=1e-12)
    # ignored pixels change nothing, whatever their probabilities
    shuffled = probs.clone()
    shuffled[0, :, :2] = torch.softmax(torch.randn(5, 2, 7, generator=g, dtype=torch.float64), dim=0)
    torch.testing.assert_close(lovasz_softmax(shuffled, labels, classes=classes), value)
    # per image: the mean of the images' losses
    per_image = lovasz_softmax(probs, labels, classes=classes, per_image=True)
    expected = (by_definition(probs[:1], labels[:1], classes)
                + by_definition(probs[1:], labels[1:], classes)) / 2
    torch.testing.assert_close(per_image, expected)


def test_only_ignored_pixels_give_zero_with_a_gradient_path():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = LovaszLoss(loss_weight=0.75)(logits, torch.full((1, 2, 2), 255))
    loss.backward()
    assert loss.item() == 0 and torch.equal(logits.grad, torch.zeros_like(logits))


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    probs = torch.rand(1, 3, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (1, 3, 3), generator=g)
    assert torch.autograd.gradcheck(lambda p: lovasz_softmax(p, labels), (probs, ))


def test_registered_loss_weight_and_errors():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 5, 5, generator=g)
    labels = torch.randint(0, 4, (2, 5, 5), generator=g)
    loss = LovaszLoss(loss_weight=0.75)(logits, labels)
    torch.testing.assert_close(loss, 0.75 * by_definition(torch.softmax(logits.double(), 1), labels).float())
    with pytest.raises(ValueError, match="loss_type must be 'multi_class'"):
        LovaszLoss(loss_type='binary')
    with pytest.raises(ValueError, match="classes must be one of \\('present', 'all'\\), got 'some'"):
        LovaszLoss(classes='some')
    with pytest.raises(ValueError, match='per-pixel weights are not defined'):
        LovaszLoss()(logits, labels, weight=torch.ones(2, 5, 5))


def test_decode_head_sums_a_list_of_losses_by_name():
    """ProCA's source loss: loss_decode=[CE, 0.75 Lovasz] logs both terms (the mmseg 1.x list form)."""
    import torch.nn.functional as F
    from mmengine.structures import PixelData

    from mmseg_procl.models.decode_heads import DLV2Head
    from mmseg_procl.structures import SegDataSample
    head = DLV2Head(in_channels=4, num_classes=3, dilations=(1,), in_index=0, align_corners=True,
                    loss_decode=[dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
                                 dict(type='LovaszLoss', loss_weight=0.75)])
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 2, 3)
    labels = torch.tensor([[[0, 1, 2, 0, 255, 1], [2, 2, 1, 0, 0, 255]]])       # (1, 2, 6): logits upsampled
    sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
    losses = head.loss_by_feat(logits, [sample])
    up = F.interpolate(logits, size=(2, 6), mode='bilinear', align_corners=True)
    assert losses['loss_seg'].item() == pytest.approx(F.cross_entropy(up, labels, ignore_index=255).item(),
                                                      rel=1e-6)
    expected = 0.75 * lovasz_softmax(F.softmax(up, dim=1), labels)
    assert losses['loss_lovasz'].item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match='empty list'):
        DLV2Head(in_channels=4, num_classes=3, loss_decode=[])
