"""Log-frequency class weights: the class prior of SePiCo's Dark Zurich variant (after DANNet).

DANNet (Wu et al., CVPR 2021, github.com/W-zx-Y/DANNet) and SePiCo (Xie et al., TPAMI 2023,
github.com/BIT-DA/SePiCo ``mmseg/models/uda/sepico_dark.py`` and
``mmseg/models/segmentors/encoder_decoder_projector.py``; docs/methods.md §2.2.6) weight the 19 classes by

    w_c = (mean(log f) - log f_c) / std(log f) * scale + 1

with a fixed vector of class frequencies ``f`` (``DARK_ZURICH_CLASS_FREQUENCIES``, the values of both
repositories) and the unbiased standard deviation (``torch.std``).  Rare classes get ``w > 1``.  SePiCo
uses ``scale = 0.05`` in training (pseudo-label fusion and the decode cross-entropy's class weight) and
``scale = 0.16`` at test time (multiplied into the softmax of ``*_rgb_anon.png`` images).

A config names the prior as ``dict(frequencies='dark_zurich' | [f_0, ..., f_18], scale=...)``
(:func:`class_prior_weights`) or gives the weights themselves as a list.
"""
from typing import Dict, Sequence, Union

import torch

# Class frequencies of DANNet / SePiCo (Cityscapes train-id order), copied as numbers.
DARK_ZURICH_CLASS_FREQUENCIES = (
    0.36869696, 0.06084986, 0.22824049, 0.00655399, 0.00877272, 0.01227341, 0.00207795, 0.0055127,
    0.15928651, 0.01157818, 0.04018982, 0.01218957, 0.00135122, 0.06994545, 0.00267456, 0.00235192,
    0.00232904, 0.00098658, 0.00413907)
NAMED_FREQUENCIES = {'dark_zurich': DARK_ZURICH_CLASS_FREQUENCIES}
PRIOR_KEYS = ('frequencies', 'scale')

ClassWeightSpec = Union[None, Sequence[float], Dict[str, object]]


def log_frequency_weights(frequencies: Sequence[float], scale: float) -> torch.Tensor:
    """(C,) float32 weights ``(mean(log f) - log f) / std(log f) * scale + 1``.

    Raises ``ValueError`` for fewer than two classes, a non-positive frequency, or a weight <= 0 (a
    scale so large that a class would be suppressed or inverted).
    """
    # on the CPU explicitly: models may be built under ``torch.device('meta')``
    freq = torch.as_tensor([float(f) for f in frequencies], dtype=torch.float32, device='cpu')
    if freq.numel() < 2 or (freq <= 0).any():
        raise ValueError(f'class prior: frequencies must be >= 2 positive numbers, got {list(frequencies)}')
    log_f = torch.log(freq)
    weights = (log_f.mean() - log_f) / log_f.std() * float(scale) + 1.0
    if (weights <= 0).any():
        raise ValueError(f'class prior: scale={scale} gives non-positive class weights '
                         f'{[round(w, 3) for w in weights.tolist()]}; expected all > 0')
    return weights


def class_prior_weights(spec: Dict[str, object], owner: str) -> torch.Tensor:
    """Weights of ``dict(frequencies='dark_zurich' | list, scale=float)``; errors name ``owner`` and the key."""
    if not isinstance(spec, dict) or set(spec) != set(PRIOR_KEYS):
        found = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise KeyError(f"{owner}: a class prior is dict(frequencies='dark_zurich' or [f_c, ...], scale=...); "
                       f'got keys {found}')
    frequencies = spec['frequencies']
    if isinstance(frequencies, str):
        if frequencies not in NAMED_FREQUENCIES:
            raise KeyError(f'{owner}: unknown class frequencies {frequencies!r}; known: '
                           f'{sorted(NAMED_FREQUENCIES)} (or give the list)')
        frequencies = NAMED_FREQUENCIES[frequencies]
    scale = spec['scale']
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ValueError(f'{owner}: class prior scale must be a number, got {scale!r}')
    return log_frequency_weights(frequencies, scale)


def resolve_class_weight(spec: ClassWeightSpec, owner: str):
    """A class-weight argument as a list of floats (None stays None): a list passes through, a prior
    dict is evaluated with :func:`class_prior_weights`."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        return class_prior_weights(spec, owner).tolist()
    return [float(w) for w in spec]
