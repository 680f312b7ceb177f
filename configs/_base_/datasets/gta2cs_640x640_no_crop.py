# GTA5 -> Cityscapes, 640x640 source crops, uncropped targets (SePiCo's uda_gta_to_cityscapes_640x640_no_crop,
# docs/methods.md §1.3): the target is cropped inside the training step by class-balanced cropping on
# its pseudo-label (ClassBalancedCrop).  Cityscapes (1280, 640), flip; validation as gta2cs_640x640.
_base_ = ['gta2cs_640x640.py']
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_dataset = dict(pipeline=target_train_pipeline)
