# Ablation: the paper setting plus CLIP image-feature distillation (a learned 1x1 projection of the
# last backbone stage pulled towards frozen CLIP RN101's dense MaskCLIP embeddings, cosine distance,
# all positions, source and mixed stages).  The released CLIP-ProCL code realises the image prior by
# the fusion filter only, so the paper config keeps this objective off.
_base_ = ['clip_procl_dlv2red-r101_1xb2-40k_gta2cs-640x640.py']
uda = dict(objectives=[
    dict(type='PrototypeContrast', prototypes=dict(type='CLIPTextPrototypes'), temperature=1.0,
         scale_min_ratio=0.75, loss_weight=1.0, use_weights=False, stages=('source', 'mixed')),
    dict(type='PromptLearning', loss_weight=0.5, stages=('source', 'mixed')),
    dict(type='CLIPFeatureDistillation',
         clip_visual=dict(type='CLIPResNet', arch='RN101', input='imagenet'),
         clip_weights='openai',
         in_channels=2048,              # fused ResNet-101 stage 4
         distance='cosine',
         loss_weight=1.0,               # lambda_CLIP-FD
         classes=None,                  # all positions (FD-style class restriction when a tuple)
         stages=('source', 'mixed')),
])
