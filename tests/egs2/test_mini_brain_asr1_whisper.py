"""End-to-end run of egs2/mini_brain/asr1 with a Whisper as --pretrained, on the tiny corpus: a tiny random Whisper in
CTranslate2 format (the format of the installed OpenAI models), never the real weights."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from fixtures.recipes import TUNED_CONTROL, copy_recipe, run
from fixtures.whisper import make_tiny_ctranslate2_whisper

SYSTEMS = [
    "Whisper zero-shot (its own decoder, speech input), greedy",
    "audio ASR (same encoder, speech input)",
    "brain: full fine-tune",
    "brain: from scratch",
    "brain: frozen transformer",
    "brain: adapters (LoRA) in the frozen transformer",
    "brain: BFE only (no transformer)",
    "brain: BFE only, rate and epochs chosen on dev",
]


def _tiny_ctranslate2_whisper(root: Path) -> Path:
    """A random English-only Whisper, converted to CTranslate2 by ctranslate2's own converter."""
    return make_tiny_ctranslate2_whisper(root, encoder_layers=2, name="whisper_ct2")


def _run(recipe: Path, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(recipe, *args, env=env, check=check, timeout=3000)


@pytest.fixture(scope="module")
def whisper_run(tmp_path_factory):
    """The recipe copied into a fresh egs2 tree (shared TEMPLATE) and run with --pretrained <tiny Whisper>."""
    root = tmp_path_factory.mktemp("repo")
    dst = copy_recipe(root, "mini_brain")
    env = {"ESPNET_BRAIN_CACHE": str(root / "cache")}  # the conversion of the CTranslate2 directory goes here
    model = _tiny_ctranslate2_whisper(root / "model")
    proc = _run(dst, env, "--preset", "tiny", "--confdir", "conf/tiny", "--pretrained", str(model), *TUNED_CONTROL)
    return dst, model, env, proc


def _table(results: Path) -> dict:
    rows = {}
    for line in results.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"\d+", cells[1]):
            rows[cells[0]] = (int(cells[1]), float(cells[2]), float(cells[3]))
    return rows


@pytest.mark.slow
def test_every_mode_and_the_zero_shot_row_with_a_whisper(whisper_run):
    recipe, model, _, proc = whisper_run
    assert f"--pretrained {model} is a Whisper: configs of conf/tiny/whisper" in proc.stderr + proc.stdout
    rows = _table(recipe / "exp" / "RESULTS.md")
    assert len(rows) == 1 + 7 * 2, rows  # the zero-shot row, then 7 systems x the default decoders (greedy, ngram)
    assert SYSTEMS[0] in rows
    for system in SYSTEMS[1:]:
        for decoder in ("greedy", "ngram"):
            assert f"{system}, {decoder}" in rows, (system, decoder, list(rows))
    for name, (n_utts, _, _) in rows.items():
        assert n_utts == 6, name  # the tiny preset's test sentences
    assert "Whisper" in (recipe / "exp" / "RESULTS.md").read_text().splitlines()[0]


@pytest.mark.slow
def test_every_system_used_the_whisper_configs_and_a_new_ctc_head(whisper_run):
    recipe, model, _, _ = whisper_run
    audio = yaml.safe_load((recipe / "exp" / "asr_audio" / "config.yaml").read_text())
    assert audio["frontend"] == "hf_whisper_stem" and audio["encoder"] == "hf_whisper"
    assert audio["frontend_conf"]["model_name_or_path"] == audio["encoder_conf"]["model_name_or_path"] == str(model)
    assert audio["ctc_init"] is None
    for mode, encoder_mode in (
        ("full", "finetune"),
        ("scratch", "scratch"),
        ("frozen", "frozen"),
        ("adapter", "adapter"),
    ):
        config = yaml.safe_load((recipe / "exp" / f"asr_brain_{mode}" / "config.yaml").read_text())
        assert config["encoder"] == "hf_whisper" and config["encoder_conf"]["mode"] == encoder_mode, mode
        assert config["encoder_conf"]["model_name_or_path"] == str(model), mode
        assert config["ctc_init"] is None, mode  # Whisper has no CTC head to start from
        assert config["frontend_conf"]["stride"] == 1, mode  # Whisper's 50 frames/s at 20 ms bins
        assert "ctc.ctc_lo" not in (config.get("freeze_param") or []), mode  # the new head trains, frozen mode too
    zero_shot = (recipe / "exp" / "whisper_zero_shot" / "decode_audio_test" / "text").read_text().splitlines()
    assert len(zero_shot) == 6
    assert all(set(line.partition(" ")[2]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ") for line in zero_shot)


@pytest.mark.slow
def test_a_whisper_without_whisper_configs_is_refused(whisper_run):
    recipe, model, env, _ = whisper_run
    proc = _run(recipe, env, "--stage", "8", "--confdir", "conf/rate25", "--pretrained", str(model), check=False)
    assert proc.returncode != 0
    assert "needs the configs of conf/rate25/whisper (missing)" in proc.stderr
