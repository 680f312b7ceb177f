# A cross config no original repository can express: SePiCo's DistCL (class statistics of the
# teacher's source embeddings, target contrast on class-balanced crops) together with CLIP-ProCL's
# objectives (alignment of the same projected pixels to CLIP text prototypes, prompt learning) on the
# CLIP-ProCL segmentor (DeepLabV2-red R101 fused with frozen CLIP RN101), GTA5 -> Cityscapes.  Both
# contrasts read the projection head's 512-d unit-norm embeddings; their loss keys differ
# (loss_contrast, loss_align).  The stages are SePiCo's, so CLIP-ProCL's terms act in a source stage
# on strongly augmented source images (CLIP-ProCL itself trains on the clean source).  No published
# number: an experiment, not a reproduction.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/clip_procl_deeplabv2red_r101.py',
    '../_base_/datasets/gta2cs_640x640_no_crop.py',
    '../_base_/uda/sepico_distcl.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
uda = dict(objectives=[
    dict(type='SemanticContrast', prototypes='source_stats', variant='dist', temperature=100.0,
         loss_weight=1.0, reg_weight=1.0, scale_min_ratio=0.75, stages=('source', 'target'),
         start_iter=3000),
    dict(type='PrototypeContrast', prototypes=dict(type='CLIPTextPrototypes'), temperature=1.0,
         scale_min_ratio=0.75, loss_weight=1.0, use_weights=False, stages=('source', 'mixed')),
    dict(type='PromptLearning', loss_weight=0.5, stages=('source', 'mixed')),
])
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        _delete_=True, type='UDADataset',
        source={{_base_.source_dataset}}, target={{_base_.target_dataset}},
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# AdamW 6e-5, heads x10, the prompt context at the base lr.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(
    _delete_=True, head=dict(lr_mult=10.0), ctx=dict(lr_mult=1.0))))
train_cfg = dict(val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=40000))
randomness = dict(seed=42)
