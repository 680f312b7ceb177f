"""Convert GTA5 labels to Cityscapes train ids and write the rare-class-sampling statistics.

Output format of DAFormer's converter (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``tools/convert_datasets/gta.py``): for every ``<root>/labels/*<digit>.png`` (palette PNG whose indices are
Cityscapes label ids) writes ``<root>/labels/<stem>_labelTrainIds.png`` (uint8, 255 = ignore) and
``sample_class_stats.json``, ``sample_class_stats_dict.json``, ``samples_with_class.json`` into ``<root>``
(docs/data.md §1-3).  Idempotent; originals are only read.

Usage: python tools/convert_datasets/gta.py data/gta --nproc 8
"""
import sys

from mmseg_procl.datasets.conversion import convert_gta, converter_main

if __name__ == '__main__':
    sys.exit(converter_main(convert_gta, 'Convert GTA5 labels to Cityscapes train ids (+ RCS statistics).'))
