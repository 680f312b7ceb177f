# CLIP-ProCL on the embedded synthetic shift: the DACS demo (same segmentor, data, iterations,
# optimizer, schedule and DACS settings, see dacs_synthetic.py) plus CLIP-ProCL's parts (docs/methods.md
# 2.1): a CLIP-aware segmentor (frozen CLIP image + text towers, CoOp prompt context, fusion filter
# on the last backbone stage, projection head) and the two objectives of the paper (alignment of
# projected pixels to detached text prototypes, prompt learning).
#
# The CLIP towers are demo-sized (a 1-block-per-stage ModifiedResNet and a 4-layer text
# transformer, both with CLIP's structure) so that a run fits in minutes on 2 CPU cores; no released
# weights exist for these sizes, so clip_weights=None: the towers are RANDOMLY INITIALISED and the
# run warns loudly.  This exercises every CLIP-ProCL code path but carries no CLIP prior; the paper
# configs in configs/clip_procl/ use OpenAI's RN101 (clip_weights='openai' or a local file).
_base_ = ['dacs_synthetic.py']
text_dim = 256                       # D: joint CLIP embedding size of the demo towers
model = dict(
    type='CLIPEncoderDecoder',
    clip_visual=dict(type='CLIPResNet', layers=(1, 1, 1, 1), width=32, output_dim=text_dim,
                     input='imagenet'),    # reference: CLIP sees the ImageNet-normalised tensor
    clip_text=dict(type='CLIPTextEncoder', width=256, heads=4, layers=4, output_dim=text_dim,
                   activation='gelu'),     # reference: exact GELU (CLIP was trained with QuickGELU)
    prompt_learner=dict(type='PromptLearner', n_ctx=16, ctx_init='a photo of a'),
    clip_weights=None,               # no CLIP weights for demo-sized towers: random, warned loudly
    feature_fusion=True,             # "AFM": last stage * filter(last stage * CLIP prior)
    fusion_channels=256,             # MiT-B0 stage 4 (a learned 1x1 adapter maps CLIP 1024 -> 256)
    clip_bn='train',                 # reference: the frozen CLIP's BN follows train mode
    auxiliary_head=dict(             # h_proj: pixel embeddings in the text space, 1/4 resolution
        type='ProjHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3],
        input_transform='resize_concat', channels=text_dim, num_convs=2, kernel_size=1,
        norm_cfg=dict(type='BN', requires_grad=True)))
uda = dict(
    objectives=[
        dict(type='PrototypeContrast',               # L_align: pixels -> CLIP text prototypes
             prototypes=dict(type='CLIPTextPrototypes'),
             temperature=1.0,                        # tau
             scale_min_ratio=0.75,                   # r: label down-scaling majority
             loss_weight=1.0, use_weights=False, stages=('source', 'mixed')),
        dict(type='PromptLearning',                  # L_pl: dense CLIP logits vs labels (ctx only)
             loss_weight=0.5, stages=('source', 'mixed')),
    ])
