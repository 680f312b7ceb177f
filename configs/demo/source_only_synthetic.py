# Source-only demo on the embedded synthetic driving scenes: trains on the GTA-style source domain and
# evaluates on the Cityscapes-style target domain, on 2 CPU cores in a few minutes, from scratch (no
# pretrained weights).  A small DAFormer (MiT-B0 + sepaspp DAFormerHead) keeps the real code path.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/schedules/adamw.py',
]
img_size = (256, 128)          # (W, H) of the rendered scenes
crop_size = (128, 256)         # (H, W) batches are padded to
max_iters = 400
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size),
    backbone=dict(type='mit_b0', drop_path_rate=0.1),
    decode_head=dict(
        type='DAFormerHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3], channels=128,
        dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
        decoder_params=dict(
            embed_dims=128,
            embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
                            act_cfg=dict(type='ReLU'), norm_cfg=norm_cfg)),
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
test_pipeline = [dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SyntheticDrivingDataset', style='source', num_samples=1000,
                 img_size=img_size, seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SyntheticDrivingDataset', style='target', num_samples=60,
                 img_size=img_size, seed=1, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# Training from scratch: 10x the DAFormer learning rate (heads x10 from adamw.py), short warmup.
optim_wrapper = dict(optimizer=dict(lr=6e-4))
param_scheduler = [
    dict(type='PolyLRWithWarmup', total_iters=max_iters, power=1.0, min_lr=0.0,
         warmup_iters=50, warmup_ratio=1e-6, by_epoch=False)
]
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=10),      # a progress line with ETA every 10 iterations
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
# run_experiments.py prints the final target mIoU next to these recorded demo results (3 seeds each of
# source-only, DACS and CLIP-ProCL; written by tools/analysis/collect_results.py --out).
reference_results = 'configs/demo/results_synthetic.json'
