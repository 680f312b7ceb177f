# DACS self-training core (docs/methods.md §1.5 step 0; DAFormer configs/_base_/uda/dacs.py).  A top-level
# `uda` dict is wrapped around `model` by the train entry (the segmentor stays `model.model`).
uda = dict(
    type='DACS',
    alpha=0.99,                      # alpha: EMA teacher weight, ramped as min(1 - 1/(t+1), alpha)
    pseudo_threshold=0.968,          # tau: confidence threshold of the batch-scalar pseudo weight q
    pseudo_weight_ignore_top=0,      # rows of the crop with weight 0 (top)
    pseudo_weight_ignore_bottom=0,   # rows of the crop with weight 0 (bottom)
    mix='class',                     # ClassMix, classes drawn from the whole source batch
    blur=True,                       # Gaussian blur with probability 0.5, sigma ~ U(0.15, 1.15)
    color_jitter_strength=0.2,       # s: kornia-0.5 ColorJitter(s, s, s, s)
    color_jitter_probability=0.2,    # jitter when U(0,1) > p
    objectives=[])
