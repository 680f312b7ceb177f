# CLIP-ProCL parts on DAFormer (MiT-B5 + sepaspp head), this package's extension (the authors only
# ship the DeepLabV2 variant): MiT-B5's 512-channel stage 4 is fused with CLIP RN101's 2048-channel
# stage 4 through a learned 1x1 adapter (2048 -> 512) and the 1x1 filter; the projection head follows
# SePiCo's DAFormer head (all four stages resized to 1/4 and concatenated, two 1x1 convs) and maps to
# CLIP's 512-d text space.  See clip_procl_deeplabv2red_r101.py for the CLIP switches.
_base_ = ['daformer_mitb5.py']
model = dict(
    type='CLIPEncoderDecoder',
    clip_visual=dict(type='CLIPResNet', arch='RN101', input='imagenet'),
    clip_text=dict(type='CLIPTextEncoder', context_length=77, vocab_size=49408, width=512, heads=8,
                   layers=12, output_dim=512, activation='gelu'),
    prompt_learner=dict(type='PromptLearner', class_names=None, n_ctx=16, ctx_init='a photo of a'),
    clip_weights='openai',
    feature_fusion=True,
    fusion_channels=512,     # MiT-B5 stage 4
    clip_bn='train',
    auxiliary_head=dict(type='ProjHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
                        input_transform='resize_concat', channels=512, num_convs=2, kernel_size=1,
                        norm_cfg=dict(type='BN', requires_grad=True)))
