# PCPR ablation: without the reconstructed LR / HR pseudo-label filtering (the teacher's fused
# pseudo-labels as in MIC; the offline labels are then unused).
# Everything else as pcpr_hrda-mitb5_1xb1-80k_gtaHR2csHR-1024x1024.py.
_base_ = ['pcpr_hrda-mitb5_1xb1-80k_gtaHR2csHR-1024x1024.py']
uda = dict(label_filter=None)
