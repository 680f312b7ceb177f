# ProCA's data, GTA5 -> Cityscapes (docs/methods.md §2.6; ProCA core/datasets/build.py and
# configs/gta5/*.yaml): GTA5 resized to exactly 1280x720 (no crop, no flip); in the adaptation stage the
# source is colour-augmented (torchvision ColorJitter(0.5, 0.5, 0.5, 0.2), RandomGrayscale(0.2),
# GaussianBlur(3, sigma 0.1-2)) and the Cityscapes target is resized to 1024x512 without augmentation.
# Validation: Cityscapes val resized to 1024x512, logits upsampled to the full-resolution labels.  Images are
# resized with Pillow's bicubic filter and labels with Pillow's nearest neighbour, as ProCA's transforms do.
source_size = (1280, 720)          # SOURCE_INPUT_SIZE_TRAIN (w, h)
target_size = (1024, 512)          # TARGET_INPUT_SIZE_TRAIN / INPUT_SIZE_TEST (w, h)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_size, keep_ratio=False, interpolation='bicubic', backend='pillow'),
    dict(type='PackSegInputs'),
]
source_aug_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_size, keep_ratio=False, interpolation='bicubic', backend='pillow'),
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='GaussianBlur', kernel_size=3, sigma=(0.1, 2.0)),
    dict(type='PackSegInputs'),
]
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=target_size, keep_ratio=False, interpolation='bicubic', backend='pillow'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=target_size, keep_ratio=False, interpolation='bicubic', backend='pillow'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
metainfo = dict()                  # 19 classes (SYNTHIA: the 16-class subset, proca_syn2cs.py)
source_dataset = dict(
    type='GTADataset', data_root='data/gta/', metainfo=metainfo,
    data_prefix=dict(img_path='images', seg_map_path='labels'), pipeline=source_pipeline)
target_dataset = dict(
    type='CityscapesDataset', data_root='data/cityscapes/', metainfo=metainfo,
    data_prefix=dict(img_path='leftImg8bit/train'), pipeline=target_pipeline)
# The source-only stage reads the source domain; the adaptation stage replaces the dataset.
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True), dataset=source_dataset)
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesDataset', data_root='data/cityscapes/', metainfo=metainfo,
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
# The adaptation stage's UDADataset: colour-augmented source, plain target (method configs use it with one
# image of each per GPU: batch 4 + 4 on 4 GPUs)
uda_dataset = dict(type='UDADataset', source=dict(source_dataset, pipeline=source_aug_pipeline),
                   target=target_dataset,
                   # ProCA's class-balanced source list over MAX_ITER * BATCH_SIZE draws of the adaptation
                   # stage (datasets/class_balanced.py)
                   class_balanced_source=dict(num_draws=90000 * 8))
# The self-training stage: Cityscapes train with the offline labels of tools/proca_pseudo_labels.py (under
# data_root; its --out-dir), ProCA's RandomScale(0.5, 1.5) of the full image (bicubic), 512x1024 crops, flip
# and the adaptation stage's colour augmentation
ssl_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', ratio_range=(0.5, 1.5), interpolation='bicubic', backend='pillow'),
    dict(type='RandomCrop', crop_size=(512, 1024)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='GaussianBlur', kernel_size=3, sigma=(0.1, 2.0)),
    dict(type='PackSegInputs'),
]
ssl_dataset = dict(
    type='CityscapesDataset', data_root='data/cityscapes/', metainfo=metainfo,
    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='proca_pl_gta/train'), pipeline=ssl_pipeline)
