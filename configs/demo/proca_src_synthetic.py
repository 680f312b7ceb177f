# ProCA stage 1 on the embedded synthetic shift (configs/proca/ for the paper setting): the source-only demo
# (source_only_synthetic.py: MiT-B0 + DAFormer head from scratch, AdamW, 400 iterations) trained with
# ProCA's loss, CE (mean over labelled pixels) + 0.75 Lovasz-softmax.  The four stages are chained by `python
# run_experiments.py --exp 23` (3 seeds; make the on-disk target scenes first, see proca_synthetic.py).
_base_ = ['source_only_synthetic.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),   # mean over labelled pixels
    dict(type='LovaszLoss', loss_weight=0.75)]))                           # SOLVER.LAMBDA_LOV
