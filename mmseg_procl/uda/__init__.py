"""UDA algorithms (what the Runner trains): SourceOnly, DACS, and their objectives."""
from . import objectives  # noqa: F401
from .dacs import DACS
from .source_only import SourceOnly

__all__ = ['SourceOnly', 'DACS']
