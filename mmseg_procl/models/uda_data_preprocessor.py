"""UDADataPreProcessor: applies one segmentation data preprocessor to every branch of a UDA batch.

The data layer of the DAFormer family (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``mmseg/datasets/uda_dataset.py``) pairs a source and a target image per item; our
``UDADataset`` yields ``dict(source=<packed>, target=<packed>)`` and mmengine's ``pseudo_collate``
turns a list of such items into ``dict(source=dict(inputs=[...], data_samples=[...]),
target=dict(inputs=[...], data_samples=[...]))``.  This preprocessor normalises and pads each branch
with the same wrapped preprocessor (default ``SegDataPreProcessor``), so both domains share
mean / std, as in the reference where both pipelines use one ``img_norm_cfg``.  A plain batch
``dict(inputs, data_samples)`` (validation / test) is passed to the wrapped preprocessor unchanged.
"""
from typing import Dict, Mapping, Optional

import torch
from mmengine.model import BaseDataPreprocessor

from mmseg_procl.registry import MODELS


@MODELS.register_module()
class UDADataPreProcessor(BaseDataPreprocessor):
    """Process ``dict(source=batch, target=batch)`` branch by branch, or a plain batch as is."""

    def __init__(self, data_preprocessor: Optional[dict] = None) -> None:
        """Build the wrapped per-branch preprocessor (default ``dict(type='SegDataPreProcessor')``)."""
        super().__init__()
        cfg = dict(type='SegDataPreProcessor') if data_preprocessor is None else dict(data_preprocessor)
        self.branch_preprocessor = MODELS.build(cfg)

    @property
    def mean(self) -> torch.Tensor:
        """Normalisation mean of the wrapped preprocessor, shape (3, 1, 1)."""
        return self.branch_preprocessor.mean

    @property
    def std(self) -> torch.Tensor:
        """Normalisation std of the wrapped preprocessor, shape (3, 1, 1)."""
        return self.branch_preprocessor.std

    def forward(self, data: dict, training: bool = False) -> Dict:
        """Processed ``dict(<branch>=dict(inputs, data_samples), ...)`` or the plain batch's output.

        A batch with an ``inputs`` key is plain; otherwise every key is a branch (``source``,
        ``target``) holding a collated ``dict(inputs=[...], data_samples=[...])``.
        """
        # The wrapper's device is authoritative: a standalone ``.to()`` moves only this module's
        # device record (mmengine's BaseModel sets both).
        self.branch_preprocessor._device = self._device
        if not isinstance(data, Mapping):
            raise TypeError(f'UDADataPreProcessor: expected a collated dict batch, got '
                            f'{type(data).__name__}')
        if 'inputs' in data:
            return self.branch_preprocessor(data, training)
        if not data:
            raise ValueError('UDADataPreProcessor: empty batch; expected dict(inputs, data_samples) '
                             'or dict(source=dict(inputs, ...), target=dict(inputs, ...))')
        for key, branch in data.items():
            if not isinstance(branch, Mapping) or 'inputs' not in branch:
                found = sorted(branch) if isinstance(branch, Mapping) else type(branch).__name__
                raise KeyError(f'UDADataPreProcessor: branch {key!r} must be a collated '
                               f'dict(inputs, data_samples); got {found}')
        return {key: self.branch_preprocessor(branch, training) for key, branch in data.items()}
