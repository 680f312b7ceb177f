# WDASS (docs/methods.md §2.7; WDASS train.py with --use_contrast --bn_buffer --imloss --improto): the DACS
# core with a fixed-alpha teacher that also averages BatchNorm buffers, per-pixel pseudo-label weights q * 1[p
# >= 0.968] with rows 15 / 120 zeroed, ClassMix with colour jitter 0.25; weak target labels; real (P^R) and
# synthetic (P^S) anchor-weighted prototypes; the image-level loss, the source edge loss and the intra- /
# inter-domain prototype contrast (the latter two from iteration 10001 on).  One backward per iteration.
# Method configs set weak_label (and the matching P^R anchors) and whether the weak labels train the target
# (overwrite_pseudo_labels and the target stage's labels: --use_wl).
uda = dict(
    type='WDASS',
    weak_label='point',                     # image / point / coarse (set in three places)
    overwrite_pseudo_labels=True,          # --use_wl: weak labels replace the teacher's pseudo-labels
    prototype_threshold=0.95,              # teacher low-resolution labels below are unknown (prototypes)
    teacher=dict(type='EMATeacher', alpha=0.999, ramp=False, average_buffers=True),   # --alpha, --bn_buffer
    pseudo_labeller=dict(type='PseudoLabeller', threshold=0.968, ignore_top=15, ignore_bottom=120,
                         weighting='pixel'),
    mix=dict(type='ClassMix'),
    strong_aug=dict(type='StrongAugmentation', color_jitter_strength=0.25, color_jitter_probability=0.2,
                    blur=True),
    backward='iteration',
    stages=[
        dict(name='target', inputs='target', labels='weak_labels', metas='target'),   # L_wl (--use_wl)
        dict(name='source', inputs='source', labels='source_labels'),                 # L_src
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),   # L_mix
    ],
    prototype_sources=dict(
        real_prototypes=dict(type='AnchorWeightedPrototypes', num_classes=19, feature_dim=256,
                             domain='target', weak_label='point'),
        synthetic_prototypes=dict(type='AnchorWeightedPrototypes', num_classes=19, feature_dim=256,
                                  domain='source', weak_label='point')),
    objectives=[
        dict(type='WeakImageLabelLoss', prototype_source='real_prototypes', loss_weight=1.0,
             start_iter=10001),                             # --imloss --improto, im_wt after 10k
        dict(type='SemanticEdgeLoss', loss_weight=10.0, tau=0.5),          # --edge_wt 10
        dict(type='WeakPrototypeContrast', inter_weight=0.5, real_weight=0.25, synthetic_weight=0.25,
             temperature=0.1, base_temperature=0.07, inter_samples=512, intra_samples=256,
             start_iter=10001),                             # --c_inter / --c_real / --c_syn, cwt after 10k
    ])
