"""End-to-end run of egs2/mini_brain/asr1 on the tiny corpus, as a user runs it (./run.sh)."""

import re
import subprocess
from pathlib import Path

import pytest
from fixtures.recipes import REPO, TUNED_CONTROL, copy_recipe, run

# The tiny shapes go with the in-run stand-in pretrained model; the committed one is tested in test_mini_speech.py.
TINY = ("--preset", "tiny", "--confdir", "conf/tiny", "--pretrained", "in_run")
SYSTEMS = [
    "audio ASR",
    "brain: full fine-tune",
    "brain: from scratch",
    "brain: frozen transformer",
    "brain: adapters (LoRA) in the frozen transformer",
    "brain: BFE only (no transformer)",
    "brain: BFE only, rate and epochs chosen on dev",
]


def _run(recipe: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(recipe, *args, check=check, timeout=2400)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    """A copy of the recipe in a fresh egs2 tree (shared TEMPLATE), run through every stage of the default run
    (1-9) with the tiny configs and one brain system: the default test tier's end-to-end run of the decoding path."""
    dst = copy_recipe(tmp_path_factory.mktemp("repo"), "mini_brain")
    _run(dst, *TINY, "--modes", "full")
    return dst


@pytest.fixture(scope="module")
def recipe(smoke) -> Path:
    """The smoke run's recipe, run again with every brain system: the finished ones are kept, the others trained."""
    _run(smoke, *TINY, *TUNED_CONTROL)
    return smoke


def test_one_system_runs_every_stage_of_the_default_run(smoke):
    """Stages 1-9 with the audio baseline and the full fine-tune only (``--modes full``)."""
    rows = _table(smoke / "exp" / "RESULTS.md")
    assert len(rows) == 4  # the audio baseline and the full fine-tune x the default decoders (greedy, ngram)
    for system in SYSTEMS[:2]:
        for decoder in ("greedy", "ngram"):
            assert len([k for k in rows if k.startswith(system) and k.endswith(f", {decoder}")]) == 1, (system, rows)
    for name, (n_utts, cer, _) in rows.items():
        assert n_utts == 6, name  # the tiny preset's test sentences
        if name.startswith("brain"):
            assert cer < 100.0, (name, cer)  # 100 % is a decoder that emits nothing
    # the brain systems left out of --modes were not trained, and the t-SNE of stage 9 was drawn
    assert not (smoke / "exp" / "asr_brain_scratch").exists()
    assert (smoke / "exp" / "latent_analysis" / "tsne_transformer.png").stat().st_size > 1000


def test_a_mode_that_was_not_trained_is_named_when_the_table_asks_for_it(smoke):
    proc = _run(smoke, *TINY, "--stage", "8", "--stop_stage", "8", "--modes", "full scratch", check=False)
    assert proc.returncode != 0
    assert "exp/asr_brain_scratch/decode_brain_test/text is missing" in proc.stderr
    proc = _run(smoke, *TINY, "--stage", "8", "--stop_stage", "8", "--modes", "full fast", check=False)
    assert proc.returncode != 0 and "--modes: unknown mode 'fast'" in proc.stderr


def test_the_table_leaves_out_the_audio_rows_when_stage_2_was_not_run(smoke):
    """--skip_stages 2 (or a run that starts after it) compares the brain systems alone: a missing audio baseline is
    named in the log and left out of the table, never an error."""
    decoded = smoke / "exp" / "asr_audio" / "decode_audio_test"
    decoded.rename(decoded.with_name("kept"))
    try:
        proc = _run(smoke, *TINY, "--stage", "8", "--stop_stage", "8", "--modes", "full")
        rows = _table(smoke / "exp" / "RESULTS.md")
    finally:
        decoded.with_name("kept").rename(decoded)
        _run(smoke, *TINY, "--stage", "8", "--stop_stage", "8", "--modes", "full")
    assert sorted(rows) == ["brain: full fine-tune, greedy", "brain: full fine-tune, ngram"]
    assert "the table leaves out 'audio ASR (same encoder, speech input), greedy'" in proc.stderr


def _recording_recipe(tmp_path: Path) -> Path:
    """A copy of the recipe whose brain_asr.sh only records its arguments (one line per call, in calls.txt)."""
    dst = copy_recipe(tmp_path / "repo", "mini_brain")
    (dst / "brain_asr.sh").unlink()
    (dst / "brain_asr.sh").write_text('#!/usr/bin/env bash\nprintf "%s|" "$@" >>calls.txt\necho >>calls.txt\n')
    (dst / "brain_asr.sh").chmod(0o755)
    return dst


def test_the_tuned_control_searches_its_rate_and_stops_on_the_dev_loss(tmp_path):
    """bfe_tuned trains the BFE-only model (no pretrained model) with the learning-rate search of brain_asr.sh and
    the trainer's early stopping, under its own experiment name."""
    dst = _recording_recipe(tmp_path)
    args = ("--stage", "7", "--stop_stage", "7", "--modes", "bfe_tuned", "--train_nj", "1")
    _run(
        dst,
        *TINY,
        *args,
        "--bfe_lr_grid",
        "1e-3 3e-3",
        "--bfe_max_epoch",
        "12",
        "--bfe_patience",
        "3",
        "--asr_args",
        "--batch_bins 1000",
    )
    calls = [line.rstrip("|").split("|") for line in (dst / "calls.txt").read_text().splitlines()]
    prepare, train = calls  # the shared preparation (stages 2-5), then the system's job (stages 5-8)
    assert prepare[prepare.index("--mode") + 1] == "bfe" and prepare[prepare.index("--stop_stage") + 1] == "5"
    assert train[train.index("--mode") + 1] == "bfe"
    assert train[train.index("--asr_tag") + 1] == "brain_bfe_tuned"
    assert train[train.index("--lr_grid") + 1].split() == ["1e-3:1e-3", "3e-3:3e-3"]
    assert train[train.index("--lr_grid_epochs") + 1] == "4"
    # the user's trainer arguments come last, so that they can shorten the run
    assert train[train.index("--asr_args") + 1] == "--max_epoch 12 --patience 3 --batch_bins 1000"
    assert "--pretrained_model" not in train
    proc = _run(dst, *TINY, *args, "--bfe_lr_grid", "1e-3 fast", check=False)
    assert proc.returncode != 0 and "--bfe_lr_grid: expected learning rates, got 'fast'" in proc.stderr


def _table(results: Path) -> dict:
    rows = {}
    for line in results.read_text().splitlines():
        m = re.match(r"\| (.+?) \| (\d+) \| (\d+) \| ([\d.]+) \| (\d+) \| ([\d.]+) \|", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), float(m.group(4)), float(m.group(6)))
    return rows


@pytest.mark.slow
def test_results_table_has_every_system_with_each_default_decoder_on_every_test_sentence(recipe):
    rows = _table(recipe / "exp" / "RESULTS.md")
    assert len(rows) == 14  # 7 systems x the default decoders (greedy, ngram)
    for system in SYSTEMS:
        for decoder in ("greedy", "ngram"):
            (name,) = [k for k in rows if k.startswith(system) and k.endswith(f", {decoder}")]
            n_utts, cer, wer = rows[name]
            assert n_utts == 6  # the tiny preset has 6 test sentences
            if system.startswith("brain"):
                # A decoder that emits nothing scores exactly 100 % CER, one that emits garbage more; two epochs on
                # the tiny corpus give ~80 % here.
                assert cer < 100.0, (name, cer)
    n_test = len((recipe / "data" / "brain_test" / "text").read_text().splitlines())
    lexicon = {line.split()[0] for line in (recipe / "data" / "lm" / "brain_train" / "lexicon.txt").open()}
    for mode in ("full", "scratch", "frozen", "adapter", "bfe", "bfe_tuned"):
        decoded = recipe / "exp" / f"asr_brain_{mode}" / "decode_brain_test"
        hyps = (decoded / "text").read_text().splitlines()
        assert len(hyps) == n_test
        assert (decoded / "per_utt.tsv").is_file()
        ngram_hyps = [line.split()[1:] for line in (decoded / "ngram" / "text").read_text().splitlines()]
        assert len(ngram_hyps) == n_test
        # The lexicon search emits training-vocabulary words only.
        assert {w for words in ngram_hyps for w in words} <= lexicon


@pytest.mark.slow
def test_systems_are_jobs_with_their_own_logs_and_a_failed_one_stops_the_run(recipe):
    jobs = (recipe / "exp" / "systems" / "jobs.txt").read_text().splitlines()
    # the audio baseline trained first (alone: --pretrained in_run exports it for the brain decoders), so the
    # last list holds the six brain systems, longest first
    assert len(jobs) == 6 and "--mode full" in jobs[0] and "--mode bfe" in jobs[-1]
    for n in range(1, 7):
        log = (recipe / "exp" / "systems" / "log" / f"system.{n}.log").read_text()
        assert "Stage 8/10: Scoring" in log
    # The shared preparation checked CTC feasibility with the first mode's settings; that mode's job skips the
    # repeat, the next mode (other settings) runs its own check.
    logs = [(recipe / "exp" / "systems" / "log" / f"system.{n}.log").read_text() for n in (1, 2)]
    assert "these settings already passed" in logs[0]
    assert "these settings already passed" not in logs[1] and "[ctc feasibility]" in logs[1]
    proc = _run(recipe, *TINY, "--stage", "7", "--stop_stage", "7", "--asr_args", "--no_such_option 1", check=False)
    assert proc.returncode != 0
    assert "a system failed" in proc.stderr and "system.1.log" in proc.stderr


@pytest.mark.slow
def test_the_pretrained_model_is_the_exported_audio_model(recipe):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(recipe / "exp" / "audio_wav2vec2_hf"))
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert config.vocab_size == len(tokens)
    log = (recipe / "exp" / "asr_brain_full" / "train.log").read_text()
    assert "CTC layer initialised from exp/audio_wav2vec2_hf" in log


@pytest.mark.slow
def test_latent_analysis_writes_plots(recipe):
    for name in ("tsne_frontend.png", "tsne_transformer.png"):
        path = recipe / "exp" / "latent_analysis" / name
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_rerunning_a_finished_stage_is_safe_and_reproduces_the_table(recipe):
    before = (recipe / "exp" / "RESULTS.md").read_text()
    _run(recipe, *TINY, "--stage", "8", "--stop_stage", "8")
    assert (recipe / "exp" / "RESULTS.md").read_text() == before
    # Stage 1 again: the corpus and data directories are kept, not regenerated or duplicated.
    mtime = (recipe / "downloads" / "mini_brain" / "MANIFEST.json").stat().st_mtime
    _run(recipe, *TINY, "--stage", "1", "--stop_stage", "1")
    assert (recipe / "downloads" / "mini_brain" / "MANIFEST.json").stat().st_mtime == mtime
    assert len((recipe / "data" / "brain_test" / "text").read_text().splitlines()) == 6


@pytest.mark.slow
def test_input_size_and_day_count_come_from_the_dumped_data_not_the_config(recipe):
    import yaml

    # A config written for another corpus size (e.g. conf/ of the small preset used with --preset bench).
    conf = yaml.safe_load((recipe / "conf" / "tiny" / "train_brain_scratch.yaml").read_text())
    conf["frontend_conf"].update(n_days=1, input_size=7)
    (recipe / "conf" / "tiny" / "train_brain_other.yaml").write_text(yaml.safe_dump(conf))
    run(recipe, "--feats_type", "neural", "--train_set", "brain_train", "--valid_set", "brain_dev",
        "--test_sets", "brain_test", "--asr_config", "conf/tiny/train_brain_other.yaml", "--asr_tag", "other_days",
        "--stage", "5", "--stop_stage", "6", "--asr_args", "--max_epoch 1", script="./brain_asr.sh",
        timeout=900)  # fmt: skip
    trained = yaml.safe_load((recipe / "exp" / "asr_other_days" / "config.yaml").read_text())
    n_days = len((recipe / "dump" / "neural" / "brain_train" / "days").read_text().splitlines())
    assert n_days == 2
    assert (trained["frontend_conf"]["n_days"], trained["frontend_conf"]["input_size"]) == (n_days, 256)


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint(recipe):
    exp = recipe / "exp" / "asr_brain_scratch"
    assert "2epoch results" in (exp / "train.log").read_text()
    # --train_nj 1: the system runs here, not as a job (the fixture's default run trains two at a time).
    proc = _run(recipe, *TINY, "--stage", "5", "--stop_stage", "5", "--train_nj", "1",
                "--asr_args", "--max_epoch 3")  # fmt: skip
    assert "Stage 6/10: Training" in proc.stderr  # brain_asr.sh's own output, not a job log
    log = (exp / "train.log").read_text()
    # The rerun continued from checkpoint.pth: it trained epoch 3 only, not epochs 1-2 again.
    assert "The training was resumed using exp/asr_brain_scratch/checkpoint.pth" in log
    assert "3epoch results" in log
    assert "1epoch results" not in log and "2epoch results" not in log
    assert (exp / "3epoch.pth").is_file()


def test_stage_beyond_the_last_is_refused(tmp_path):
    proc = subprocess.run(
        ["bash", "./run.sh", "--stage", "42"],
        cwd=REPO / "egs2" / "mini_brain" / "asr1",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "stage 42 does not exist; stages are 1..11" in proc.stderr


def test_help_lists_stages_and_options():
    proc = subprocess.run(
        ["bash", "./run.sh", "--help"], cwd=REPO / "egs2" / "mini_brain" / "asr1", capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "Stages:" in proc.stdout and "--preset" in proc.stdout and "Brain decoder, frozen" in proc.stdout


@pytest.mark.slow
def test_every_decoder_runs_tuned_on_dev_beside_the_others(recipe, tmp_path_factory):
    """Prefix beam, ESPnet token-LM fusion, lexicon + 3-gram and causal-LM rescoring on the full fine-tune."""
    import json

    from fixtures.causal_lm import make_tiny_causal_lm

    llm = make_tiny_causal_lm(tmp_path_factory.mktemp("llm"))
    decoders = ["greedy", "beam", "token_lm", "ngram", "ngram_llm"]
    # The trained full fine-tune's stages 3 (LMs), 7 (decoding) and 8 (scoring) with every decoder.
    run(recipe, "--feats_type", "neural", "--train_set", "brain_train", "--valid_set", "brain_dev",
        "--test_sets", "brain_test", "--mode", "full", "--confdir", "conf/tiny", "--dumpdir", "dump",
        "--asr_tag", "brain_full", "--pretrained_model", "exp/audio_wav2vec2_hf", "--stage", "3", "--stop_stage", "8",
        "--skip_stages", "4 5 6", "--decoders", " ".join(decoders), "--llm", str(llm), script="./brain_asr.sh",
        timeout=1500)  # fmt: skip
    decoded = recipe / "exp" / "asr_brain_full" / "decode_brain_test"
    n_test = len((recipe / "data" / "brain_test" / "text").read_text().splitlines())
    for decoder in decoders[1:]:
        assert len((decoded / decoder / "text").read_text().splitlines()) == n_test, decoder
    assert (recipe / "exp" / "lm_token_brain_train" / "valid.loss.ave.pth").exists()
    grid = json.loads((decoded / "ngram" / "search.json").read_text())
    assert len(grid["dev_grid"]) == 9  # lm_weights x word_scores, 3 x 3 by default
    best = min(grid["dev_grid"], key=lambda row: row["dev_wer"])
    assert (grid["settings"]["lm_weight"], grid["settings"]["word_score"]) == (best["lm_weight"], best["word_score"])
    rescored = json.loads((decoded / "ngram_llm" / "search.json").read_text())
    assert [row["llm_weight"] for row in rescored["dev_grid"][9:]] == [0.0, 0.25, 0.5, 1.0]
    rows = _table(decoded / "RESULTS.md")
    assert sorted(name.split()[-1] for name in rows) == sorted(decoders)


@pytest.mark.slow
def test_causal_stage_trains_streaming_decoders_on_online_features_beside_the_offline_ones(recipe, monkeypatch):
    import kaldiio
    import numpy as np
    import yaml

    _run(recipe, *TINY, "--stage", "11", "--decoders", "greedy")
    rows = _table(recipe / "exp" / "RESULTS_causal.md")
    for mode in ("full fine-tune", "from scratch", "frozen transformer"):
        assert f"{mode}, offline, greedy" in rows and f"{mode}, causal (streaming, online z-score), greedy" in rows
        assert rows[f"{mode}, causal (streaming, online z-score), greedy"][0] == 6
    config = yaml.safe_load((recipe / "exp" / "asr_brain_full_causal" / "config.yaml").read_text())
    assert config["frontend_conf"]["causal"] is True and config["encoder_conf"]["chunk_size"] > 0
    # The causal systems read features normalised online, not with each block's own statistics.
    monkeypatch.chdir(recipe)  # scp files hold ark paths relative to the recipe
    online = kaldiio.load_scp("dump_online/neural/brain_test/feats.scp")
    offline = kaldiio.load_scp("dump/neural/brain_test/feats.scp")
    utt = next(iter(online))
    assert online[utt].shape == offline[utt].shape and not np.allclose(online[utt], offline[utt])
