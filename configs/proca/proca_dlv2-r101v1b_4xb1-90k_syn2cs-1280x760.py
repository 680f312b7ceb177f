# ProCA stage 3, the prototypical contrast adaptation (github.com/jiangzhengkai/ProCA train_proca.py,
# configs/synthia/deeplabv2_r101_proca.yaml; docs/methods.md §2.6): no teacher, no mixing.  Per iteration
# the student runs on the colour-augmented SYNTHIA batch (CE + 0.75 Lovasz) and on the Cityscapes batch;
# ProCAContrast labels the target by the student's raw logits (max >= 0.9), updates the feature- and
# output-level class means (target, then source) and contrasts both domains' pixels with them (cos / 50),
# one backward.  Starts from the source-only model and the prototypes of tools/proca_prototype_init.py
# (paths set by the experiments.py chain); SGD lr 2.5e-4 (classifier x10), poly 0.9, 90k iterations,
# batch 4 + 4 (4 GPUs x 1 + 1), validation every 1000 with the best checkpoint kept (read by
# tools/proca_pseudo_labels.py).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/deeplabv2_r101v1b.py',
    '../_base_/datasets/proca_syn2cs.py', '../_base_/schedules/sgd_poly09.py',
]
model = dict(decode_head=dict(num_classes=16))
stage1_dir = 'work_dirs/proca-src_syn2cs'     # the source-only run (the experiments.py chain sets the paths)
load_from = stage1_dir + '/iter_20000.pth'              # a segmentor checkpoint: initialises the student
uda = dict(
    type='SourceTarget',
    backward='iteration',                               # both domains' losses in one backward
    stages=[
        dict(name='source', inputs='source', labels='source_labels'),          # CE + 0.75 Lovasz
        dict(name='target', inputs='target', labels=None, loss_heads=(), metas='target'),
    ],
    prototype_sources=dict(
        proca_feat=dict(type='ClassMeanEstimator', num_classes=16, feature_dim=2048,
                        init_file=stage1_dir + '/prototypes/prototype_feat_dist.pth'),
        proca_out=dict(type='ClassMeanEstimator', num_classes=16, feature_dim=16,
                       init_file=stage1_dir + '/prototypes/prototype_out_dist.pth')),
    objectives=[
        dict(type='ProCAContrast', feature_source='proca_feat', output_source='proca_out',
             temperature=50.0,       # MODEL.CONTRAST.TAU
             threshold=0.9,          # SOLVER.DELTA, on the raw maximum logit
             feature_weight=1.0,     # SOLVER.LAMBDA_FEAT
             output_weight=1.0),     # SOLVER.LAMBDA_OUT (MULTI_LEVEL)
    ])
train_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='UDAInfiniteSampler'), dataset={{_base_.uda_dataset}})
optim_wrapper = dict(optimizer=dict(lr=2.5e-4))                  # SOLVER.BASE_LR
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=90000, power=0.9, min_lr=0.0, warmup_iters=0, by_epoch=False)
]
train_cfg = dict(max_iters=90000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best='mIoU', rule='greater'))
