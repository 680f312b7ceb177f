# Source-only DeepLabV2-red (ResNetV1c-101) on GTA5 -> Cityscapes (lower bound of the UDA methods).
# {method}_{segmentor-backbone}_{gpus}xb{batch}-{iters}k_{src}2{tgt}-{crop}
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/deeplabv2red_r101.py',
    '../_base_/datasets/gta2cs_512x512.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (512, 512)
# Pad training batches to the crop size (mmseg 0.16 Pad(size=crop_size, pad_val=0, seg_pad_val=255)).
model = dict(data_preprocessor=dict(size=crop_size))
randomness = dict(seed=0)  # DAFormer reports the mean over seeds 0, 1, 2 (run_experiments.py --exp)
