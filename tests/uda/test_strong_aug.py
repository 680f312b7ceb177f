"""Tests of the DACS strong augmentation (kornia 0.5 ColorJitter semantics, Gaussian blur)."""
import itertools
import math

import numpy as np
import pytest
import torch

from mmseg_procl.uda.strong_aug import (adjust_brightness, adjust_contrast, adjust_hue,
                                        adjust_saturation, blur_kernel_size, color_jiggle,
                                        gaussian_blur, gaussian_kernel1d, hsv_to_rgb, hue_to_radians,
                                        jiggle_batch, rgb_to_hsv, sample_blur_sigmas,
                                        sample_jiggle_params, strong_transform)

MEAN = torch.tensor([123.675, 116.28, 103.53])
STD = torch.tensor([58.395, 57.12, 57.375])


def rgb(r, g, b):
    """A (1, 3, 1, 1) image of one RGB pixel."""
    return torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)


# ---------------------------------------------------------------- blur
@pytest.mark.parametrize('length, expected', [(512, 51), (640, 63), (1024, 103), (256, 25), (50, 5),
                                              (16, 1), (8, 1),
                                              (30, 3)])  # 0.1*30 = 3.0000000000000004 -> ceil 4 -> 3
def test_blur_kernel_size_reference_formula(length, expected):
    assert blur_kernel_size(length) == expected


def test_blur_kernel_size_rejects_non_positive():
    with pytest.raises(ValueError, match='length'):
        blur_kernel_size(0)


def test_gaussian_kernel_hand_values_and_normalisation():
    x = torch.arange(-2, 3, dtype=torch.float64)
    g = torch.exp(-x ** 2 / 2)
    expected = (g / g.sum()).float()
    kernel = gaussian_kernel1d(5, [1.0])[0]
    torch.testing.assert_close(kernel, expected, atol=1e-7, rtol=0)
    by_hand = torch.tensor([0.0544887, 0.2442013, 0.4026199, 0.2442013, 0.0544887])
    torch.testing.assert_close(kernel, by_hand, atol=1e-6, rtol=0)
    # values printed in kornia 0.5.8's get_gaussian_kernel1d docstring
    torch.testing.assert_close(gaussian_kernel1d(3, [2.5])[0], torch.tensor([0.3243, 0.3513, 0.3243]),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(gaussian_kernel1d(5, torch.tensor([1.5]))[0],
                               torch.tensor([0.1201, 0.2339, 0.2921, 0.2339, 0.1201]), atol=1e-4, rtol=0)
    kernels = gaussian_kernel1d(51, torch.tensor([0.15, 0.6, 1.15]))
    torch.testing.assert_close(kernels.sum(1), torch.ones(3))
    assert kernels[0, 25] > 0.999  # sigma 0.15 is almost a delta


def test_blur_constant_image_unchanged():
    img = torch.full((2, 3, 20, 30), 0.37)
    out = gaussian_blur(img, [0.4, 1.1], (blur_kernel_size(20), 5))
    torch.testing.assert_close(out, img, atol=1e-6, rtol=0)


def test_blur_impulse_gives_outer_product_of_kernel():
    img = torch.zeros(1, 1, 9, 9)
    img[0, 0, 4, 4] = 1.0
    out = gaussian_blur(img, [1.0], (5, 5))[0, 0]
    x = torch.arange(-2, 3, dtype=torch.float64)
    g = torch.exp(-x ** 2 / 2)
    g = g / g.sum()
    expected = torch.zeros(9, 9, dtype=torch.float64)
    expected[2:7, 2:7] = torch.outer(g, g)
    torch.testing.assert_close(out.double(), expected, atol=1e-7, rtol=0)
    assert out[4, 4].item() == pytest.approx(0.4026199 ** 2, abs=1e-6)


def test_blur_reflect_border():
    row = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]).view(1, 1, 1, 5)
    out = gaussian_blur(row, [1.0], (1, 3))[0, 0, 0]
    e = math.exp(-0.5)
    z = 1 + 2 * e
    # reflect pads [2, 1, 2, 3, 4, 5, 4] (replicate would pad 1 and 5)
    expected = torch.tensor([(1 + 4 * e) / z, 2.0, 3.0, 4.0, (5 + 8 * e) / z])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_blur_per_image_sigma_matches_single_images():
    gen = torch.Generator().manual_seed(3)
    imgs = torch.rand(2, 3, 12, 14, generator=gen)
    both = gaussian_blur(imgs, [0.3, 1.1], (5, 7))
    first = gaussian_blur(imgs[:1], [0.3], (5, 7))
    second = gaussian_blur(imgs[1:], [1.1], (5, 7))
    torch.testing.assert_close(both, torch.cat([first, second]), atol=1e-7, rtol=0)
    as_tensor = gaussian_blur(imgs, torch.tensor([0.3, 1.1], dtype=torch.float64), (5, 7))
    torch.testing.assert_close(as_tensor, both, atol=1e-7, rtol=0)
    assert not torch.allclose(first, gaussian_blur(imgs[:1], [1.1], (5, 7)), atol=1e-3)


def test_blur_equals_full_2d_kernel_convolution():
    """Separable result == one 2-D conv with the outer-product kernel after reflect padding (kornia)."""
    imgs = torch.rand(2, 3, 23, 31, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    sigmas = [0.35, 1.05]
    k_h, k_w = 7, 5  # larger than the DACS sizes (3, 3) for this image, to exercise the border
    out = gaussian_blur(imgs, sigmas, (k_h, k_w))
    for i, sigma in enumerate(sigmas):
        kernel = torch.outer(gaussian_kernel1d(k_h, [sigma])[0], gaussian_kernel1d(k_w, [sigma])[0])
        padded = torch.nn.functional.pad(imgs[i:i + 1], (k_w // 2, k_w // 2, k_h // 2, k_h // 2),
                                         mode='reflect')
        ref = torch.nn.functional.conv2d(padded, kernel.double().expand(3, 1, k_h, k_w), groups=3)
        torch.testing.assert_close(out[i:i + 1], ref, atol=1e-7, rtol=0)


def test_blur_argument_errors():
    img = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r'kernel_hw\[1\]'):
        gaussian_blur(img, [1.0], (3, 4))
    with pytest.raises(ValueError, match='sigmas'):
        gaussian_blur(img, [1.0, 2.0], (3, 3))
    with pytest.raises(ValueError, match='too large'):
        gaussian_blur(img, [1.0], (17, 3))


# ---------------------------------------------------------------- HSV
@pytest.mark.parametrize('pixel, hsv', [
    ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)),
    ((0.0, 1.0, 0.0), (2 * math.pi / 3, 1.0, 1.0)),
    ((0.0, 0.0, 1.0), (4 * math.pi / 3, 1.0, 1.0)),
    ((1.0, 1.0, 0.0), (math.pi / 3, 1.0, 1.0)),
    ((0.5, 0.5, 0.5), (0.0, 0.0, 0.5)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((0.5, 0.25, 0.25), (0.0, 0.25 / (0.5 + 1e-6), 0.5)),  # kornia's S = delta / (V + eps)
])
def test_rgb_to_hsv_hand_values(pixel, hsv):
    out = rgb_to_hsv(rgb(*pixel)).flatten()
    torch.testing.assert_close(out, torch.tensor(hsv), atol=1e-6, rtol=0)


def test_hsv_to_rgb_hand_values_and_round_trip():
    hsv = torch.tensor([math.pi, 0.5, 0.8]).view(1, 3, 1, 1)  # cyan-ish: sector 3, f = 0
    torch.testing.assert_close(hsv_to_rgb(hsv).flatten(), torch.tensor([0.4, 0.8, 0.8]),
                               atol=1e-6, rtol=0)
    # negative hue (as fmod in adjust_hue can produce) is read modulo 2pi
    neg = torch.tensor([-2 * math.pi / 3, 1.0, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(hsv_to_rgb(neg).flatten(), torch.tensor([0.0, 0.0, 1.0]),
                               atol=1e-6, rtol=0)
    img = torch.rand(2, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(img)), img, atol=2e-6, rtol=0)


# ---------------------------------------------------------------- single ops
def test_brightness_is_additive_with_clamp():
    img = torch.tensor([0.5, 0.95, 0.05]).view(1, 3, 1, 1)
    torch.testing.assert_close(adjust_brightness(img, 0.1).flatten(), torch.tensor([0.6, 1.0, 0.15]))
    torch.testing.assert_close(adjust_brightness(img, -0.1).flatten(), torch.tensor([0.4, 0.85, 0.0]))
    # through color_jiggle the factor b = 1.1 becomes the shift b - 1
    # (neutral saturation / hue still round-trip through HSV, hence the 1e-5 tolerance)
    out = color_jiggle(img, 1.1, 1.0, 1.0, 0.0, [0, 1, 2, 3])
    torch.testing.assert_close(out.flatten(), torch.tensor([0.6, 1.0, 0.15]), atol=1e-5, rtol=0)


def test_contrast_is_multiplicative_with_clamp():
    img = torch.tensor([0.5, 0.9, 0.2]).view(1, 3, 1, 1)
    torch.testing.assert_close(adjust_contrast(img, 1.2).flatten(), torch.tensor([0.6, 1.0, 0.24]))
    per_image = adjust_contrast(img.repeat(2, 1, 1, 1), torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(per_image.flatten(), torch.tensor([0.25, 0.45, 0.1, 1.0, 1.0, 0.4]))


def test_hue_third_of_circle_maps_red_to_green_and_blue():
    red = rgb(1.0, 0.0, 0.0)
    torch.testing.assert_close(adjust_hue(red, 2 * math.pi / 3).flatten(), torch.tensor([0.0, 1.0, 0.0]),
                               atol=1e-5, rtol=0)
    blue = torch.tensor([0.0, 0.0, 1.0])
    torch.testing.assert_close(adjust_hue(red, -2 * math.pi / 3).flatten(), blue, atol=1e-5, rtol=0)
    # color_jiggle takes the hue shift as a fraction of the circle
    jiggled = color_jiggle(red, 1.0, 1.0, 1.0, 1 / 3, [3, 2, 1, 0])
    torch.testing.assert_close(jiggled.flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-5, rtol=0)


def test_hue_to_radians_rounds_like_kornia_float32():
    assert hue_to_radians(0.25) == float(np.float32(0.5) * np.float32(math.pi))
    torch.testing.assert_close(hue_to_radians(torch.tensor([0.25])), torch.tensor([math.pi / 2]))


def test_saturation_zero_gives_grey_and_scales_s():
    img = rgb(0.8, 0.4, 0.2)
    torch.testing.assert_close(adjust_saturation(img, 0.0).flatten(), torch.full((3,), 0.8))
    half = adjust_saturation(img, 0.5)
    s = (0.6 / (0.8 + 1e-6)) * 0.5
    torch.testing.assert_close(rgb_to_hsv(half)[0, 1].flatten(), torch.tensor([s]), atol=1e-6, rtol=0)
    torch.testing.assert_close(half.amax(1).flatten(), torch.tensor([0.8]))
    # S is clamped to 1; hue (1/18 of the circle, sector 0, f = 1/3) and V are kept: (V, V*f, 0)
    torch.testing.assert_close(adjust_saturation(img, 10.0).flatten(), torch.tensor([0.8, 0.8 / 3, 0.0]),
                               atol=1e-6, rtol=0)


def test_op_order_matters():
    img = torch.full((1, 3, 1, 1), 0.8)
    bright_first = color_jiggle(img, 1.1, 0.5, 1.0, 0.0, [0, 1, 2, 3])  # clamp(0.9) * 0.5
    contrast_first = color_jiggle(img, 1.1, 0.5, 1.0, 0.0, [1, 0, 2, 3])  # 0.4 + 0.1
    torch.testing.assert_close(bright_first.flatten(), torch.full((3,), 0.45), atol=1e-6, rtol=0)
    torch.testing.assert_close(contrast_first.flatten(), torch.full((3,), 0.5), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match='order'):
        color_jiggle(img, 1.0, 1.0, 1.0, 0.0, [0, 1, 2, 2])


# ---------------------------------------------------------------- kornia 0.5.8 reference outputs
KORNIA_INPUT = torch.tensor([[[[0.1, 0.2, 0.3], [0.6, 0.5, 0.4], [0.7, 0.8, 1.0]],
                              [[1.0, 0.5, 0.6], [0.6, 0.3, 0.2], [0.8, 0.1, 0.2]],
                              [[0.6, 0.8, 0.7], [0.9, 0.3, 0.2], [0.8, 0.4, 0.5]]]]).repeat(2, 1, 1, 1)


def kornia_batched_draws(seed, brightness, contrast, hue, saturation):
    """Factors as kornia 0.5's ColorJitter draws them for a batch of 2 (rand(2) each, one randperm)."""
    torch.manual_seed(seed)
    out = {}
    for name, (low, high) in zip(('b', 'c', 'h', 's'), (brightness, contrast, hue, saturation)):
        low, high = torch.tensor(low), torch.tensor(high)
        out[name] = low + torch.rand(2) * (high - low)
    out['order'] = torch.randperm(4).tolist()
    return out


def test_matches_kornia_058_saturation_reference_output():
    p = kornia_batched_draws(42, (1.0, 1.0), (1.0, 1.0), (0.0, 0.0), (0.8, 1.2))
    out = color_jiggle(KORNIA_INPUT, p['b'], p['c'], p['s'], p['h'], p['order'])
    expected = torch.tensor([
        [[[0.1876, 0.2584, 0.3389], [0.6292, 0.5000, 0.4000], [0.7097, 0.8000, 1.0000]],
         [[1.0000, 0.5292, 0.6097], [0.6292, 0.3195, 0.2195], [0.8000, 0.1682, 0.2779]],
         [[0.6389, 0.8000, 0.7000], [0.9000, 0.3195, 0.2195], [0.8000, 0.4389, 0.5487]]],
        [[[0.0000, 0.1295, 0.2530], [0.5648, 0.5000, 0.4000], [0.6883, 0.8000, 1.0000]],
         [[1.0000, 0.4648, 0.5883], [0.5648, 0.2765, 0.1765], [0.8000, 0.0178, 0.1060]],
         [[0.5556, 0.8000, 0.7000], [0.9000, 0.2765, 0.1765], [0.8000, 0.3530, 0.4413]]]])
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_matches_kornia_058_hue_reference_output():
    h = 0.1 / math.pi
    p = kornia_batched_draws(42, (1.0, 1.0), (1.0, 1.0), (-h, h), (1.0, 1.0))
    out = color_jiggle(KORNIA_INPUT, p['b'], p['c'], p['s'], p['h'], p['order'])
    expected = torch.tensor([
        [[[0.1000, 0.2000, 0.3000], [0.6000, 0.5000, 0.4000], [0.7000, 0.8000, 1.0000]],
         [[1.0000, 0.5251, 0.6167], [0.6126, 0.3000, 0.2000], [0.8000, 0.1000, 0.2000]],
         [[0.5623, 0.8000, 0.7000], [0.9000, 0.3084, 0.2084], [0.7958, 0.4293, 0.5335]]],
        [[[0.1000, 0.2000, 0.3000], [0.6116, 0.5000, 0.4000], [0.7000, 0.8000, 1.0000]],
         [[1.0000, 0.4769, 0.5846], [0.6000, 0.3077, 0.2077], [0.7961, 0.1000, 0.2000]],
         [[0.6347, 0.8000, 0.7000], [0.9000, 0.3000, 0.2000], [0.8000, 0.3730, 0.4692]]]])
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_matches_kornia_058_brightness_reference_output():
    p = kornia_batched_draws(42, (0.8, 1.2), (1.0, 1.0), (0.0, 0.0), (1.0, 1.0))
    img = KORNIA_INPUT[:, :1].repeat(1, 3, 1, 1)
    out = color_jiggle(img, p['b'], p['c'], p['s'], p['h'], p['order'])
    first = torch.tensor([[0.2529, 0.3529, 0.4529], [0.7529, 0.6529, 0.5529], [0.8529, 0.9529, 1.0]])
    second = torch.tensor([[0.2660, 0.3660, 0.4660], [0.7660, 0.6660, 0.5660], [0.8660, 0.9660, 1.0]])
    torch.testing.assert_close(out, torch.stack([first.expand(3, 3, 3), second.expand(3, 3, 3)]),
                               atol=1e-4, rtol=1e-4)


def test_sampler_reproduces_kornia_058_docstring_example():
    """kornia 0.5.8 docstring: seed 0, ColorJitter(0.1, 0.1, 0.1, 0.1) on ones(1, 3, 3, 3) -> 0.9993."""
    p = sample_jiggle_params(0.1, 1, torch.Generator().manual_seed(0))
    out = jiggle_batch(torch.ones(1, 3, 3, 3), p)
    torch.testing.assert_close(out, torch.full((1, 3, 3, 3), 0.9993), atol=1e-4, rtol=0)


# ---------------------------------------------------------------- sampler
def test_sampler_ranges_orders_and_determinism():
    p = sample_jiggle_params(0.2, 1500, torch.Generator().manual_seed(1))
    for name in ('brightness', 'contrast', 'saturation'):
        values = p[name]
        assert values.shape == (1500,) and values.dtype == torch.float32
        assert values.min() >= 0.8 - 1e-6 and values.max() <= 1.2 + 1e-6
        assert values.min() < 0.81 and values.max() > 1.19
        assert abs(values.mean().item() - 1.0) < 0.02
    assert p['hue'].min() >= -0.2 - 1e-6 and p['hue'].max() <= 0.2 + 1e-6
    assert p['hue'].min() < -0.19 and p['hue'].max() > 0.19
    orders = {tuple(o) for o in p['order'].tolist()}
    assert orders == set(itertools.permutations(range(4)))
    again = sample_jiggle_params(0.2, 1500, torch.Generator().manual_seed(1))
    assert all(torch.equal(p[k], again[k]) for k in p)
    with pytest.raises(ValueError, match='strength'):
        sample_jiggle_params(-0.1, 2)


def test_blur_sigma_sampler_range():
    sigmas = sample_blur_sigmas(2000, torch.Generator().manual_seed(0))
    assert sigmas.dtype == torch.float64
    assert sigmas.min() >= 0.15 and sigmas.max() <= 1.15
    assert sigmas.min() < 0.16 and sigmas.max() > 1.14


# ---------------------------------------------------------------- strong_transform
def normalised_batch(seed=0, shape=(2, 3, 50, 30)):
    """Random images in [0, 1] normalised with the ImageNet mean / std (0-255 scale)."""
    unit = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    return (unit * 255 - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)


def test_strong_transform_off_is_identity():
    imgs = normalised_batch()
    out = strong_transform(imgs, MEAN, STD, apply_jitter=False, apply_blur=False)
    assert torch.equal(out, imgs)


def test_strong_transform_neutral_jitter_is_identity_after_renormalisation():
    imgs = normalised_batch()
    neutral = dict(brightness=torch.ones(2), contrast=torch.ones(2), saturation=torch.ones(2),
                   hue=torch.zeros(2), order=torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]]))
    out = strong_transform(imgs, MEAN, STD, True, False, jiggle_params=neutral)
    # float32 de/re-normalisation plus the HSV round trips: about 1e-5 in normalised units
    torch.testing.assert_close(out, imgs, atol=3e-5, rtol=0)


def test_strong_transform_jitter_then_blur_matches_components():
    imgs = normalised_batch(seed=1)
    mean, std = MEAN.view(1, 3, 1, 1), STD.view(1, 3, 1, 1)
    out = strong_transform(imgs, MEAN, STD, True, True, strength=0.2,
                           generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    params = sample_jiggle_params(0.2, 2, gen)
    sigmas = sample_blur_sigmas(2, gen)
    unit = (imgs * std + mean) / 255.0
    jittered = torch.cat([color_jiggle(unit[i:i + 1], params['brightness'][i].item(),
                                       params['contrast'][i].item(), params['saturation'][i].item(),
                                       params['hue'][i].item(), params['order'][i].tolist())
                          for i in range(2)])
    renorm = (jittered * 255.0 - mean) / std
    expected = gaussian_blur(renorm, sigmas.tolist(), (5, 3))  # kernels for H=50, W=30
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert not torch.allclose(out, imgs, atol=1e-2)


def test_strong_transform_blur_only_uses_given_sigmas():
    imgs = normalised_batch(seed=2)
    out = strong_transform(imgs, MEAN, STD, False, True, sigmas=np.array([0.5, 1.0]))
    torch.testing.assert_close(out, gaussian_blur(imgs, [0.5, 1.0], (5, 3)), atol=0, rtol=0)


def test_strong_transform_argument_errors():
    imgs = normalised_batch()
    with pytest.raises(ValueError, match='mean'):
        strong_transform(imgs, MEAN[:2], STD, True, False)
    with pytest.raises(ValueError, match='sigmas'):
        strong_transform(imgs, MEAN, STD, False, True, sigmas=[0.5])
    with pytest.raises(ValueError, match='imgs'):
        strong_transform(imgs[:, :1], MEAN, STD, False, False)


def test_batched_jitter_equals_image_by_image_bitwise():
    from mmseg_procl.uda.strong_aug import color_jiggle, jiggle_batch, sample_jiggle_params
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(6, 3, 16, 16, generator=g)
    params = sample_jiggle_params(0.4, 6, g)
    params['order'][3] = params['order'][5] = params['order'][0]       # groups {0, 3, 5}, {1, 4}, {2}
    params['order'][4] = params['order'][1]
    expected = torch.cat([color_jiggle(imgs[i:i + 1], float(params['brightness'][i]),
                                       float(params['contrast'][i]), float(params['saturation'][i]),
                                       float(params['hue'][i]), params['order'][i].tolist())
                          for i in range(6)])
    assert torch.equal(jiggle_batch(imgs, params), expected)
    assert not torch.equal(expected[0], imgs[0])
