# HRDA on DAFormer (MiT-B5 + sepaspp DAFormerHead; docs/methods.md §2.3; MIC seg/configs/hrda and
# seg/configs/mic, experiments.py "hrda1-512-0.1_daformer_sepaspp"): context = the 1024 crop at 0.5,
# detail = a random 512 crop at full resolution (offsets divisible by 8), class-wise scale attention
# (a DAFormer head with 256-d embeddings and a 1x1 fusion), detail loss weight 0.1, FD on the context
# features, detail windows 512 / stride 256 for pseudo-labels and inference, outer test windows 1024 /
# stride 512 (batched).  85,685,990 parameters (DAFormer's 85,155,283 + 530,707 of the attention head).
_base_ = ['daformer_mitb5.py']
model = dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        _delete_=True, type='HRDAHead',
        head={{_base_.model.decode_head}},     # DAFormer's sepaspp head, decoding both scales
        scales=(0.5, 1.0),              # context, detail
        hr_loss_weight=0.1,             # lambda_d
        attention_embed_dim=256,
        attention_classwise=True),
    hr_crop_size=(512, 512),            # detail crop
    crop_coord_divisible=8,             # output stride 4 x downscale 2
    hr_slide_inference=True,            # overlapping detail windows (stride 256) at inference
    feature_scale=0.5,                  # FD on the context features
    test_cfg=dict(mode='slide', batched_slide=True, stride=(512, 512), crop_size=(1024, 1024)))
