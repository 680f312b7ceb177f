# PCPR (a labelled reconstruction, README "PCPR") on the embedded synthetic shift: the MIC(HRDA) demo
# (mic_synthetic.py) with PCPR's released segmentor changes (feature weighter, fusion order, class-aware
# detail crop) and the reconstructed parts: LR / HR pseudo-label filtering filled with offline labels, and
# the multi-prototype contrast + consistency on the projected fused decoder features (128-d here: the demo
# head's width).  The target scenes are read from disk with offline pseudo-labels = a previous run's
# predictions (the DACS demo, seed 0).  Make them first (about a minute on 2 CPU cores):
#   python tools/make_synthetic_data.py data/synthetic_cityscapes --style target --num 1000 --size 256x128 \
#       --seed 2 --val-fraction 0
#   python tools/test.py configs/demo/dacs_synthetic_predict_target_train.py \
#       <DACS demo work dir>/iter_400.pth --show-dir work_dirs/pl_colour --opacity 1
#   python tools/convert_datasets/pseudo_labels.py work_dirs/pl_colour data/synthetic_cityscapes/pl2/train \
#       --layout cityscapes
# The 1000 scenes are those of the in-memory target of the other demos (seed 2), so the runs compare.
_base_ = ['mic_synthetic.py']
model = dict(
    type='PCPREncoderDecoder',
    decode_head=dict(type='PCPRHead'),
    detail_crop='class_aware',
    crop_classes=(5, 6, 7, 11, 12, 17, 18))
uda = dict(
    label_filter=dict(type='ScaleConsistencyFilter', use_offline=True),
    objectives=[
        dict(type='MultiPrototypeContrast', num_classes=19, num_prototypes=10, in_channels=128,
             proj_channels=128, temperature=0.1, momentum=0.999, contrast_weight=0.1, consistency_weight=0.1,
             update_stages=('source',), stages=('source', 'mixed')),
    ])
pcpr_target_dataset = dict(
    _delete_=True, type='CityscapesDataset', data_root='data/synthetic_cityscapes/',
    data_prefix=dict(img_path='leftImg8bit/train', pseudo_label_path='pl2/train'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadPseudoLabels'),
        dict(type='PseudoLabelMargins', margins=(4, 30, 4, 4)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs')])
train_dataloader = dict(dataset=dict(target=pcpr_target_dataset))
