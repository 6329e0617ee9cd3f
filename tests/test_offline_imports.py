"""Importing the plugin never tries to download NLTK data (g2p_en's cmudict, imported by ESPnet's tasks)."""

import subprocess
import sys
import textwrap

import pytest

RECORD_DOWNLOADS = textwrap.dedent(
    """
    import sys

    import nltk

    nltk.data.path[:] = [sys.argv[1]]  # an empty data directory: cmudict and the tagger are missing
    calls = []


    def record(*args, **kwargs):
        calls.append(args)
        return False


    nltk.download = record
    import espnet_brain  # noqa: E402
    import g2p_en  # noqa: E402

    print("at import:", calls)
    print("restored:", nltk.download is record)
    nltk.download("punkt")
    print("afterwards:", calls)
    """
)


def test_g2p_en_import_downloads_nothing_and_nltk_download_is_restored(tmp_path):
    pytest.importorskip("g2p_en")
    res = subprocess.run(
        [sys.executable, "-c", RECORD_DOWNLOADS, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["at import: []", "restored: True", "afterwards: [('punkt',)]"]


def test_importing_the_asr_task_prints_no_nltk_data_line():
    pytest.importorskip("g2p_en")
    res = subprocess.run(
        [sys.executable, "-c", "import espnet_brain.tasks.brain_asr"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert "[nltk_data]" not in res.stdout + res.stderr


def test_install_is_idempotent_and_ignores_other_modules():
    from espnet_brain import offline_imports

    offline_imports.install()
    offline_imports.install()
    assert sum(isinstance(f, offline_imports.NoDownloadFinder) for f in sys.meta_path) == 1
    assert offline_imports.NoDownloadFinder().find_spec("json") is None
    assert offline_imports.NoDownloadFinder().find_spec("g2p_en_not_installed_anywhere") is None
