# ProCA stage 4b, self-training on the offline pseudo-labels (github.com/jiangzhengkai/ProCA train_ssl.py,
# configs/gta5/deeplabv2_r101_ssl.yaml; docs/methods.md §2.6): a new DeepLab-v2 from ImageNet weights
# trained on Cityscapes train with the labels of tools/proca_pseudo_labels.py only: random rescale 0.5-1.5
# of the full image (bicubic), 512x1024 crop, flip 0.5, ColorJitter(0.5, 0.5, 0.5, 0.2), grayscale 0.2, blur
# 3x3; CE (no Lovasz); SGD lr 5e-4 (classifier x10), poly 0.9, 90k iterations, batch 8 (4 GPUs x 2).
_base_ = ['proca-src_dlv2-r101v1b_4xb2-20k_gta2cs-1280x720.py']
model = dict(decode_head=dict(
    loss_decode=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True)))
# labels: data_root/proca_pl_gta/train (the pseudo-label tool's --out-dir; experiments.py sets the path)
train_dataloader = dict(
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),    # no class balance here
    dataset={{_base_.ssl_dataset}})
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=90000, power=0.9, min_lr=0.0, warmup_iters=0, by_epoch=False)
]
train_cfg = dict(max_iters=90000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best='mIoU', rule='greater'))
