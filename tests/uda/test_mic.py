"""MIC (masked image consistency) and HRDA's pseudo-label margins in the self-training core
(docs/methods.md §2.4 / §2.3): block masks, the masked stage's inputs / labels / weights, the teacher never
seeing masked images, and the margin mask from the data pipeline through crop, flip, pad and weights."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from mmseg_procl.apis.config_utils import compose_uda_model
from mmseg_procl.datasets.transforms import Pad, PackSegInputs, PseudoLabelMargins, RandomCrop, RandomFlip
from mmseg_procl.models.data_preprocessor import SegDataPreProcessor
from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from mmseg_procl.uda import BlockMasking
from mmseg_procl.utils import register_all_modules

TINY = 'tests/fixtures/tiny_mic.py'
B, H, W = 2, 64, 128


def test_block_masks_layout_and_ratio():
    torch.manual_seed(0)
    masking = BlockMasking(mask_ratio=0.7, mask_block_size=8)
    masks = masking.masks(torch.zeros(4, 3, 64, 96))
    assert masks.shape == (4, 1, 64, 96)
    blocks = masks.reshape(4, 1, 8, 8, 12, 8)                # (B, 1, rows, 8, cols, 8)
    assert torch.equal(blocks.amin(dim=(3, 5)), blocks.amax(dim=(3, 5)))     # constant per 8 x 8 block
    kept = blocks.amax(dim=(3, 5)).mean().item()
    assert abs(kept - 0.3) < 0.05                            # 384 blocks, keep iff U > 0.7
    torch.manual_seed(1)
    expected = (torch.rand(1, 1, 8, 12) > 0.7).float()
    torch.manual_seed(1)
    imgs = torch.randn(1, 3, 64, 96) + 5
    torch.manual_seed(1)
    masked = masking(imgs)
    grid = expected.repeat_interleave(8, 2).repeat_interleave(8, 3)
    assert torch.equal(masked, imgs * grid)                  # masked pixels are 0 (the mean colour)
    big = BlockMasking(0.7, 64).masks(torch.zeros(1, 3, 1024, 1024)).reshape(16, 64, 16, 64)
    assert torch.equal(big.amin(dim=(1, 3)), big.amax(dim=(1, 3)))          # HRDA: 16 x 16 blocks of 64
    with pytest.raises(ValueError, match='mask_ratio must be in \\[0, 1\\)'):
        BlockMasking(mask_ratio=1.0)


def build_mic(**uda):
    register_all_modules()
    cfg = compose_uda_model(Config.fromfile(TINY))
    cfg.model.update(uda)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def hand_batch(margins=None):
    """Source images 1.0 (labels: road left, car right), target images -1.0 (optionally with margins)."""
    src_labels = torch.zeros(B, H, W, dtype=torch.long)
    src_labels[:, :, W // 2:] = 13
    meta = dict(img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W))
    source = [SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=src_labels[i:i + 1])) for i in range(B)]
    target = [SegDataSample(metainfo=meta) for _ in range(B)]
    if margins is not None:
        for sample, mask in zip(target, margins):
            sample.valid_pseudo_mask = PixelData(data=mask[None].float())
    return dict(source=dict(inputs=torch.ones(B, 3, H, W), data_samples=source),
                target=dict(inputs=-torch.ones(B, 3, H, W), data_samples=target))


def confident_sky(seen):
    """Teacher stand-in that records its inputs and predicts sky (10) with confidence ~1."""
    def encode_decode(inputs, metas):
        seen.append(inputs.clone())
        logits = torch.zeros(inputs.shape[0], 19, *inputs.shape[2:])
        logits[:, 10] = 20.0
        return logits
    return encode_decode


def test_masked_stage_trains_on_masked_target_with_the_unmasked_pseudo_labels():
    algo = build_mic()
    seen = []
    algo.ema_model.encode_decode = confident_sky(seen)
    state = algo.iteration_state(hand_batch())
    torch.manual_seed(5)
    masked = state['masked_inputs']
    assert len(seen) == 1 and torch.equal(seen[0], -torch.ones(B, 3, H, W))   # teacher: clean target only
    assert torch.equal(state['masked_labels'], state['pseudo_labels'])
    assert torch.equal(state['masked_weights'], state['pseudo_weights'])
    assert torch.equal(state['pseudo_labels'], torch.full((B, H, W), 10))
    zero = (masked == 0).all(dim=1)                          # masked pixels: all channels 0
    assert 0.5 < zero.float().mean() < 0.9                   # ratio 0.7 of 8 x 8 blocks
    assert not (masked[~zero[:, None].expand_as(masked)] == 0).any()
    _ = state['mixed']
    assert len(seen) == 1                                    # mixing reuses the same pseudo-labels


def test_separate_mode_masks_source_0_and_target_0():
    algo = build_mic(mask_mode='separate')
    algo.ema_model.encode_decode = confident_sky([])
    algo.masking.masks = lambda imgs: torch.ones(imgs.shape[0], 1, *imgs.shape[2:])      # keep all
    state = algo.iteration_state(hand_batch())
    assert torch.equal(state['masked_inputs'][0], torch.ones(3, H, W))       # source image 0, no aug
    assert torch.equal(state['masked_inputs'][1], -torch.ones(3, H, W))      # target image 0
    assert torch.equal(state['masked_labels'][0], state['source_labels'][0])
    assert torch.equal(state['masked_labels'][1], torch.full((H, W), 10))
    assert torch.equal(state['masked_weights'][0], torch.ones(H, W))
    assert torch.equal(state['masked_weights'][1], state['pseudo_weights'][0])


def test_masked_entries_need_a_masking_policy():
    algo = build_mic(masking=None)
    algo.ema_model.encode_decode = confident_sky([])
    with pytest.raises(ValueError, match="a stage reads the masked_\\* entries but DACS has no masking policy"):
        algo.iteration_state(hand_batch())['masked_inputs']
    with pytest.raises(ValueError, match="mask_mode must be one of \\('separatetrgaug', 'separate'\\)"):
        build_mic(mask_mode='separatesrc')


def test_pseudo_weights_are_multiplied_by_the_margin_mask():
    margins = torch.ones(B, H, W)
    margins[:, :2] = 0
    margins[1, :, -3:] = 0
    algo = build_mic()
    algo.ema_model.encode_decode = confident_sky([])
    state = algo.iteration_state(hand_batch(margins))
    assert torch.equal(state['pseudo_weights'], margins)          # q = 1 (all confident) times the mask
    algo = build_mic(pseudo_labeller=dict(ignore_top=2))
    algo.ema_model.encode_decode = confident_sky([])
    with pytest.raises(ValueError, match='pseudo-label margins .* and the pseudo_labeller also ignores rows'):
        algo.iteration_state(hand_batch(margins))['pseudo_weights']


def test_margins_are_cropped_with_the_class_balanced_crop():
    margins = torch.zeros(B, H, W)
    margins[:, 10:50, 20:100] = 1
    algo = build_mic(target_crop=dict(type='ClassBalancedCrop', crop_size=(32, 64), cat_max_ratio=0.75,
                                      num_candidates=2, regenerate=False))
    algo.ema_model.encode_decode = confident_sky([])
    state = algo.iteration_state(hand_batch(margins))
    boxes = state['target_pseudo']['boxes']
    expected = torch.stack([margins[i, y1:y2, x1:x2] for i, (y1, y2, x1, x2) in enumerate(boxes)])
    assert state['pseudo_weights'].shape == (B, 32, 64)
    assert torch.equal(state['pseudo_weights'], expected)        # q = 1 times the same window of the mask


def test_margin_mask_through_crop_flip_pack_and_pad():
    img = np.zeros((40, 60, 3), np.uint8)
    results = PseudoLabelMargins(margins=(3, 10, 2, 5))(dict(img=img, img_path='a.png'))
    mask = results['valid_pseudo_mask']
    assert mask.shape == (40, 60) and mask.dtype == np.uint8
    assert mask[:3].sum() == 0 and mask[-10:].sum() == 0 and mask[:, :2].sum() == 0 and mask[:, -5:].sum() == 0
    assert mask[3:30, 2:55].all()
    np.random.seed(0)
    cropped = RandomCrop(crop_size=(20, 30))(dict(results, img=img.copy()))
    # the crop window of the image and of the mask are the same: compare with the mask cropped by hand
    np.random.seed(0)
    margin_h, margin_w = 40 - 20, 60 - 30
    oy, ox = np.random.randint(0, margin_h + 1), np.random.randint(0, margin_w + 1)
    assert np.array_equal(cropped['valid_pseudo_mask'], mask[oy:oy + 20, ox:ox + 30])
    flipped = RandomFlip(prob=1.0)(dict(cropped))
    assert np.array_equal(flipped['valid_pseudo_mask'], cropped['valid_pseudo_mask'][:, ::-1])
    padded = Pad(size=(24, 36), seg_pad_val=255)(dict(flipped))
    assert padded['valid_pseudo_mask'][20:].sum() == 0 and padded['valid_pseudo_mask'][:, 30:].sum() == 0
    packed = PackSegInputs()(padded)['data_samples']
    assert packed.valid_pseudo_mask.data.shape == (1, 24, 36) and packed.valid_pseudo_mask.data.dtype == torch.float32
    pre = SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1], size=(28, 40))
    out = pre(dict(inputs=[torch.zeros(3, 24, 36, dtype=torch.uint8)], data_samples=[packed]), True)
    padded_mask = out['data_samples'][0].valid_pseudo_mask.data
    assert padded_mask.shape == (1, 28, 40) and padded_mask[:, 24:].sum() == 0 and padded_mask[:, :, 36:].sum() == 0
    with pytest.raises(ValueError, match='margins \\(30, 240, 30, 30\\) leave nothing of the 40 x 60 image'):
        PseudoLabelMargins()(dict(img=img))
