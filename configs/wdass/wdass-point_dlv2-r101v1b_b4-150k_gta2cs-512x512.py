# WDASS with point labels on the target, GTA5 -> Cityscapes: DeepLab-v2 (torchvision ResNet-101, ASPP
# dilations 12-48, 256-d representation head), 512x512 crops, batch 4 + 4 per GPU, 150k iterations
# (docs/methods.md §2.7; WDASS README: train.py --weak_label point --use_wl --use_contrast --bn_buffer
# --imloss --improto).  The point maps: python tools/convert_datasets/weak_labels.py points
# data/cityscapes/leftImg8bit/train data/cityscapes/weak_point/train --point-list file_2975.yaml --scale 2
# (WDASS's files/file_2975.yaml).  Like the reference, training starts from a GTA5 source-only model of
# this segmentor (not part of WDASS's code): set load_from to its checkpoint (a plain segmentor checkpoint
# initialises the student; the teacher copies it at iteration 0).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/deeplabv2_r101v1b_wdass.py',
    '../_base_/datasets/wdass_gta2cs.py', '../_base_/uda/wdass.py', '../_base_/schedules/sgd_wdass.py',
]
load_from = None
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=1))
