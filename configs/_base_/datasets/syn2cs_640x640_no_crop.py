# SYNTHIA -> Cityscapes, 640x640 source crops, uncropped targets (SePiCo's recipe with the SYNTHIA
# pipeline; SePiCo ships no SYNTHIA config): SYNTHIA (1280, 760) crop 640, Cityscapes (1280, 640),
# the target cropped in the training step by class-balanced cropping.  Report mIoU16 / mIoU13.
_base_ = ['syn2cs_640x640.py']
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_dataset = dict(pipeline=target_train_pipeline)
