"""CityscapesDataset (Cordts et al., CVPR 2016): ``leftImg8bit`` images with ``gtFine`` trainId labels.

Layout and suffixes as in mmseg / DAFormer (github.com/lhoyer/DAFormer, ``mmseg/datasets/
cityscapes.py``; docs/data.md §1).  The trainId files are written by ``tools/convert_datasets/cityscapes.py``.
"""
from mmseg_procl.registry import DATASETS
from .base_seg_dataset import BaseSegDataset


@DATASETS.register_module()
class CityscapesDataset(BaseSegDataset):
    """Cityscapes with the 19 evaluation classes (train ids)."""

    LAYOUT = ('<data_root>/leftImg8bit/{train,val,test}/<city>/<stem>_leftImg8bit.png and '
              '<data_root>/gtFine/{train,val,test}/<city>/<stem>_gtFine_labelTrainIds.png '
              '(run tools/convert_datasets/cityscapes.py to create the trainId files)')

    def __init__(self, img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
