# PCPR on MIC(HRDA), GTA5 -> Cityscapes at 1024 (paper: 77.2 mIoU).  A LABELLED RECONSTRUCTION: the segmentor
# changes are the authors' released code; the pseudo-label filtering and the prototype branch are
# reconstructed (README "PCPR", docs/methods.md §2.5).  As the authors' runs: batch 1, 80k iterations,
# seed 2, checkpoints every 20k (5 kept).  Offline target pseudo-labels (e.g. SAM-refined) are read from
# data/cityscapes/pl2/train/<city>/<frame>_gtFine_labelTrainIds.png (tools/convert_datasets/pseudo_labels.py).
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/pcpr_hrda_daformer_mitb5.py',
    '../_base_/datasets/gtaHR2csHR_1024x1024.py',
    '../_base_/uda/pcpr.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (1024, 1024)
model = dict(data_preprocessor=dict(size=crop_size))
pcpr_target_dataset = dict(
    type='CityscapesDataset', data_root='data/cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train', pseudo_label_path='pl2/train'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadPseudoLabels'),                   # offline labels: resized / cropped / flipped alike
        dict(type='PseudoLabelMargins', margins=(30, 240, 30, 30)),
        dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
        dict(type='RandomCrop', crop_size=crop_size),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ])
# Rare class sampling with T = 0.01, 3000 px, crop ratio 2.0 (as MIC(HRDA)); batch 1, 2 workers (PCPR)
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    batch_size=1, num_workers=2,
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target=pcpr_target_dataset,
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0)))
default_hooks = dict(checkpoint=dict(interval=20000, max_keep_ckpts=5))
randomness = dict(seed=2)
