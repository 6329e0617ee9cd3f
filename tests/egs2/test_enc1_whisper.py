"""The encoding recipes with a Whisper as the speech model: which config each model gets and what brain_enc.sh is
given (a brain_enc.sh that records its arguments: seconds, no training), and one slow end-to-end run of mini_brain
with a tiny Whisper directory."""

import json
from pathlib import Path

import pytest
from fixtures.hf_models import save_tiny_whisper
from fixtures.lebel_encoding import copy_enc_recipe
from fixtures.recipes import run

FAKE_BRAIN_ENC = """#!/usr/bin/env bash
printf '%s\\n' "$@" >>"${FAKE_CALLS}/brain_enc"
"""


def _recipe(tmp_path: Path, corpus: str):
    recipe = copy_enc_recipe(tmp_path / "repo", corpus)
    (recipe / "brain_enc.sh").unlink()
    (recipe / "brain_enc.sh").write_text(FAKE_BRAIN_ENC)
    (recipe / "brain_enc.sh").chmod(0o755)
    calls = tmp_path / "calls"
    calls.mkdir()
    return recipe, calls, {"FAKE_CALLS": str(calls), "MINI_BRAIN": str(tmp_path / "none")}


def _option(args, name):
    return args[args.index(name) + 1]


def _models(tmp_path: Path):
    """name -> (the --speech_model / --pretrained_model value, whether it is a Whisper)."""
    whisper = save_tiny_whisper(tmp_path / "tiny_whisper", num_mel_bins=80, max_source_positions=1500)
    ct2 = tmp_path / "ct2_whisper"  # a CTranslate2 directory: model.bin and its own config.json, no HF weights
    ct2.mkdir()
    (ct2 / "model.bin").write_bytes(b"")
    (ct2 / "config.json").write_text(json.dumps({"suppress_ids": []}))
    return {"short_tiny": "whisper-tiny.en", "short_base": "whisper-base", "dir": whisper, "ct2": str(ct2)}


@pytest.mark.parametrize(
    "model, config",
    [
        ("short_tiny", "conf/train_enc_lora_whisper.yaml"),
        ("short_base", "conf/train_enc_lora_whisper_base.yaml"),
        ("dir", "conf/train_enc_lora_whisper.yaml"),
        ("ct2", "conf/train_enc_lora_whisper.yaml"),
        ("random", "conf/train_enc_lora.yaml"),
    ],
)
def test_mini_brain_gives_a_whisper_its_config(tmp_path, model, config):
    recipe, calls, env = _recipe(tmp_path, "mini_brain")
    value = "random" if model == "random" else _models(tmp_path)[model]
    run(recipe, "--stage", "4", "--stop_stage", "4", "--speech_model", value, "--word_probes", "false", env=env)
    args = (calls / "brain_enc").read_text().splitlines()
    assert _option(args, "--enc_config") == config
    if model == "random":  # stage 2's WavLM, the config's own model_name_or_path
        assert "--pretrained_model" not in args
    else:
        assert _option(args, "--pretrained_model") == value
        assert "Whisper" in _option(args, "--results_notes") or value in _option(args, "--results_notes")


def test_mini_brain_enc_config_option_wins(tmp_path):
    recipe, calls, env = _recipe(tmp_path, "mini_brain")
    run(recipe, "--stage", "4", "--stop_stage", "4", "--speech_model", "whisper-base", "--word_probes", "false",
        "--confdir", "conf/tiny", "--enc_config", "conf/train_enc_lora_whisper.yaml", env=env)  # fmt: skip
    assert _option((calls / "brain_enc").read_text().splitlines(), "--enc_config") == "conf/train_enc_lora_whisper.yaml"
    # a confdir without a whisper-base variant falls back to its Whisper config
    (calls / "brain_enc").unlink()
    run(recipe, "--stage", "4", "--stop_stage", "4", "--speech_model", "whisper-base", "--word_probes", "false",
        "--confdir", "conf/tiny", env=env)  # fmt: skip
    args = (calls / "brain_enc").read_text().splitlines()
    assert _option(args, "--enc_config") == "conf/tiny/train_enc_lora_whisper.yaml"


@pytest.mark.parametrize(
    "model, config, tag",
    [
        ("short_tiny", "conf/train_whisper_lora.yaml", "whisper_lora_UTS01"),
        ("short_base", "conf/train_whisper_base_lora.yaml", "whisper_base_lora_UTS01"),
        ("dir", "conf/train_whisper_lora.yaml", "whisper_lora_UTS01"),
        ("hub", "conf/train_wavlm_lora.yaml", "wavlm_lora_UTS01"),
    ],
)
def test_lebel2023_gives_a_whisper_its_config(tmp_path, model, config, tag):
    recipe, calls, env = _recipe(tmp_path, "lebel2023")
    value = "microsoft/wavlm-base-plus" if model == "hub" else _models(tmp_path)[model]
    run(recipe, "--pretrained_model", value, env={**env, "LEBEL2023": str(tmp_path)})
    args = (calls / "brain_enc").read_text().splitlines()
    assert (_option(args, "--enc_config"), _option(args, "--enc_tag")) == (config, tag)
    assert _option(args, "--pretrained_model") == value


def test_recipe_configs_build_with_a_tiny_whisper(tmp_path):
    """The Whisper configs' frontend settings on a tiny Whisper (their layer within its 2 layers: the tiny ones)."""
    from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask

    whisper = save_tiny_whisper(tmp_path / "w", num_mel_bins=80, max_source_positions=1500)
    repo = Path(__file__).resolve().parents[2]
    for config in (
        "mini_brain/enc1/conf/tiny/train_enc_lora_whisper.yaml",
        "lebel2023/enc1/conf/tiny/train_whisper_lora.yaml",
    ):
        args = FMRIEncodingTask.get_parser().parse_args(
            [
                "--config",
                str(repo / "egs2" / config),
                "--n_voxels",
                "3",
                "--frontend_conf",
                f"model_name_or_path={whisper}",
            ]
        )
        model = FMRIEncodingTask.build_model(args)
        assert type(model.frontend.ssl).__name__ == "WhisperSpeechModel" and model.head.input_size == 16
    for config, layer, width in (
        ("mini_brain/enc1/conf/train_enc_lora_whisper.yaml", 3, "whisper-tiny.en"),
        ("mini_brain/enc1/conf/train_enc_lora_whisper_base.yaml", 4, "whisper-base"),
        ("lebel2023/enc1/conf/train_whisper_lora.yaml", 3, "whisper-tiny.en"),
        ("lebel2023/enc1/conf/train_whisper_base_lora.yaml", 4, "whisper-base"),
    ):
        args = FMRIEncodingTask.get_parser().parse_args(["--config", str(repo / "egs2" / config)])
        fe = args.frontend_conf
        assert (fe["model_name_or_path"], fe["layer"]) == (width, layer), config
        assert fe["lora_conf"] == {"r": 4, "alpha": 4, "dropout": 0.1, "targets": ["q_proj", "k_proj", "v_proj"]}


@pytest.mark.slow
def test_mini_brain_runs_with_a_tiny_whisper_directory(tmp_path):
    """Every stage of mini_brain enc1 (one LoRA arm) with a tiny random Whisper as the speech model."""
    recipe = copy_enc_recipe(tmp_path / "repo", "mini_brain")
    whisper = save_tiny_whisper(tmp_path / "tiny_whisper", num_mel_bins=80, max_source_positions=1500)
    run(recipe, "--preset", "tiny", "--confdir", "conf/tiny", "--speech_model", whisper, "--target_rois", "",
        "--no_lora_arms", "", "--transfer_subjects", "", "--word_probes", "false")  # fmt: skip
    results = (recipe / "exp" / "RESULTS.md").read_text()
    assert "ridge, frozen pretrained features" in results and "fine-tuned model, its own head (lora)" in results
    assert "WhisperSpeechModel" in (recipe / "exp" / "enc_lora" / "train.log").read_text()
