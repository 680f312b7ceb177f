# DACS on a synthetic day -> night shift in the Dark Zurich layout (the baseline of sepico_dark_synthetic.py):
# the DACS demo (dacs_synthetic.py: small DAFormer from scratch, 400 iterations) with the Cityscapes-like
# day scenes as the labelled source and their night versions as the unlabelled target.  Make the data
# first (night images, day partners, correspondences, labelled val/night):
#   python tools/make_synthetic_data.py data/synthetic_dark_zurich --style night --num 360 \
#       --size 256x128 --seed 2 --val-fraction 0.1667 --num-test 20
_base_ = ['dacs_synthetic.py']
night_root = 'data/synthetic_dark_zurich/'
source_dataset = dict(type='SyntheticDrivingDataset', style='target', num_samples=1000,
                      img_size={{_base_.img_size}}, seed=0,
                      pipeline=[dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')])
target_dataset = dict(type='DarkZurichDataset', data_root=night_root, data_prefix=dict(img_path='rgb_anon/train/night'),
                      pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5),
                                dict(type='PackSegInputs')])
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(_delete_=True, type='UDADataset', source=source_dataset, target=target_dataset))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='DarkZurichDataset', data_root=night_root,
    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
test_dataloader = val_dataloader
