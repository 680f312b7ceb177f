# SePiCo on the DACS core (Xie et al., TPAMI 2023; github.com/BIT-DA/SePiCo configs/_base_/uda/sepico.py
# and experiments.py ids 1-6; docs/methods.md §2.2).  Per iteration: EMA teacher (alpha 0.999) ->
# teacher pseudo-labels of the uncropped target -> class-balanced 640x640 crop, pseudo-labels
# regenerated on it -> teacher embeddings of the clean source update the class statistics ->
#   source: strongly augmented source, CE (+ contrast from iteration 3000)
#   target: strongly augmented target crop, contrast only, pixels of weight 0 ignored (from 3000)
#   mixed:  ClassMix of clean source and clean target crop, augmented, weighted CE
# The contrast variant (DistCL / BankCL / ProtoCL) is set by the sepico_*.py files beside this one.
_base_ = ['dacs.py']
uda = dict(
    teacher=dict(alpha=0.999),
    pseudo_labeller=dict(threshold=0.968, ignore_top=15, ignore_bottom=120),    # GTA: plcrop rows
    # CBC: 10 candidate windows, score sum(log counts) if no class reaches cat_max_ratio (prod=True)
    target_crop=dict(type='ClassBalancedCrop', crop_size=(640, 640), cat_max_ratio=0.75,
                     num_candidates=10, regenerate=True, prod=True),
    stages=[
        dict(name='source', inputs='source_strong', labels='source_labels'),
        dict(name='target', inputs='target_strong', labels='pseudo_labels', weights='pseudo_weights',
             ignore_unweighted=True, loss_heads=(), metas='target'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
    ],
    # mu, Sigma, N per class (+ memory banks for BankCL) of the teacher's source embeddings
    prototype_sources=dict(
        source_stats=dict(type='ClassFeatureStatistics', num_classes=19, feature_dim=512,
                          memory_length=0, features='teacher', head='auxiliary_head',
                          images='source', labels='source_labels', scale_min_ratio=0.75)),
    objectives=[
        dict(type='SemanticContrast', prototypes='source_stats', variant='dist',
             temperature=100.0,          # tau (contrast_temp)
             loss_weight=1.0,            # contrastive weight
             reg_weight=1.0,             # reg_relative_weight (use_reg=True)
             dist_ratio=1.0,             # lambda of DistCL
             scale_min_ratio=0.75,       # label down-scaling majority
             stages=('source', 'target'),
             start_iter=3000),           # start_distribution_iter
    ])
