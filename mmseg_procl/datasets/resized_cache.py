"""Pre-resized image cache: the deterministic head of a training pipeline (load, labels, resize) done once.

DAFormer-style GTA5 pipelines decode a 1914 x 1052 PNG and shrink it to 1280 x 720 in every iteration; the
result never changes.  ``tools/cache_resized_images.py CONFIG`` runs those leading steps once per file and
writes the outputs as lossless PNGs into ``<cache_dir>/<key>/`` together with ``manifest.json``; the
:class:`~mmseg_procl.datasets.transforms.LoadResizedCache` transform then reads them instead (about half
the pixels to decode, no resize), producing the same arrays and shape fields.

The key is a hash of the cached steps' configs (types and arguments, canonical JSON): a config whose load
or resize differs computes another key, finds no manifest under it, and stops with an error naming the
command that builds the cache, so a stale cache cannot be read.  Manifest layout::

    {"key": ..., "steps": [...], "data_root": <real path of the source root>, "complete": true,
     "label_settings": {"reduce_zero_label": ..., "label_map": ...},     # the dataset's, when built
     "files": {<image path relative to data_root>: {"img": <relative cache path>, "label": <... or null>,
                                                     "ori_shape": [h, w]}}}
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Sequence

CACHEABLE_STEPS = ('LoadImageFromFile', 'LoadAnnotations', 'Resize')
MANIFEST = 'manifest.json'


def cache_key(steps: Sequence[dict]) -> str:
    """12 hex digits of the SHA-1 of the steps' canonical JSON (key order and spelling of numbers fixed)."""
    text = json.dumps([dict(step) for step in steps], sort_keys=True, default=list)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]


def check_steps(steps: Sequence[dict], where: str) -> List[dict]:
    """The steps as plain dicts; raise unless they are LoadImageFromFile[, LoadAnnotations], Resize."""
    steps = [dict(step) for step in steps]
    types = [step.get('type') for step in steps]
    allowed = (['LoadImageFromFile', 'Resize'], ['LoadImageFromFile', 'LoadAnnotations', 'Resize'])
    if types not in allowed:
        raise ValueError(f'{where}: the cached steps must be LoadImageFromFile, [LoadAnnotations,] Resize '
                         f'(deterministic); got {types}')
    if steps[0].get('to_float32'):
        raise ValueError(f'{where}: LoadImageFromFile(to_float32=True) cannot be cached (PNG files hold '
                         'uint8); cache the uint8 steps and convert later in the pipeline')
    return steps


def leading_cacheable_steps(pipeline: Sequence[dict]) -> List[dict]:
    """The leading LoadImageFromFile[, LoadAnnotations], Resize of a pipeline config (or raise)."""
    head = []
    for step in pipeline:
        if step.get('type') not in CACHEABLE_STEPS:
            break
        head.append(dict(step))
        if step.get('type') == 'Resize':
            break
    return check_steps(head, 'the pipeline')


def manifest_path(cache_dir: str, key: str) -> str:
    """``<cache_dir>/<key>/manifest.json``."""
    return osp.join(cache_dir, key, MANIFEST)


def read_manifest(cache_dir: str, key: str, steps: Sequence[dict]) -> Dict:
    """The complete manifest of ``key`` under ``cache_dir`` (errors name the file and the fix)."""
    path = manifest_path(cache_dir, key)
    build = ('build it with: python tools/cache_resized_images.py <config> (the cached steps are '
             f'{[s.get("type") for s in steps]})')
    if not osp.isfile(path):
        raise FileNotFoundError(f'LoadResizedCache: no resized cache for these steps (key {key}): {path} '
                                f'does not exist; {build}')
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f'LoadResizedCache: {path} is not a readable JSON manifest ({error}); delete '
                         f'{osp.dirname(path)} and {build}') from error
    missing = [k for k in ('key', 'data_root', 'files', 'complete') if k not in manifest]
    if missing or manifest['key'] != key or not manifest['complete']:
        raise ValueError(f'LoadResizedCache: {path} is incomplete or not the manifest of key {key} '
                         f'(missing fields {missing}, complete={manifest.get("complete")}); {build}')
    return manifest


def write_manifest(cache_dir: str, key: str, manifest: Dict) -> str:
    """Write the manifest atomically (temporary file, then rename); return its path."""
    path = manifest_path(cache_dir, key)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(manifest, f)
    os.replace(tmp, path)
    return path


def label_settings(results: Dict) -> Dict:
    """The dataset's label remapping fields of a results dict, in their JSON form."""
    return json.loads(json.dumps(dict(reduce_zero_label=bool(results.get('reduce_zero_label', False)),
                                      label_map=results.get('label_map') or None)))


def check_label_settings(manifest: Dict, results: Dict, cache_dir: str, key: str) -> None:
    """Raise if the dataset remaps labels differently from when the cache was built."""
    recorded, current = manifest.get('label_settings'), label_settings(results)
    if recorded is not None and recorded != current:
        raise ValueError(f'LoadResizedCache: the cache {osp.join(cache_dir, key)} was built with label '
                         f'settings {recorded}, the dataset now has {current}; rebuild it with '
                         'tools/cache_resized_images.py')


# ---------------------------------------------------------------------------------------------- building
_WORKER = {}


def _init_worker(dataset_cfg: Dict, steps: List[dict]) -> None:
    """Build the dataset (pipeline = the cached steps) once per worker process."""
    from mmseg_procl.registry import DATASETS
    from mmseg_procl.utils import register_all_modules
    register_all_modules()
    _WORKER['dataset'] = DATASETS.build(dict(dataset_cfg, pipeline=steps))


def _cache_one(job) -> Dict:
    """Run the cached steps on sample ``index`` and write its PNGs; return its manifest entry."""
    import cv2
    index, folder, data_root = job
    results = _WORKER['dataset'].prepare_data(index)
    rel = osp.relpath(osp.realpath(results['img_path']), data_root)
    entry = dict(rel=rel, img=osp.join('img', osp.splitext(rel)[0] + '.png'), label=None,
                 ori_shape=[int(v) for v in results['ori_shape'][:2]], label_settings=label_settings(results))
    outputs = [(entry['img'], results['img'])]
    if 'gt_seg_map' in results:
        label_rel = osp.relpath(osp.realpath(results['seg_map_path']), data_root)
        entry['label'] = osp.join('label', osp.splitext(label_rel)[0] + '.png')
        outputs.append((entry['label'], results['gt_seg_map']))
    for name, array in outputs:
        path = osp.join(folder, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, array):
            raise OSError(f'cache_resized_images: could not write {path}')
    return entry


def _up_to_date(cache_dir: str, key: str, steps: Sequence[dict], dataset, data_root: str) -> bool:
    """True if the cache of ``key`` holds exactly this dataset's files with its label settings; False if it
    is incomplete or stale (it is rebuilt); raises if it belongs to another data root (never overwritten)."""
    try:
        old = read_manifest(cache_dir, key, steps)
    except (FileNotFoundError, ValueError):
        return False
    if old['data_root'] != data_root:
        raise FileExistsError(f'cache_resized_images: {osp.join(cache_dir, key)} holds the cache of '
                              f'{old["data_root"]}, not of {data_root}; give this dataset its own '
                              '--cache-dir (nothing was written)')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    files = {osp.relpath(osp.realpath(info['img_path']), data_root) for info in infos}
    settings = label_settings(infos[0]) if infos else label_settings({})
    return set(old['files']) == files and old.get('label_settings') == settings


def build_resized_cache(dataset_cfg: Dict, steps: Sequence[dict], cache_dir: str, workers: int = 1,
                        progress: bool = True) -> Dict:
    """Write ``<cache_dir>/<key>/`` for every sample of ``dataset_cfg`` (a complete cache is left as it is).

    Returns ``dict(key, folder, files, skipped)``; ``skipped`` is True when a complete manifest of the same
    data root, file list and label settings was already there (a stale one is rebuilt; one of another
    data root raises ``FileExistsError``).  Progress (tqdm, with ETA) goes to stderr.
    """
    from tqdm import tqdm
    steps = check_steps(steps, 'cache_resized_images')
    key = cache_key(steps)
    folder = osp.join(cache_dir, key)
    data_root = osp.realpath(dataset_cfg.get('data_root') or '.')
    _init_worker(dataset_cfg, steps)
    dataset = _WORKER['dataset']
    count = len(dataset)
    if osp.isfile(manifest_path(cache_dir, key)):
        if _up_to_date(cache_dir, key, steps, dataset, data_root):
            return dict(key=key, folder=folder, files=count, skipped=True)
        # a stale cache is rewritten file by file: its manifest goes first, so that an interrupted
        # rebuild leaves no manifest vouching for a mix of old and new files
        os.remove(manifest_path(cache_dir, key))
    os.makedirs(folder, exist_ok=True)
    jobs = [(i, folder, data_root) for i in range(count)]
    bar = dict(total=count, desc=f'resizing into {folder}', unit='img', disable=not progress)
    if workers > 1:
        import multiprocessing
        with multiprocessing.get_context('spawn').Pool(workers, _init_worker, (dataset_cfg, steps)) as pool:
            entries = list(tqdm(pool.imap_unordered(_cache_one, jobs, chunksize=4), **bar))
    else:
        entries = [_cache_one(job) for job in tqdm(jobs, **bar)]
    settings = entries[0]['label_settings'] if entries else label_settings({})
    files = {e['rel']: dict(img=e['img'], label=e['label'], ori_shape=e['ori_shape']) for e in entries}
    write_manifest(cache_dir, key, dict(key=key, steps=steps, data_root=data_root, complete=True,
                                        label_settings=settings, files=files))
    return dict(key=key, folder=folder, files=count, skipped=False)
