# 40k iterations, evaluation and checkpoint every 4000 (DAFormer family, docs/methods.md §1.7).
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
