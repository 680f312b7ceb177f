# ProCA stage 3 on the embedded synthetic shift: the demo segmentor (MiT-B0 + DAFormer head) adapted with
# ProCA's prototypical contrast (configs/proca/proca_dlv2-r101v1b_4xb1-90k_gta2cs-1280x720.py for the paper
# setting): no teacher, no mixing; per iteration the source batch (CE + 0.75 Lovasz) and the target batch,
# target labels from the student's raw logits (max >= 0.9), class means of the last MiT stage (256-d) and of
# the logits, updated target then source, contrast cos / 50 at both levels, one backward.  Starts from the
# stage-1 model and the prototypes of tools/proca_prototype_init.py (paths set by run_experiments.py
# --exp 23); 200 iterations at the source-only demo's learning rate without warmup.
# The target scenes are read from disk (the pseudo-label tool writes labels beside them); make them once:
#   python tools/make_synthetic_data.py data/synthetic_cityscapes --style target --num 1000 --size 256x128 \
#       --seed 2 --val-fraction 0
# (the same 1000 scenes as the in-memory target of the other demos, seed 2).
_base_ = ['proca_src_synthetic.py', '../_base_/uda/proca.py']
max_iters = 200
stage1_dir = 'work_dirs/proca_src_synthetic'            # the stage-1 run (run_experiments.py sets the paths)
load_from = stage1_dir + '/iter_400.pth'
uda = dict(prototype_sources=dict(                      # the last MiT-B0 stage: 256-d features
    proca_feat=dict(feature_dim=256, init_file=stage1_dir + '/prototypes/prototype_feat_dist.pth'),
    proca_out=dict(init_file=stage1_dir + '/prototypes/prototype_out_dist.pth')))
source_dataset = dict(type='SyntheticDrivingDataset', style='source', num_samples=1000,
                      img_size={{_base_.img_size}}, seed=0, pipeline=[dict(type='PackSegInputs')])
target_dataset = dict(
    type='CityscapesDataset', data_root='data/synthetic_cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(_delete_=True, type='UDADataset', source=source_dataset, target=target_dataset))
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=max_iters, power=0.9, min_lr=0.0, warmup_iters=0,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=50)
default_hooks = dict(checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best='mIoU', rule='greater'))
