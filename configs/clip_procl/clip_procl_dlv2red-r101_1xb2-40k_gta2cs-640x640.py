# CLIP-ProCL (DeepLabV2-red R101 + frozen CLIP RN101), GTA5 -> Cityscapes, the paper's setting
# (README: 60.1 mIoU; docs/methods.md §2.1.6).
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/clip_procl_deeplabv2red_r101.py',
    '../_base_/datasets/gta2cs_640x640.py',
    '../_base_/uda/clip_procl.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (640, 640)
model = dict(data_preprocessor=dict(size=crop_size))
# RCS T = 0.01, 3000 px, crop ratio 0.5 (docs/methods.md §1.4).
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# AdamW 6e-5, heads x10, the prompt context at the base lr (ctx: lr_mult 1.0).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(ctx=dict(lr_mult=1.0))))
# Checkpoint (all kept) and evaluation every 4000 iterations.
default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=-1))
randomness = dict(seed=42)
