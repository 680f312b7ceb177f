# SePiCo DistCL, Dark Zurich variant, DeepLab-v2 (ResNet-101), Cityscapes -> Dark Zurich at 640x640.
# SePiCo experiment 7 (experiments.py); README: 45.4 mIoU on the Dark Zurich *test* split (server).
# Training: day-night fused pseudo-labels (_base_/uda/sepico_dark.py), the decode cross-entropy weighted by
# the class prior at scale 0.05; test: the same prior at scale 0.16 on the softmax of *_rgb_anon.png images
# (SePiCo's simple_test), so validation on val/night and test-set predictions include it.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/sepico_deeplabv2_r101.py',
    '../_base_/datasets/cs2dz_640x640_no_crop.py',
    '../_base_/uda/sepico_dark.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/schedule_60k.py',
]
model = dict(
    decode_head=dict(loss_decode=dict(class_weight=dict(frequencies='dark_zurich', scale=0.05))),
    test_cfg=dict(class_prior=dict(frequencies='dark_zurich', scale=0.16, img_suffix='_rgb_anon.png')))
# RCS T = 0.01, 3000 px, crop ratio 0.5 on Cityscapes; the night target is loaded uncropped with its day partner.
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        day_partners={{_base_.day_partners}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# AdamW 6e-5, heads x10 (SePiCo adds the MiT norm / pos_block rules only for MiT backbones).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True, head=dict(lr_mult=10.0))))
# Validation every 1000 iterations, one checkpoint at the end (SePiCo).
train_cfg = dict(val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=60000))
randomness = dict(seed=42)
