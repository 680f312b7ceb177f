# ProCA's adaptation stage (docs/methods.md §2.6; ProCA train_proca.py, configs/*/deeplabv2_r101_proca.yaml): no
# teacher, no mixing; the student on the source batch (the decode head's CE + 0.75 Lovasz) and on the target
# batch; ProCAContrast labels the target by the student's raw logits, updates the feature- and output-level
# class means (target, then source) and contrasts both domains' pixels with them, one backward.  Method configs
# set the class count and the stage-2 prototype files (init_file).
uda = dict(
    type='SourceTarget',
    backward='iteration',                               # both domains' losses in one backward
    stages=[
        dict(name='source', inputs='source', labels='source_labels'),          # CE + 0.75 Lovasz
        dict(name='target', inputs='target', labels=None, loss_heads=(), metas='target'),
    ],
    prototype_sources=dict(
        proca_feat=dict(type='ClassMeanEstimator', num_classes=19, feature_dim=2048, init_file=None),
        proca_out=dict(type='ClassMeanEstimator', num_classes=19, feature_dim=19, init_file=None)),
    objectives=[
        dict(type='ProCAContrast', feature_source='proca_feat', output_source='proca_out',
             temperature=50.0,       # MODEL.CONTRAST.TAU
             threshold=0.9,          # SOLVER.DELTA, on the raw maximum logit
             feature_weight=1.0,     # SOLVER.LAMBDA_FEAT
             output_weight=1.0),     # SOLVER.LAMBDA_OUT (MULTI_LEVEL)
    ])
