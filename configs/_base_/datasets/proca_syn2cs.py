# ProCA's data, SYNTHIA -> Cityscapes with ProCA's 16-class model (docs/methods.md §2.6; ProCA
# core/datasets/synthia.py, configs/synthia/*.yaml): as proca_gta2cs.py with SYNTHIA resized to 1280x760,
# and every dataset restricted to the 16 classes (terrain, truck and train ignored, the others renumbered
# 0..15; label_tables.SYNTHIA16_CLASSES), so the model predicts 16 classes and mIoU is mIoU-16 over
# Cityscapes val with those three classes ignored, as ProCA evaluates.
_base_ = ['proca_gta2cs.py']
source_size = (1280, 760)          # SOURCE_INPUT_SIZE_TRAIN (w, h)
metainfo = dict(classes=('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
                         'traffic sign', 'vegetation', 'sky', 'person', 'rider', 'car', 'bus', 'motorcycle',
                         'bicycle'))
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
source_dataset = dict(                       # every key of the GTA dataset is replaced
    type='SynthiaDataset', data_root='data/synthia/', metainfo=metainfo,
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'), pipeline=source_pipeline)
target_dataset = dict(metainfo=metainfo)
train_dataloader = dict(dataset=source_dataset)
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(class_subsets=())     # the 16 classes are the dataset's: mIoU is mIoU-16
test_evaluator = val_evaluator
uda_dataset = dict(source=dict(source_dataset, pipeline=source_aug_pipeline), target=dict(metainfo=metainfo))
ssl_dataset = dict(metainfo=metainfo, data_prefix=dict(seg_map_path='proca_pl_syn/train'))
