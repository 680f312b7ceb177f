# poly10warm (docs/methods.md §1.7): linear decay to 0 over all iterations, multiplicative linear warmup
# over 1500 iterations from ratio 1e-6 (mmcv PolyLrUpdaterHook semantics).
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=40000, power=1.0, min_lr=0.0,
         warmup_iters=1500, warmup_ratio=1e-6, by_epoch=False)
]
