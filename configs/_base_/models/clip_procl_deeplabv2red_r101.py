# CLIP-ProCL segmentor (docs/methods.md §2.1.1-2.1.4; github.com/bupt-ai-cz/CLIP-ProCL
# configs/clip_procl/gta2cs_resnet.py): DeepLabV2-red on ResNetV1c-101 d8, the last stage fused with
# frozen CLIP RN101 stage-4 features through the 1x1 filter ("AFM"), a projection head into CLIP's
# 512-d text space, CoOp prompts with 16 shared context vectors.  CLIP weights: 'openai' lets
# open_clip fetch OpenAI's RN101 state dict (timm/resnet101_clip.openai); a local file works too
# (open_clip_pytorch_model.bin / .safetensors, or CLIP-ProCL's converted RN101_clip_weights.pth).
_base_ = ['deeplabv2red_r101.py']
model = dict(
    type='CLIPEncoderDecoder',
    clip_visual=dict(type='CLIPResNet', arch='RN101',
                     input='imagenet'),  # reference: ImageNet-normalised input; 'clip' re-normalises
    clip_text=dict(type='CLIPTextEncoder', context_length=77, vocab_size=49408, width=512, heads=8,
                   layers=12, output_dim=512,
                   activation='gelu'),   # reference: exact GELU; 'quick_gelu' as CLIP was trained
    prompt_learner=dict(type='PromptLearner',
                        class_names=None,          # None: the 19 Cityscapes classes
                        n_ctx=16,                  # M: shared context vectors
                        ctx_init='a photo of a'),  # linearly interpolated to 16 rows
    clip_weights='openai',
    feature_fusion=True,
    clip_bn='train',     # reference: CLIP BN follows train mode (batch stats, drifting buffers); 'frozen'
    # h_proj: 3x3 conv 2048 -> 512 + BN + ReLU, L2-normalised.  The reference also builds an unused
    # 512 -> 19 classifier (9,747 parameters); keep_conv_seg=True restores it for strict loading.
    auxiliary_head=dict(type='ProjHead', in_channels=2048, in_index=3, channels=512, num_convs=1,
                        kernel_size=3, keep_conv_seg=False, num_classes=19,
                        norm_cfg=dict(type='BN', requires_grad=True)))
