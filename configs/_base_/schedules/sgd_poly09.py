# ProCA's optimisation (docs/methods.md §2.6; ProCA train_src.py / train_proca.py / train_ssl.py): SGD,
# momentum 0.9, weight decay 5e-4 on every parameter, classifier (decode head) at 10x the learning rate;
# poly power 0.9 set before each step: iteration t runs at lr * (1 - t / MAX_ITER) ** 0.9 (no warmup).
# Method configs set lr, MAX_ITER (total_iters) and STOP_ITER (max_iters).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys=dict(decode_head=dict(lr_mult=10.0))))
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=90000, power=0.9, min_lr=0.0, warmup_iters=0, by_epoch=False)
]
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=90000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
