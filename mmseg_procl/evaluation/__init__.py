"""Evaluation: IoUMetric (mIoU-19 / 16 / 13, per-class table), Cityscapes and DZ / ACDC export."""
from .dark_zurich_submission import DarkZurichSubmissionWriter
from .iou_metric import IoUMetric, areas_to_metrics, format_table, intersect_and_union, nanmean
from .prediction_export import (colorize, encode_png, export_prediction, label_map_to_uint8,
                                prediction_filename, save_cityscapes_labelid_png, save_color_png,
                                save_trainid_png, trainid_to_labelid)

__all__ = [
    'IoUMetric', 'areas_to_metrics', 'intersect_and_union', 'nanmean', 'format_table',
    'DarkZurichSubmissionWriter', 'prediction_filename', 'label_map_to_uint8', 'encode_png',
    'trainid_to_labelid', 'save_trainid_png', 'save_cityscapes_labelid_png', 'colorize',
    'save_color_png', 'export_prediction',
]
