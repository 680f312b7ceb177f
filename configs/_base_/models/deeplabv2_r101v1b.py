# ProCA's DeepLab-v2 (docs/methods.md §2.6; ProCA core/models/feature_extractor.py, classifier.py):
# torchvision ResNet-101 (7x7 stem; ResNetV1b) at output stride 8 with torchvision's dilation (layer3.0
# dilation 1, layer4.0 dilation 2: contract_dilation=True), ImageNet init from torchvision's
# resnet101-5d3b4d8f.pth converted with `python tools/convert_weights.py torchvision <file>` to
# pretrained/resnet101_torchvision.pth (nothing is downloaded); the full ASPP classifier (sum of four 3x3
# convs, dilations 6, 12, 18, 24, N(0, 0.01)); logits upsampled with align_corners=True; loss CE (mean over
# labelled pixels, as nn.CrossEntropyLoss(ignore_index=255)) + 0.75
# Lovasz-softmax (classes present) on the source.
norm_cfg = dict(type='SyncBN', requires_grad=True)   # the reference's 4-GPU runs (plain BN in one process)
data_preprocessor = dict(
    type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1b', depth=101, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg, norm_eval=False, contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/resnet101_torchvision.pth')),
    decode_head=dict(
        type='DLV2Head', in_channels=2048, in_index=3, dilations=(6, 12, 18, 24), num_classes=19,
        align_corners=True,
        loss_decode=[dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
                     dict(type='LovaszLoss', loss_weight=0.75)]),     # SOLVER.LAMBDA_LOV
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
