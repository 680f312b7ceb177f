# SePiCo BankCL: centroid-aware contrast against memory banks of 200 batch class means per class.
_base_ = ['sepico.py']
uda = dict(
    prototype_sources=dict(source_stats=dict(memory_length=200)),     # memory_length
    objectives=[
        dict(type='SemanticContrast', prototypes='source_stats', variant='bank', temperature=100.0,
             loss_weight=1.0, reg_weight=1.0, scale_min_ratio=0.75, stages=('source', 'target'),
             start_iter=3000),
    ])
