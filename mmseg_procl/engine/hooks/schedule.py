"""When do the iteration-based checkpoint and validation happen: helpers shared by several hooks."""
from mmengine.hooks import CheckpointHook


def checkpoint_due(runner) -> bool:
    """Whether a ``CheckpointHook`` saves after the current training iteration."""
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and not hook.by_epoch:
            if hook.every_n_train_iters(runner, hook.interval, hook.save_begin):
                return True
            if hook.save_last and hook.is_last_train_iter(runner):
                return True
    return False


def validation_due(runner) -> bool:
    """Whether the iteration-based train loop validates after the current iteration."""
    loop = runner.train_loop
    interval = getattr(loop, 'val_interval', 0)
    if getattr(runner, '_val_loop', None) is None or not interval:
        return False
    done = runner.iter + 1
    return done >= getattr(loop, 'val_begin', 1) and (done % interval == 0 or done == loop.max_iters)
