"""Named experiment lists for ``run_experiments.py --exp N``.

Each list entry is ``dict(name=..., config=..., cfg_options={...})``: a config file plus explicit
overrides (e.g. the random seed), so every generated run is an ordinary config with a few keys
changed; the dumped config in its work dir records them.  The DAFormer family reports the mean of
three seeds (0, 1, 2), hence the seed sweeps.
"""
from typing import Callable, Dict, List, Tuple

SEEDS = (0, 1, 2)
CROSS_CONFIG = 'configs/cross/sepico-distcl+clip-procl_dlv2red-r101_1xb2-40k_gta2cs-640x640.py'
HRDA_DIR = 'configs/hrda'
PCPR_DIR = 'configs/pcpr'
PROCA_DIR = 'configs/proca'
WDASS_DIR = 'configs/wdass'


def seed_sweep(name: str, config: str, seeds=SEEDS) -> List[Dict]:
    """One run of ``config`` per seed."""
    return [dict(name=f'{name}_s{s}', config=config, cfg_options={'randomness.seed': s})
            for s in seeds]


def sepico_runs(segmentor: str, benchmark: str) -> List[Dict]:
    """The three SePiCo variants of one segmentor and benchmark, each with its config's seed."""
    return [dict(name=f'sepico-{v}_{segmentor}_{benchmark}', cfg_options={},
                 config=f'configs/sepico/sepico-{v}_{segmentor}_1xb2-40k_{benchmark}-640x640.py')
            for v in ('distcl', 'bankcl', 'protocl')]


EXPERIMENTS: Dict[int, Tuple[str, Callable[[], List[Dict]]]] = {
    1: ('source-only demo on the synthetic driving scenes, 3 seeds',
        lambda: seed_sweep('source-only_synthetic', 'configs/demo/source_only_synthetic.py')),
    2: ('source-only DeepLabV2-red R101, GTA5 -> Cityscapes 512, 3 seeds',
        lambda: seed_sweep('source-only_dlv2red-r101_gta2cs',
                           'configs/source_only/source-only_dlv2red-r101_1xb2-40k_gta2cs-512x512.py')),
    3: ('source-only DAFormer MiT-B5, GTA5 -> Cityscapes 512, 3 seeds',
        lambda: seed_sweep('source-only_daformer-mitb5_gta2cs',
                           'configs/source_only/source-only_daformer-mitb5_1xb2-40k_gta2cs-512x512.py')),
    4: ('source-only DAFormer MiT-B5, SYNTHIA -> Cityscapes 512, 3 seeds',
        lambda: seed_sweep('source-only_daformer-mitb5_syn2cs',
                           'configs/source_only/source-only_daformer-mitb5_1xb2-40k_syn2cs-512x512.py')),
    5: ('DACS demo on the synthetic driving scenes, 3 seeds (compare with experiment 1)',
        lambda: seed_sweep('dacs_synthetic', 'configs/demo/dacs_synthetic.py')),
    6: ('CLIP-ProCL demo on the synthetic driving scenes, 3 seeds (compare with experiments 1, 5)',
        lambda: seed_sweep('clip_procl_synthetic', 'configs/demo/clip_procl_synthetic.py')),
    7: ('SePiCo DistCL demo on the synthetic driving scenes, 3 seeds (compare with experiments 5, 6)',
        lambda: seed_sweep('sepico_synthetic', 'configs/demo/sepico_synthetic.py')),
    8: ('SePiCo DistCL / BankCL / ProtoCL, DeepLab-v2 R101, GTA5 -> Cityscapes (SePiCo ids 1-3, seed 76)',
        lambda: sepico_runs('dlv2-r101', 'gta2cs')),
    9: ('SePiCo DistCL / BankCL / ProtoCL, DAFormer MiT-B5, GTA5 -> Cityscapes (SePiCo ids 4-6, seed 76)',
        lambda: sepico_runs('daformer-mitb5', 'gta2cs')),
    10: ('SePiCo DistCL / BankCL / ProtoCL, DeepLab-v2 R101, SYNTHIA -> Cityscapes (seed 76)',
         lambda: sepico_runs('dlv2-r101', 'syn2cs')),
    11: ('SePiCo DistCL / BankCL / ProtoCL, DAFormer MiT-B5, SYNTHIA -> Cityscapes (seed 76)',
         lambda: sepico_runs('daformer-mitb5', 'syn2cs')),
    12: ('SePiCo DistCL + CLIP-ProCL objectives on the CLIP-ProCL segmentor, GTA5 -> Cityscapes',
         lambda: [dict(name='sepico-distcl+clip-procl_gta2cs', cfg_options={}, config=CROSS_CONFIG)]),
    13: ('MIC(HRDA) demo on the synthetic driving scenes, 3 seeds (compare with experiments 1, 5)',
         lambda: seed_sweep('mic_synthetic', 'configs/demo/mic_synthetic.py')),
    14: ('HRDA and MIC(HRDA), MiT-B5, GTA5 / SYNTHIA -> Cityscapes at 1024 (HRDA 3 seeds; MIC seed 2)',
         lambda: (seed_sweep('hrda_gtaHR2csHR', f'{HRDA_DIR}/hrda_mitb5_1xb2-40k_gtaHR2csHR-1024x1024.py')
                  + [dict(name=f'mic-hrda_{b}', cfg_options={},
                          config=f'configs/mic/mic-hrda_mitb5_1xb2-40k_{b}-1024x1024.py')
                     for b in ('gtaHR2csHR', 'synHR2csHR')])),
    15: ('MIC(HRDA), Cityscapes -> ACDC and -> Dark Zurich (separate masking, seed 2)',
         lambda: [dict(name=f'mic-hrda_{b}', cfg_options={},
                       config=f'configs/mic/mic-hrda_mitb5_1xb2-40k_{b}-1024x1024.py')
                  for b in ('csHR2acdcHR', 'csHR2dzHR')]),
    16: ('cross: CLIP-ProCL on MIC(HRDA) and SePiCo DistCL on HRDA, MiT-B5, GTA5 -> Cityscapes at 1024',
         lambda: [dict(name=f'{n}_gtaHR2csHR', cfg_options={},
                       config=f'configs/cross/{n}_hrda-mitb5_1xb2-40k_gtaHR2csHR-1024x1024.py')
                  for n in ('clip-procl+mic', 'sepico-distcl')]),
    17: ("SePiCo DistCL, Dark Zurich variant, DeepLab-v2 R101 / DAFormer MiT-B5, Cityscapes -> Dark Zurich "
         "(SePiCo ids 7-8, 60k, seed 42)",
         lambda: [dict(name=f'sepico-distcl_{a}_cs2dz', cfg_options={},
                       config=f'configs/sepico/sepico-distcl_{a}_1xb2-60k_cs2dz-640x640.py')
                  for a in ('dlv2-r101', 'daformer-mitb5')]),
    18: ('DACS vs SePiCo Dark Zurich variant on the synthetic day -> night shift, 3 seeds each (make the data '
         'first: see configs/demo/dacs_night_synthetic.py)',
         lambda: (seed_sweep('dacs_night_synthetic', 'configs/demo/dacs_night_synthetic.py')
                  + seed_sweep('sepico_dark_synthetic', 'configs/demo/sepico_dark_synthetic.py'))),
    19: ('PCPR (reconstruction) demo on the synthetic driving scenes, 3 seeds (make the offline labels '
         'first: see configs/demo/pcpr_synthetic.py; compare with experiment 13)',
         lambda: seed_sweep('pcpr_synthetic', 'configs/demo/pcpr_synthetic.py')),
    20: ('PCPR (reconstruction) on MIC(HRDA), MiT-B5, GTA5 / SYNTHIA -> Cityscapes at 1024, batch 1, 80k, '
         'seed 2, and the three GTA5 ablations (no filter / no contrast / no consistency)',
         lambda: [dict(name=f'{n}_{b}', cfg_options={},
                       config=f'{PCPR_DIR}/{n}_hrda-mitb5_1xb1-80k_{b}-1024x1024.py')
                  for n, b in (('pcpr', 'gtaHR2csHR'), ('pcpr', 'synHR2csHR'),
                               ('pcpr-no-filter', 'gtaHR2csHR'), ('pcpr-no-contrast', 'gtaHR2csHR'),
                               ('pcpr-no-consistency', 'gtaHR2csHR'))]),
}


def proca_chain(tag: str, configs: Dict[str, str], seed: int = None, stage1_iters: int = 20000,
                pseudo_label_dir: str = None) -> List[Dict]:
    """ProCA's four stages (docs/methods.md §2.6) as one list: source-only training, prototype
    initialisation, adaptation from the source-only model and its prototypes, offline pseudo-labels from the
    best adapted model, self-training on them.  ``configs`` maps ``src`` / ``proca`` / ``ssl`` to config
    files; with ``seed`` every training gets ``randomness.seed``; the labels are written to
    ``pseudo_label_dir`` (default: inside the adaptation run's work dir)."""
    src, proca, ssl = (f'proca-{s}_{tag}' for s in ('src', 'adapt', 'ssl'))
    seeded = {} if seed is None else {'randomness.seed': seed}
    labels = pseudo_label_dir or f'{{run:{proca}}}/pseudo_labels'
    prototypes = f'{{run:{src}}}/prototypes'
    return [
        dict(name=src, config=configs['src'], cfg_options=dict(seeded)),
        dict(name=f'proca-prototypes_{tag}', tool='tools/proca_prototype_init.py',
             args=[configs['src'], f'{{last:{src}}}', '--out-dir', prototypes]),
        dict(name=proca, config=configs['proca'], cfg_options={
            **seeded, 'load_from': f'{{last:{src}}}',
            'uda.prototype_sources.proca_feat.init_file': f'{prototypes}/prototype_feat_dist.pth',
            'uda.prototype_sources.proca_out.init_file': f'{prototypes}/prototype_out_dist.pth'}),
        dict(name=f'proca-pseudo-labels_{tag}', tool='tools/proca_pseudo_labels.py',
             args=[configs['proca'], f'{{best:{proca}}}', '--out-dir', labels]),
        dict(name=ssl, config=configs['ssl'],
             cfg_options={**seeded, 'train_dataloader.dataset.data_prefix.seg_map_path': labels}),
    ]


def proca_benchmark(benchmark: str, size: str) -> List[Dict]:
    """ProCA's chain with the paper configs of ``benchmark`` (gta2cs / syn2cs)."""
    return proca_chain(benchmark, dict(
        src=f'{PROCA_DIR}/proca-src_dlv2-r101v1b_4xb2-20k_{benchmark}-{size}.py',
        proca=f'{PROCA_DIR}/proca_dlv2-r101v1b_4xb1-90k_{benchmark}-{size}.py',
        ssl=f'{PROCA_DIR}/proca-ssl_dlv2-r101v1b_4xb2-90k_{benchmark}-512x1024.py'))


PROCA_DEMO = dict(src='configs/demo/proca_src_synthetic.py', proca='configs/demo/proca_synthetic.py',
                  ssl='configs/demo/proca_ssl_synthetic.py')
EXPERIMENTS.update({
    21: ('ProCA, DeepLab-v2 (torchvision R101), GTA5 -> Cityscapes: source-only, prototypes, adaptation, '
         'pseudo-labels, self-training (ProCA run_proca_resnet101_gta5.sh)',
         lambda: proca_benchmark('gta2cs', '1280x720')),
    22: ('ProCA, DeepLab-v2 (torchvision R101, 16 classes), SYNTHIA -> Cityscapes: the four stages',
         lambda: proca_benchmark('syn2cs', '1280x760')),
    23: ('ProCA demo on the synthetic driving scenes: the four stages chained, 3 seeds (make the on-disk '
         'target scenes first: see configs/demo/proca_synthetic.py)',
         lambda: [run for s in SEEDS for run in proca_chain(f'synthetic_s{s}', PROCA_DEMO, seed=s)]),
    24: ('WDASS with point labels on the synthetic driving scenes, 3 seeds (make the on-disk target scenes '
         'and their points first: see configs/demo/wdass_point_synthetic.py; compare with experiment 5)',
         lambda: seed_sweep('wdass_point_synthetic', 'configs/demo/wdass_point_synthetic.py')),
    25: ('WDASS, DeepLab-v2 (torchvision R101), GTA5 -> Cityscapes with point, coarse and image-level labels '
         '(set load_from to a GTA5 source-only model of this segmentor first)',
         lambda: [dict(name=f'wdass-{kind}_gta2cs', cfg_options={},
                       config=f'{WDASS_DIR}/wdass-{kind}_dlv2-r101v1b_b4-150k_gta2cs-512x512.py')
                  for kind in ('point', 'coarse', 'image')]),
})


def generate_experiment_cfgs(exp_id: int) -> List[Dict]:
    """The runs of experiment ``exp_id``; unknown ids raise naming the known ones."""
    if exp_id not in EXPERIMENTS:
        known = ', '.join(f'{k}: {v[0]}' for k, v in sorted(EXPERIMENTS.items()))
        raise KeyError(f'unknown experiment id {exp_id}; known experiments: {known}')
    return EXPERIMENTS[exp_id][1]()
