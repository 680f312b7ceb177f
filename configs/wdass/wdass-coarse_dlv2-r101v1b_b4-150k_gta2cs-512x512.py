# WDASS with coarse labels on the target (Cityscapes gtCoarse), GTA5 -> Cityscapes: as the point config
# (docs/methods.md §2.7; WDASS README: train.py --weak_label coarse --use_wl ...).  The coarse maps:
# python tools/convert_datasets/weak_labels.py coarse data/cityscapes/gtCoarse/train
# data/cityscapes/weak_coarse/train.  The real prototypes' anchors are the coarse labels on the feature grid.
_base_ = ['wdass-point_dlv2-r101v1b_b4-150k_gta2cs-512x512.py']
uda = dict(
    weak_label='coarse',
    prototype_sources=dict(real_prototypes=dict(weak_label='coarse'),
                           synthetic_prototypes=dict(weak_label='coarse')))
train_dataloader = dict(dataset=dict(target=dict(data_prefix=dict(pseudo_label_path='weak_coarse/train'))))
