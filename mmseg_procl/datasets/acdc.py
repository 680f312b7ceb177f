"""ACDCDataset: ACDC (Sakaridis et al., ICCV 2021) adverse-condition images with Cityscapes train ids.

Suffixes as in DAFormer (github.com/lhoyer/DAFormer, ``mmseg/datasets/acdc.py``; docs/data.md §1),
after flattening the conditions into ``rgb_anon/{train,val}`` and ``gt/{train,val}`` as the DAFormer
README describes.
"""
from mmseg_procl.registry import DATASETS
from .cityscapes import CityscapesDataset


@DATASETS.register_module()
class ACDCDataset(CityscapesDataset):
    """ACDC with the 19 Cityscapes classes."""

    LAYOUT = ('<data_root>/rgb_anon/{train,val,test}/**/*_rgb_anon.png and '
              '<data_root>/gt/{train,val}/**/*_gt_labelTrainIds.png (conditions flattened with '
              'rsync as in the README)')

    def __init__(self, img_suffix: str = '_rgb_anon.png',
                 seg_map_suffix: str = '_gt_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
