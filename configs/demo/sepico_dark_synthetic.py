# SePiCo's Dark Zurich variant on the synthetic day -> night shift (compare with dacs_night_synthetic.py):
# the SePiCo demo (sepico_synthetic.py: DistCL, class-balanced 128 crops, contrast from iteration 30) with
# the Dark Zurich parts of _base_/uda/sepico_dark.py and configs/sepico/*_cs2dz: each night image's day
# partner (same scene by day, shifted 4 px) through the same pipeline, day-night fused pseudo-labels with
# the 0.05 class prior, the prior-weighted decode cross-entropy, no row masking, and the 0.16 test-time
# prior on the *_rgb_anon.png validation images.  Make the data first (see dacs_night_synthetic.py).
_base_ = ['sepico_synthetic.py']
night_root = 'data/synthetic_dark_zurich/'
model = dict(
    decode_head=dict(loss_decode=dict(class_weight=dict(frequencies='dark_zurich', scale=0.05))),
    test_cfg=dict(class_prior=dict(frequencies='dark_zurich', scale=0.16, img_suffix='_rgb_anon.png')))
uda = dict(pseudo_labeller=dict(
    _delete_=True, type='DayNightPseudoLabeller', threshold=0.968, ignore_top=0, ignore_bottom=0,
    day_ratio=0.8, day_confidence=0.4, shift_insensitive_classes=((0, 5), (8, 11)),
    class_weight=dict(frequencies='dark_zurich', scale=0.05)))
source_dataset = dict(type='SyntheticDrivingDataset', style='target', num_samples=1000,
                      img_size={{_base_.img_size}}, seed=0,
                      pipeline=[dict(type='RandomCrop', crop_size={{_base_.crop}}, cat_max_ratio=0.75),
                                dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')])
target_dataset = dict(type='DarkZurichDataset', data_root=night_root, data_prefix=dict(img_path='rgb_anon/train/night'),
                      pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5),
                                dict(type='PackSegInputs')])
train_dataloader = dict(
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(_delete_=True, type='UDADataset', source=source_dataset, target=target_dataset,
                 day_partners=dict(corresp_dir='corresp/train/night', day_img_dir='rgb_anon/train/day',
                                   night_key_prefix='train/night')))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='DarkZurichDataset', data_root=night_root,
    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
test_dataloader = val_dataloader
