"""Convert Cityscapes gtFine annotations to train ids, write split lists and rare-class-sampling statistics.

Output format of DAFormer's converter (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``tools/convert_datasets/cityscapes.py``): for every frame of ``<root>/gtFine/{train,val,test}`` writes
``<stem>_gtFine_labelTrainIds.png`` (from ``_gtFine_polygons.json`` with cityscapesscripts'
``json2labelImg(..., 'trainIds')``, or from ``_gtFine_labelIds.png`` when no JSON exists), the three RCS
statistics files of the train frames and ``{train,val,test}.txt`` (``<city>/<stem>`` per line) into
``<root>`` (docs/data.md §1-3).  Idempotent; originals are only read.

Usage: python tools/convert_datasets/cityscapes.py data/cityscapes --nproc 8
"""
import sys

from mmseg_procl.datasets.conversion import convert_cityscapes, converter_main

if __name__ == '__main__':
    sys.exit(converter_main(convert_cityscapes,
                            'Convert Cityscapes gtFine labels to train ids (+ split lists, RCS statistics).'))
