# SePiCo's DeepLab-v2 segmentor (docs/methods.md §2.2; github.com/BIT-DA/SePiCo
# configs/_base_/models/deeplabv2_proj_r50-d8.py with experiments.py ids 1-3): ResNetV1c-101 d8, the
# full ASPP (dilations 6, 12, 18, 24) and a projection head on stage 4: 1x1 2048 -> 2048 + BN + ReLU,
# 1x1 2048 -> 512 + BN + ReLU, L2 normalised (embeddings for the pixel contrast; no loss of its own).
_base_ = ['deeplabv2_r101.py']
model = dict(
    auxiliary_head=dict(type='ProjHead', in_channels=2048, in_index=3, channels=512, num_convs=2,
                        kernel_size=1, norm_cfg=dict(type='BN', requires_grad=True)))
