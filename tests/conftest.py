"""Test-suite set-up: the shared helpers in tests/fixtures/ are importable as ``fixtures``."""

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """kind -> directory of a tiny saved model, for every kind in KINDS."""
    from fixtures.hf_models import KINDS, make_tiny_model

    root = tmp_path_factory.mktemp("tiny_ssl")
    return {kind: make_tiny_model(kind, root / kind) for kind in KINDS}
