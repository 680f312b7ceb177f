"""Benchmark: one training forward + backward of HRDA vs DAFormer on the same crop (time and peak memory).

    python bench/hrda_vs_daformer.py [--crop 512] [--backbone mit_b5] [--repeats 3] [--device cpu|cuda]
                                     [--dtype float32|bfloat16]

Both segmentors use the released heads (DAFormer sepaspp; HRDA = the same head on a 0.5-scale context
of the crop and a detail crop of half the crop side, plus the scale attention head). Each one runs in its
own child process (so the peak resident memory of one does not hide the other's): the median time of
``train_forward`` + backward over ``--repeats`` steps after a warm-up, and the peak memory (CUDA: the
allocator's peak; CPU: the child's peak resident set size, which includes the interpreter and the
weights).  Prints one JSON object with the command, machine, versions, both measurements and the ratios.
"""
import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

NORM = dict(type='BN', requires_grad=True)


def daformer_head(in_channels) -> dict:
    """The released DAFormer sepaspp head (19 classes)."""
    return dict(type='DAFormerHead', in_channels=list(in_channels), in_index=[0, 1, 2, 3], channels=256,
                dropout_ratio=0.1, num_classes=19, norm_cfg=NORM, align_corners=False,
                decoder_params=dict(embed_dims=256, embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6, 12, 18),
                                                    pool=False, act_cfg=dict(type='ReLU'), norm_cfg=NORM)),
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))


def model_config(kind: str, backbone: str, crop: int) -> dict:
    """DAFormer or HRDA (detail crop = half the crop side) on ``backbone``."""
    from mmseg_procl.models.backbones.mit_presets import MIT_ARCH_SETTINGS
    head = daformer_head(MIT_ARCH_SETTINGS[backbone]['embed_dims'])
    if kind == 'daformer':
        return dict(type='EncoderDecoder', backbone=dict(type=backbone), decode_head=head)
    return dict(type='HRDAEncoderDecoder', backbone=dict(type=backbone),
                decode_head=dict(type='HRDAHead', head=head), hr_crop_size=(crop // 2, crop // 2))


def measure(kind: str, args) -> dict:
    """Median step time and peak memory of one segmentor (run in a child process)."""
    import numpy as np
    from mmengine.structures import PixelData
    from mmseg_procl.registry import MODELS
    from mmseg_procl.structures import SegDataSample
    from mmseg_procl.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    np.random.seed(0)
    device, dtype = args.device, getattr(torch, args.dtype)
    model = MODELS.build(model_config(kind, args.backbone, args.crop)).to(device).train()
    inputs = torch.randn(args.batch, 3, args.crop, args.crop, device=device)
    samples = []
    for _ in range(args.batch):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, args.crop, args.crop), device=device))
        samples.append(sample)

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=dtype, enabled=dtype != torch.float32):
            losses, _ = model.train_forward(inputs, samples, ('decode_head',))
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    step()
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    params = sum(p.numel() for p in model.parameters())
    return dict(step_s=round(sorted(times)[len(times) // 2], 4), peak_memory_mib=round(peak / 2 ** 20, 1),
                parameters=params)


def main(argv=None) -> int:
    """Measure both segmentors in child processes and print the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--crop', type=int, default=512, help='training crop side (HRDA detail: half)')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--backbone', default='mit_b5')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'])
    parser.add_argument('--child', choices=['daformer', 'hrda'], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return 0
    results = {}
    for kind in ('daformer', 'hrda'):
        child = [sys.executable, __file__, '--child', kind] + [a for a in (argv or sys.argv[1:])]
        out = subprocess.run(child, capture_output=True, text=True, check=True)
        results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(dict(
        command=' '.join(['python'] + sys.argv), machine=platform.platform(),
        processor=platform.processor() or platform.machine(), device=args.device,
        device_name=torch.cuda.get_device_name() if args.device == 'cuda' else None,
        torch=torch.__version__, threads=torch.get_num_threads(), dtype=args.dtype, backbone=args.backbone,
        crop=args.crop, batch=args.batch, hrda_detail_crop=args.crop // 2, daformer=results['daformer'],
        hrda=results['hrda'],
        time_ratio_hrda_over_daformer=round(results['hrda']['step_s'] / results['daformer']['step_s'], 3),
        memory_ratio_hrda_over_daformer=round(results['hrda']['peak_memory_mib']
                                              / results['daformer']['peak_memory_mib'], 3),
    ), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
