# PCPR's self-training as reconstructed here (docs/methods.md §2.5; README "PCPR"): MIC(HRDA) (mic.py: FD on
# things, alpha 0.999, pseudo-label margins, the masked target batch) plus two reconstructed parts, each a
# switch (configs/pcpr/*_no-*.py drop one):
# - label_filter: the teacher's pseudo-label where its context (LR) and detail (HR) predictions agree, the
#   offline target label (LoadPseudoLabels) where they disagree (mmseg_procl/uda/scale_consistency.py);
# - MultiPrototypeContrast: 10 prototypes per class on the projected fused decoder features, pixel-prototype
#   contrast (tau 0.1, weight 0.1) and LR / HR prototype consistency on the detail crop (weight 0.1) in the
#   source and mixed stages, prototypes updated from the source stage
#   (mmseg_procl/uda/objectives/multi_prototype_contrast.py).
_base_ = ['mic.py']
uda = dict(
    label_filter=dict(type='ScaleConsistencyFilter', use_offline=True),
    objectives=[
        dict(type='ImageNetFeatureDistance', lambda_fd=0.005, classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18),
             scale_min_ratio=0.75, stages=('source',)),
        dict(type='MultiPrototypeContrast', num_classes=19, num_prototypes=10, in_channels=256,
             proj_channels=256, temperature=0.1, momentum=0.999, contrast_weight=0.1, consistency_weight=0.1,
             update_stages=('source',), stages=('source', 'mixed')),
    ])
