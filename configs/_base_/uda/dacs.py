# DACS self-training core (docs/methods.md §1.5 step 0; DAFormer configs/_base_/uda/dacs.py), as policy
# parts and stages.  A top-level `uda` dict is wrapped around `model` by the train entry (the segmentor
# stays `model.model`).
uda = dict(
    type='DACS',
    # alpha: EMA teacher weight, ramped as min(1 - 1/(t+1), alpha); teacher BN buffers are its own
    teacher=dict(type='EMATeacher', alpha=0.99, ramp=True, average_buffers=False),
    # tau: confidence threshold of the batch-scalar pseudo weight q; rows of the crop with weight 0
    pseudo_labeller=dict(type='PseudoLabeller', threshold=0.968, ignore_top=0, ignore_bottom=0,
                         weighting='batch'),
    mix=dict(type='ClassMix'),                   # ClassMix, classes drawn from the whole source batch
    # s: kornia-0.5 ColorJitter(s, s, s, s) when U(0,1) > p; Gaussian blur with probability 0.5
    strong_aug=dict(type='StrongAugmentation', color_jitter_strength=0.2,
                    color_jitter_probability=0.2, blur=True),
    # target_crop (unset): the target crop comes from the data pipeline (SePiCo: ClassBalancedCrop)
    stages=[
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
    ],
    objectives=[])
