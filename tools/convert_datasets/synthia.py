"""Convert SYNTHIA-RAND-CITYSCAPES labels to Cityscapes train ids and write the RCS statistics.

Output format of DAFormer's converter (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``tools/convert_datasets/synthia.py``): for every ``<root>/GT/LABELS/*<digit>.png`` (16-bit multi-channel
PNG read with OpenCV ``IMREAD_UNCHANGED``; the last channel of the BGR array, red, holds the class id)
writes ``<root>/GT/LABELS/<stem>_labelTrainIds.png`` (uint8, 255 = ignore) and the three RCS statistics
files into ``<root>`` (docs/data.md §1-3).  Idempotent; originals are only read.

Usage: python tools/convert_datasets/synthia.py data/synthia --nproc 8
"""
import sys

from mmseg_procl.datasets.conversion import convert_synthia, converter_main

if __name__ == '__main__':
    sys.exit(converter_main(convert_synthia,
                            'Convert SYNTHIA labels to Cityscapes train ids (+ RCS statistics).'))
