"""ProgressBarHook: a tqdm bar with ETA over the validation and test loops."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from tqdm import tqdm

from mmseg_procl.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show evaluation progress (images processed, rate, ETA) on the main process."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._bar: Optional[tqdm] = None

    def _open(self, loader, desc: str) -> None:
        """Start a bar over ``loader``'s batches."""
        if is_main_process():
            self._bar = tqdm(total=len(loader), desc=desc, unit='batch', dynamic_ncols=True)

    def _advance(self) -> None:
        """Advance the bar by one batch; close it after the last one (before metrics are computed,
        so that an evaluation error is the last thing printed)."""
        if self._bar is not None:
            self._bar.update(1)
            if self._bar.n >= self._bar.total:
                self._close()

    def _close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_val_epoch(self, runner) -> None:
        """Open the validation bar."""
        self._open(runner.val_dataloader, 'val')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        """Advance the validation bar."""
        self._advance()

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Close the validation bar."""
        self._close()

    def before_test_epoch(self, runner) -> None:
        """Open the test bar."""
        self._open(runner.test_dataloader, 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        """Advance the test bar."""
        self._advance()

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Close the test bar."""
        self._close()
