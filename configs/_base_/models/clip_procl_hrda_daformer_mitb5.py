# CLIP-ProCL's CLIP parts on HRDA (MiT-B5), this package's combination (docs/methods.md §2.1 and §2.3;
# neither original repository offers it): HRDA's segmentor (context = the crop at 0.5, detail = a 512
# window at full resolution, class-wise scale attention, detail loss 0.1, detail windows 512 / stride 256
# at inference) whose every backbone pass (context, detail crop, detail windows) has MiT-B5's stage 4
# fused with CLIP RN101's stage-4 map of the same image (2048 -> 512 adapter, 1x1 filter), as in
# clip_procl_daformer_mitb5.py; the projection head reads the context features.  See
# clip_procl_deeplabv2red_r101.py for the CLIP switches.
_base_ = ['hrda_daformer_mitb5.py']
model = dict(
    type='CLIPHRDAEncoderDecoder',
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
