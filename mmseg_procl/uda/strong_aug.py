"""Strong photometric augmentation of DACS: colour jitter, then Gaussian blur (docs/methods.md §1.5 step 7).

References: DACS (Tranheden et al., WACV 2021) and DAFormer (Hoyer et al., CVPR 2022; reference
``mmseg/models/utils/dacs_transforms.py`` of github.com/lhoyer/DAFormer: ``strong_transform``,
``color_jitter``, ``gaussian_blur``).  The jitter reproduces kornia 0.5.x ``ColorJitter`` (DAFormer
pins kornia 0.5.8; the semantics are called ``ColorJiggle`` from kornia 0.6 on): per image
brightness ``b ~ U(1-s, 1+s)`` applied additively as ``clamp(x + (b - 1), 0, 1)``, contrast
``clamp(x * c, 0, 1)``, saturation ``S <- clamp(S * f, 0, 1)`` in kornia's HSV space and hue
``H <- fmod(H + 2*pi*h, 2*pi)`` with ``h ~ U(-s, s)``, the four applied in a random order.  The blur is
kornia's ``GaussianBlur2d`` (normalised sampled Gaussian, reflect border) with a kernel of about 10% of
each side, applied separably.  kornia is not a dependency: everything is written against torch.

Random parameters are drawn on the host (a CPU ``torch.Generator`` or the reference's numpy draws);
device work never reads device values back, so nothing here synchronises with the accelerator.
"""
import math
import random
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from mmseg_procl.registry import MODELS
from mmseg_procl.utils.host_sync import host_values

Factor = Union[float, torch.Tensor]

TWO_PI = 2 * math.pi
HSV_EPS = 1e-6  # kornia rgb_to_hsv default eps (added to V in the saturation denominator)
BLUR_SIGMA_RANGE = (0.15, 1.15)


# ----------------------------------------------------------------------------------------------------
# Gaussian blur
# ----------------------------------------------------------------------------------------------------
def blur_kernel_size(length: int) -> int:
    """DACS odd blur kernel size for a side of L pixels: floor(ceil(0.1L) - 0.5 + ceil(0.1L) % 2)."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length <= 0:
        raise ValueError(f'blur_kernel_size: length must be a positive int, got {length!r}')
    tenth = math.ceil(0.1 * int(length))  # 0.1 * L in double precision, as numpy computes it
    return int(math.floor(tenth - 0.5 + tenth % 2))


def _check_kernel_size(kernel_size: int, name: str) -> int:
    """Validate one odd positive kernel size (kornia rejects even sizes)."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)) \
            or kernel_size <= 0 or kernel_size % 2 == 0:
        raise ValueError(f'{name} must be an odd positive int, got {kernel_size!r}')
    return int(kernel_size)


def gaussian_kernel1d(kernel_size: int, sigmas: Union[torch.Tensor, Sequence[float]],
                      device: Optional[torch.device] = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised sampled Gaussians exp(-x^2 / 2 sigma^2), x = i - k//2, one row per sigma: (N, k)."""
    kernel_size = _check_kernel_size(kernel_size, 'kernel_size')
    offsets = torch.arange(kernel_size, device=device, dtype=dtype) - kernel_size // 2
    squared = offsets.pow(2.0)
    if isinstance(sigmas, torch.Tensor):
        # 2 sigma^2 in double then rounded once, as kornia's python-float sigma is.
        denom = (2 * sigmas.reshape(-1, 1).to(device=device, dtype=torch.float64) ** 2).to(dtype)
        weights = torch.exp(-squared / denom)
    else:
        weights = torch.stack([torch.exp(-squared / (2 * float(s) ** 2)) for s in sigmas])
    return weights / weights.sum(dim=-1, keepdim=True)


def gaussian_blur(imgs: torch.Tensor, sigmas: Union[torch.Tensor, Sequence[float]],
                  kernel_hw: Tuple[int, int]) -> torch.Tensor:
    """Blur each image of (B, C, H, W) with its own sigma, kornia GaussianBlur2d semantics (reflect).

    ``sigmas``: python floats (no transfer) or a tensor, ideally on ``imgs.device`` (a CPU tensor for
    device images costs a host-to-device copy).  ``kernel_hw`` = odd (k_h, k_w).
    """
    if imgs.dim() != 4:
        raise ValueError(f'gaussian_blur: imgs must be (B, C, H, W), got shape {tuple(imgs.shape)}')
    batch, channels, height, width = imgs.shape
    if len(sigmas) != batch:
        raise ValueError(f'gaussian_blur: sigmas must hold one value per image ({batch}), '
                         f'got {len(sigmas)}')
    k_h = _check_kernel_size(kernel_hw[0], 'kernel_hw[0]')
    k_w = _check_kernel_size(kernel_hw[1], 'kernel_hw[1]')
    if k_h // 2 >= height or k_w // 2 >= width:
        raise ValueError(f'gaussian_blur: kernel_hw {tuple(kernel_hw)} too large for reflect padding of '
                         f'a {height}x{width} image (need k//2 < side)')
    dtype = imgs.dtype if imgs.is_floating_point() else torch.float32
    # kornia builds the kernel in the default dtype (float32) and casts it to the input.
    col = gaussian_kernel1d(k_h, sigmas, imgs.device).to(dtype).repeat_interleave(channels, dim=0)
    row = gaussian_kernel1d(k_w, sigmas, imgs.device).to(dtype).repeat_interleave(channels, dim=0)
    padded = F.pad(imgs.to(dtype), (k_w // 2, k_w // 2, k_h // 2, k_h // 2), mode='reflect')
    stacked = padded.reshape(1, batch * channels, height + 2 * (k_h // 2), width + 2 * (k_w // 2))
    out = F.conv2d(stacked, col.view(-1, 1, k_h, 1), groups=batch * channels)
    out = F.conv2d(out, row.view(-1, 1, 1, k_w), groups=batch * channels)
    return out.view(batch, channels, height, width)


def sample_blur_sigmas(batch: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Per-image blur sigma ~ U(0.15, 1.15) in float64, drawn on the host: (batch,) CPU tensor."""
    low, high = BLUR_SIGMA_RANGE
    draws = torch.rand(batch, generator=generator, dtype=torch.float64)
    return low + draws * (high - low)


# ----------------------------------------------------------------------------------------------------
# HSV conversion (kornia.color.hsv, 0.5.x formulas: H in [0, 2pi), S and V in [0, 1])
# ----------------------------------------------------------------------------------------------------
def _select(index: torch.Tensor, options: Sequence[torch.Tensor]) -> torch.Tensor:
    """Elementwise ``options[index]`` for an integer-valued index map (no gather table on the host)."""
    out = options[-1]
    for value in range(len(options) - 2, -1, -1):
        out = torch.where(index == value, options[value], out)
    return out


def _check_rgb(image: torch.Tensor, name: str) -> None:
    """Raise unless ``image`` is (*, 3, H, W)."""
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f'{name}: image must be (*, 3, H, W), got shape {tuple(image.shape)}')


def rgb_to_hsv(image: torch.Tensor, eps: float = HSV_EPS) -> torch.Tensor:
    """RGB in [0, 1] to HSV (H radians in [0, 2pi)), kornia 0.5 formulas incl. S = delta / (V + eps)."""
    _check_rgb(image, 'rgb_to_hsv')
    red, green, blue = image.unbind(-3)
    value = image.amax(dim=-3)
    delta = value - image.amin(dim=-3)
    saturation = delta / (value + eps)
    delta = torch.where(delta == 0, torch.ones_like(delta), delta)
    d_red, d_green, d_blue = value - red, value - green, value - blue
    # Sector of the first channel holding the maximum (red, then green, then blue).
    sector = torch.where(red == value, 0, torch.where(green == value, 1, 2))
    hue = _select(sector, (d_blue - d_green,
                           2.0 * delta + d_red - d_blue,
                           4.0 * delta + d_green - d_red))
    hue = torch.remainder(hue / delta / 6.0, 1.0)
    return torch.stack([TWO_PI * hue, saturation, value], dim=-3)


def hsv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """HSV (H radians, any real value) to RGB, kornia 0.5 formulas (six hue sectors)."""
    _check_rgb(image, 'hsv_to_rgb')
    hue, saturation, value = image.unbind(-3)
    hue6 = hue / TWO_PI * 6
    sector = torch.remainder(torch.floor(hue6), 6)
    frac = torch.remainder(hue6, 6) - sector
    p = value * (1.0 - saturation)
    q = value * (1.0 - frac * saturation)
    t = value * (1.0 - (1.0 - frac) * saturation)
    red = _select(sector, (value, q, p, p, t, value))
    green = _select(sector, (t, value, value, q, p, p))
    blue = _select(sector, (p, p, t, value, value, q))
    return torch.stack([red, green, blue], dim=-3)


# ----------------------------------------------------------------------------------------------------
# Colour jitter (kornia 0.5 ColorJitter == kornia >= 0.6 ColorJiggle)
# ----------------------------------------------------------------------------------------------------
def _per_image(factor: Factor, like: torch.Tensor) -> Factor:
    """A python number as a float, or a (B,) / 0-d tensor shaped to broadcast over ``like``."""
    if not isinstance(factor, torch.Tensor):
        return float(factor)
    factor = factor.to(device=like.device, dtype=like.dtype)
    return factor.reshape((-1,) + (1,) * (like.dim() - 1)) if factor.dim() > 0 else factor


def adjust_brightness(image: torch.Tensor, shift: Factor) -> torch.Tensor:
    """Additive brightness of kornia 0.5: clamp(x + shift, 0, 1); ColorJitter passes shift = b - 1."""
    return torch.clamp(image + _per_image(shift, image), 0.0, 1.0)


def adjust_contrast(image: torch.Tensor, factor: Factor) -> torch.Tensor:
    """Multiplicative contrast of kornia 0.5: clamp(x * factor, 0, 1)."""
    return torch.clamp(image * _per_image(factor, image), 0.0, 1.0)


def adjust_saturation(image: torch.Tensor, factor: Factor) -> torch.Tensor:
    """Scale HSV saturation by ``factor`` and clamp it to [0, 1] (kornia 0.5 adjust_saturation)."""
    hue, saturation, value = rgb_to_hsv(image).unbind(-3)
    saturation = torch.clamp(saturation * _per_image(factor, saturation), 0.0, 1.0)
    return hsv_to_rgb(torch.stack([hue, saturation, value], dim=-3))


def adjust_hue(image: torch.Tensor, radians: Factor) -> torch.Tensor:
    """Shift HSV hue: H <- fmod(H + radians, 2pi) (kornia 0.5 adjust_hue; the result may be negative)."""
    hue, saturation, value = rgb_to_hsv(image).unbind(-3)
    hue = torch.fmod(hue + _per_image(radians, hue), TWO_PI)
    return hsv_to_rgb(torch.stack([hue, saturation, value], dim=-3))


def hue_to_radians(hue: Factor) -> Factor:
    """Hue fraction of the circle to radians as kornia computes it in float32: (h * 2) * float32(pi)."""
    if isinstance(hue, torch.Tensor):
        return hue * 2 * math.pi
    return float(np.float32(np.float32(hue) * np.float32(2)) * np.float32(math.pi))


def color_jiggle(img: torch.Tensor, brightness: Factor, contrast: Factor, saturation: Factor,
                 hue: Factor, order: Sequence[int]) -> torch.Tensor:
    """kornia 0.5 ColorJitter of RGB in [0, 1]; ``order`` of ops 0 bright, 1 contrast, 2 sat, 3 hue."""
    _check_rgb(img, 'color_jiggle')
    order = [int(i) for i in order]
    if sorted(order) != [0, 1, 2, 3]:
        raise ValueError(f'color_jiggle: order must be a permutation of 0..3, got {order}')
    shift = brightness - 1 if isinstance(brightness, torch.Tensor) else float(brightness) - 1.0
    ops = (lambda x: adjust_brightness(x, shift),
           lambda x: adjust_contrast(x, contrast),
           lambda x: adjust_saturation(x, saturation),
           lambda x: adjust_hue(x, hue_to_radians(hue)))
    for index in order:
        img = ops[index](img)
    return img


def sample_jiggle_params(strength: float, batch: int,
                         generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
    """Host-drawn per-image jitter parameters, image by image like DACS's batch-of-one kornia calls.

    Returns CPU tensors ``brightness``, ``contrast``, ``saturation`` (B,) ~ U(1-s, 1+s) (brightness range
    clamped to [0, 2]), ``hue`` (B,) ~ U(-s, s) (range clamped to [-0.5, 0.5]; a fraction of the circle)
    and ``order`` (B, 4) permutations.  Per image the draws follow kornia 0.5's sequence: brightness,
    contrast, hue, saturation (each ``low + rand * (high - low)`` in float32), then ``randperm(4)``.
    """
    if strength < 0:
        raise ValueError(f'sample_jiggle_params: strength must be >= 0, got {strength}')
    if batch < 0:
        raise ValueError(f'sample_jiggle_params: batch must be >= 0, got {batch}')
    s = torch.tensor(strength, dtype=torch.float32)
    ranges = dict(brightness=torch.stack([1 - s, 1 + s]).clamp(0, 2),
                  contrast=torch.stack([1 - s, 1 + s]).clamp(min=0),
                  hue=torch.stack([-s, s]).clamp(-0.5, 0.5),
                  saturation=torch.stack([1 - s, 1 + s]).clamp(min=0))
    params = {name: torch.empty(batch, dtype=torch.float32) for name in ranges}
    params['order'] = torch.empty(batch, 4, dtype=torch.long)
    for i in range(batch):
        for name, (low, high) in ranges.items():
            params[name][i] = low + torch.rand(1, generator=generator) * (high - low)
        params['order'][i] = torch.randperm(4, generator=generator)
    return params


# ----------------------------------------------------------------------------------------------------
# DACS strong transform
# ----------------------------------------------------------------------------------------------------
def _channel_stats(values: Union[torch.Tensor, Sequence[float]], imgs: torch.Tensor,
                   name: str) -> torch.Tensor:
    """Mean or std as (1 or B, 3, 1, 1) on the image device (pass device tensors to avoid a copy)."""
    values = torch.as_tensor(values, dtype=imgs.dtype, device=imgs.device)
    if values.dim() not in (1, 2) or values.shape[-1] != 3:
        raise ValueError(f'strong_transform: {name} must have shape (3,) or (B, 3) in 0-255 scale, '
                         f'got {tuple(values.shape)}')
    return values.reshape(-1, 3, 1, 1)


def _host_values(values: Union[torch.Tensor, np.ndarray, Sequence], name: str, batch: int) -> list:
    """Host values (CPU tensor, numpy array or sequence) as a python list with one entry per image."""
    if isinstance(values, torch.Tensor):
        if values.device.type != 'cpu':
            raise ValueError(f'strong_transform: {name} must be host values (CPU tensor, numpy or '
                             f'python numbers) to avoid a device sync, got a tensor on {values.device}')
        with host_values():             # CPU draws (checked above): no device synchronisation
            values = values.tolist()
    values = np.asarray(values).tolist()
    if len(values) != batch:
        raise ValueError(f'strong_transform: {name} must hold {batch} entries (one per image), '
                         f'got {len(values)}')
    return values


def jiggle_batch(imgs: torch.Tensor, params: Dict[str, torch.Tensor]) -> torch.Tensor:
    """``color_jiggle`` with per-image host parameters as returned by ``sample_jiggle_params``, batched:
    the images that share an op order are jittered in one call with their factors as (n,) tensors
    (the same values as image by image, since every op is per pixel)."""
    batch = imgs.shape[0]
    names = ('brightness', 'contrast', 'saturation', 'hue', 'order')
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f'strong_transform: jiggle_params lacks keys {missing}, expected {list(names)}')
    host = {name: _host_values(params[name], f"jiggle_params['{name}']", batch) for name in names}
    groups: Dict[Tuple[int, ...], List[int]] = {}
    for i, order in enumerate(host['order']):
        groups.setdefault(tuple(int(v) for v in order), []).append(i)
    if len(groups) == batch:                    # no shared order: python factors, no transfers
        return torch.cat([color_jiggle(imgs[i:i + 1], host['brightness'][i], host['contrast'][i],
                                       host['saturation'][i], host['hue'][i], host['order'][i])
                          for i in range(batch)])
    out = torch.empty_like(imgs)
    for order, members in groups.items():
        factors = {name: torch.tensor([host[name][i] for i in members], dtype=torch.float32)
                   for name in ('brightness', 'contrast', 'saturation', 'hue')}
        index = torch.tensor(members, device=imgs.device)
        out[index] = color_jiggle(imgs[index], factors['brightness'], factors['contrast'],
                                  factors['saturation'], factors['hue'], order)
    return out


def strong_transform(imgs: torch.Tensor, mean: Union[torch.Tensor, Sequence[float]],
                     std: Union[torch.Tensor, Sequence[float]], apply_jitter: bool, apply_blur: bool,
                     strength: float = 0.2,
                     sigmas: Optional[Union[torch.Tensor, np.ndarray, Sequence[float]]] = None,
                     jiggle_params: Optional[Dict[str, torch.Tensor]] = None,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """DACS strong augmentation of normalised RGB (B, 3, H, W): colour jitter, then Gaussian blur.

    ``apply_jitter`` (cj > 0.2) and ``apply_blur`` (bl > 0.5) are the caller's per-iteration host
    decisions.  Jitter de-normalises ``(x * std + mean) / 255``, applies per-image kornia-0.5 jitter with
    ``jiggle_params`` (default: ``sample_jiggle_params(strength, B, generator)``) and re-normalises
    ``(x * 255 - mean) / std``; blur uses per-image ``sigmas`` (default ~ U(0.15, 1.15) from
    ``generator``) and kernel sizes ``blur_kernel_size(H), blur_kernel_size(W)``.
    """
    if imgs.dim() != 4 or imgs.shape[1] != 3:
        raise ValueError(f'strong_transform: imgs must be (B, 3, H, W), got shape {tuple(imgs.shape)}')
    batch, _, height, width = imgs.shape
    if apply_jitter:
        mean_t = _channel_stats(mean, imgs, 'mean')
        std_t = _channel_stats(std, imgs, 'std')
        if jiggle_params is None:
            jiggle_params = sample_jiggle_params(strength, batch, generator)
        unit = (imgs * std_t + mean_t) / 255.0
        imgs = (jiggle_batch(unit, jiggle_params) * 255.0 - mean_t) / std_t
    if apply_blur:
        if sigmas is None:
            sigmas = sample_blur_sigmas(batch, generator)
        sigma_list = [float(v) for v in _host_values(sigmas, 'sigmas', batch)]
        imgs = gaussian_blur(imgs, sigma_list, (blur_kernel_size(height), blur_kernel_size(width)))
    return imgs


@MODELS.register_module()
class StrongAugmentation:
    """DACS strong augmentation as a policy part (built from ``strong_aug=``).

    Per iteration the two switches are drawn once on the host (``random``, as the reference):
    colour jitter when ``U(0,1) > color_jitter_probability``, blur (if ``blur``) when ``U(0,1) > 0.5``.
    ``__call__`` applies them to a batch with per-image jitter factors and blur sigmas
    (``per_image_sigma=True``, the per-image loop of the mixed images) or one sigma for the batch
    (``False``, the batch call SePiCo makes on whole source / target batches).
    """

    def __init__(self, color_jitter_strength: float = 0.2, color_jitter_probability: float = 0.2,
                 blur: bool = True) -> None:
        if isinstance(color_jitter_probability, bool) or not 0 <= color_jitter_probability <= 1:
            raise ValueError(f'StrongAugmentation: color_jitter_probability must be in [0, 1], got '
                             f'{color_jitter_probability!r}')
        self.strength, self.probability, self.blur = color_jitter_strength, color_jitter_probability, blur

    def draw_switches(self, blur_eligible: Optional[bool] = None) -> Tuple[bool, bool]:
        """(apply_jitter, apply_blur) of one iteration; ``blur_eligible`` overrides ``blur`` (MIC draws
        its own switches with blur always eligible, docs/methods.md §3 item 20)."""
        apply_jitter = random.uniform(0, 1) > self.probability
        eligible = self.blur if blur_eligible is None else blur_eligible
        apply_blur = eligible and random.uniform(0, 1) > 0.5
        return apply_jitter, apply_blur

    def __call__(self, imgs: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                 switches: Tuple[bool, bool], per_image_sigma: bool = True,
                 sigmas: Optional[np.ndarray] = None) -> torch.Tensor:
        """The strongly augmented (B, 3, H, W) batch; sigmas are drawn (numpy) only if blur applies."""
        apply_jitter, apply_blur = switches
        if apply_blur and sigmas is None:
            count = imgs.shape[0] if per_image_sigma else 1
            sigmas = np.random.uniform(*BLUR_SIGMA_RANGE, size=count)
            if not per_image_sigma:
                sigmas = np.repeat(sigmas, imgs.shape[0])
        return strong_transform(imgs, mean, std, apply_jitter, apply_blur, strength=self.strength,
                                sigmas=sigmas)
