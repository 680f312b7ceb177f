"""Training stages as data: what a self-training iteration trains on, in which order.

A stage names the images it trains on, where its labels and pixel weights come from and which heads'
losses it uses; the values are entries of the iteration state (:mod:`mmseg_procl.uda.iteration_state`)
that the algorithm computes once per iteration.  DACS (DAFormer) trains a ``source`` stage on clean
source images with their labels and a ``mixed`` stage on ClassMix images with mixed labels and
weights; SePiCo puts a ``target`` stage in between that trains only its contrastive objective on
strongly augmented target crops.  Objectives declare the stage names they act in; the algorithm
refuses, when it is built, an objective in a stage it does not run or two terms with one loss key.

State entries a stage may name (the algorithm's ``provide_<name>`` methods, listed by
``state_entries()``): inputs ``source``, ``source_strong``, ``target``, ``target_strong``, ``mixed``;
labels ``source_labels``, ``pseudo_labels``, ``mixed_labels``; weights ``pseudo_weights``,
``mixed_weights``; metas ``source`` / ``target`` (entries ``<metas>_samples``).
"""
import difflib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

HEADS = ('decode_head', 'auxiliary_head')
PREFIXES = {'source': 'src', 'target': 'tgt', 'mixed': 'mix'}


@dataclass(frozen=True)
class Stage:
    """One stage of an iteration.

    Args:
        name: the stage's name, referred to by objectives (``source``, ``target``, ``mixed``, ...).
        inputs: state entry of the (B, 3, H, W) images.
        labels: state entry of the (B, H, W) labels, or None (no labels: every pixel ignored; for
            stages that train only objectives deriving their own targets, e.g. ProCA's target stage).
        weights: state entry of the (B, H, W) pixel weights, or None (weight 1).
        loss_heads: heads whose own losses the stage trains (``decode_head``: cross entropy;
            ``auxiliary_head``: heads that define a loss); ``()`` trains only the objectives.
        ignore_unweighted: labels of pixels with weight 0 become ignore (SePiCo's target contrast).
        metas: the branch whose image metas the stage's data samples carry (``source`` / ``target``).
        prefix: the log prefix (default ``src`` / ``tgt`` / ``mix`` / the name).
    """

    name: str
    inputs: str
    labels: Optional[str]
    weights: Optional[str] = None
    loss_heads: Tuple[str, ...] = HEADS
    ignore_unweighted: bool = False
    metas: str = 'source'
    prefix: Optional[str] = None

    @property
    def log_prefix(self) -> str:
        """Prefix of the stage's logged losses."""
        return self.prefix or PREFIXES.get(self.name, self.name)


def build_stages(cfgs: Sequence[dict], known_entries: Sequence[str]) -> List[Stage]:
    """Stages from config dicts; errors name the stage and the unknown entry / head / duplicate."""
    stages: List[Stage] = []
    for i, cfg in enumerate(cfgs):
        cfg = dict(cfg)
        if isinstance(cfg.get('loss_heads'), str):
            raise ValueError(f"stages[{i}]: loss_heads={cfg['loss_heads']!r} must be a tuple of head "
                             f"names, e.g. ('{cfg['loss_heads']}',) or (); heads: {HEADS}")
        cfg['loss_heads'] = tuple(cfg.get('loss_heads', HEADS))
        fields = list(Stage.__dataclass_fields__)
        for key in cfg:
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ''
                raise ValueError(f"stages[{i}]: unknown key '{key}'{hint} (fields: {fields})")
        try:
            stage = Stage(**cfg)
        except TypeError as err:
            raise ValueError(f'stages[{i}]: {err} (fields: {fields})') from None
        for field in ('inputs', 'labels', 'weights'):
            value = getattr(stage, field)
            if value is not None and value not in known_entries:
                raise ValueError(f"stage '{stage.name}': {field}='{value}' is not an entry of the "
                                 f'iteration state; expected one of {sorted(known_entries)}')
        if f'{stage.metas}_samples' not in known_entries:
            metas = sorted(e[:-len('_samples')] for e in known_entries if e.endswith('_samples'))
            raise ValueError(f"stage '{stage.name}': metas='{stage.metas}' has no data samples in the "
                             f'iteration state; expected one of {metas}')
        unknown = [h for h in stage.loss_heads if h not in HEADS]
        if unknown:
            raise ValueError(f"stage '{stage.name}': unknown loss_heads {unknown}; expected {HEADS}")
        if stage.labels is None and stage.loss_heads:
            raise ValueError(f"stage '{stage.name}': labels=None (no labels) trains no head; set "
                             f'loss_heads=() (got {stage.loss_heads})')
        if stage.ignore_unweighted and stage.weights is None:
            raise ValueError(f"stage '{stage.name}': ignore_unweighted needs weights")
        if any(s.name == stage.name for s in stages):
            raise ValueError(f"stages: the stage name '{stage.name}' occurs twice")
        same_prefix = [s.name for s in stages if s.log_prefix == stage.log_prefix]
        if same_prefix:
            raise ValueError(f"stages '{same_prefix[0]}' and '{stage.name}' both log as "
                             f"'{stage.log_prefix}.'; give one of them another prefix")
        stages.append(stage)
    if not stages:
        raise ValueError('stages: at least one stage is needed')
    return stages


def check_objectives(stages: Sequence[Stage], objectives: Sequence) -> None:
    """Raise if an objective acts in a stage that is not run, or two terms share a loss key."""
    names = [s.name for s in stages]
    for objective in objectives:
        missing = [s for s in objective.stages if s not in names]
        if missing:
            raise ValueError(f'{type(objective).__name__} acts in stages {missing} that the algorithm '
                             f'does not run; its stages are {names}')
    for stage in stages:
        owners: Dict[str, str] = {}
        if 'decode_head' in stage.loss_heads:
            owners['decode.loss_seg'] = 'decode_head'
        for objective in objectives:
            if stage.name not in objective.stages:
                continue
            for key in objective.loss_names:
                if key in owners:
                    raise ValueError(f"stage '{stage.name}': the loss key '{key}' is produced by both "
                                     f'{owners[key]} and {type(objective).__name__}; give one of '
                                     'them another loss_name')
                owners[key] = type(objective).__name__
