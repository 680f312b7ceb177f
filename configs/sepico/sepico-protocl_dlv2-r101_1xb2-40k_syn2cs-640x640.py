# SePiCo ProtoCL, DeepLab-v2 (ResNet-101, full ASPP), SYNTHIA -> Cityscapes at 640x640.
# SePiCo's recipe of experiment 3 with the SYNTHIA pipeline (the authors ship no SYNTHIA config); README: 56.8 (mIoU16 presumably).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/sepico_deeplabv2_r101.py',
    '../_base_/datasets/syn2cs_640x640_no_crop.py',
    '../_base_/uda/sepico_protocl.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
# RCS T = 0.01, 3000 px, crop ratio 0.5 (docs/methods.md §1.4); the target is loaded uncropped.
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# AdamW 6e-5, heads x10 (SePiCo adds the MiT norm / pos_block rules only for MiT backbones).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True, head=dict(lr_mult=10.0))))
# Validation every 1000 iterations, one checkpoint at the end (SePiCo).
train_cfg = dict(val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=40000))
randomness = dict(seed=76)
