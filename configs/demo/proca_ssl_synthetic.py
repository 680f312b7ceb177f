# ProCA stage 4b on the embedded synthetic shift: a new demo segmentor trained from scratch (as stage 1) on
# the on-disk target scenes with the offline pseudo-labels of tools/proca_pseudo_labels.py only (the adapted
# stage-3 model, per-class 60 % percentile thresholds clipped at 0.9); CE, flip, 400 iterations
# (configs/proca/proca-ssl_*.py for the paper setting).  run_experiments.py --exp 23 sets the label folder.
_base_ = ['source_only_synthetic.py']
pseudo_label_dir = 'proca_pl/train'                 # under data_root (--out-dir of the pseudo-label tool)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CityscapesDataset', data_root='data/synthetic_cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path=pseudo_label_dir),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='RandomFlip', prob=0.5),
              dict(type='PackSegInputs')]))
