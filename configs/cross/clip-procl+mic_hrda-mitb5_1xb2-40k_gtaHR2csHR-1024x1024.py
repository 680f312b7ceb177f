# CLIP-ProCL on MIC(HRDA) (MiT-B5), GTA5 -> Cityscapes at 1024: a combination no original repository offers.
# MIC(HRDA)'s self-training (configs/mic/mic-hrda_*_gtaHR2csHR: DACS, alpha 0.999, pseudo-label margins of
# the frame, thing-class ImageNet FD on the context features, masked target stage with 64 px blocks /
# ratio 0.7, RCS crop ratio 2.0, seed 2) with CLIP-ProCL's parts (docs/methods.md §2.1): CLIP-fused HRDA
# segmentor (_base_/models/clip_procl_hrda_daformer_mitb5.py), the alignment of projected context
# features with the CLIP text prototypes and prompt learning on the context pass's CLIP map, both in the
# source and mixed stages as CLIP-ProCL; the masked stage trains the decode loss only, as MIC.
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/clip_procl_hrda_daformer_mitb5.py',
    '../_base_/datasets/gtaHR2csHR_1024x1024.py',
    '../_base_/uda/mic.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (1024, 1024)
model = dict(data_preprocessor=dict(size=crop_size))
uda = dict(objectives=[
    dict(type='ImageNetFeatureDistance', lambda_fd=0.005,                  # HRDA's FD (context features)
         classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18), scale_min_ratio=0.75, stages=('source',)),
    dict(type='PrototypeContrast', prototypes=dict(type='CLIPTextPrototypes'), temperature=1.0,
         scale_min_ratio=0.75, loss_weight=1.0, use_weights=False, stages=('source', 'mixed')),
    dict(type='PromptLearning', loss_weight=0.5, stages=('source', 'mixed')),
])
# Rare class sampling with T = 0.01, 3000 px, crop ratio 2.0 (HRDA: 4x the pixels of a 512 crop)
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(ctx=dict(lr_mult=1.0))))
randomness = dict(seed=2)  # MIC's reference seed
