"""Config helpers shared by the train / test entry points."""
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.config import Config


def load_config(path: str, cfg_options: Optional[Dict] = None) -> Config:
    """Read a Python config and merge ``--cfg-options``; errors name the file or the bad key."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        unknown = [k for k in cfg_options if k.split('.')[0] not in cfg]
        if unknown:
            raise KeyError(f'--cfg-options: top-level keys {unknown} do not exist in {path} '
                           f'(available: {sorted(cfg.keys())})')
        cfg.merge_from_dict(cfg_options)
    return cfg


def compose_uda_model(cfg: Config) -> Config:
    """Wrap ``model`` in the top-level ``uda`` algorithm dict (DAFormer's config convention).

    A config that defines ``uda = dict(type='DACS', ...)`` trains ``dict(**uda, model=model)``; the
    plain segmentor stays available as ``model['model']`` for testing.  Composing twice is a no-op.
    """
    uda = cfg.get('uda')
    if uda is not None and 'model' not in cfg.model:
        cfg.model = dict(uda, model=cfg.model)
    return cfg


def segmentor_config(model_cfg: Dict) -> Dict:
    """The plain segmentor of a model config: ``model_cfg['model']`` for a UDA wrapper, else itself."""
    return model_cfg['model'] if 'model' in model_cfg else model_cfg


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config file stem>``."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def init_cpu_distributed(launcher: str) -> Optional[Dict]:
    """For ``--launcher pytorch`` without CUDA: start a gloo process group; return the DDP wrapper cfg.

    mmengine 0.10.7's launcher calls ``torch.cuda.set_device`` unconditionally (DESIGN.md section 2),
    so on CPU the group is created here, before the Runner, which then skips its own init.
    """
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available():
        return None
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs the torchrun environment; missing {missing} '
                           '(start with: torchrun --nproc_per_node N tools/train.py CONFIG '
                           '--launcher pytorch)')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    return dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)

