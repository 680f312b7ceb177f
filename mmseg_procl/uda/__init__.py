"""UDA algorithms (what the Runner trains): SourceOnly, DACS, their objectives and prototype sources."""
from . import objectives, prototypes  # noqa: F401
from .dacs import DACS
from .source_only import SourceOnly

__all__ = ['SourceOnly', 'DACS']
