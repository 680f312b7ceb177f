# MIC on HRDA (docs/methods.md §2.4; MIC seg/configs/mic/gtaHR2csHR_mic_hrda.py): after DACS's mixed
# stage, a `masked` stage trains the student on the colour-augmented target batch masked in 64 px blocks
# (ratio 0.7) with the teacher's pseudo-labels and weights of the unmasked batch (mask_alpha /
# mask_pseudo_threshold 'same': no second teacher); loss weight 1 (mask_lambda).
_base_ = ['hrda.py']
uda = dict(
    masking=dict(type='BlockMasking', mask_ratio=0.7, mask_block_size=64),
    mask_mode='separatetrgaug',      # 'separate' (source 0 + target 0) for Cityscapes -> ACDC / Dark Zurich
    stages=[
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
        dict(name='masked', inputs='masked_inputs', labels='masked_labels', weights='masked_weights'),
    ])
