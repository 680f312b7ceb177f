# 60k iterations (SePiCo's Cityscapes -> Dark Zurich runs, experiments.py ids 7-8), evaluation every 4000.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
