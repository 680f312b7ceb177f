"""In-memory dataset of procedurally generated driving scenes: the project's embedded default data.

``SyntheticDrivingDataset`` renders the scenes of ``synthetic_scenes.render_scene`` on the fly,
so demos, tests and smoke runs need no download and no files.  ``style='source'`` plays GTA5 and
``'target'`` plays Cityscapes.  Sample ``idx`` is rendered from scene seed
``scene_seed(seed, idx)``, exactly the scene that ``synthetic_export.export_synthetic`` writes for
the same ``seed`` and index, so a dataset in memory and an exported tree hold the same pixels.

Each sample is already decoded (image BGR uint8, ``gt_seg_map`` uint8 trainIds with the ignore
index), so the pipeline starts after mmseg's ``LoadImageFromFile`` / ``LoadAnnotations``.  The
generator is original to this project.
"""
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .base_seg_dataset import build_pipeline, subset_metainfo
from .label_tables import CLASSES, IGNORE_INDEX, NUM_CLASSES, PALETTE, build_lut, \
    cityscapes_id_to_trainid
from .synthetic_scenes import check_size, render_scene, scene_seed
from .synthetic_style import STYLES


@DATASETS.register_module()
class SyntheticDrivingDataset(BaseDataset):
    """Procedural GTA-like (``source``) or Cityscapes-like (``target``) scenes, in memory."""

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self,
                 style: str = 'source',
                 num_samples: int = 100,
                 img_size: Sequence[int] = (512, 256),
                 seed: int = 0,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 ignore_index: int = IGNORE_INDEX,
                 metainfo: Optional[dict] = None) -> None:
        """Validate the arguments, build the id -> trainId table, then initialise BaseDataset."""
        if style not in STYLES:
            raise ValueError(f'style must be one of {sorted(STYLES)}, got {style!r}')
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f'num_samples must be an int >= 1, got {num_samples!r}')
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f'seed must be a non-negative int, got {seed!r}')
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int) \
                or not NUM_CLASSES <= ignore_index <= 255:
            raise ValueError(f'ignore_index must be an int in [{NUM_CLASSES}, 255] (outside the '
                             f'train ids 0..{NUM_CLASSES - 1}), got {ignore_index!r}')
        self.style = style
        self.num_samples = num_samples
        self.img_size = check_size(img_size)
        self.seed = seed
        self.ignore_index = ignore_index
        lut = build_lut(cityscapes_id_to_trainid())
        self.label_map, metainfo = subset_metainfo(self.METAINFO, metainfo, type(self).__name__)
        if self.label_map:                              # a class subset: renumber in the same table
            lut = build_lut(self.label_map)[lut]
        lut[lut == IGNORE_INDEX] = ignore_index
        self.label_lut = lut
        super().__init__(metainfo=metainfo, pipeline=build_pipeline(pipeline), test_mode=test_mode,
                         lazy_init=lazy_init, serialize_data=False)

    def load_data_list(self) -> List[dict]:
        """One lightweight entry (index and scene seed) per sample; nothing is rendered here."""
        return [dict(sample_idx=i, scene_seed=scene_seed(self.seed, i))
                for i in range(self.num_samples)]

    def get_data_info(self, idx: int) -> dict:
        """Render sample ``idx`` and return it as a decoded mmseg-style data dict."""
        info = super().get_data_info(idx)
        img, label_ids = render_scene(self.style, info['scene_seed'], self.img_size)
        idx = info['sample_idx']
        img_path = f'synthetic://{self.style}/{idx:05d}.png'
        shape = img.shape[:2]
        return dict(img=img, gt_seg_map=self.label_lut[label_ids], img_shape=shape, ori_shape=shape,
                    seg_fields=['gt_seg_map'], img_path=img_path,
                    seg_map_path=img_path[:-len('.png')] + '_labelTrainIds.png',
                    reduce_zero_label=False, label_map=None, sample_idx=idx)
