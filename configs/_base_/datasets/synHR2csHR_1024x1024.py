# SYNTHIA -> Cityscapes at full resolution, 1024x1024 crops (HRDA, MIC).
# Loader semantics of MIC seg/configs/_base_/datasets/uda_synthiaHR_to_cityscapesHR_1024x1024.py (docs/methods.md §2.3): SYNTHIA (2560,1520), Cityscapes (2048,1024), validation at (2048,1024).
crop_size = (1024, 1024)
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(2560, 1520), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Target labels are never used for training (cat_max_ratio 1: the crop does not consult them).
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    # HRDA's pseudo-label margins of the full 1024 x 2048 frame (top, bottom, left, right), made before
    # the crop; the self-training multiplies them into the pseudo-label weights
    dict(type='PseudoLabelMargins', margins=(30, 240, 30, 30)),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Labels are loaded after Resize: evaluation runs at the original label resolution.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='SynthiaDataset', data_root='data/synthia/',
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'), pipeline=source_train_pipeline)
target_dataset = dict(
    type='CityscapesDataset', data_root='data/cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train'), pipeline=target_train_pipeline)
# Source-only training reads the source domain; UDA configs replace the training dataset.
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=True,      # MIC / HRDA: one worker per GPU
    sampler=dict(type='InfiniteSampler', shuffle=True), dataset=source_dataset)
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesDataset', data_root='data/cityscapes/',
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
