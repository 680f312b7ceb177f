# Cityscapes -> Dark Zurich (night) for SePiCo's Dark Zurich variant (SePiCo
# uda_cityscapes_to_dark_zurich_640x640_no_crop, docs/methods.md §2.2.6): Cityscapes at (1280, 640) with
# 640 crops (cat_max 0.75) and flips; Dark Zurich night images at (1280, 720), flipped, *uncropped* (the
# class-balanced crop runs in the training step), each with its daytime partner from
# corresp/train/night/*.csv through the same pipeline and flip (UDADataset day_partners); validation on
# the 50 labelled val/night images at (1280, 720), predictions compared at the original 1920 x 1080.
crop_size = (640, 640)
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Labels are loaded after Resize: evaluation runs at the original label resolution.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='CityscapesDataset', data_root='data/cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'), pipeline=source_train_pipeline)
target_dataset = dict(
    type='DarkZurichDataset', data_root='data/dark_zurich/',
    data_prefix=dict(img_path='rgb_anon/train/night'), pipeline=target_train_pipeline)
day_partners = dict(corresp_dir='corresp/train/night', day_img_dir='rgb_anon/train/day',
                    night_key_prefix='train/night')
# Source-only training reads the source domain; UDA configs replace the training dataset.
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True), dataset=source_dataset)
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DarkZurichDataset', data_root='data/dark_zurich/',
                 data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
