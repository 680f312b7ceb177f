# WDASS with image-level labels on the target, GTA5 -> Cityscapes (docs/methods.md §2.7; WDASS README:
# train.py --weak_label image, without --use_wl): the image labels are the classes present in each crop's
# coarse label (data/cityscapes/weak_coarse/train, as for the coarse config); the dense labels are then
# discarded: no target cross entropy (the target stage trains only the objectives), no overwrite of the
# pseudo-labels, and the real prototypes' anchors are the teacher's confident labels.
_base_ = ['wdass-point_dlv2-r101v1b_b4-150k_gta2cs-512x512.py']
uda = dict(
    weak_label='image',
    overwrite_pseudo_labels=False,
    stages=[
        dict(name='target', inputs='target', labels=None, loss_heads=(), metas='target'),
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
    ],
    prototype_sources=dict(real_prototypes=dict(weak_label='image'),
                           synthetic_prototypes=dict(weak_label='image')))
train_dataloader = dict(dataset=dict(target=dict(data_prefix=dict(pseudo_label_path='weak_coarse/train'))))
