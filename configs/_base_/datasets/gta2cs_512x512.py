# GTA5 -> Cityscapes, 512x512 crops (DAFormer).
# Loader semantics of DAFormer uda_gta_to_cityscapes_512x512 (docs/methods.md §1.3): GTA (1280,720), Cityscapes (1024,512).
crop_size = (512, 512)
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Target labels are never used for training (cat_max_ratio 1: the crop does not consult them).
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Labels are loaded after Resize: evaluation runs at the original label resolution.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='GTADataset', data_root='data/gta/',
    data_prefix=dict(img_path='images', seg_map_path='labels'), pipeline=source_train_pipeline)
target_dataset = dict(
    type='CityscapesDataset', data_root='data/cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train'), pipeline=target_train_pipeline)
# Source-only training reads the source domain; UDA configs replace the training dataset.
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True), dataset=source_dataset)
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesDataset', data_root='data/cityscapes/',
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
