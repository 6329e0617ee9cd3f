"""Test-suite set-up: the shared helpers in tests/fixtures/ are importable as ``fixtures``."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
