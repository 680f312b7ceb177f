# MIC(HRDA), Cityscapes -> Dark Zurich (night): mask_mode 'separate', no pseudo-label margins.
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/hrda_daformer_mitb5.py',
    '../_base_/datasets/csHR2dzHR_1024x1024.py',
    '../_base_/uda/mic.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (1024, 1024)
model = dict(data_preprocessor=dict(size=crop_size))
# Rare class sampling with T = 0.01, 3000 px, crop ratio 2.0 (HRDA: 4x the pixels of a 512 crop)
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0)))
uda = dict(mask_mode='separate')
randomness = dict(seed=2)  # MIC: the seed with median performance
