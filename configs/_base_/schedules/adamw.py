# AdamW of the DAFormer family (docs/methods.md §1.7): lr 6e-5, betas (0.9, 0.999), weight decay 0.01.
# Parameter-wise rules (mmcv / mmengine DefaultOptimWrapperConstructor semantics: keys sorted
# alphabetically then by length, first substring match wins): heads x10 lr; MiT LayerNorms and
# pos_block without weight decay (these two keys match nothing in ResNet backbones).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys=dict(
        head=dict(lr_mult=10.0),
        pos_block=dict(decay_mult=0.0),
        norm=dict(decay_mult=0.0))))
