"""Benchmark: CLIP text tower on the 19 CoOp prompts, cut after the last EOT token vs 77 positions.

    python bench/clip_text_prompts.py [--repeats 5] [--device cpu|cuda]

Runs forward + backward to the context (frozen tower, RN101 text shape: width 512, 12 layers) both
ways on the same prompts, checks that the pooled embeddings agree, and prints one JSON object with
the command, the machine and the measured times and ratio.
"""
import argparse
import json
import platform
import sys
import time

import torch

from mmseg_procl.models.text import CLIPTextEncoder, PromptLearner


def timed(fn, repeats: int, device: str) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> int:
    """Measure both variants and print the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    text = CLIPTextEncoder().to(args.device).requires_grad_(False)
    learner = PromptLearner(ctx_dim=512).to(args.device)
    ids = learner.token_ids

    def run(length):
        learner.ctx.grad = None
        out = text.encode_embeddings(learner(text.token_embedding), ids, length)
        out.sum().backward()
        return out.detach()

    cut, full = run(learner.seq_length), run(ids.shape[1])
    max_diff = (cut - full).abs().max().item()
    t_cut = timed(lambda: run(learner.seq_length), args.repeats, args.device)
    t_full = timed(lambda: run(ids.shape[1]), args.repeats, args.device)
    print(json.dumps(dict(
        command=' '.join(['python'] + sys.argv), machine=platform.platform(),
        processor=platform.processor() or platform.machine(), device=args.device,
        torch=torch.__version__, threads=torch.get_num_threads(), prompts=int(ids.shape[0]),
        positions_cut=learner.seq_length, positions_full=int(ids.shape[1]),
        seconds_cut=round(t_cut, 4), seconds_full=round(t_full, 4),
        speedup=round(t_full / t_cut, 2), max_abs_diff=max_diff), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
