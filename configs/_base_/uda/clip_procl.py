# CLIP-ProCL on the DACS core (docs/methods.md §2.1.5; CLIP-ProCL configs/clip_procl/gta2cs_resnet.py
# `uda`): alpha 0.999, pseudo-label crop rows 15 / 120, no ImageNet FD, plus
#   L_align = CE(f . T^T / tau, y)   projected pixels vs detached CLIP text prototypes (source, mixed)
#   L_pl    = 0.5 CE(dense CLIP logits, y)   prompt learning, only ctx receives its gradient
# The alignment loss on mixed images takes no pseudo-label weights (the reference never passes them).
_base_ = ['dacs.py']
uda = dict(
    teacher=dict(alpha=0.999),
    pseudo_labeller=dict(ignore_top=15, ignore_bottom=120),
    objectives=[
        dict(type='PrototypeContrast',
             prototypes=dict(type='CLIPTextPrototypes'),
             temperature=1.0,              # tau (contrast_temp)
             scale_min_ratio=0.75,         # r: label down-scaling majority
             loss_weight=1.0,
             use_weights=False,
             stages=('source', 'mixed')),
        dict(type='PromptLearning',
             loss_weight=0.5,              # pl_weight
             stages=('source', 'mixed')),
    ])
