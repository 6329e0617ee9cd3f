"""python -m espnet_brain.bin.run_espnet: ESPnet's own programs, with the plugin's import hooks installed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest


def test_tokenize_text_runs_without_an_nltk_download_attempt(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 HELLO WORLD\nu2 CAT\n")
    tokens = tmp_path / "tokens.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_brain.bin.run_espnet", "espnet2.bin.tokenize_text", "--token_type", "char",
         "--input", str(text), "--output", str(tokens), "--field", "2-", "--cleaner", "none", "--g2p", "none",
         "--write_vocabulary", "true", "--add_symbol", "<blank>:0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[nltk_data]" not in proc.stdout + proc.stderr
    vocabulary = tokens.read_text().split()
    assert vocabulary[0] == "<blank>" and set("HELOWRDCAT") <= set(vocabulary)


def test_only_espnet_programs_are_run():
    from espnet_brain.bin.run_espnet import main

    with pytest.raises(SystemExit, match="usage"):
        main(["os"])


def test_stage_scripts_run_espnet_programs_through_it():
    """Only the launcher (which starts the plugin's own training programs) is called directly."""
    templates = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE"
    direct = {
        f"{script.relative_to(templates)}: {m.group(1)}"
        for script in templates.glob("*/*.sh")
        for m in re.finditer(r"python3? -m (espnet2\.bin\.\w+)", script.read_text())
        if m.group(1) != "espnet2.bin.launch"
    }
    assert not direct, sorted(direct)
