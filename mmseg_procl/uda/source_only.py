"""SourceOnly: supervised training on the source branch of UDA batches (the lower bound of UDA).

Also the base of the self-training algorithms: it owns the student segmentor (state-dict prefix
``model.``, as in the DAFormer family, docs/checkpoints.md §2), the objectives and the stage machinery;
validation and testing run the student.

Call graph::

    train_step -> data_preprocessor (source / target branches)
               -> source_stage -> supervised_stage (features, CE, objectives, backward)
               -> step_optimizer
    val_step / test_step -> forward(mode='predict') -> student.predict
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from torch import nn

from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from .stage_context import StageContext


def prefixed(losses: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    """``{k: v}`` -> ``{'<prefix>.k': v}``."""
    return {f'{prefix}.{k}': v for k, v in losses.items()}


def labelled_samples(labels: torch.Tensor, weights: Optional[torch.Tensor],
                     metas: Sequence[dict]) -> List[SegDataSample]:
    """SegDataSamples carrying (B, H, W) labels and optional per-pixel weights."""
    samples = []
    for i, meta in enumerate(metas):
        sample = SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=labels[i:i + 1]))
        if weights is not None:
            sample.seg_weight = PixelData(data=weights[i:i + 1])
        samples.append(sample)
    return samples


def require_branches(data: dict, branches: Sequence[str], algorithm: str) -> None:
    """Raise ``KeyError`` unless a preprocessed batch has the named domain branches."""
    missing = [b for b in branches if b not in data]
    if missing:
        raise KeyError(f'{algorithm} trains on batches with the domain branches {list(branches)}, but '
                       f'the training batch has {sorted(data)}: use '
                       "train_dataloader.dataset=dict(type='UDADataset', source=..., target=...)")


@MODELS.register_module()
class SourceOnly(BaseModel):
    """Train the student on source images only; evaluate the student."""

    def __init__(self, model: dict, objectives: Sequence[dict] = (),
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None or data_preprocessor.get('type') != 'UDADataPreProcessor':
            # the Runner may inject the top-level `data_preprocessor` of a model base config
            data_preprocessor = dict(type='UDADataPreProcessor',
                                     data_preprocessor=data_preprocessor or model.get('data_preprocessor'))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.model = MODELS.build(model)
        self.objectives = nn.ModuleList(self._build_objective(o, model) for o in objectives)
        self.local_iter = 0
        # tensor mirror of local_iter: saved with the weights (exact resume) without a host read
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))

    @staticmethod
    def _build_objective(cfg: dict, model: dict) -> nn.Module:
        """Build one objective; one that declares ``uses_student_backbone`` gets the student's config."""
        cfg = dict(cfg)
        if getattr(MODELS.get(cfg['type']), 'uses_student_backbone', False):
            cfg.setdefault('backbone', model['backbone'])
        return MODELS.build(cfg)

    def set_iteration(self, iteration: int) -> None:
        """Set the iteration counter (and its saved tensor mirror)."""
        self.local_iter = int(iteration)
        self.iteration.fill_(self.local_iter)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Load as usual, then read the iteration counter back (one host read, at load time)."""
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + 'iteration' in state_dict:
            self.local_iter = int(state_dict[prefix + 'iteration'])

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """Student forward (``predict`` for evaluation)."""
        return self.model(inputs, data_samples, mode)

    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """One iteration: source stage, optimizer step."""
        data = self.data_preprocessor(data, True)
        require_branches(data, ('source', ), type(self).__name__)
        optim_wrapper.zero_grad()
        log_vars = self.source_stage(data['source'], optim_wrapper)
        return self.step_optimizer(optim_wrapper, log_vars)

    def sync_gradients(self) -> None:
        """Average the gradients of all ranks (multi-process training with ``UDADataParallel``)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        flat = torch._utils._flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
        for grad, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            grad.copy_(synced)

    def step_optimizer(self, optim_wrapper: OptimWrapper, log_vars: Dict) -> Dict[str, torch.Tensor]:
        """Average gradients across ranks, optimizer step, advance the iteration counter."""
        self.sync_gradients()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        self.set_iteration(self.local_iter + 1)
        return log_vars

    def source_stage(self, batch: dict, optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Supervised CE (+ objectives) on clean source images, then backward."""
        labels = torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']]).long()
        losses, _ = self.supervised_stage('source', batch['inputs'], batch['data_samples'], labels,
                                          None, optim_wrapper)
        return prefixed(losses, 'src')

    def supervised_stage(self, stage: str, inputs: torch.Tensor, data_samples: list,
                         labels: torch.Tensor, weights: Optional[torch.Tensor],
                         optim_wrapper: OptimWrapper, extras: Optional[dict] = None
                         ) -> Tuple[Dict[str, torch.Tensor], StageContext]:
        """Student forward, decode / auxiliary losses and objectives of ``stage``; one backward."""
        samples = labelled_samples(labels, weights, [s.metainfo for s in data_samples])
        with optim_wrapper.optim_context(self):
            feats, model_extras = self.model.extract_feat_with_extras(inputs)
            logits = self.model.decode_head.forward(feats)
            losses = prefixed(self.model.decode_head.loss_by_feat(logits, samples), 'decode')
            losses.update(self.model.auxiliary_losses(feats, samples))
            ctx = StageContext(stage, inputs, samples, feats, logits, labels, weights,
                               self.local_iter, {**model_extras, **(extras or {})}, self.model)
            for objective in self.objectives:
                if objective.acts_in(stage):
                    losses.update(objective(ctx))
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.backward(loss)
        return {k: v.detach() for k, v in log_vars.items()}, ctx
