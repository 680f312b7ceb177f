# WDASS's optimisation (docs/methods.md §2.7; WDASS train.py, loss/optimizer.py, utils/lr_policy.py): SGD,
# momentum 0.9, weight decay 1e-4; biases and norm parameters without decay; the heads (ASPP classifier and
# representation head) at 10x the learning rate, their biases without decay too (mmengine applies no bias /
# norm rule to a parameter that a custom key matches, hence one key per head bias); base lr 0.0025;
# WarmUpPolyLR: linear from 0 over 1500 iterations, then poly 0.9 over 150000, written after each step
# (iteration 0 runs at the base rate).
head_bias = dict(lr_mult=10.0, decay_mult=0.0)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        bias_decay_mult=0.0, norm_decay_mult=0.0,
        custom_keys={
            'decode_head': dict(lr_mult=10.0),
            'auxiliary_head': dict(lr_mult=10.0),
            'decode_head.aspp_modules.0.conv.bias': head_bias,
            'decode_head.aspp_modules.1.conv.bias': head_bias,
            'decode_head.aspp_modules.2.conv.bias': head_bias,
            'decode_head.aspp_modules.3.conv.bias': head_bias,
            'auxiliary_head.convs.0.conv.bias': head_bias,
        }))
param_scheduler = [
    dict(type='WarmupThenPolyLR', total_iters=150000, warmup_iters=1500, power=0.9, by_epoch=False)
]
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=150000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
