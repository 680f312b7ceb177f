#!/bin/sh
# The GPU measurements of the performance work, as one script (README "Performance"):
# DAFormer MiT-B5 GTA5 -> Cityscapes 512 and CLIP-ProCL DeepLabV2 640 training steps in fp32 and bf16 at
# the reference sizes, then every method in bf16, then channels-last and torch.compile variants; JSON into
# bench/results/. About 10-15 minutes on one H200.
#   sh bench/gpu_check.sh
set -e
mkdir -p bench/results
python bench/train_step.py --device cuda --size reference --dtype float32 --warmup 3 --steps 10 \
    --methods "source-only DAFormer" "DAFormer (DACS + FD)" "CLIP-ProCL DeepLabV2 640" \
    --out bench/results/train_step_cuda_reference_fp32.json
python bench/train_step.py --device cuda --size reference --dtype bfloat16 --warmup 3 --steps 10 \
    --out bench/results/train_step_cuda_reference_bf16.json
python bench/train_step.py --device cuda --size reference --dtype bfloat16 --channels-last --warmup 3 \
    --steps 10 --methods "DAFormer (DACS + FD)" "DACS DeepLabV2" "CLIP-ProCL DeepLabV2 640" \
    --out bench/results/train_step_cuda_reference_bf16_channels-last.json
python bench/train_step.py --device cuda --size reference --dtype bfloat16 --compile --warmup 5 \
    --steps 10 --methods "DAFormer (DACS + FD)" "DACS DeepLabV2" \
    --out bench/results/train_step_cuda_reference_bf16_compile.json
