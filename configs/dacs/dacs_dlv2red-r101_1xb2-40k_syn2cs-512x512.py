# DACS with DeepLabV2-red (ResNetV1c-101), SYNTHIA -> Cityscapes (report mIoU16 / mIoU13).
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/deeplabv2red_r101.py',
    '../_base_/datasets/syn2cs_512x512.py',
    '../_base_/uda/dacs.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (512, 512)
model = dict(data_preprocessor=dict(size=crop_size))
# Batches of 2 source + 2 target crops; random source / target pairs (no RCS).
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=None))
randomness = dict(seed=0)  # the papers report the mean over seeds 0, 1, 2 (run_experiments.py --exp)
