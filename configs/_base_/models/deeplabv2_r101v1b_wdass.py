# WDASS's DeepLab-v2 (docs/methods.md §2.7; WDASS network/deepv2.py, network/utils.py get_resnet):
# torchvision ResNet-101 (7x7 stem; ResNetV1b) at output stride 8 with every 3x3 conv of layer3 / layer4
# dilated 2 / 4 (contract_dilation=False), ImageNet init from torchvision's resnet101 file converted with
# `python tools/convert_weights.py torchvision <file>` to pretrained/resnet101_torchvision.pth (nothing is
# downloaded); the ASPP classifier (sum of four 3x3 convs with bias, dilations 12, 24, 36, 48: the base
# rates doubled for output stride 8; Kaiming-normal weights, zero bias); logits upsampled bilinearly with
# align_corners=False; the representation head (1x1 conv 2048 -> 256 with bias, L2-normalised) as the
# auxiliary head.  Loss: cross entropy averaged over labelled pixels (pixel weights of the mixed images
# included), as the reference's NLL `[gts != 255].mean()`.
norm_cfg = dict(type='SyncBN', requires_grad=True)   # --multiprocessing_distributed (plain BN in one process)
data_preprocessor = dict(
    type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(512, 512))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1b', depth=101, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg, norm_eval=False, contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/resnet101_torchvision.pth')),
    decode_head=dict(
        type='DLV2Head', in_channels=2048, in_index=3, dilations=(12, 24, 36, 48), num_classes=19,
        align_corners=False,
        init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='relu',
                      distribution='normal', bias=0),
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True)),
    auxiliary_head=dict(
        type='ProjHead', in_channels=2048, in_index=3, channels=256, num_convs=1, kernel_size=1,
        norm_cfg=None, act_cfg=None, normalize=True),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
