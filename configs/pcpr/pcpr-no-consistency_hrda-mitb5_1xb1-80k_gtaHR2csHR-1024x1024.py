# PCPR ablation: without the reconstructed LR / HR prototype consistency term.
# Everything else as pcpr_hrda-mitb5_1xb1-80k_gtaHR2csHR-1024x1024.py.
_base_ = ['pcpr_hrda-mitb5_1xb1-80k_gtaHR2csHR-1024x1024.py']
uda = dict(objectives=[
    dict(type='ImageNetFeatureDistance', lambda_fd=0.005, classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18),
         scale_min_ratio=0.75, stages=('source',)),
    dict(type='MultiPrototypeContrast', num_classes=19, num_prototypes=10, in_channels=256, proj_channels=256,
         temperature=0.1, momentum=0.999, contrast_weight=0.1, consistency_weight=0.0,
         update_stages=('source',), stages=('source', 'mixed')),
])
