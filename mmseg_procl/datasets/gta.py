"""GTADataset: GTA5 (Richter et al., ECCV 2016) with Cityscapes train ids.

Layout and suffixes as in DAFormer (github.com/lhoyer/DAFormer, ``mmseg/datasets/gta.py``;
docs/data.md §1).  The trainId files are written by ``tools/convert_datasets/gta.py``.
"""
from mmseg_procl.registry import DATASETS
from .base_seg_dataset import BaseSegDataset


@DATASETS.register_module()
class GTADataset(BaseSegDataset):
    """GTA5 images ``images/NNNNN.png`` with labels ``labels/NNNNN_labelTrainIds.png``."""

    LAYOUT = ('<data_root>/images/NNNNN.png and <data_root>/labels/NNNNN_labelTrainIds.png '
              '(run tools/convert_datasets/gta.py to create the trainId files)')

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
