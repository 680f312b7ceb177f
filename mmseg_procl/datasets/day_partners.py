"""DayPartners: the daytime partner of every Dark Zurich night image, from the correspondence files.

SePiCo's Dark Zurich variant (Xie et al., TPAMI 2023, github.com/BIT-DA/SePiCo
``mmseg/models/uda/sepico_dark.py``: ``build_corresp_map`` / ``get_daytime_by_meta``; docs/methods.md
§2.2.6 and docs/data.md) pseudo-labels a night image together with the daytime image of the same place.
Dark Zurich ships the pairs as CSV files (``corresp/train/night/*.csv``), one row per night frame::

    train/night/GOPR0351/GOPR0351_frame_000159,train/day/GOPR0348/GOPR0348_frame_000159

The key is ``<night_key_prefix>/<night image path relative to the target's image folder, suffix removed>``;
the day image is ``<day_img_dir>/<the value after its first 'day/'><img_suffix>`` (the reference's rule).
Unlike the reference (which looks partners up during training and fails with a ``KeyError`` there), every
night image of the target dataset is checked at construction: a missing pair, a partner file that does not
exist, a malformed row or a night key paired with two different days is one error naming the file and key.

The partner goes through the *target* pipeline with the night image's flip decision preset
(``flip`` / ``flip_direction``, honoured by ``RandomFlip``), so both images are resized and flipped alike;
a target pipeline with another random transform (random crop, photometric distortion) is refused, since the
partner would get a different draw.
"""
import copy
import csv
import glob
import os.path as osp
from typing import Dict, List, Optional

# transforms that draw random numbers; RandomFlip is shared through the preset decision
RANDOM_TRANSFORMS = ('RandomCrop', 'RandomResize', 'PhotoMetricDistortion', 'RandomRotate', 'RandomCutOut')
DAY_PARTNER_KEYS = ('corresp_dir', 'day_img_dir', 'night_key_prefix')


def read_correspondences(corresp_dir: str) -> Dict[str, str]:
    """``{night key: day key}`` from every ``*.csv`` below ``corresp_dir`` (sorted, recursive).

    Raises ``FileNotFoundError`` when the folder or any CSV is missing, ``ValueError`` naming the file and
    line for a row without two non-empty fields or a night key paired with two different days.
    """
    if not osp.isdir(corresp_dir):
        raise FileNotFoundError(f'day partners: correspondence folder {corresp_dir} does not exist; '
                                'expected Dark Zurich corresp/train/night/*.csv')
    files = sorted(glob.glob(osp.join(corresp_dir, '**', '*.csv'), recursive=True))
    if not files:
        raise FileNotFoundError(f'day partners: no *.csv file in {corresp_dir}')
    pairs: Dict[str, str] = {}
    for path in files:
        with open(path, newline='') as f:
            for line_no, row in enumerate(csv.reader(f), start=1):
                if not row:
                    continue
                if len(row) < 2 or not row[0].strip() or not row[1].strip():
                    raise ValueError(f'{path}:{line_no}: expected "<night key>,<day key>", got {row!r}')
                night, day = row[0].strip(), row[1].strip()
                if pairs.get(night, day) != day:
                    raise ValueError(f'{path}:{line_no}: night image {night!r} is paired with {day!r} here '
                                     f'and with {pairs[night]!r} before')
                pairs[night] = day
    return pairs


def check_pipeline_for_partners(pipeline) -> None:
    """Raise if the target pipeline has a random transform other than ``RandomFlip``."""
    for t in getattr(pipeline, 'transforms', []):
        name = type(t).__name__
        if name in RANDOM_TRANSFORMS:
            raise ValueError(f'day partners: the target pipeline has {name}, whose random draw the day image '
                             'would not share; load the target uncropped (Resize, RandomFlip) and crop in the '
                             "algorithm (target_crop=dict(type='ClassBalancedCrop'))")


class DayPartners:
    """Day image path of every target (night) sample, checked at construction (module docstring).

    Args:
        target: the target dataset (fully initialised; its samples' ``img_path`` are the night images).
        corresp_dir: correspondence folder, relative to the target's ``data_root`` unless absolute.
        day_img_dir: folder of the day images, relative to ``data_root`` unless absolute.
        night_key_prefix: prefix of the night keys in the CSV files.
    """

    def __init__(self, target, corresp_dir: str = 'corresp/train/night', day_img_dir: str = 'rgb_anon/train/day',
                 night_key_prefix: str = 'train/night') -> None:
        root = getattr(target, 'data_root', None) or ''
        self.corresp_dir = osp.join(root, corresp_dir)
        self.day_img_dir = osp.join(root, day_img_dir)
        self.night_key_prefix = night_key_prefix.strip('/')
        self.img_suffix = getattr(target, 'img_suffix', '.png')
        # mmengine joins data_root into data_prefix at construction: the image folder as the dataset sees it
        self.night_dir = getattr(target, 'data_prefix', {}).get('img_path', '') or root
        check_pipeline_for_partners(getattr(target, 'pipeline', None))
        pairs = read_correspondences(self.corresp_dir)
        self.paths = self._resolve(target, pairs)

    def night_key(self, img_path: str) -> str:
        """CSV key of a night image path."""
        rel = osp.relpath(img_path, self.night_dir).replace(osp.sep, '/')
        if rel.endswith(self.img_suffix):
            rel = rel[:-len(self.img_suffix)]
        return f'{self.night_key_prefix}/{rel}' if self.night_key_prefix else rel

    def day_path(self, day_key: str) -> str:
        """Day image path of a CSV day key (the part after its first ``day/``)."""
        _, sep, rest = day_key.partition('day/')
        return osp.join(self.day_img_dir, (rest if sep else day_key) + self.img_suffix)

    def _resolve(self, target, pairs: Dict[str, str]) -> List[str]:
        """Day path per target index; one error listing how many night images lack a (readable) partner."""
        paths, missing, absent = [], [], []
        for idx in range(len(target)):
            key = self.night_key(target.get_data_info(idx)['img_path'])
            if key not in pairs:
                missing.append(key)
                continue
            path = self.day_path(pairs[key])
            if not osp.isfile(path):
                absent.append((key, path))
            paths.append(path)
        if missing:
            raise KeyError(f'day partners: {len(missing)} of {len(target)} night images have no row in '
                           f'{self.corresp_dir}/*.csv, e.g. {missing[0]!r}; expected keys like '
                           f'{next(iter(pairs))!r}')
        if absent:
            raise FileNotFoundError(f'day partners: {len(absent)} day images do not exist, e.g. {absent[0][1]} '
                                    f'(partner of {absent[0][0]!r})')
        return paths

    def load(self, target, idx: int, night_meta: dict) -> dict:
        """The packed day partner of target sample ``idx``, flipped as ``night_meta`` says."""
        info = copy.deepcopy(target.get_data_info(idx))
        info.update(img_path=self.paths[idx], seg_map_path=None, seg_fields=[],
                    flip=bool(night_meta.get('flip', False)), flip_direction=night_meta.get('flip_direction'))
        sample = target.pipeline(info)
        if sample is None:
            raise ValueError(f'day partners: the target pipeline dropped the day image {self.paths[idx]}')
        return sample


def build_day_partners(target, cfg: Optional[dict]) -> Optional[DayPartners]:
    """``DayPartners`` from the ``day_partners`` config of ``UDADataset`` (None stays None)."""
    if cfg is None:
        return None
    unknown = sorted(set(cfg) - set(DAY_PARTNER_KEYS))
    if unknown:
        raise KeyError(f'UDADataset: day_partners has unknown keys {unknown}; it reads {list(DAY_PARTNER_KEYS)}')
    return DayPartners(target, **cfg)


__all__ = ['DayPartners', 'build_day_partners', 'read_correspondences']
