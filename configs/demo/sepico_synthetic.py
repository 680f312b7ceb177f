# SePiCo DistCL on the embedded synthetic shift: the DACS demo (same segmentor, data, iterations,
# optimizer, schedule, teacher and pseudo-label settings, see dacs_synthetic.py) turned into SePiCo by
# configuration (docs/methods.md §2.2): a projection head, the class statistics of the teacher's
# embeddings of clean source crops, the distribution-aware contrast in a source stage (strongly
# augmented source) and a target stage (strongly augmented class-balanced target crops), and ClassMix
# of clean source and clean target crops.  Scaled to the demo: 128x128 crops of the 256x128 scenes
# (SePiCo: 640 of 1280x640), contrast from iteration 30 (SePiCo: 3000 of 40000), 64-d embeddings.
_base_ = ['dacs_synthetic.py']
crop = (128, 128)
model = dict(
    data_preprocessor=dict(size=None),       # source crops and uncropped targets differ in size
    auxiliary_head=dict(type='ProjHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3],
                        input_transform='resize_concat', channels=64, num_convs=2, kernel_size=1,
                        norm_cfg=dict(type='BN', requires_grad=True)))
# the SePiCo parts of _base_/uda/sepico.py (stages, class-balanced crop, statistics, DistCL)
uda = dict(
    target_crop=dict(type='ClassBalancedCrop', crop_size=crop, cat_max_ratio=0.75, num_candidates=10,
                     regenerate=True, prod=True),
    stages=[
        dict(name='source', inputs='source_strong', labels='source_labels'),
        dict(name='target', inputs='target_strong', labels='pseudo_labels', weights='pseudo_weights',
             ignore_unweighted=True, loss_heads=(), metas='target'),
        dict(name='mixed', inputs='mixed', labels='mixed_labels', weights='mixed_weights'),
    ],
    prototype_sources=dict(
        source_stats=dict(type='ClassFeatureStatistics', num_classes=19, feature_dim=64,
                          memory_length=0, features='teacher', head='auxiliary_head',
                          images='source', labels='source_labels', scale_min_ratio=0.75)),
    objectives=[
        dict(type='SemanticContrast', prototypes='source_stats', variant='dist', temperature=100.0,
             loss_weight=1.0, reg_weight=1.0, dist_ratio=1.0, scale_min_ratio=0.75,
             stages=('source', 'target'), start_iter=30),
    ])
# source scenes cropped to 128x128 (cat_max 0.75, as SePiCo's source pipeline); targets uncropped
train_dataloader = dict(dataset=dict(source=dict(pipeline=[
    dict(type='RandomCrop', crop_size=crop, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')])))
