# Runtime shared by every config: registry scope, plugin imports, logging, checkpoints, hooks.
default_scope = 'mmseg_procl'
custom_imports = dict(
    imports=['mmseg_procl.datasets', 'mmseg_procl.models', 'mmseg_procl.evaluation',
             'mmseg_procl.engine', 'mmseg_procl.uda'],
    allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop at the first non-finite (or > max_loss) loss, naming the iteration and the loss terms;
    # never write a checkpoint with non-finite weights
    loss_guard=dict(type='LossGuardHook', max_loss=1e4),
    # multi-process runs: average BatchNorm statistics over the ranks before checkpoints and
    # validation, so that the logged validation equals tools/test.py on the saved checkpoint
    buffer_sync=dict(type='BufferSyncHook'))
custom_hooks = [
    dict(type='RandomStateHook'),            # RNG states in checkpoints: exact resume
    dict(type='WeightsOnlyCheckpointHook'),  # checkpoints load with torch.load(weights_only=True)
    dict(type='ProgressBarHook'),            # tqdm bar with ETA over val / test
    dict(type='UDADebugHook', interval=1000),  # UDA algorithms: image panels of one step (work_dir/debug)
]
randomness = dict(seed=0, deterministic=False)
