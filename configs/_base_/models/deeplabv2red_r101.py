# DeepLabV2 "reduced" (ASPP dilations 6, 12 as in DAFormer's baselines and CLIP-ProCL) on ResNetV1c-101
# d8 (docs/methods.md §1.2): 43,219,846 parameters with 19 classes.  ImageNet init: open-mmlab resnet101_v1c,
# expected at pretrained/resnet101_v1c.pth (nothing is downloaded).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c', depth=101, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1), norm_cfg=norm_cfg, norm_eval=False, contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/resnet101_v1c.pth')),
    decode_head=dict(
        type='DLV2Head', in_channels=2048, in_index=3, dilations=(6, 12), num_classes=19,
        align_corners=False, loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
