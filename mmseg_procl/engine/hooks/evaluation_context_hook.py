"""EvaluationContextHook: one log line saying what a validation / test run evaluates.

Users of the DAFormer family regularly misread results (val vs test split, evaluation
resolution, student vs teacher; DAFormer #23 / MIC #79 / corda #6).  Before every validation and test
loop this hook logs the split (dataset type, image folder, image count, whether it has labels), the
resolution (the test pipeline's ``Resize`` scale; predictions are resized back and scored at the label
resolution) and the model that predicts (the student, or the EMA teacher with ``predict_on='teacher'``),
e.g.::

    validation: student predictions on DarkZurichDataset data/dark_zurich/rgb_anon/val/night (50 images,
    labelled), test pipeline Resize scale (1280, 720) keep_ratio, scored at the original label size
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg_procl.registry import HOOKS


def describe_resize(dataset) -> str:
    """The test pipeline's resize, or 'no resize (original size)'."""
    for t in getattr(getattr(dataset, 'pipeline', None), 'transforms', []):
        if type(t).__name__ == 'Resize':
            keep = ' keep_ratio' if getattr(t, 'keep_ratio', False) else ''
            return f'test pipeline Resize scale {tuple(getattr(t, "scale", ()))}{keep}'
    return 'no resize (original size)'


def describe_evaluation(stage: str, runner, dataloader) -> Optional[str]:
    """The line for ``stage`` ('validation' / 'test'); None without a dataloader."""
    if dataloader is None or isinstance(dataloader, dict):
        return None
    dataset = dataloader.dataset
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    who = 'EMA teacher' if getattr(model, 'predict_on', 'student') == 'teacher' else 'student'
    folder = (getattr(dataset, 'data_prefix', None) or {}).get('img_path') or '(in memory)'
    labels = getattr(dataset, 'has_labels', True)
    labelled = 'labelled' if labels else 'no labels: predictions can only be exported'
    target = 'scored at the original label size' if labels else 'written at the original image size'
    return (f'{stage}: {who} predictions on {type(dataset).__name__} {folder} ({len(dataset)} images, '
            f'{labelled}), {describe_resize(dataset)}, {target}')


@HOOKS.register_module()
class EvaluationContextHook(Hook):
    """Log split, resolution and predicting model before validation and test (module docstring)."""

    priority = 'VERY_LOW'

    def before_val(self, runner) -> None:
        """Describe the validation run."""
        line = describe_evaluation('validation', runner, runner.val_dataloader)
        if line:
            print_log(line, logger='current')

    def before_test(self, runner) -> None:
        """Describe the test run."""
        line = describe_evaluation('test', runner, runner.test_dataloader)
        if line:
            print_log(line, logger='current')
