"""tools/test.py's configuration: what each output flag asks of the test loop."""
from mmseg_procl.apis.test import build_test_config


def test_show_dir_alone_needs_no_labels_and_eval_keeps_the_metric(tmp_path):
    checkpoint = tmp_path / 'iter_1.pth'
    checkpoint.write_bytes(b'')                        # only its existence is checked here
    config = 'configs/demo/dacs_synthetic_predict_target_train.py'     # unlabelled target images
    cfg = build_test_config(config, str(checkpoint), show_dir=str(tmp_path / 'colour'), opacity=1.0,
                            work_dir=str(tmp_path / 'log'))
    assert cfg.test_evaluator == []                    # colour maps only: no metric asks for labels
    writers = [h for h in cfg.custom_hooks if h['type'] == 'PredictionWriterHook']
    assert writers == [dict(type='PredictionWriterHook', out_dir=str(tmp_path / 'colour'), opacity=1.0)]
    cfg = build_test_config('configs/demo/dacs_synthetic.py', str(checkpoint), eval_metrics=['mIoU'],
                            show_dir=str(tmp_path / 'colour'), work_dir=str(tmp_path / 'log'))
    assert cfg.test_evaluator['type'] == 'IoUMetric' and cfg.test_evaluator['iou_metrics'] == ['mIoU']
