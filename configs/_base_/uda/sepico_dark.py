# SePiCo's Dark Zurich variant (github.com/BIT-DA/SePiCo mmseg/models/uda/sepico_dark.py, experiments.py
# ids 7-8; docs/methods.md §2.2.6) on the DACS core: SePiCo DistCL (sepico_distcl.py) whose pseudo-labels
# fuse the teacher's softmax of the night image with that of its daytime partner (shift-insensitive
# classes road, sidewalk, building, wall, fence / vegetation, terrain, sky take 0.8 of the day prediction
# where it exceeds 0.4, else 0.2; the other classes keep the night prediction), re-weighted by the
# log-frequency class prior at scale 0.05; the class-balanced crop is chosen on the fused label and cut
# from both images, labels regenerated on the crops; no row masking (plcrop False).
_base_ = ['sepico_distcl.py']
uda = dict(
    pseudo_labeller=dict(
        _delete_=True, type='DayNightPseudoLabeller', threshold=0.968, ignore_top=0, ignore_bottom=0,
        day_ratio=0.8,                                   # weight of the day prediction
        day_confidence=0.4,                              # day probability above which it is trusted
        shift_insensitive_classes=((0, 5), (8, 11)),
        class_weight=dict(frequencies='dark_zurich', scale=0.05)))
