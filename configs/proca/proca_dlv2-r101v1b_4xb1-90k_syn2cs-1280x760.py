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
    '../_base_/datasets/proca_syn2cs.py', '../_base_/schedules/sgd_poly09.py', '../_base_/uda/proca.py',
]
model = dict(decode_head=dict(num_classes=16))
stage1_dir = 'work_dirs/proca-src_syn2cs'     # the source-only run (the experiments.py chain sets the paths)
load_from = stage1_dir + '/iter_20000.pth'              # a segmentor checkpoint: initialises the student
uda = dict(prototype_sources=dict(
    proca_feat=dict(num_classes=16, init_file=stage1_dir + '/prototypes/prototype_feat_dist.pth'),
    proca_out=dict(num_classes=16, feature_dim=16,
                   init_file=stage1_dir + '/prototypes/prototype_out_dist.pth')))
train_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='UDAInfiniteSampler'), dataset={{_base_.uda_dataset}})
# SGD lr 2.5e-4, poly 0.9 over 90k iterations, validation every 1000 (sgd_poly09.py); the best model is kept
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best='mIoU', rule='greater'))
