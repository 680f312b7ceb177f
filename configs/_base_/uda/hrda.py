# HRDA's self-training (docs/methods.md §2.3; MIC experiments.py uda_hrda): DAFormer's DACS with FD
# (alpha 0.999, thing-class FD on the context features) and the pseudo-label margins of the image frame
# from the target pipeline (PseudoLabelMargins) instead of DAFormer's 15 / 120 rows of the crop.
_base_ = ['dacs_a999_fdthings.py']
uda = dict(pseudo_labeller=dict(ignore_top=0, ignore_bottom=0))
