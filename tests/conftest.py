"""Make the Python helpers in tests/fixtures importable (``from tiny_clip import ...``)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures'))
