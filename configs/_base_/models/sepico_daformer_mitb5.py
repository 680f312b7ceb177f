# SePiCo's DAFormer segmentor (docs/methods.md §2.2; github.com/BIT-DA/SePiCo
# configs/_base_/models/daformer_sepaspp_proj_mitb5.py with experiments.py ids 4-6): MiT-B5 + DAFormer
# head and a projection head on the resized, concatenated four stages (1024 channels):
# 1x1 1024 -> 256 + BN + ReLU, 1x1 256 -> 512 + BN + ReLU, L2 normalised.  The base file says 256
# output channels; experiments.py sets 512 for every SePiCo run (the released models), kept here.
_base_ = ['daformer_mitb5.py']
model = dict(
    auxiliary_head=dict(type='ProjHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
                        input_transform='resize_concat', channels=512, num_convs=2, kernel_size=1,
                        norm_cfg=dict(type='BN', requires_grad=True)))
