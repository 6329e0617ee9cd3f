"""The environment under test is the one tools/requirements.lock pins (what CI installs on a fresh machine)."""

import re
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = Path(__file__).resolve().parents[2] / "tools" / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+))?$")


def read_lock(path: Path) -> List[Tuple[str, str, str]]:
    """``(name, version, marker)`` of every pin; raises on a line that is neither a pin nor a comment."""
    pins = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        if not m:
            raise ValueError(f"{path}:{lineno}: not a 'name==version [; marker]' pin: {line!r}")
        pins.append((m.group(1), m.group(2), m.group(3) or ""))
    return pins


def expected_here(pins: List[Tuple[str, str, str]]) -> Dict[str, str]:
    """The pins whose markers hold for this interpreter and platform, by canonical name."""
    return {canonicalize_name(n): v for n, v, marker in pins if not marker or Marker(marker).evaluate()}


def test_lock_is_complete_and_pins_the_known_good_pairs():
    pins = read_lock(LOCK)
    names = {canonicalize_name(n) for n, _, _ in pins}
    for required in ("espnet", "torch", "torchaudio", "transformers", "peft", "mne", "himalaya", "pytest"):
        assert required in names
    here = expected_here(pins)
    # torchaudio 2.11.1 does not load beside torch 2.12 (undefined symbol in libtorchaudio.so); 2.11.0 does.
    assert (here["torch"], here["torchaudio"]) == ("2.12.1", "2.11.0")


def test_installed_versions_match_the_lock():
    wanted = expected_here(read_lock(LOCK))
    installed = {}
    for name in wanted:
        # The first distribution on sys.path, as imports see it (setuptools puts vendored copies later on it).
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    missing = sorted(n for n in wanted if n not in installed)
    differ = sorted(
        f"{n} {installed[n]} (lock: {v})"
        for n, v in wanted.items()
        if n in installed and Version(installed[n]).public != Version(v).public
    )
    if missing or differ:
        pytest.fail(
            f"the environment differs from {LOCK.name}: missing {missing}, other versions {differ}; "
            "reinstall with tools/install.sh --force, or regenerate the lock with tools/lock.sh after changing setup.py"
        )


def test_read_lock_names_a_bad_line(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\nnumpy==2.4.6\n    # via scipy\ntorch>=2.1\n")
    with pytest.raises(ValueError, match=r"requirements.lock:4: .*torch>=2.1"):
        read_lock(lock)
