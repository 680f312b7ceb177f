# SePiCo DistCL on HRDA (MiT-B5), GTA5 -> Cityscapes at 1024: a combination no original repository offers.
# HRDA's segmentor (context 0.5 + detail 512, scale attention, detail loss 0.1, pseudo-label margins of the
# frame) with SePiCo's recipe (docs/methods.md §2.2): a projection head on the *context* features
# (1024 -> 256 -> 512, as SePiCo's DAFormer head), teacher class statistics of the clean source's context
# embeddings, DistCL in the source stage (strongly augmented source) and the target stage (strongly
# augmented class-balanced 1024 crop of the uncropped 2048 x 1024 target, pseudo-labels regenerated on the
# crop with HRDA's detail windows, its margins cropped alike), ClassMix.  SePiCo has no ImageNet FD.
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/hrda_daformer_mitb5.py',
    '../_base_/datasets/gtaHR2csHR_1024x1024.py',
    '../_base_/uda/sepico_distcl.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (1024, 1024)
model = dict(
    auxiliary_head=dict(type='ProjHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
                        input_transform='resize_concat', channels=512, num_convs=2, kernel_size=1,
                        norm_cfg=dict(type='BN', requires_grad=True)))
uda = dict(
    pseudo_labeller=dict(ignore_top=0, ignore_bottom=0),          # the frame margins instead of rows
    target_crop=dict(crop_size=crop_size))
# The target is loaded uncropped (2048 x 1024, margins, flip) and cropped by ClassBalancedCrop.
uncropped_target = dict(
    type='CityscapesDataset', data_root='data/cityscapes/', data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PseudoLabelMargins', margins=(30, 240, 30, 30)),
        dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ])
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target=uncropped_target,
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0)))
# Validation every 1000 iterations, one checkpoint at the end (SePiCo).
train_cfg = dict(val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=40000))
randomness = dict(seed=76)
