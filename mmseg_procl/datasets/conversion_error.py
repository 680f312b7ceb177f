"""The error raised by the dataset converters (``tools/convert_datasets/*.py``).

Mirrors the failure points of DAFormer's converters (Hoyer et al., CVPR 2022, github.com/lhoyer/DAFormer,
``tools/convert_datasets/*.py``), which crash with a bare traceback on a missing folder, an unreadable
label or an unexpected id; here every such case is one message naming the path and what was expected.
"""


class ConversionError(Exception):
    """A dataset file or folder that cannot be converted; ``str()`` is ``'<path>: <problem>'``."""

    def __init__(self, path: str, problem: str):
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f'{self.path}: {self.problem}'
