# ProCA stage 1 (Jiang et al., ECCV 2022; github.com/jiangzhengkai/ProCA train_src.py,
# configs/gta5/deeplabv2_r101_src.yaml; docs/methods.md §2.6): source-only training on GTA5 at 1280 x 720
# with CE + 0.75 Lovasz-softmax, SGD lr 5e-4 (classifier x10), poly 0.9 over MAX_ITER 31250, stopped at
# STOP_ITER 20000; batch 8 (4 GPUs x 2).  Next: tools/proca_prototype_init.py on the final checkpoint
# (experiments.py chains all stages: python run_experiments.py --exp 21 / 22).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/deeplabv2_r101v1b.py',
    '../_base_/datasets/proca_gta2cs.py', '../_base_/schedules/sgd_poly09.py',
]
model = dict(decode_head=dict(num_classes=19))
optim_wrapper = dict(optimizer=dict(lr=5e-4))                      # SOLVER.BASE_LR
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=31250, power=0.9, min_lr=0.0, warmup_iters=0,   # MAX_ITER
         by_epoch=False)
]
# ProCA's class-balanced source list over MAX_ITER * BATCH_SIZE draws (datasets/class_balanced.py)
train_dataloader = dict(sampler=dict(_delete_=True, type='ClassBalancedSampler', num_draws=31250 * 8))
train_cfg = dict(max_iters=20000, val_interval=1000)              # STOP_ITER; validation every 1000
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1))
