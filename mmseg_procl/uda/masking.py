"""BlockMasking: MIC's random block masking of images (masked image consistency).

MIC (Hoyer et al., "MIC: Masked Image Consistency for Context-Enhanced Domain Adaptation", CVPR 2023;
github.com/lhoyer/MIC ``seg/mmseg/models/utils/masking_transforms.py``; docs/methods.md §2.4): a grid of
``round(H / b) x round(W / b)`` blocks is drawn per image, a block is kept iff ``U(0, 1) > mask_ratio``,
the grid is upsampled (nearest) to the image size and multiplies the normalised image, so masked pixels
become 0 (the dataset mean colour).  HRDA configs use ``b = 64`` (1024 crops), DAFormer ``b = 32``
(512 crops), both with ratio 0.7.  The self-training algorithm trains the student on the masked images
with the teacher's pseudo-labels of the unmasked ones (``DACS`` entries ``masked_*``).
"""
import torch
import torch.nn.functional as F

from mmseg_procl.registry import MODELS


@MODELS.register_module()
class BlockMasking:
    """Random block masks (1 = kept) and the masked images."""

    def __init__(self, mask_ratio: float = 0.7, mask_block_size: int = 64) -> None:
        """``mask_ratio``: probability that a block is masked; ``mask_block_size``: block side in pixels."""
        if not 0 <= mask_ratio < 1:
            raise ValueError(f'BlockMasking: mask_ratio must be in [0, 1), got {mask_ratio!r}')
        if not isinstance(mask_block_size, int) or mask_block_size < 1:
            raise ValueError(f'BlockMasking: mask_block_size must be a positive integer, got {mask_block_size!r}')
        self.mask_ratio, self.mask_block_size = mask_ratio, mask_block_size

    @torch.no_grad()
    def masks(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) float masks for a (B, C, H, W) batch (torch's generator, on the batch's device)."""
        batch, _, height, width = imgs.shape
        grid = (batch, 1, round(height / self.mask_block_size), round(width / self.mask_block_size))
        keep = (torch.rand(grid, device=imgs.device) > self.mask_ratio).float()
        return F.interpolate(keep, size=(height, width), mode='nearest')

    @torch.no_grad()
    def __call__(self, imgs: torch.Tensor) -> torch.Tensor:
        """The batch with the masked blocks set to 0."""
        return imgs * self.masks(imgs)
