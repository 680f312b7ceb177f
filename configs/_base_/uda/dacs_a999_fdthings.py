# DAFormer's DACS setting (docs/methods.md §1.5-1.6; DAFormer configs/_base_/uda/dacs_a999_fdthings.py):
# alpha 0.999, pseudo-label crop rows 15 / 120, ImageNet feature distance on the thing classes.
_base_ = ['dacs.py']
uda = dict(
    teacher=dict(alpha=0.999),
    pseudo_labeller=dict(ignore_top=15, ignore_bottom=120),
    objectives=[
        dict(type='ImageNetFeatureDistance',
             lambda_fd=0.005,                                  # lambda_FD
             classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18),   # thing classes
             scale_min_ratio=0.75,                             # r: label down-scaling majority
             stages=('source',)),
    ])
