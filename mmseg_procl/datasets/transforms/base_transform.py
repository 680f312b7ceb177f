"""BaseTransform: the callable interface shared by all data transforms (mmcv 2.x convention)."""
from abc import ABCMeta, abstractmethod
from typing import Dict, Optional


class BaseTransform(metaclass=ABCMeta):
    """A transform maps a results dict to a results dict; ``None`` drops the sample."""

    def __call__(self, results: Dict) -> Optional[Dict]:
        """Apply the transform."""
        return self.transform(results)

    @abstractmethod
    def transform(self, results: Dict) -> Optional[Dict]:
        """Transform ``results`` in place and return it."""

    def __repr__(self) -> str:
        """Class name with its public attributes."""
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'
