# SePiCo DistCL: distribution-aware contrast (class means and diagonal variances).
_base_ = ['sepico.py']
