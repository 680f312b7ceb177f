"""Named experiment lists for ``run_experiments.py --exp N``.

Each list entry is ``dict(name=..., config=..., cfg_options={...})``: a config file plus explicit
overrides (e.g. the random seed), so every generated run is an ordinary config with a few keys
changed; the dumped config in its work dir records them.  The DAFormer family reports the mean of
three seeds (0, 1, 2), hence the seed sweeps.
"""
from typing import Callable, Dict, List, Tuple

SEEDS = (0, 1, 2)


def seed_sweep(name: str, config: str, seeds=SEEDS) -> List[Dict]:
    """One run of ``config`` per seed."""
    return [dict(name=f'{name}_s{s}', config=config, cfg_options={'randomness.seed': s})
            for s in seeds]


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
}


def generate_experiment_cfgs(exp_id: int) -> List[Dict]:
    """The runs of experiment ``exp_id``; unknown ids raise naming the known ones."""
    if exp_id not in EXPERIMENTS:
        known = ', '.join(f'{k}: {v[0]}' for k, v in sorted(EXPERIMENTS.items()))
        raise KeyError(f'unknown experiment id {exp_id}; known experiments: {known}')
    return EXPERIMENTS[exp_id][1]()
