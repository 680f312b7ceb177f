"""ImageNet feature distance: label down-scaling, thing mask, zero without thing pixels.

docs/methods.md §1.6.
"""
import torch

from mmseg_procl.uda.objectives import ImageNetFeatureDistance, downscale_label_ratio
from mmseg_procl.uda.objectives.feature_distance import masked_feature_distance
from mmseg_procl.uda.stage_context import StageContext


def test_downscale_label_ratio_majority_and_ignore():
    label = torch.tensor([[[13, 13, 0, 0],
                           [13, 255, 0, 1],
                           [255, 255, 5, 5],
                           [255, 7, 5, 5]]])
    out = downscale_label_ratio(label, 2, 0.75, 19)
    # windows: {13,13,13,255}: 13 at 0.75 -> 13; {0,0,0,1}: 0 at 0.75 -> 0;
    # {255,255,255,7}: ignore is the majority -> 255; {5,5,5,5} -> 5
    assert out.tolist() == [[[13, 0], [255, 5]]]
    assert downscale_label_ratio(label, 2, 0.8, 19).tolist() == [[[255, 255], [255, 5]]]


def test_masked_distance_empty_mask_is_zero_not_nan():
    f = torch.zeros(1, 4, 2, 2)
    assert masked_feature_distance(f, f + 1, torch.zeros(1, 2, 2, dtype=torch.bool)).item() == 0.0
    mask = torch.tensor([[[True, False], [False, False]]])
    assert masked_feature_distance(f, f + 1, mask).item() == torch.tensor(2.0).item()   # ||1_4|| = 2


class ConstantBackbone(torch.nn.Module):
    """Returns one map of zeros (the 'ImageNet' features)."""

    def forward(self, x):
        return [torch.zeros(x.shape[0], 4, x.shape[2] // 2, x.shape[3] // 2)]


def test_objective_value_and_thing_mask(monkeypatch):
    from mmseg_procl.registry import MODELS
    monkeypatch.setattr(MODELS, 'build', lambda cfg: ConstantBackbone())
    fd = ImageNetFeatureDistance(backbone=dict(type='unused'), lambda_fd=0.5)
    student = torch.full((1, 4, 2, 2), 1.5)       # distance sqrt(4 * 1.5^2) = 3 everywhere
    labels = torch.tensor([[[13, 13, 0, 0], [13, 13, 0, 0], [8, 8, 255, 255], [8, 8, 255, 255]]])
    ctx = StageContext('source', torch.zeros(1, 3, 4, 4), [], [student], student, labels)
    assert fd(ctx)['loss_imnet_feat_dist'].item() == 0.5 * 3.0     # only the car window counts
    ctx.labels = torch.full_like(labels, 255)
    assert fd(ctx)['loss_imnet_feat_dist'].item() == 0.0
    assert not fd.train().imnet_backbone.training
