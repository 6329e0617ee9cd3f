"""End-to-end run of egs2/mini_brain/enc1 on the tiny corpus with the test-suite configs, as a user runs it."""

import re
from pathlib import Path

import numpy as np
import pytest
from fixtures.lebel_encoding import copy_enc_recipe
from fixtures.recipes import REPO, run

# The tiny shapes go with stage 2's random WavLM; the committed WavLM is tested in tests/egs2/test_mini_speech.py.
TINY = ("--preset", "tiny", "--confdir", "conf/tiny", "--speech_model", "random")
SYSTEMS = [
    "ridge, frozen pretrained features",
    "ridge, log-mel spectrogram (low-level control)",
    "ridge, articulatory features of the phone tier (interpretable control)",
    "fine-tuned model, its own head (lora)",
    "ridge refit on fine-tuned features (lora)",
    "fine-tuned model, its own head (lora, tuned on auditory only)",
    "ridge refit on fine-tuned features (lora, tuned on auditory only)",
    "fine-tuned model, its own head (head only, no LoRA)",
    "fine-tuned model, its own head (full fine-tuning, no LoRA)",
    "ridge refit on fine-tuned features (full fine-tuning, no LoRA)",
    "ridge, simulator's true features (upper bound)",
    "noiseless simulated signal (oracle)",
]


# One LoRA arm, no cross-subject transfer, per-TR probes only: the default test tier's run of the encoding path.
SMOKE = ("--target_rois", "", "--no_lora_arms", "", "--transfer_subjects", "", "--word_probes", "false")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    rec = copy_enc_recipe(tmp_path_factory.mktemp("repo"), "mini_brain")
    run(rec, *TINY)
    return rec


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    rec = copy_enc_recipe(tmp_path_factory.mktemp("repo"), "mini_brain")
    run(rec, *TINY, *SMOKE)
    return rec


def test_one_arm_runs_every_stage(smoke):
    """Stages 1-6 with one LoRA arm: frozen, log-mel and articulatory ridge, variance partition, tuning, refit,
    scoring, ground truth, probes."""
    results = smoke / "exp" / "RESULTS.md"
    whole = _rows(results, "Whole cortex")
    for system in [*SYSTEMS[:5], *SYSTEMS[-2:]]:
        assert system in whole, (system, list(whole))
    assert not any("auditory only" in system or "no LoRA" in system for system in whole)
    for system in whole:
        r = np.load(smoke / "exp" / f"r_{re.sub('[^a-z0-9]+', '_', system.lower()).strip('_')}.npy")
        assert r.shape == (60,) and np.isfinite(r).all(), system
    assert "2epoch results" in (smoke / "exp" / "enc_lora" / "train.log").read_text()
    assert not list(smoke.joinpath("exp").glob("transfer_*"))
    assert "| frozen | 1 |" in (smoke / "exp" / "probes" / "probes.md").read_text()
    assert not (smoke / "exp" / "probes" / "words").exists()
    # the speech model against the controls, and the variance partition of the three feature spaces
    text = results.read_text()
    controls = text.split("## Speech-model features against the controls")[1].split("##")[0]
    assert "| ridge, frozen pretrained features - ridge, log-mel spectrogram (low-level control) |" in controls
    assert (
        "bootstrap p=" in controls and "articulatory features of the phone tier (interpretable control) |" in controls
    )
    partition = _rows(results, "Variance partition: speech, log-mel, articulatory")
    assert {"speech", "log-mel", "articulatory", "joint (all spaces)", "all", "auditory", "noise"} <= set(partition)
    assert np.load(smoke / "exp" / "partition" / "unique_variance.npy").shape == (60, 3)
    assert (smoke / "exp" / "plots" / "partition_winning_space.png").stat().st_size > 1000


def _rows(results: Path, section: str):
    text = results.read_text().split(f"## {section}")[1].split("##")[0]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and not cells[0].startswith(("system", "---")):
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow
def test_results_have_every_system_whole_cortex_and_per_roi(recipe):
    results = recipe / "exp" / "RESULTS.md"
    text = results.read_text()
    assert "RANDOMLY INITIALISED" in text and "wheretheressmoke (51 TRs)" in text
    whole = _rows(results, "Whole cortex")
    assert list(whole) == SYSTEMS
    per_roi = _rows(results, "Per ROI")
    assert list(per_roi) == SYSTEMS + ["noise ceiling (mean CC_max)"]
    header = [line for line in text.splitlines() if line.startswith("| system | all")][0]
    assert all(roi in header for roi in ("auditory", "semantic", "noise"))
    # ground truth rows: the oracle is at its ceiling and the true features come close on the signal ROIs
    oracle = float(re.match(r"[-\d.]+ \(([-\d.]+)\)", per_roi["noiseless simulated signal (oracle)"][1]).group(1))
    assert oracle > 0.9
    true_auditory = float(per_roi["ridge, simulator's true features (upper bound)"][1].split()[0])
    assert true_auditory > 0.35
    for system in SYSTEMS:
        r = np.load(recipe / "exp" / f"r_{re.sub('[^a-z0-9]+', '_', system.lower()).strip('_')}.npy")
        assert r.shape == (60,) and np.isfinite(r).all()
    assert (recipe / "exp" / "plots" / "ridge_frozen_pretrained_features_hist.png").stat().st_size > 1000
    assert (recipe / "exp" / "plots" / "roi_mean_r.png").stat().st_size > 1000
    # every system against the frozen-feature ridge, per ROI, with a paired test over voxels
    paired = text.split('## Paired differences from "ridge, frozen pretrained features"')[1].split("##")[0]
    assert all(f"| {system} |" in paired for system in SYSTEMS[1:]) and "p=" in paired


@pytest.mark.slow
def test_training_ran_through_espnet_with_lora_and_the_dump_geometry(recipe, monkeypatch):
    monkeypatch.chdir(recipe)  # the recipe's scp files hold paths relative to it, as in ESPnet
    exp = recipe / "exp" / "enc_lora"
    log = (exp / "train.log").read_text()
    assert "2epoch results" in log and "spatial_corr" in log
    assert (exp / "valid.loss.best.pth").is_file()
    import torch

    state = torch.load(exp / "valid.loss.best.pth", map_location="cpu")
    assert any("lora_B" in k for k in state) and "head.proj.1.weight" in state
    # the fine-tuned features differ from the frozen ones: the adapters trained
    import kaldiio

    frozen = kaldiio.load_scp(str(recipe / "exp" / "feats_frozen" / "test" / "feats.scp"))["wheretheressmoke"]
    tuned = kaldiio.load_scp(str(exp / "infer_test" / "feats.scp"))["wheretheressmoke"]
    assert frozen.shape == tuned.shape and not np.array_equal(frozen, tuned)
    # the auditory-targeted model's loss saw the auditory voxels only
    roi_log = (recipe / "exp" / "enc_lora_roi_auditory" / "train.log").read_text()
    assert "loss_rois" in roi_log and "2epoch results" in roi_log
    import json

    n_auditory = len(json.loads((recipe / "dump" / "rois.json").read_text())["auditory"])
    assert f"spatial_corr on {n_auditory} of 60 voxels" in roi_log
    # the arms without LoRA: no adapters; the head-only arm kept the speech model, the full arm tuned it
    frozen_state = torch.load(exp / "valid.loss.best.pth", map_location="cpu")
    head = torch.load(recipe / "exp" / "enc_lora_head" / "valid.loss.best.pth", map_location="cpu")
    full = torch.load(recipe / "exp" / "enc_lora_full" / "valid.loss.best.pth", map_location="cpu")
    assert not any("lora_" in k for k in list(head) + list(full))
    shared = [k for k in head if "encoder.layers.0.attention.q_proj.weight" in k]
    assert shared and all(k in full for k in shared)
    lora_base = [k for k in frozen_state if k.endswith("q_proj.base_layer.weight")][0]
    assert torch.equal(head[shared[0]], frozen_state[lora_base])  # the pretrained weight, untouched
    assert not torch.equal(full[shared[0]], frozen_state[lora_base])  # tuned
    curves = (recipe / "exp" / "plots" / "training_curves.md").read_text()
    assert all(f"| {arm} | 2 |" in curves for arm in ("lora", "head only, no LoRA", "full fine-tuning, no LoRA"))
    assert "## training curves" in (recipe / "exp" / "RESULTS.md").read_text()
    readme = (recipe / "exp" / "wavlm_random" / "README.md").read_text()
    assert "NOT a pretrained model" in readme


@pytest.mark.slow
def test_training_resumes_and_finished_stages_rerun_safely(recipe):
    exp = recipe / "exp" / "enc_lora"
    before = (exp / "checkpoint.pth").stat().st_mtime
    # the stage script directly, as a user continues one stage with more epochs
    args = ("--enc_config", "conf/tiny/train_enc_lora.yaml", "--enc_tag", "lora", "--stage", "6", "--stop_stage", "6")
    run(recipe, *args, "--enc_args", "--max_epoch 3", script="./brain_enc.sh")
    log = (exp / "train.log").read_text()
    assert "3epoch results" in log and "1epoch results" not in log  # continued from checkpoint.pth
    assert (exp / "checkpoint.pth").stat().st_mtime > before
    mtime = (recipe / "downloads" / "mini_brain" / "MANIFEST.json").stat().st_mtime
    run(recipe, *TINY, "--stage", "1", "--stop_stage", "1")
    assert (recipe / "downloads" / "mini_brain" / "MANIFEST.json").stat().st_mtime == mtime


@pytest.mark.slow
def test_cross_subject_transfer_refits_every_system_on_the_other_subject(recipe, monkeypatch):
    import kaldiio

    monkeypatch.chdir(recipe)
    xdir = recipe / "exp" / "transfer_UTS02"
    rows = _rows(xdir / "RESULTS.md", "Whole cortex")
    tuned = "ridge on features tuned on this recipe's subject"
    assert list(rows) == SYSTEMS[:3] + [
        f"{tuned} (lora)",
        f"{tuned} (lora, tuned on auditory only)",
        f"{tuned} (full fine-tuning, no LoRA)",
    ]
    text = (xdir / "RESULTS.md").read_text()
    assert "transfer to UTS02" in text and "models tuned on UTS01" in text
    paired = text.split('## Paired differences from "ridge, frozen pretrained features"')[1].split("##")[0]
    assert f"| {tuned} (lora) |" in paired and "p=" in paired
    # the ridge was fit on UTS02's responses, and its predictions follow UTS02, not UTS01 (whose voxels differ)
    story = "wheretheressmoke"
    own = kaldiio.load_scp("dump_UTS02/test/stories/response.scp")[story]
    other = kaldiio.load_scp("dump/test/stories/response.scp")[story]
    pred = kaldiio.load_scp(str(xdir / "ridge_logmel" / "pred.scp"))[story]
    assert pred.shape == own.shape and not np.allclose(own, other)

    def mean_r(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        return float(np.mean((a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0) + 1e-12)))

    assert mean_r(pred, own) > mean_r(pred, other) + 0.05
    # the features were reused from this recipe's subject, by story
    import yaml

    settings = yaml.safe_load((xdir / "ridge_enc_lora" / "ridge.yaml").read_text())
    assert all("dump_UTS02" in p for p in settings["train_responses"])
    assert settings["test_feats"] == ["exp/enc_lora/infer_test/feats.scp"]


@pytest.mark.slow
def test_probes_per_layer_for_frozen_and_tuned_features(recipe, monkeypatch):
    import json

    monkeypatch.chdir(recipe)  # the scp files hold paths relative to the recipe

    probes = json.loads((recipe / "exp" / "probes" / "probes.json").read_text())
    text = (recipe / "exp" / "probes" / "probes.md").read_text()
    # the tiny WavLM has one layer: frozen and every model whose features differ from it, three target families
    for system in ("frozen", "lora", "lora, tuned on auditory only", "full fine-tuning, no LoRA"):
        assert f"| {system} | 1 |" in text, system
    assert "head only, no LoRA" not in text  # its features are the frozen ones
    assert all(f in text for f in ("log-mel", "acoustic", "semantic"))
    assert (recipe / "exp" / "probes" / "probes_semantic.png").stat().st_size > 1000
    assert set(probes["results"]["frozen"]["1"]) == {"log-mel", "acoustic", "semantic"}
    # each tuned system against the frozen one, with its test statistics
    assert probes["reference"] == "frozen" and "lora" in probes["comparisons"]
    assert {"mean_diff", "ci_low", "ci_high", "p"} <= set(probes["comparisons"]["lora"]["1"]["semantic"])
    assert "| lora | 1 | semantic |" in text.split("## Against frozen")[1]
    # the tuned features are those of the trained model (they differ from the frozen ones)
    import kaldiio

    def first(scp):
        return next(iter(kaldiio.load_scp(str(recipe / "exp" / "probes" / scp)).values()))

    assert not np.allclose(first("feats_frozen_layer1.scp"), first("feats_enc_lora_layer1.scp"))
    # the frozen model's layer 1 (the config's layer) is stage 4's extraction, not a second pass of the model
    scp = recipe / "exp" / "probes" / "feats_frozen_layer1.scp"
    frozen_paths = [line.split(maxsplit=1)[1] for line in scp.open()]
    assert frozen_paths and all(p.startswith("exp/feats_frozen/") for p in frozen_paths), frozen_paths[:2]
    assert not (recipe / "exp" / "probes" / "feats_frozen_layer1").exists()
    # word-level probes: one row per word, from the window features (the frozen ones also from stage 4's pass)
    words = json.loads((recipe / "exp" / "probes" / "words" / "probes.json").read_text())
    assert set(words["results"]["lora"]["1"]) == {"phonemes", "word-embedding"}
    n_words = words["results"]["frozen"]["1"]["word-embedding"]["n_samples"]
    assert 0 < n_words < probes["results"]["frozen"]["1"]["semantic"]["n_samples"] * 8
    assert (
        "lora" in words["comparisons"]
        and "one row per word" in (recipe / "exp" / "probes" / "words" / "probes.md").read_text()
    )
    windows = recipe / "exp" / "probes" / "words" / "feats_frozen_layer1" / "windows.scp"
    assert all(line.split(maxsplit=1)[1].startswith("exp/feats_frozen/") for line in windows.open())


def test_help_lists_stages_and_options():
    proc = run(REPO / "egs2" / "mini_brain" / "enc1", "--help")
    assert "Stages:" in proc.stdout and "--preset" in proc.stdout and "randomly initialised WavLM" in proc.stdout


def test_stage_beyond_the_last_is_refused():
    proc = run(REPO / "egs2" / "mini_brain" / "enc1", "--stage", "9", check=False)
    assert proc.returncode != 0 and "stage 9 does not exist; stages are 1..6" in proc.stderr


@pytest.mark.slow
def test_packed_model_predicts_what_the_experiment_predicted(recipe, tmp_path, monkeypatch):
    import zipfile

    import kaldiio
    import yaml

    from espnet_brain.bin.fmri_encoding_inference import main as infer

    args = ("--enc_config", "conf/tiny/train_enc_lora.yaml", "--enc_tag", "lora", "--stage", "10", "--stop_stage", "10")
    run(recipe, *args, script="./brain_enc.sh")
    with zipfile.ZipFile(recipe / "exp" / "enc_lora" / "packed_model.zip") as z:
        z.extractall(tmp_path)
    meta = yaml.safe_load((tmp_path / "meta.yaml").read_text())
    stories = str(recipe / "dump" / "test" / "stories")
    for where, out in ((tmp_path, tmp_path / "packed"), (recipe, tmp_path / "original")):
        monkeypatch.chdir(where)  # the configs' paths are relative, as in the recipe
        args = ["--train_config", meta["yaml_files"]["train_config"], "--model_file", meta["files"]["model_file"]]
        assert infer(args + ["--data_dir", stories, "--output_dir", str(out)]) == 0
    got = kaldiio.load_scp(str(tmp_path / "packed" / "pred.scp"))["wheretheressmoke"]
    want = kaldiio.load_scp(str(tmp_path / "original" / "pred.scp"))["wheretheressmoke"]
    assert got.shape == (51, 60)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_corpus_without_word_vectors_is_named_before_any_stage(tmp_path):
    (tmp_path / "lebel2023" / "derivative").mkdir(parents=True)
    proc = run(REPO / "egs2" / "mini_brain" / "enc1", "--stage", "6", env={"MINI_BRAIN": str(tmp_path)}, check=False)
    assert proc.returncode != 0 and "predates the simulator's word vectors" in proc.stderr
    assert "--word_probes false" in proc.stderr
