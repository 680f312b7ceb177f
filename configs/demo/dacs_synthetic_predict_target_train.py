# Offline pseudo-labels for the PCPR demo (pcpr_synthetic.py): the DACS demo's segmentor predicting the
# unlabelled target training scenes written to disk by
#   python tools/make_synthetic_data.py data/synthetic_cityscapes --style target --num 1000 --size 256x128 \
#       --seed 2 --val-fraction 0
# (the same 1000 scenes as the in-memory target of the demos).  With --show-dir DIR --opacity 1 the test tool
# writes pure Cityscapes-palette colour maps, the format PCPR's offline labels come in; the pseudo-label
# converter turns them into train ids (README "PCPR", docs/data.md §7).
_base_ = ['dacs_synthetic.py']
test_dataloader = dict(dataset=dict(
    _delete_=True, type='CityscapesDataset', data_root='data/synthetic_cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))
