"""egs2/lebel2023/enc1 on synthetic files in the ds003020 layout, with the tiny config and a tiny local WavLM.

Also: a missing or incomplete corpus stops the recipe with what is missing and where to get it; the default hub id
fails clearly offline (before any dumping); the reference config holds BrainWavLM's settings.
"""

import numpy as np
import pytest
from fixtures.lebel_encoding import copy_enc_recipe, make_tiny_wavlm, tiny_lebel
from fixtures.recipes import REPO, run

from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask

RECIPE = REPO / "egs2" / "lebel2023" / "enc1"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_lebel(tmp_path_factory.mktemp("ds003020"))


@pytest.mark.slow
def test_recipe_runs_on_files_in_the_published_layout(corpus, tmp_path):
    rec = copy_enc_recipe(tmp_path / "repo", "lebel2023")
    model = make_tiny_wavlm(tmp_path / "wavlm")
    run(rec, "--confdir", "conf/tiny", "--pretrained_model", model, "--ngpu", "0", "--local_data_opts", "--n_dev 1",
        "--ridge_args", "", "--ridge_layers", "0 1", "--stop_stage", "12", "--probe_layers", "1",
        "--probe_words", str(corpus / "derivative" / "TextGrids"), env={"LEBEL2023": str(corpus)})  # fmt: skip
    results = (rec / "exp" / "RESULTS.md").read_text()
    assert results.startswith("# LeBel et al. 2023 (ds003020), UTS01, wheretheressmoke")
    for system in (
        "| ridge, frozen pretrained features (layer 0) |",
        "| ridge, frozen pretrained features (layer 1) |",
        "| fine-tuned model, its own head (wavlm_lora_UTS01) |",
        "| ridge refit on fine-tuned features (wavlm_lora_UTS01) |",
        "| ridge, log-mel spectrogram (low-level control) |",
    ):
        assert system in results
    assert "CC_max from 4 repeats" in results
    config = (rec / "exp" / "enc_wavlm_lora_UTS01" / "config.yaml").read_text()
    assert f"model_name_or_path: {model}" in config  # --pretrained_model replaced the hub id
    assert (rec / "data" / "test" / "wav.scp").read_text().split()[0] == "wheretheressmoke"
    r0, r1 = (np.load(rec / "exp" / f"r_ridge_frozen_pretrained_features_layer_{k}.npy") for k in (0, 1))
    assert r0.shape == r1.shape == (60,) and not np.allclose(r0, r1)  # two layers, two feature spaces
    infer_log = (rec / "exp" / "feats_frozen_layers" / "infer.log").read_text()
    assert "feats_frozen_layer0/test" in infer_log and "feats_frozen_layer1/test" in infer_log  # one pass, both
    # stage 12 through run.sh: TR-level and word-level probes, the frozen windows from stage 4's pass
    assert "| wavlm_lora_UTS01 | 1 |" in (rec / "exp" / "probes" / "probes.md").read_text()
    words = (rec / "exp" / "probes" / "words" / "probes.md").read_text()
    assert "one row per word" in words and "| phonemes |" in words.splitlines()[2] + " |"
    windows = rec / "exp" / "probes" / "words" / "feats_frozen_layer1" / "windows.scp"
    assert windows.read_text().split()[1].startswith("exp/feats_frozen_layer1/")


def test_missing_corpus_says_where_to_get_it(tmp_path):
    proc = run(RECIPE, "--stop_stage", "1", env={"LEBEL2023": ""}, check=False)
    assert proc.returncode != 0
    assert "set LEBEL2023" in proc.stderr and "openneuro.org/datasets/ds003020" in proc.stderr
    (tmp_path / "stimuli").mkdir()
    rec = copy_enc_recipe(tmp_path / "repo", "lebel2023")
    proc = run(rec, "--stop_stage", "1", env={"LEBEL2023": str(tmp_path)}, check=False)
    assert proc.returncode != 0
    assert "incomplete LeBel corpus" in proc.stderr and "derivative/respdict.json" in proc.stderr


def test_hub_id_fails_offline_before_dumping(corpus, tmp_path):
    rec = copy_enc_recipe(tmp_path / "repo", "lebel2023")
    env = {"LEBEL2023": str(corpus), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    proc = run(rec, "--stop_stage", "3", "--ngpu", "0", env=env, check=False)
    assert proc.returncode != 0
    assert "Stage 2/12: Pretrained model check" in proc.stderr
    assert "could not load 'microsoft/wavlm-base-plus'" in proc.stderr and "local directory" in proc.stderr
    assert "Stage 3/12" not in proc.stderr and not (rec / "dump").exists()


def test_reference_config_has_brainwavlm_settings():
    args = FMRIEncodingTask.get_parser().parse_args(["--config", str(RECIPE / "conf" / "train_wavlm_lora.yaml")])
    fe = args.frontend_conf
    assert (fe["model_name_or_path"], fe["layer"], fe["window_s"], fe["stride_s"]) == (
        "microsoft/wavlm-base-plus", 9, 4.0, 0.25)  # fmt: skip
    assert fe["lora_conf"] == {"r": 4, "alpha": 4, "dropout": 0.1, "targets": ["q_proj", "k_proj", "v_proj"]}
    assert (args.head, args.head_conf["rank"], args.head_conf["delays"]) == ("fir_lowrank", 100, [1, 2, 3, 4])
    # Two documented departures, each TR summarising its own audio: pool mean_stride (BrainWavLM: last) and
    # resample tr_mean (BrainWavLM: lanczos, kept as lanczos_window for that choice)
    assert (fe["pool"], args.model_conf["resample"]) == ("mean_stride", "tr_mean")
    assert args.model_conf == {"tr": 2.0, "lanczos_window": 3, "loss_type": "spatial_corr", "resample": "tr_mean"}
    assert (args.optim, args.optim_conf["lr"], args.max_epoch, args.batch_size) == ("adam", 1e-4, 20, 1)
    # the test-suite variant differs only in sizes, not in the components
    tiny = FMRIEncodingTask.get_parser().parse_args(
        ["--config", str(RECIPE / "conf" / "tiny" / "train_wavlm_lora.yaml")]
    )
    assert (tiny.frontend, tiny.head, tiny.model, tiny.model_conf["loss_type"]) == (
        args.frontend, args.head, args.model, "spatial_corr")  # fmt: skip
