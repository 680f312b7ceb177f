"""SynthiaDataset: SYNTHIA-RAND-CITYSCAPES (Ros et al., CVPR 2016) mapped to the 19 Cityscapes train ids.

Layout and suffixes as in DAFormer (github.com/lhoyer/DAFormer, ``mmseg/datasets/synthia.py``;
docs/data.md §1).  The trainId files are written by ``tools/convert_datasets/synthia.py``; terrain,
truck and train never occur (use mIoU-16 / mIoU-13 for evaluation).
"""
from mmseg_procl.registry import DATASETS
from .base_seg_dataset import BaseSegDataset


@DATASETS.register_module()
class SynthiaDataset(BaseSegDataset):
    """SYNTHIA images ``RGB/NNNNNNN.png`` with labels ``GT/LABELS/NNNNNNN_labelTrainIds.png``."""

    LAYOUT = ('<data_root>/RGB/NNNNNNN.png and <data_root>/GT/LABELS/NNNNNNN_labelTrainIds.png '
              '(run tools/convert_datasets/synthia.py to create the trainId files)')

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
