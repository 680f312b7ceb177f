"""DarkZurichDataset: Dark Zurich (Sakaridis et al., ICCV 2019) night / twilight / day images.

Suffixes as in DAFormer (github.com/lhoyer/DAFormer, ``mmseg/datasets/dark_zurich.py``; docs/methods.md
3.1): images ``rgb_anon/<split>/<condition>/<seq>/*_rgb_anon.png``; labelled only for
``gt/val/night`` (``*_gt_labelTrainIds.png``).  The training split has no labels: omit
``seg_map_path`` from ``data_prefix``.
"""
from mmseg_procl.registry import DATASETS
from .cityscapes import CityscapesDataset


@DATASETS.register_module()
class DarkZurichDataset(CityscapesDataset):
    """Dark Zurich with the 19 Cityscapes classes."""

    LAYOUT = ('<data_root>/rgb_anon/{train,val,test}/{night,twilight,day}/GOPRxxxx/*_rgb_anon.png '
              'and (val only) <data_root>/gt/val/night/GOPRxxxx/*_gt_labelTrainIds.png')

    def __init__(self, img_suffix: str = '_rgb_anon.png',
                 seg_map_suffix: str = '_gt_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
