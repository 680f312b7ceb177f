"""Errors raised on bad input or a failed run, and their one-line rendering for the command-line tools.

Every error of this package that a user can cause (a missing file, a bad config key, a corrupt
checkpoint, a diverged run) is one of the built-in ``FileNotFoundError`` / ``KeyError`` /
``ValueError`` or a subclass below, with a message that names the file, key or value and what was
expected.  The tools print that message as one line (``<tool>: error: ...``) and exit with status 1;
:func:`describe_error` also unwraps errors re-raised from data-loader worker processes, whose text
would otherwise be the worker's whole traceback with the useful line at its end.
"""
import os
import re
import zipfile
from typing import Tuple, Type

WORKER_TRACEBACK = 'Original Traceback (most recent call last):'


class ConfigError(ValueError):
    """A config that cannot work: unknown keys or arguments, misspelt top-level keys."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, foreign or does not match the model."""


class WorkDirError(ValueError):
    """A work dir that would be overwritten, or that has nothing to resume."""


class TrainingDivergedError(RuntimeError):
    """A training loss became non-finite or exceeded the divergence bound."""


class EvaluationError(ValueError):
    """An evaluation that cannot produce a meaningful number (e.g. no labelled pixel)."""


USER_ERRORS: Tuple[Type[BaseException], ...] = (FileNotFoundError, KeyError, ValueError,
                                                 TrainingDivergedError)


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` describes bad input (print its message) rather than an internal failure.

    A ``KeyError`` whose message is a bare key (``KeyError('source')``) was raised by a dictionary
    lookup, not by a check that explains itself: the tools re-raise it with its traceback instead of
    printing ``error: source``.
    """
    if not isinstance(err, USER_ERRORS):
        return False
    _, message = unwrap_worker_error(_message(err))
    return not isinstance(err, KeyError) or ' ' in message.strip()


def _message(err: BaseException) -> str:
    """``str(err)`` without the quotes ``KeyError`` adds around its message."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        return str(err.args[0])
    return str(err)


def unwrap_worker_error(text: str) -> Tuple[str, str]:
    """Split a data-loader worker's re-raised message into (where, the original error message).

    PyTorch re-raises a worker exception in the main process with the text ``Caught <Type> in
    DataLoader worker process N.`` + ``Original Traceback ...`` + the frames + ``<Type>: message``.
    Returns ``('', text)`` when ``text`` is not such a message.
    """
    if WORKER_TRACEBACK not in text:
        return '', text
    head, _, trace = text.partition(WORKER_TRACEBACK)
    where = head.strip().rstrip('.')
    where = where.split(' in ', 1)[1] if ' in ' in where else where
    lines = trace.strip('\n').splitlines()
    last_frame = max((i for i, line in enumerate(lines) if line.startswith('  ')), default=-1)
    original = '\n'.join(lines[last_frame + 1:]).strip()
    kind, sep, message = original.partition(': ')
    if sep and ' ' not in kind:     # drop the exception type ("ValueError: ...", "pkg.Error: ...")
        original = message
    return where, original


def describe_error(err: BaseException) -> str:
    """The user-facing message of ``err``; a worker error becomes its original message + where."""
    where, message = unwrap_worker_error(_message(err))
    return f'{message} (raised in {where})' if where else message


def load_failure(path: str, err: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in words that never advise unsafe loading."""
    text = str(err)
    refused = re.search(r'Unsupported global: GLOBAL (\S+)', text)
    if refused:
        return (f'it holds a Python object ({refused.group(1)}) that loading with weights_only=True '
                'refuses, because unpickling it could run code from the file; this package only '
                'reads checkpoints made of tensors and plain values')
    size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        return (f'{size} bytes that are not a PyTorch checkpoint archive (truncated, corrupt, empty '
                f'or another format; {type(err).__name__})')
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return f'the archive ({size} bytes) is damaged: {first}'
