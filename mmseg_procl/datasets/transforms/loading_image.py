"""LoadImageFromFile: decode an image with OpenCV into a BGR uint8 array (mmseg convention).

Reference behaviour: mmcv 1.3 ``LoadImageFromFile`` as used by mmseg 0.16 and the DAFormer family
(docs/methods.md §1.1 item 1): OpenCV decoding, BGR channel order, ``img_shape`` / ``ori_shape`` set.
"""
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from mmseg_procl.registry import TRANSFORMS
from .base_transform import BaseTransform


def read_image_bgr(path: str) -> np.ndarray:
    """Read an image file as a BGR uint8 (H, W, 3) array or raise naming the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    buf = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise ValueError(f'could not decode image file {path}: expected a readable PNG/JPEG image '
                         f'(the file is corrupt or not an image)')
    return img


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load ``results['img_path']`` into ``results['img']`` (BGR, uint8 or float32)."""

    def __init__(self, to_float32: bool = False) -> None:
        self.to_float32 = to_float32

    def transform(self, results: Dict) -> Dict:
        """Decode the image and record its shape."""
        img = read_image_bgr(results['img_path'])
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadResizedCache(BaseTransform):
    """Load the output of ``steps`` (LoadImageFromFile[, LoadAnnotations], Resize) from a pre-resized cache.

    ``steps`` are the pipeline steps it replaces, exactly as they stood in the pipeline; ``cache_dir`` is
    where ``tools/cache_resized_images.py`` wrote them (``<cache_dir>/<key>/``, the key hashing ``steps``,
    :mod:`mmseg_procl.datasets.resized_cache`).  Sets ``img``, ``gt_seg_map`` (if LoadAnnotations is
    cached), ``seg_fields``, ``ori_shape`` (of the original file), ``img_shape``, ``scale``,
    ``scale_factor`` and ``keep_ratio`` as the replaced steps do; ``img_path`` / ``seg_map_path`` keep
    naming the original files.  Label values are checked against the dataset's classes as
    LoadAnnotations does, and the dataset's ``label_map`` / ``reduce_zero_label`` must be those the cache
    was built with.

    Raises:
        FileNotFoundError: no manifest for these steps (never built, or the steps changed), or a cached
            file is missing; the message names the file and the command that builds the cache.
        KeyError: the image is not in the manifest (the cache was built for another file list).
        ValueError: the dataset remaps labels differently from when the cache was built.
    """

    def __init__(self, steps: list, cache_dir: str) -> None:
        from mmseg_procl.datasets.resized_cache import cache_key, check_steps
        self.steps = check_steps(steps, 'LoadResizedCache')
        self.cache_dir = cache_dir
        self.key = cache_key(self.steps)
        resize = self.steps[-1]
        self.keep_ratio = bool(resize.get('keep_ratio', False))
        self._manifest = None

    @property
    def manifest(self) -> Dict:
        """The cache's manifest, read once per process."""
        if self._manifest is None:
            from mmseg_procl.datasets.resized_cache import read_manifest
            self._manifest = read_manifest(self.cache_dir, self.key, self.steps)
        return self._manifest

    def transform(self, results: Dict) -> Dict:
        """Read the cached image (and labels) of ``results['img_path']``."""
        from mmseg_procl.datasets.resized_cache import check_label_settings
        from .loading_annotations import add_label_field, read_label_map
        manifest = self.manifest
        rel = osp.relpath(osp.realpath(results['img_path']), manifest['data_root'])
        entry = manifest['files'].get(rel)
        if entry is None:
            raise KeyError(f'LoadResizedCache: {results["img_path"]} is not in the cache '
                           f'{osp.join(self.cache_dir, self.key)} (built for {len(manifest["files"])} '
                           f'files under {manifest["data_root"]}); rebuild it with '
                           'tools/cache_resized_images.py')
        check_label_settings(manifest, results, self.cache_dir, self.key)
        folder = osp.join(self.cache_dir, self.key)
        img = read_image_bgr(osp.join(folder, entry['img']))
        if entry.get('label') is not None:
            add_label_field(results, 'gt_seg_map', read_label_map(osp.join(folder, entry['label'])),
                            osp.join(folder, entry['label']))
        h, w = img.shape[:2]
        ori_h, ori_w = entry['ori_shape']
        results.update(img=img, img_shape=(h, w), ori_shape=(ori_h, ori_w), scale=(w, h),
                       scale_factor=(w / ori_w, h / ori_h), keep_ratio=self.keep_ratio)
        return results
