"""Config and checkpoint of a work dir: this package's runs and the family's released work dirs.

``sh test.sh <dir>`` and ``tools/test.py <dir>`` evaluate a folder (docs/checkpoints.md §1-2):

* a work dir of this package: the one dumped ``*.py`` config and the checkpoint ``last_checkpoint``
  names (the file of that name in the folder itself when the folder was moved); the test log goes
  to ``<dir>/test``;
* a released work dir of DAFormer / CLIP-ProCL / SePiCo / MIC: the dumped ``<run name>.json`` (not
  the ``*.log.json`` training logs; MIC: a literal ``.py``) and ``latest.pth``, else the newest
  ``iter_<N>.pth``, else the folder's only ``*.pth`` (SePiCo's ``<model>.pth`` + ``<model>.json``
  pairs).  Nothing but ``preds/`` is written into such a folder: the test log goes to
  ``<dir>/preds/test_log``.
"""
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import List

from mmseg_procl.errors import WorkDirError
from .legacy_config import is_legacy_config

ITER_CHECKPOINT = re.compile(r'^iter_(\d+)\.pth$')


@dataclass
class WorkDirFiles:
    """What to test in a work dir, and where the test log goes."""

    config: str
    checkpoint: str
    released: bool
    log_dir: str


def files_in(folder: str, suffix: str) -> List[str]:
    """Sorted names of the regular files (or links to them) in ``folder`` ending with ``suffix``."""
    return sorted(n for n in os.listdir(folder)
                  if n.endswith(suffix) and osp.isfile(osp.join(folder, n)))


def resolve_work_dir(folder: str) -> WorkDirFiles:
    """The config and checkpoint to test in ``folder`` (see the module docstring)."""
    if not osp.exists(folder):
        raise FileNotFoundError(f'work dir {folder!r} does not exist')
    if not osp.isdir(folder):
        raise WorkDirError(f'{folder!r} is a file; expected a work dir (a folder written by training, '
                           'or a released model folder with its dumped config and checkpoint)')
    folder = folder.rstrip('/') or '/'
    ours = [n for n in files_in(folder, '.py') if not is_legacy_config(osp.join(folder, n))]
    if ours or osp.isfile(osp.join(folder, 'last_checkpoint')):
        return own_work_dir(folder, ours)
    return released_work_dir(folder)


def own_work_dir(folder: str, configs: List[str]) -> WorkDirFiles:
    """A work dir of this package: its dumped config and ``last_checkpoint``'s file."""
    if len(configs) != 1:
        raise WorkDirError(f'expected exactly one dumped config (*.py) in {folder!r}, found '
                           f'{len(configs)}{": " + ", ".join(configs) if configs else ""}')
    pointer = osp.join(folder, 'last_checkpoint')
    if not osp.isfile(pointer):
        raise WorkDirError(f'{pointer!r} not found: the run has not saved a checkpoint yet')
    with open(pointer, encoding='utf-8') as f:
        checkpoint = f.read().strip()
    own = osp.join(folder, osp.basename(checkpoint))  # the file of that name here (a moved work dir)
    if osp.isfile(own):
        checkpoint = own
    return WorkDirFiles(osp.join(folder, configs[0]), checkpoint, False, osp.join(folder, 'test'))


def released_config(folder: str) -> str:
    """The dumped config of a released work dir (see the module docstring)."""
    configs = [n for n in files_in(folder, '.json') if not n.endswith('.log.json')]
    if not configs:
        configs = [n for n in files_in(folder, '.py') if is_legacy_config(osp.join(folder, n))]
    if len(configs) > 1:                         # as the original test.sh: <dir>/*<dir>[-1].json
        named = [n for n in configs if osp.splitext(n)[0] == osp.basename(folder)]
        configs = named or [n for n in configs if osp.splitext(n)[0][-1:] == folder[-1:]]
    if len(configs) != 1:
        found = files_in(folder, '.json') + files_in(folder, '.py')
        raise WorkDirError(f'{folder!r} holds no single dumped config: expected this package\'s '
                           '<name>.py with last_checkpoint, or a released <run name>.json (MIC: .py); '
                           f'found {found or "no .json / .py file"}')
    return osp.join(folder, configs[0])


def released_checkpoint(folder: str) -> str:
    """``latest.pth``, else the newest ``iter_<N>.pth``, else the folder's only ``*.pth``."""
    latest = osp.join(folder, 'latest.pth')
    if osp.islink(latest) and not osp.exists(latest):
        raise WorkDirError(f'{latest!r} is a link to {os.readlink(latest)!r}, which does not exist '
                           '(copy the checkpoint it names into the folder)')
    if osp.isfile(latest):
        return latest
    iters = [(int(m.group(1)), n) for n in files_in(folder, '.pth') for m in [ITER_CHECKPOINT.match(n)] if m]
    if iters:
        return osp.join(folder, max(iters)[1])
    others = files_in(folder, '.pth')
    if len(others) == 1:
        return osp.join(folder, others[0])
    raise WorkDirError(f'{folder!r} holds no checkpoint to test: expected latest.pth, iter_<N>.pth or a '
                       f'single <model>.pth; found {others or "no .pth file"}')


def released_work_dir(folder: str) -> WorkDirFiles:
    """A released work dir: its dumped legacy config and checkpoint; the log goes under ``preds/``."""
    return WorkDirFiles(released_config(folder), released_checkpoint(folder), True,
                        osp.join(folder, 'preds', 'test_log'))
