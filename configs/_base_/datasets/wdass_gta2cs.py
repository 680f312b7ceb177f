# WDASS's data, GTA5 -> Cityscapes with weak target labels (docs/methods.md §2.7; WDASS
# datasets/base_loader.py, datasets/uniform.py, transforms/joint_transforms.py, train.py): GTA5 resized to
# 1280x720 and Cityscapes train to 1024x512 (bilinear; labels nearest); for both domains RandomSizeAndCrop (a
# scale U(0.5, 2.0), bicubic, then a random 512x512 crop, padded with ignore where the scaled image is
# smaller), horizontal flip and ColorJitter(0.25, 0.25, 0.25, 0.25); batches of 4 + 4 per GPU.  The weak
# labels are label maps beside the images (tools/convert_datasets/weak_labels.py: `coarse` from gtCoarse into
# weak_coarse/train, `points` from WDASS's file_2975.yaml with --scale 2 into weak_point/train; maps at the
# full 2048x1024 image size), read by LoadPseudoLabels and moved with the image by every transform
# (image-level labels: the coarse maps).  Validation: Cityscapes val at 2048x1024.
source_size = (1280, 720)          # (w, h)
target_size = (1024, 512)
crop_size = (512, 512)
augmentation = [
    dict(type='RandomResize', ratio_range=(0.5, 2.0), interpolation='bicubic', backend='pillow'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.25, contrast=0.25, saturation=0.25, hue=0.25),
    dict(type='PackSegInputs'),
]
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_size, keep_ratio=False, interpolation='bilinear', backend='pillow'),
] + augmentation
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPseudoLabels'),                     # the weak labels
    dict(type='Resize', scale=target_size, keep_ratio=False, interpolation='bilinear', backend='pillow'),
] + augmentation
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
weak_label_dir = 'weak_point/train'      # under data/cityscapes: the converter's output folder
train_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=True,
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        type='UDADataset',
        source=dict(type='GTADataset', data_root='data/gta/',
                    data_prefix=dict(img_path='images', seg_map_path='labels'), pipeline=source_pipeline),
        target=dict(type='CityscapesDataset', data_root='data/cityscapes/',
                    data_prefix=dict(img_path='leftImg8bit/train', pseudo_label_path=weak_label_dir),
                    pseudo_label_suffix='_weak_labelTrainIds.png', pipeline=target_pipeline)))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesDataset', data_root='data/cityscapes/',
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
