"""The ``tiny`` synthetic corpus, generated once per test session and shared by the tests below."""

import pytest

from espnet_brain.simulate import ensure_corpus

TINY_SEED = 0


def tiny_corpus_dir(tmp_path_factory):
    """Generate (once per session; ensure_corpus is a no-op when the MANIFEST matches) and return the path."""
    path = tmp_path_factory.getbasetemp() / f"mini_brain-tiny-seed{TINY_SEED}"
    ensure_corpus(str(path), "tiny", TINY_SEED)
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    return tiny_corpus_dir(tmp_path_factory)
