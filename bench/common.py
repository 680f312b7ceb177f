"""Shared output of the benchmark scripts: one JSON object on stdout, optionally also in a file."""
import json
from typing import Optional


def emit_json(record: dict, out: Optional[str] = None, indent: int = 1) -> None:
    """Print ``record`` as JSON and, with ``out``, write the same text to that file."""
    text = json.dumps(record, indent=indent)
    print(text)
    if out:
        with open(out, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
