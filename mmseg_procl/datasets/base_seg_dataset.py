"""BaseSegDataset: image / label-map pairs found by a recursive folder scan or a split file.

Semantics of mmseg 0.16 ``CustomDataset`` / mmseg 1.x ``BaseSegDataset`` (github.com/open-mmlab/
mmsegmentation): the label path is the image path relative to ``img_path`` with ``img_suffix``
replaced by ``seg_map_suffix``, rooted at ``seg_map_path``; a split file (``ann_file``) lists image
names relative to ``img_path`` without the suffix.  Differences, on purpose: the scan is sorted (the
reference order is the file system's), and a missing folder, an empty folder or an image without a
label fails at construction with a message naming the path and the expected layout.
A dataset without labels (e.g. an unlabelled target domain) omits ``seg_map_path`` from
``data_prefix``.  ``data_prefix.pseudo_label_path`` (with ``pseudo_label_suffix``, default the label
suffix) adds externally produced pseudo-labels (PCPR's offline target labels) as each sample's
``pseudo_label_path``, checked like labels; ``LoadPseudoLabels`` loads them.

Label maps whose size differs from their image (a handful of GTA5 files) are found at construction
from the file headers.  Evaluation data (``test_mode=True``; the train / test tools set it for the
validation and test datasets) refuse them with the list; training data log one warning naming them
and ``LoadAnnotations`` resizes those labels (nearest) to their image's size, which is what the
reference pipelines end up doing (mmcv resizes image and label to the same target scale).
"""
import copy
import logging
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from PIL import Image
from tqdm import tqdm

from mmseg_procl.registry import DATASETS, TRANSFORMS
from .label_tables import CLASSES, IGNORE_INDEX, PALETTE, class_subset


def scan_files(folder: str, suffix: str) -> List[str]:
    """Sorted paths (relative to ``folder``) of all files below it that end with ``suffix``."""
    found = []
    for root, _, files in os.walk(folder, followlinks=True):
        rel_root = osp.relpath(root, folder)
        for name in files:
            if name.endswith(suffix):
                found.append(osp.normpath(osp.join(rel_root, name)))
    return sorted(found)


def header_size(path: str) -> Tuple[int, int]:
    """(width, height) read from an image file's header; errors name the file."""
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as err:
        raise ValueError(f'could not read the size of {path}: {err} (corrupt or not an image)') \
            from None


def label_size_mismatches(data_list: Sequence[dict]) -> List[Tuple[int, str]]:
    """``(index, 'label (WxH) vs image (WxH)')`` for every sample whose label differs in size."""
    found = []
    pairs = [(i, d['img_path'], d['seg_map_path']) for i, d in enumerate(data_list)
             if d.get('seg_map_path')]
    for i, img_path, seg_path in tqdm(pairs, desc='image / label sizes', leave=False,
                                      disable=len(pairs) < 2000):
        img_size, seg_size = header_size(img_path), header_size(seg_path)
        if img_size != seg_size:
            found.append((i, f'{seg_path} ({seg_size[0]}x{seg_size[1]}) vs {img_path} '
                             f'({img_size[0]}x{img_size[1]})'))
    return found


def subset_metainfo(default: Dict, metainfo: Optional[dict], owner: str
                    ) -> Tuple[Optional[Dict[int, int]], Optional[dict]]:
    """(label_map, metainfo) for ``metainfo=dict(classes=<subset>)`` (mmseg 1.x semantics: labels of
    the classes left out become the ignore index, the others are renumbered; the palette defaults to the
    kept classes' colours).  Without ``classes`` the metainfo is returned unchanged and no map."""
    if not metainfo or 'classes' not in metainfo:
        return None, metainfo
    label_map, palette = class_subset(metainfo['classes'], tuple(default['classes']),
                                      default['palette'], owner)
    metainfo = dict(metainfo, classes=tuple(metainfo['classes']))
    metainfo.setdefault('palette', palette)
    return label_map, metainfo


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> List[Callable]:
    """Build transform configs through this package's registry (independent of the default scope)."""
    return [TRANSFORMS.build(copy.deepcopy(t)) if isinstance(t, dict) else t for t in pipeline]


@DATASETS.register_module()
class BaseSegDataset(BaseDataset):
    """Semantic-segmentation dataset over ``data_root/img_path`` and ``data_root/seg_map_path``."""

    METAINFO: Dict = dict(classes=CLASSES, palette=PALETTE)
    LAYOUT = '<data_root>/<img_path>/**/*<img_suffix> and <data_root>/<seg_map_path>/**/*<seg_map_suffix>'

    def __init__(self, ann_file: str = '', img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 metainfo: Optional[dict] = None, data_root: str = '',
                 data_prefix: Optional[dict] = None, indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True, pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False, lazy_init: bool = False, max_refetch: int = 1000,
                 ignore_index: int = IGNORE_INDEX, reduce_zero_label: bool = False,
                 pseudo_label_suffix: Optional[str] = None) -> None:
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.pseudo_label_suffix = pseudo_label_suffix or seg_map_suffix
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        if data_prefix is None:
            data_prefix = dict(img_path='', seg_map_path='')
        unknown = set(data_prefix) - {'img_path', 'seg_map_path', 'pseudo_label_path'}
        if unknown:
            raise KeyError(f'{type(self).__name__}: unknown data_prefix keys {sorted(unknown)}; '
                           "expected 'img_path' and optionally 'seg_map_path', 'pseudo_label_path'")
        self.label_map, metainfo = subset_metainfo(self.METAINFO, metainfo, type(self).__name__)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(data_prefix), indices=indices,
                         serialize_data=serialize_data, pipeline=build_pipeline(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    @property
    def has_labels(self) -> bool:
        """Whether this dataset reads label maps."""
        return 'seg_map_path' in self.data_prefix

    def _layout_hint(self) -> str:
        """The expected folder layout, for error messages."""
        return (f"expected layout: {self.LAYOUT} (img_suffix='{self.img_suffix}', "
                f"seg_map_suffix='{self.seg_map_suffix}'); see docs/data.md §1 / README")

    def _check_folder(self, folder: str, what: str) -> None:
        """Raise if ``folder`` is not a directory."""
        if not osp.isdir(folder):
            hint = self._layout_hint() if what != 'pseudo-label' else (
                f"expected files <image name without '{self.img_suffix}'>{self.pseudo_label_suffix} from "
                'tools/convert_datasets/pseudo_labels.py (offline pseudo-labels) or weak_labels.py (WDASS '
                'weak labels); see docs/data.md §7')
            raise FileNotFoundError(f'{type(self).__name__}: {what} folder {folder!r} does not exist; {hint}')

    def _image_names(self, img_dir: str) -> List[str]:
        """Image paths relative to ``img_dir``: from the split file or a recursive scan."""
        if not self.ann_file:
            return scan_files(img_dir, self.img_suffix)
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: split file {self.ann_file!r} does not '
                                    'exist; expected one image name per line, relative to '
                                    f'{img_dir!r}, without {self.img_suffix!r}')
        with open(self.ann_file, encoding='utf-8') as f:
            names = [line.strip() + self.img_suffix for line in f if line.strip()]
        if not names:
            raise ValueError(f'{type(self).__name__}: split file {self.ann_file!r} lists no images; '
                             f'expected one image name per line, relative to {img_dir!r}, without '
                             f'{self.img_suffix!r} (tools/convert_datasets writes these lists)')
        absent = [n for n in names if not osp.isfile(osp.join(img_dir, n))]
        if absent:
            raise FileNotFoundError(
                f'{type(self).__name__}: split file {self.ann_file!r} lists {len(absent)} images that '
                f'do not exist under {img_dir!r}, e.g. {absent[0]!r}')
        return names

    def load_data_list(self) -> List[dict]:
        """List the samples, checking folders, images and labels."""
        img_dir = self.data_prefix['img_path']
        self._check_folder(img_dir, 'image')
        seg_dir = self.data_prefix.get('seg_map_path')
        if seg_dir is not None:
            self._check_folder(seg_dir, 'label')
        pseudo_dir = self.data_prefix.get('pseudo_label_path')
        if pseudo_dir is not None:
            self._check_folder(pseudo_dir, 'pseudo-label')
        names = self._image_names(img_dir)
        if not names:
            raise FileNotFoundError(f'{type(self).__name__}: no images ending with '
                                    f'{self.img_suffix!r} found under {img_dir!r}; {self._layout_hint()}')
        data_list = [self._data_info(img_dir, seg_dir, name) for name in names]
        if pseudo_dir is not None:
            self._add_pseudo_labels(data_list, img_dir, pseudo_dir, names)
        if seg_dir is not None:
            self._check_label_sizes(data_list)
        return data_list

    def _check_label_sizes(self, data_list: List[dict]) -> None:
        """Refuse (evaluation) or flag and announce once (training) labels sized unlike their image."""
        mismatches = label_size_mismatches(data_list)
        if not mismatches:
            return
        listed = '\n  '.join(m for _, m in mismatches[:50])
        more = f'\n  ... and {len(mismatches) - 50} more' if len(mismatches) > 50 else ''
        what = f'{type(self).__name__}: {len(mismatches)} of {len(data_list)} label maps differ in ' \
               f'size from their images'
        if self.test_mode:
            raise ValueError(f'{what}; evaluation needs labels of the image size (fix or remove '
                             f'them):\n  {listed}{more}')
        for i, _ in mismatches:
            data_list[i]['label_size_mismatch'] = True
        print_log(f'{what}; they are resized (nearest) to their image size when loaded, as the '
                  f'reference pipelines do:\n  {listed}{more}', logger='current', level=logging.WARNING)

    def _add_pseudo_labels(self, data_list: List[dict], img_dir: str, pseudo_dir: str, names: List[str]) -> None:
        """Each sample's ``pseudo_label_path``; one error counting the images without one."""
        missing = []
        for info, name in zip(data_list, names):
            path = osp.join(pseudo_dir, name[:-len(self.img_suffix)] + self.pseudo_label_suffix)
            if not osp.isfile(path):
                missing.append(path)
            info['pseudo_label_path'] = path
        if missing:
            raise FileNotFoundError(f'{type(self).__name__}: {len(missing)} of {len(data_list)} images under '
                                    f'{img_dir!r} have no pseudo-label file, e.g. {missing[0]!r} '
                                    f"(pseudo_label_suffix={self.pseudo_label_suffix!r}; "
                                    'tools/convert_datasets/pseudo_labels.py writes them)')

    def _data_info(self, img_dir: str, seg_dir: Optional[str], name: str) -> dict:
        """The data-info dict of one image (label existence checked)."""
        info = dict(img_path=osp.join(img_dir, name), label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                    num_classes=len(self.metainfo['classes']), ignore_index=self.ignore_index)
        if seg_dir is not None:
            seg_path = osp.join(seg_dir, name[:-len(self.img_suffix)] + self.seg_map_suffix)
            if not osp.isfile(seg_path):
                raise FileNotFoundError(f'{type(self).__name__}: image {info["img_path"]!r} has no '
                                        f'label file; expected {seg_path!r} ({self._layout_hint()})')
            info['seg_map_path'] = seg_path
        return info
