# AdamW of the DAFormer family (docs/methods.md §1.7): lr 6e-5, betas (0.9, 0.999), weight decay 0.01.
# Parameter-wise rules (mmcv / mmengine DefaultOptimWrapperConstructor semantics: keys sorted
# alphabetically then by length, first substring match wins): heads x10 lr; MiT LayerNorms without
# weight decay (`norm` matches nothing in ResNet backbones: training then warns that it has no effect).
# DAFormer's schedule also lists `pos_block` (decay_mult 0), which matches no MiT parameter (MiT has
# no positional blocks), so it is left out: the parameter groups are the same.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, fused=True),
    paramwise_cfg=dict(custom_keys=dict(
        head=dict(lr_mult=10.0),
        norm=dict(decay_mult=0.0))))
