# 80k iterations (PCPR's experiments.py), evaluation every 4000, with poly10warm over the whole run
# (docs/methods.md §1.7: mmcv's poly decays over the runner's max_iters); use it instead of poly10warm.py,
# whose schedule ends at 40k.
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=80000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=80000, power=1.0, min_lr=0.0,
         warmup_iters=1500, warmup_ratio=1e-6, by_epoch=False)
]
