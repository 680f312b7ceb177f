# PCPR's segmentor (docs/methods.md §2.5; github.com/sunrui570-dev/PCPF
# mmseg/models/decode_heads/hrda_head.py, mmseg/models/segmentors/hrda_encoder_decoder.py): HRDA on
# DAFormer MiT-B5 (hrda_daformer_mitb5.py) with the authors' released head changes: a one-output feature
# weighter beside the scale attention, the (1 - a) factor applied after upsampling, the decoder features of
# both scales returned for training; the class-aware detail crop (centred on a pole / light / sign / person /
# rider / motorcycle / bicycle pixel, random without one).
# 86,212,071 parameters (HRDA's 85,685,990 + 526,081 of the feature weighter).
_base_ = ['hrda_daformer_mitb5.py']
model = dict(
    type='PCPREncoderDecoder',
    decode_head=dict(type='PCPRHead'),
    detail_crop='class_aware',           # 'random': HRDA's crop (the reference's visible training path)
    crop_classes=(5, 6, 7, 11, 12, 17, 18))
