"""Benchmark: one full training iteration (``train_step``) of every method, time and peak memory.

    python bench/train_step.py [--size tiny|reference] [--device cpu|cuda] [--dtype float32|bfloat16]
                               [--channels-last] [--compile] [--steps 3] [--warmup 1] [--methods NAME ...]
                               [--out FILE]

Each method is the shipped GTA5 -> Cityscapes config (algorithm, segmentor, objectives, optimizer incl. the
fused AdamW) with random weights (no pretrained file is read), trained on a fixed batch of procedural
driving scenes packed as the data pipeline packs them.  ``--size reference`` uses the configs' crops and
batch sizes (DAFormer 512, SePiCo / CLIP-ProCL DeepLabV2 640, HRDA / MIC / PCPR 1024 with 512 detail
crops); ``--size tiny`` divides every side by 4 (for CPUs).  The source-only rows train the same segmentor
on the source branch only (``SourceOnly``), so that ``ratio_over_source_only`` is the cost of the UDA
machinery: a DACS iteration does about 3 forward and 2 backward passes of the segmentor (teacher on the
target, student on the source and on the mix), so with a backward costing about two forwards its floor
is about (3 + 2 x 2) / (1 + 2) = 2.3 x a source-only iteration (1 forward + 1 backward).

Every method runs in its own child process: the median wall time of ``--steps`` iterations after a
warm-up (CUDA: synchronised), the peak memory (CUDA: the allocator's peak; CPU: the child's peak resident
set size, interpreter and weights included), and whether one more iteration passes under
:func:`mmseg_procl.utils.forbid_host_sync` (``host_sync``: ``"none"`` or the first host read).  Prints
one JSON object (command, machine, versions, per-method numbers, ratios).
"""
import argparse
import copy
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from common import emit_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

DAFORMER = 'configs/daformer/daformer_mitb5_1xb2-40k_gta2cs-512x512.py'
DLV2 = 'configs/dacs/dacs_dlv2red-r101_1xb2-40k_gta2cs-512x512.py'
HRDA = 'configs/hrda/hrda_mitb5_1xb2-40k_gtaHR2csHR-1024x1024.py'
# name: (config, 'source_only' | 'no_objectives' | 'as_is', the source-only row it is compared with)
METHODS = {
    'source-only DAFormer': (DAFORMER, 'source_only', None),
    'DACS DAFormer-net': (DAFORMER, 'no_objectives', 'source-only DAFormer'),
    'DAFormer (DACS + FD)': (DAFORMER, 'as_is', 'source-only DAFormer'),
    'CLIP-ProCL DAFormer': ('configs/clip_procl/clip_procl_daformer-mitb5_1xb2-40k_gta2cs-512x512.py',
                            'as_is', 'source-only DAFormer'),
    'source-only DeepLabV2': (DLV2, 'source_only', None),
    'DACS DeepLabV2': (DLV2, 'as_is', 'source-only DeepLabV2'),
    'CLIP-ProCL DeepLabV2 640': ('configs/clip_procl/clip_procl_dlv2red-r101_1xb2-40k_gta2cs-640x640.py',
                                 'as_is', None),
    'SePiCo DistCL DAFormer 640': ('configs/sepico/sepico-distcl_daformer-mitb5_1xb2-40k_gta2cs-640x640.py',
                                   'as_is', None),
    'source-only HRDA': (HRDA, 'source_only', None),
    'HRDA': (HRDA, 'as_is', 'source-only HRDA'),
    'MIC (HRDA)': ('configs/mic/mic-hrda_mitb5_1xb2-40k_gtaHR2csHR-1024x1024.py', 'as_is',
                   'source-only HRDA'),
    'PCPR (batch 1)': ('configs/pcpr/pcpr_hrda-mitb5_1xb1-80k_gtaHR2csHR-1024x1024.py', 'as_is', None),
}
HRDA_TYPES = ('HRDAEncoderDecoder', 'CLIPHRDAEncoderDecoder', 'PCPREncoderDecoder')


def scaled(hw, div: int):
    """(H, W) divided by ``div``."""
    return tuple(int(v) // div for v in hw)


def branch_shape(pipeline) -> tuple:
    """(H, W) of a branch's training images: the crop if it crops, else the resize scale."""
    steps = {t['type']: t for t in pipeline}
    if 'RandomCrop' in steps:
        return tuple(steps['RandomCrop']['crop_size'])
    width, height = steps['Resize']['scale']
    return height, width


def strip_pretrained(cfg) -> None:
    """No pretrained file is read: backbone / FD model init_cfg and CLIP weights removed."""
    cfg.model.model.backbone.pop('init_cfg', None)
    if 'clip_weights' in cfg.model.model:
        cfg.model.model.clip_weights = None
    for objective in cfg.model.get('objectives', []):
        objective.get('backbone', {}).pop('init_cfg', None)
        if 'clip_weights' in objective:
            objective.clip_weights = None


def method_config(name: str, size: str, channels_last: bool = False, compile_segmentor: bool = False):
    """(config, source shape, target shape, batch size, loads offline labels) of a method at a size,
    with the algorithm's ``channels_last`` / ``compile_segmentor`` switches if asked."""
    from mmengine.config import Config
    from mmseg_procl.apis.config_utils import compose_uda_model
    path, variant, _ = METHODS[name]
    cfg = compose_uda_model(Config.fromfile(os.path.join(REPO, path)))
    strip_pretrained(cfg)
    div = 4 if size == 'tiny' else 1
    uda = cfg.train_dataloader.dataset
    source_hw = scaled(branch_shape(uda.source.pipeline), div)
    target_hw = scaled(branch_shape(uda.target.pipeline), div)
    segmentor = cfg.model.model
    if segmentor.data_preprocessor.get('size'):
        segmentor.data_preprocessor.size = scaled(segmentor.data_preprocessor.size, div)
    if segmentor.type in HRDA_TYPES:
        segmentor.hr_crop_size = scaled(segmentor.hr_crop_size, div)
    if cfg.model.get('masking'):
        cfg.model.masking.mask_block_size = max(1, cfg.model.masking.mask_block_size // div)
    if cfg.model.get('target_crop'):
        cfg.model.target_crop.crop_size = scaled(cfg.model.target_crop.crop_size, div)
    if variant == 'no_objectives':
        cfg.model.objectives = []
    if variant == 'source_only':
        cfg.model = dict(type='SourceOnly', model=segmentor)
    if channels_last:
        cfg.model['channels_last'] = True
    if compile_segmentor:
        cfg.model['compile_segmentor'] = dict()
    offline = any(t['type'] == 'LoadPseudoLabels' for t in uda.target.pipeline)
    return cfg, source_hw, target_hw, cfg.train_dataloader.batch_size, offline


def packed_batch(source_hw, target_hw, batch: int, offline: bool) -> dict:
    """A collated UDA batch of procedural scenes (source labelled; target with offline labels if used)."""
    from mmseg_procl.datasets.label_tables import build_lut, cityscapes_id_to_trainid
    from mmseg_procl.datasets.synthetic_scenes import render_scene
    from mmseg_procl.datasets.transforms import PackSegInputs
    lut, pack = build_lut(cityscapes_id_to_trainid()), PackSegInputs()
    out = {}
    for branch, (h, w), style in (('source', source_hw, 'source'), ('target', target_hw, 'target')):
        items = []
        for i in range(batch):
            img, ids = render_scene(style, 7 + i, (w, h))
            results = dict(img=img, img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), flip=False,
                           img_path=f'{branch}_{i}.png', scale_factor=(1.0, 1.0))
            if branch == 'source':
                results['gt_seg_map'] = lut[ids]
            elif offline:
                results['pseudo_label'] = lut[ids]
            items.append(pack(results))
        out[branch] = dict(inputs=[it['inputs'] for it in items],
                           data_samples=[it['data_samples'] for it in items])
    return out


def optim_wrapper_config(cfg, device: str, dtype: str) -> dict:
    """The config's optimizer wrapper; bf16 through AmpOptimWrapper (CUDA) as ``--amp`` sets it."""
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    if dtype == 'bfloat16':
        if device != 'cuda':
            raise SystemExit('--dtype bfloat16 needs --device cuda (mmengine AmpOptimWrapper)')
        wrapper.update(type='AmpOptimWrapper', dtype='bfloat16', loss_scale=1.0)
    return wrapper


def measure(name: str, args) -> dict:
    """Median iteration time, peak memory and the host-sync check of one method (in a child process)."""
    import random
    from mmengine.optim import build_optim_wrapper
    from mmseg_procl.registry import MODELS
    from mmseg_procl.utils import HostSyncError, forbid_host_sync, register_all_modules
    register_all_modules()
    cfg, source_hw, target_hw, batch, offline = method_config(name, args.size, args.channels_last,
                                                              args.compile)
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    algo = MODELS.build(cfg.model)
    algo.init_weights()
    algo.to(args.device).train()
    wrapper = build_optim_wrapper(algo, optim_wrapper_config(cfg, args.device, args.dtype))
    data = packed_batch(source_hw, target_hw, batch, offline)

    def step():
        algo.train_step(copy.copy(data), wrapper)
        if args.device == 'cuda':
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    if args.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if args.device == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    try:
        with forbid_host_sync():
            algo.train_step(copy.copy(data), wrapper)
        host_sync = 'none'
    except HostSyncError as error:
        host_sync = str(error)
    return dict(config=METHODS[name][0], source_hw=list(source_hw), target_hw=list(target_hw), batch=batch,
                step_s=round(statistics.median(times), 4), step_s_all=[round(t, 4) for t in times],
                peak_memory_mib=round(peak / 2 ** 20, 1), host_sync=host_sync,
                trained_parameters=sum(p.numel() for p in algo.parameters() if p.requires_grad))


def run_child(name: str, argv) -> dict:
    """``measure(name)`` in a fresh interpreter; its JSON (or the error it printed)."""
    child = [sys.executable, os.path.abspath(__file__), '--child', name] + list(argv)
    out = subprocess.run(child, capture_output=True, text=True, cwd=REPO)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return dict(error=(out.stderr or out.stdout)[-1500:])
    return json.loads(lines[-1])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', default='tiny', choices=['tiny', 'reference'])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'])
    parser.add_argument('--steps', type=int, default=3, help='timed iterations (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first (compile: more)')
    parser.add_argument('--channels-last', action='store_true', help="the algorithms' channels_last=True")
    parser.add_argument('--compile', action='store_true', help="compile_segmentor=dict() (torch.compile)")
    parser.add_argument('--methods', nargs='+', choices=sorted(METHODS), metavar='NAME',
                        help=f'subset of: {", ".join(METHODS)}')
    parser.add_argument('--out', help='also write the JSON to this file')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Measure every method in a child process; print (and optionally save) the JSON record."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return 0
    names = args.methods or list(METHODS)
    forwarded = [a for a in argv if a not in ('--methods', *names)]
    if '--out' in forwarded:
        i = forwarded.index('--out')
        forwarded = forwarded[:i] + forwarded[i + 2:]
    results, start = {}, time.time()
    for k, name in enumerate(names):
        eta = '' if k == 0 else f', about {(time.time() - start) / k * (len(names) - k):.0f} s left'
        print(f'[{k + 1}/{len(names)}] {name}{eta}', file=sys.stderr, flush=True)
        results[name] = run_child(name, forwarded)
    for name, row in results.items():
        base = METHODS[name][2]
        if base in results and 'step_s' in row and 'step_s' in results[base]:
            row['ratio_over_source_only'] = round(row['step_s'] / results[base]['step_s'], 3)
            row['memory_ratio_over_source_only'] = round(row['peak_memory_mib']
                                                         / results[base]['peak_memory_mib'], 3)
    record = dict(command=' '.join(['python', 'bench/train_step.py'] + argv), machine=platform.platform(),
                  processor=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                  device=args.device,
                  device_name=torch.cuda.get_device_name() if args.device == 'cuda' else None,
                  torch=torch.__version__, threads=torch.get_num_threads(), dtype=args.dtype, size=args.size,
                  channels_last=args.channels_last, compile=args.compile, steps=args.steps,
                  warmup=args.warmup, methods=results)
    emit_json(record, args.out, indent=1)
    failed = [name for name, row in results.items() if 'error' in row]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
