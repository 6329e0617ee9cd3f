import json
import subprocess
import sys

from espnet_brain.bin.simulate import main


def test_cli_writes_requested_parts(tmp_path):
    out = tmp_path / "corpus"
    rc = main(["--out", str(out), "--preset", "tiny", "--seed", "3", "--parts", "text", "--no-progress"])
    assert rc == 0
    m = json.load(open(out / "MANIFEST.json"))
    assert m["seed"] == 3 and m["parts"] == ["text"] and not (out / "speech").exists()


def test_cli_reports_bad_input(tmp_path, caplog):
    assert main(["--out", str(tmp_path), "--preset", "tiny", "--parts", "text,brains", "--no-progress"]) == 2
    assert "brains" in caplog.text


def test_module_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_brain.bin.simulate", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "--preset" in proc.stdout and "tiny" in proc.stdout
