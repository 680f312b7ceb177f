"""mmseg_procl: domain-adaptive semantic segmentation (DACS / DAFormer / CLIP-ProCL family) on mmengine."""
__version__ = '0.1.0'
