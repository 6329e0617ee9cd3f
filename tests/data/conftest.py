"""The ``tiny`` synthetic corpus for the reader tests (same directory as tests/simulate: built once)."""

import pytest

from espnet_brain.simulate import ensure_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "mini_brain-tiny-seed0"
    ensure_corpus(str(path), "tiny", 0)
    return path
