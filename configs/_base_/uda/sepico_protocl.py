# SePiCo ProtoCL: centroid-aware contrast against the class means.
_base_ = ['sepico.py']
uda = dict(objectives=[
    dict(type='SemanticContrast', prototypes='source_stats', variant='proto', temperature=100.0,
         loss_weight=1.0, reg_weight=1.0, scale_min_ratio=0.75, stages=('source', 'target'),
         start_iter=3000),
])
