# HRDA on DAFormer (MiT-B5 + sepaspp DAFormerHead; docs/methods.md §2.3; MIC seg/configs/hrda and
# seg/configs/mic, experiments.py "hrda1-512-0.1_daformer_sepaspp"): context = the 1024 crop at 0.5,
# detail = a random 512 crop at full resolution (offsets divisible by 8), class-wise scale attention
# (a DAFormer head with 256-d embeddings and a 1x1 fusion), detail loss weight 0.1, FD on the context
# features, detail windows 512 / stride 256 for pseudo-labels and inference, outer test windows 1024 /
# stride 512 (batched).  85,685,990 parameters (DAFormer's 85,155,283 + 530,707 of the attention head).
_base_ = ['daformer_mitb5.py']
norm_cfg = dict(type='BN', requires_grad=True)
daformer_head = dict(
    type='DAFormerHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3], channels=256,
    dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
    decoder_params=dict(
        embed_dims=256,
        embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
        embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
        fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
                        act_cfg=dict(type='ReLU'), norm_cfg=norm_cfg)),
    loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
model = dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        _delete_=True, type='HRDAHead', head=daformer_head,
        scales=(0.5, 1.0),              # context, detail
        hr_loss_weight=0.1,             # lambda_d
        attention_embed_dim=256,
        attention_classwise=True),
    hr_crop_size=(512, 512),            # detail crop
    crop_coord_divisible=8,             # output stride 4 x downscale 2
    hr_slide_inference=True,            # overlapping detail windows (stride 256) at inference
    feature_scale=0.5,                  # FD on the context features
    test_cfg=dict(mode='slide', batched_slide=True, stride=(512, 512), crop_size=(1024, 1024)))
