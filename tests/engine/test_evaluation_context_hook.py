"""EvaluationContextHook: the logged line names the split, the resolution and student or teacher."""
from types import SimpleNamespace

from mmseg_procl.datasets import DarkZurichDataset
from mmseg_procl.engine.hooks.evaluation_context_hook import describe_evaluation
from dark_zurich_tree import write_dark_zurich_tree
from mmseg_procl.utils import register_all_modules


def test_split_resolution_and_model_are_named(tmp_path):
    register_all_modules()
    root = write_dark_zurich_tree(tmp_path, num=2, num_test=1)
    val = DarkZurichDataset(data_root=str(root), data_prefix=dict(img_path='rgb_anon/val/night',
                                                                  seg_map_path='gt/val/night'),
                            pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1280, 720),
                                                                           keep_ratio=True),
                                      dict(type='LoadAnnotations'), dict(type='PackSegInputs')])
    runner = SimpleNamespace(model=SimpleNamespace(predict_on='teacher'))
    line = describe_evaluation('validation', runner, SimpleNamespace(dataset=val))
    assert line == (f'validation: EMA teacher predictions on DarkZurichDataset {root}/rgb_anon/val/night '
                    '(2 images, labelled), test pipeline Resize scale (1280, 720) keep_ratio, scored at the '
                    'original label size')
    test = DarkZurichDataset(data_root=str(root), data_prefix=dict(img_path='rgb_anon/test/night'),
                             pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
    runner = SimpleNamespace(model=SimpleNamespace(module=SimpleNamespace()))       # wrapped student
    line = describe_evaluation('test', runner, SimpleNamespace(dataset=test))
    assert line.startswith('test: student predictions on DarkZurichDataset') and \
        '(1 images, no labels: predictions can only be exported), no resize (original size), written at the ' \
        'original image size' in line
    assert describe_evaluation('test', runner, None) is None
