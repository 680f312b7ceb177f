# CLIP-ProCL objectives and CLIP fusion on DAFormer (MiT-B5, RCS, thing-class ImageNet FD, alpha 0.999,
# crop rows 15 / 120), SYNTHIA -> Cityscapes (report mIoU16 / mIoU13).  This package's extension: the authors
# only ship the DeepLabV2 variant (see _base_/models/clip_procl_daformer_mitb5.py).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/clip_procl_daformer_mitb5.py',
    '../_base_/datasets/syn2cs_512x512.py',
    '../_base_/uda/clip_procl.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (512, 512)
model = dict(data_preprocessor=dict(size=crop_size))
uda = dict(objectives=[
    dict(type='ImageNetFeatureDistance', lambda_fd=0.005,                  # DAFormer's FD
         classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18), scale_min_ratio=0.75, stages=('source',)),
    dict(type='PrototypeContrast', prototypes=dict(type='CLIPTextPrototypes'), temperature=1.0,
         scale_min_ratio=0.75, loss_weight=1.0, use_weights=False, stages=('source', 'mixed')),
    dict(type='PromptLearning', loss_weight=0.5, stages=('source', 'mixed')),
])
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(ctx=dict(lr_mult=1.0))))
randomness = dict(seed=0)
