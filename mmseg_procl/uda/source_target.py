"""SourceTarget: training on source and target batches without a teacher (ProCA's adaptation stage).

ProCA (Jiang et al., ECCV 2022; github.com/jiangzhengkai/ProCA ``train_proca.py``; docs/methods.md
§2.3.2 stage 3) adapts without a mean teacher and without mixing: per iteration the student runs on the
source batch (cross entropy + Lovász-softmax on the ground truth) and on the target batch, and an
objective (``ProCAContrast``) derives the target labels from the student's own logits.  This
algorithm is :class:`SourceOnly` over UDA batches: it adds the target images and metas to the
iteration state, and its default stages are a ``source`` stage and a label-free ``target`` stage that
trains only the objectives acting in it (one backward of the sum, ``backward='iteration'``, so that
an objective can combine both stages' outputs as the reference does).

Call graph::

    train_step (SourceOnly) -> data_preprocessor (source / target branches)
               -> run_stage('source')  (decode losses; objectives keep what they need)
               -> run_stage('target')  (no labels, no head loss; objectives)
               -> one backward of the sum -> step_optimizer
"""
from mmseg_procl.registry import MODELS
from .iteration_state import IterationState
from .source_only import SourceOnly


@MODELS.register_module()
class SourceTarget(SourceOnly):
    """The student trained on the source and the (unlabelled) target branch; no teacher.

    Args: as :class:`SourceOnly` (``backward`` defaults to ``'iteration'``).
    """

    DEFAULT_STAGES = (
        dict(name='source', inputs='source', labels='source_labels'),
        dict(name='target', inputs='target', labels=None, loss_heads=(), metas='target'),
    )
    BRANCHES = ('source', 'target')

    def __init__(self, model: dict, objectives=(), stages=None, prototype_sources=None,
                 backward: str = 'iteration', data_preprocessor=None, init_cfg=None,
                 channels_last: bool = False, compile_segmentor=None) -> None:
        super().__init__(model, objectives, stages, prototype_sources, backward, data_preprocessor,
                         init_cfg, channels_last, compile_segmentor)

    def provide_target(self, state: IterationState):
        """The target images as loaded (B, 3, H, W)."""
        return state['batch']['target']['inputs']

    def provide_target_samples(self, state: IterationState) -> list:
        """The target data samples (metas; target labels are never read)."""
        return state['batch']['target']['data_samples']
