# MIC(HRDA) on the embedded synthetic shift: the DACS demo (dacs_synthetic.py: small DAFormer, 400
# iterations, same optimizer and schedule) with HRDA's two scales at the demo size and MIC's masked stage.
# HRDA (docs/methods.md §2.3): the 128 x 256 scene is the training crop; context = the scene at 0.5
# (64 x 128), detail = a random 64 x 128 window at full resolution (offsets divisible by 8), fused by
# the class-wise scale attention; detail loss weight 0.1; inference with overlapping 64 x 128 detail
# windows.  Pseudo-label margins of the image (HRDA's 30 / 240 / 30 / 30 of a 1024 x 2048 frame, scaled
# to 128 x 256: 4 / 30 / 4 / 4) replace the crop rows.  MIC (§2.4): the augmented target batch masked in
# blocks (64 px of a 1024 crop scaled to 8 px of 128, ratio 0.7) trains on the teacher's pseudo-labels
# of the unmasked batch, as a third stage with weight 1.
_base_ = ['dacs_synthetic.py']
model = dict(
    type='HRDAEncoderDecoder',            # the demo's backbone, preprocessing and test mode stay
    decode_head=dict(
        _delete_=True, type='HRDAHead',
        head={{_base_.model.decode_head}},     # the demo's small DAFormer head on both scales
        scales=(0.5, 1.0),            # context, detail
        hr_loss_weight=0.1,           # lambda_d
        attention_embed_dim=128,      # the demo head's width (256 with the paper's DAFormer head)
        attention_classwise=True),
    hr_crop_size=(64, 128),           # detail crop: half the training crop per side, as 512 of 1024
    crop_coord_divisible=8,           # output stride 4 x downscale 2
    hr_slide_inference=True,
    feature_scale=0.5)
uda = dict(
    pseudo_labeller=dict(ignore_top=0, ignore_bottom=0),     # margins come from the pipeline
    masking=dict(type='BlockMasking', mask_ratio=0.7, mask_block_size=8),
    mask_mode='separatetrgaug',
    stages=[
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
        dict(name='masked', inputs='masked_inputs', labels='masked_labels', weights='masked_weights'),
    ])
train_dataloader = dict(
    dataset=dict(target=dict(pipeline=[
        dict(type='PseudoLabelMargins', margins=(4, 30, 4, 4)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs')])))
