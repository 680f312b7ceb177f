"""SourceOnly: supervised training on the source branch of UDA batches, and the stage machinery of
every self-training algorithm built on it.

It owns the student segmentor (state-dict prefix ``model.``, as in the DAFormer family,
docs/checkpoints.md §2), the objectives and the named prototype sources, and runs an iteration as an
ordered list of stages (:mod:`mmseg_procl.uda.stages`) over a per-iteration state
(:mod:`mmseg_procl.uda.iteration_state`).  Its own state entries are the source images and
labels; subclasses (DACS) add the teacher's outputs, pseudo-labels, mixed images and augmented views.
Validation and testing run the student.

Call graph::

    train_step -> data_preprocessor (source / target branches)
               -> iteration_state  (providers: provide_<entry> methods)
               -> update_prototype_sources('iteration_start')
               -> run_stage per stage (state entries -> segmentor.train_forward -> objectives ->
                  backward per stage, or once per iteration)
               -> state.run_deferred (gradients of sub-graphs shared by the stages, e.g. CLIP text)
               -> step_optimizer (gradient averaging across ranks, step, iteration counter)
    forward passes outside a stage (the DACS teacher) -> forward_precision (the wrapper's autocast)
    val_step / test_step -> forward(mode='predict') -> student.predict
"""
import contextlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from torch import nn

from mmseg_procl.registry import MODELS
from mmseg_procl.structures import SegDataSample
from .iteration_state import IterationState
from .stage_context import StageContext
from .stages import Stage, build_stages, check_objectives

BACKWARD_MODES = ('stage', 'iteration')
UPDATE_POINTS = ('iteration_start', 'objective')   # 'objective': updated by the objective reading it


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


def stage_metas(samples: Sequence[SegDataSample], inputs: torch.Tensor) -> List[dict]:
    """The samples' metas; where the stage's inputs are a crop of another size (SePiCo's target crop),
    ``img_shape`` and ``pad_shape`` say the crop's size."""
    hw = tuple(inputs.shape[2:])
    metas = [dict(s.metainfo) for s in samples]
    for meta in metas:
        if tuple(meta.get('pad_shape', hw)[:2]) != hw:
            meta.update(img_shape=hw, pad_shape=hw)
    return metas


def require_branches(data: dict, branches: Sequence[str], algorithm: str) -> None:
    """Raise ``KeyError`` unless a preprocessed batch has the named domain branches."""
    missing = [b for b in branches if b not in data]
    if missing:
        raise KeyError(f'{algorithm} trains on batches with the domain branches {list(branches)}, but '
                       f'the training batch has {sorted(data)}: use '
                       "train_dataloader.dataset=dict(type='UDADataset', source=..., target=...)")


def unlabelled(inputs: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """(B, H, W) labels of ``ignore_index`` for (B, 3, H, W) images (a stage without labels)."""
    return torch.full((inputs.shape[0], *inputs.shape[2:]), ignore_index, dtype=torch.long,
                      device=inputs.device)


def stack_labels(samples: Sequence) -> torch.Tensor:
    """(B, H, W) long ground truth of packed data samples."""
    return torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()


@MODELS.register_module()
class SourceOnly(BaseModel):
    """Train the student on source images only; evaluate the student.

    Args:
        model: the student segmentor config.
        objectives: objective configs (each names the stages it acts in).
        stages: stage configs (default: one ``source`` stage on clean source images).
        prototype_sources: ``{name: config}`` of stateful prototype sources objectives refer to by
            name (their state lives in buffers: ``--resume`` continues it exactly).
        backward: ``'stage'`` (one backward per stage, the reference) or ``'iteration'`` (one
            backward of the sum, for objectives that span stages).
    """

    DEFAULT_STAGES: Tuple[dict, ...] = (dict(name='source', inputs='source', labels='source_labels'),)
    BRANCHES: Tuple[str, ...] = ('source', )

    def __init__(self, model: dict, objectives: Sequence[dict] = (),
                 stages: Optional[Sequence[dict]] = None,
                 prototype_sources: Optional[Dict[str, dict]] = None, backward: str = 'stage',
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False, compile_segmentor: Optional[dict] = None) -> None:
        """``channels_last``: keep the segmentors' 4-D weights and the batch images in NHWC (faster
        convolutions with bf16 on tensor-core GPUs; same numbers up to float rounding).
        ``compile_segmentor``: ``torch.compile`` arguments (e.g. ``dict()`` or ``dict(mode=
        'max-autotune-no-cudagraphs')``) for the backbone and heads of every segmentor (in place, so
        state-dict names do not change); None: eager."""
        if data_preprocessor is None or data_preprocessor.get('type') != 'UDADataPreProcessor':
            # the Runner may inject the top-level `data_preprocessor` of a model base config
            data_preprocessor = dict(type='UDADataPreProcessor',
                                     data_preprocessor=data_preprocessor or model.get('data_preprocessor'))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if backward not in BACKWARD_MODES:
            raise ValueError(f'{type(self).__name__}: backward must be one of {BACKWARD_MODES}, got '
                             f'{backward!r}')
        self.backward_mode = backward
        self.model = MODELS.build(model)
        self.prototype_sources = nn.ModuleDict(
            {name: MODELS.build(cfg) for name, cfg in (prototype_sources or {}).items()})
        self.objectives = nn.ModuleList(self._build_objective(o, model) for o in objectives)
        self.stages: List[Stage] = build_stages(stages or self.DEFAULT_STAGES, self.state_entries())
        check_objectives(self.stages, self.objectives)
        self._check_prototype_sources()
        self.local_iter = 0
        self.cast_dtype: Optional[torch.dtype] = None     # the optimizer wrapper's autocast dtype
        self.channels_last = bool(channels_last)
        if compile_segmentor is not None and not isinstance(compile_segmentor, dict):
            raise TypeError(f'{type(self).__name__}: compile_segmentor must be a dict of torch.compile '
                            f'arguments or None, got {compile_segmentor!r}')
        self.compile_segmentor = compile_segmentor
        self.apply_speed_options(self.model)
        # tensor mirror of local_iter: saved with the weights (exact resume) without a host read
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))

    def apply_speed_options(self, segmentor: nn.Module) -> None:
        """``channels_last`` weights and in-place ``torch.compile`` of the backbone and heads."""
        if self.channels_last:
            segmentor.to(memory_format=torch.channels_last)
        if self.compile_segmentor is not None:
            for name in ('backbone', 'decode_head', 'auxiliary_head'):
                part = getattr(segmentor, name, None)
                if isinstance(part, nn.Module):
                    part.compile(**self.compile_segmentor)

    def batch_layout(self, data: dict) -> dict:
        """The preprocessed batch with its images in the memory format of the weights."""
        if not self.channels_last:
            return data
        for branch in data.values():
            if isinstance(branch, dict) and isinstance(branch.get('inputs'), torch.Tensor):
                branch['inputs'] = branch['inputs'].contiguous(memory_format=torch.channels_last)
        return data

    @staticmethod
    def _build_objective(cfg: dict, model: dict) -> nn.Module:
        """Build one objective; one that declares ``uses_student_backbone`` gets the student's config."""
        cfg = dict(cfg)
        if getattr(MODELS.get(cfg['type']), 'uses_student_backbone', False):
            cfg.setdefault('backbone', model['backbone'])
        return MODELS.build(cfg)

    def _check_prototype_sources(self) -> None:
        """Every source an objective names exists; every source's update point is known; sources and
        objectives that can check themselves against this algorithm (``check_algorithm``) do so."""
        for objective in self.objectives:
            for name in objective.prototype_source_names:
                if name not in self.prototype_sources:
                    raise ValueError(f'{type(objective).__name__} reads the prototype source {name!r}, '
                                     f'but the algorithm has {sorted(self.prototype_sources)}')
        for name, source in self.prototype_sources.items():
            if getattr(source, 'update_at', 'iteration_start') not in UPDATE_POINTS:
                raise ValueError(f'prototype source {name!r}: update_at={source.update_at!r}; '
                                 f'expected one of {UPDATE_POINTS}')
            if hasattr(source, 'check_algorithm'):
                source.check_algorithm(name, self)
        for objective in self.objectives:
            if hasattr(objective, 'check_algorithm'):
                objective.check_algorithm(self)

    # ------------------------------------------------------------------ iteration counter
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

    # ------------------------------------------------------------------ iteration state
    @classmethod
    def state_entries(cls) -> List[str]:
        """Names of the per-iteration state entries this algorithm provides (``provide_<name>``)."""
        return sorted(name[len('provide_'):] for name in dir(cls) if name.startswith('provide_'))

    def iteration_state(self, data: dict) -> IterationState:
        """A fresh state over one preprocessed batch."""
        providers = {name: getattr(self, f'provide_{name}') for name in self.state_entries()}
        return IterationState(providers, dict(batch=data))

    def provide_source(self, state: IterationState) -> torch.Tensor:
        """Clean source images (B, 3, H, W)."""
        return state['batch']['source']['inputs']

    def provide_source_samples(self, state: IterationState) -> list:
        """The source data samples (metas, ground truth)."""
        return state['batch']['source']['data_samples']

    def provide_source_labels(self, state: IterationState) -> torch.Tensor:
        """Source ground truth (B, H, W) long."""
        return stack_labels(state['source_samples'])

    # ------------------------------------------------------------------ training step
    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """One iteration: the stages in order, then the optimizer step."""
        data = self.batch_layout(self.data_preprocessor(data, True))
        require_branches(data, self.BRANCHES, type(self).__name__)
        self.cast_dtype = getattr(optim_wrapper, 'cast_dtype', None)
        optim_wrapper.zero_grad()
        self.before_stages()
        state = self.iteration_state(data)
        self.update_prototype_sources(state, 'iteration_start')
        log_vars: Dict[str, torch.Tensor] = {}
        pending: List[torch.Tensor] = []
        for stage in self.stages:
            stage_vars, loss = self.run_stage(stage, state, optim_wrapper)
            log_vars.update(stage_vars)
            if loss is not None:
                pending.append(loss)
        if pending and self.backward_mode == 'iteration':
            optim_wrapper.backward(sum(pending))
        state.run_deferred()
        self.after_stages(state)
        return self.step_optimizer(optim_wrapper, log_vars)

    def forward_precision(self):
        """Autocast for forward passes outside a stage's ``optim_context`` (the teacher): the optimizer
        wrapper's dtype (``AmpOptimWrapper(dtype='bfloat16')``), a null context in fp32."""
        if self.cast_dtype is None:
            return contextlib.nullcontext()
        device = next(self.parameters()).device.type
        return torch.autocast(device_type=device, dtype=self.cast_dtype)

    def before_stages(self) -> None:
        """Hook for subclasses (DACS: the teacher update)."""

    def after_stages(self, state: IterationState) -> None:
        """Hook for subclasses (DACS: debug images)."""

    def update_prototype_sources(self, state: IterationState, point: str) -> None:
        """Update the prototype sources whose ``update_at`` is ``point``."""
        for source in self.prototype_sources.values():
            if getattr(source, 'update_at', 'iteration_start') == point:
                source.update(state, self)

    def run_stage(self, stage: Stage, state: IterationState, optim_wrapper: OptimWrapper
                  ) -> Tuple[Dict[str, torch.Tensor], Optional[torch.Tensor]]:
        """Forward, losses and objectives of one stage; its backward (per-stage mode).

        Returns the stage's log variables and, in per-iteration backward mode, its loss.  A stage
        with no loss head and no active objective is skipped (nothing is computed).
        """
        active = [o for o in self.objectives if o.acts_in(stage.name, self.local_iter)]
        if not stage.loss_heads and not active:
            return {}, None
        inputs, labels, weights = self.stage_data(stage, state)
        samples = labelled_samples(labels, weights, stage_metas(state[f'{stage.metas}_samples'], inputs))
        with optim_wrapper.optim_context(self):
            losses, outputs = self.model.train_forward(inputs, samples, stage.loss_heads)
            ctx = StageContext(stage.name, inputs, samples, outputs.pop('feats'), outputs.pop('logits', None),
                               labels, weights, self.local_iter, outputs, self.model, state,
                               self.prototype_sources)
            for objective in active:
                self._add_losses(losses, objective(ctx), stage, objective)
        loss, log_vars = self.parse_losses(losses)
        if self.backward_mode == 'stage':
            optim_wrapper.backward(loss)
            return prefixed({k: v.detach() for k, v in log_vars.items()}, stage.log_prefix), None
        return prefixed({k: v.detach() for k, v in log_vars.items()}, stage.log_prefix), loss

    def stage_data(self, stage: Stage, state: IterationState
                   ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """(inputs, labels, weights) of a stage from the state (weight-0 pixels ignored if asked)."""
        inputs = state[stage.inputs]
        labels = state[stage.labels] if stage.labels else unlabelled(inputs)
        weights = state[stage.weights] if stage.weights else None
        if stage.ignore_unweighted:
            labels = torch.where(weights == 0, torch.full_like(labels, 255), labels)
        return inputs, labels, weights

    @staticmethod
    def _add_losses(losses: Dict[str, Any], new: Dict[str, Any], stage: Stage, objective) -> None:
        """Merge an objective's losses; a key collision is an error, never a silent overwrite."""
        clash = set(losses) & set(new)
        if clash:
            raise KeyError(f"stage '{stage.name}': {type(objective).__name__} returned the loss keys "
                           f'{sorted(clash)} that the stage already has')
        losses.update(new)

    # ------------------------------------------------------------------ optimizer step
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
