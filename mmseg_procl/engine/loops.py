"""ResumableIterBasedTrainLoop: mmengine's iteration loop that resumes the data stream without replaying it.

On ``--resume`` mmengine's ``IterBasedTrainLoop`` (0.10.7) calls ``next()`` on the data loader once per
finished iteration to reach the same place in the stream: for 40k iterations of GTA5 -> Cityscapes that is
80k decoded, cropped and augmented images before the first step.  When the sampler can start at a given
item (``set_start``, as :class:`~mmseg_procl.datasets.uda_sampler.UDAInfiniteSampler`), this loop instead
sets the start to ``iterations * batch_size`` (and the seed to the checkpoint's) and restarts the loader:
the resumed run sees the same items it would have seen without the interruption, and of the skipped ones
loads only the few batches its workers prefetched when the loop was built.  Samplers without
``set_start`` (mmengine's ``InfiniteSampler`` of source-only runs) are advanced as mmengine does.
Everything else (hooks, validation intervals, ``stop_training``) is mmengine's loop.
"""
import logging

import torch
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from mmseg_procl.registry import LOOPS


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose resume restarts a ``set_start`` sampler at the resumed item.

    Call graph: ``run`` -> ``_resume_stream`` (when ``iter > 0``) -> ``sampler.set_start`` and a new
    loader iterator -> mmengine's iteration body (``run_iter``, validation).
    """

    def run(self):
        """Train until ``max_iters``; on resume, position the data stream first (see the module doc)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._resume_stream()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            self.run_iter(next(self.dataloader_iterator))
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _resume_stream(self) -> None:
        """Start the sampler at the first item not yet trained on, or replay the loader (mmengine)."""
        sampler = getattr(self.dataloader, 'sampler', None)
        batch_size = getattr(self.dataloader, 'batch_size', None)
        if callable(getattr(sampler, 'set_start', None)) and batch_size:
            self._resume_sampler_seed(sampler)
            sampler.set_start(self._iter * batch_size)
            # a new (non-persistent) loader iterator draws its base seed from torch's generator, which
            # the checkpoint has just restored: fork it so that the model's random stream is untouched
            with torch.random.fork_rng(devices=[]):
                self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
            print_log(f'Resumed the data stream at item {self._iter * batch_size} of each rank '
                      f'(iteration {self._iter}; sampler seed {sampler.seed}) without replaying the '
                      'trained batches', logger='current')
            return
        print_log(f'Advance dataloader {self._iter} steps to skip data that has already been trained '
                  f'(the sampler {type(sampler).__name__} cannot start at an item)', logger='current',
                  level=logging.WARNING)
        for _ in range(self._iter):
            next(self.dataloader_iterator)

    def _resume_sampler_seed(self, sampler) -> None:
        """Give the sampler the resumed run's seed (mmengine builds the loop before it reads the
        checkpoint's seed); with ``diff_rank_seed`` the stream cannot be resumed exactly (warned)."""
        randomness = getattr(self.runner, '_randomness_cfg', None) or {}
        if randomness.get('diff_rank_seed', False):
            print_log('randomness.diff_rank_seed=True: the UDA data stream of the resumed run is not the '
                      'one of the interrupted run (its sampler seed is drawn anew)', logger='current',
                      level=logging.WARNING)
            return
        seed = getattr(self.runner, 'seed', None)
        if seed is not None and seed != sampler.seed:
            sampler.seed = int(seed)
