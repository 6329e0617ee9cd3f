"""The statistics stage's CTC feasibility check on a tiny corpus spoken too fast for the BFE's stride."""

import pytest
import yaml

from espnet_brain.bin.check_ctc_feasibility import main

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]


@pytest.fixture
def corpus(tmp_path):
    """Ten utterances of 200 bins (4 s); eight say 30 characters (7.5 characters/s), two say 10."""
    (tmp_path / "tokens.txt").write_text("".join(t + "\n" for t in TOKENS))
    shapes, text = [], []
    for i in range(10):
        shapes.append(f"utt{i} 200,8\n")
        text.append(f"utt{i} {' '.join(['abc ab cab'] * (3 if i < 8 else 1))}\n")
    (tmp_path / "speech_shape").write_text("".join(shapes))
    (tmp_path / "text").write_text("".join(text))
    config = {
        "frontend": "brain_gru",
        "frontend_conf": {"input_size": 8, "output_size": 16, "kernel_size": 32, "num_layers": 1, "hidden_size": 8},
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _cmd(corpus, *extra, max_infeasible="0.05"):
    spec = f"train={corpus / 'speech_shape'},{corpus / 'text'}"
    return [
        "--token_list",
        str(corpus / "tokens.txt"),
        "--check",
        spec,
        "--max_infeasible",
        max_infeasible,
        "--",
        "--config",
        str(corpus / "train.yaml"),
        *extra,
    ]


def test_reference_stride_is_too_coarse_and_stops_with_the_fix(corpus, capsys):
    # 200 bins at kernel 32: stride 4 gives 43 frames, stride 8 gives 22, fewer than the 30 tokens (spaces
    # included, no repeats) of eight of the ten labels.
    with pytest.raises(SystemExit) as err:
        main(_cmd(corpus, "--frontend_conf", "stride=8"))
    message = str(err.value)
    assert "80.0 % of the utterances are too short for CTC" in message
    assert "kernel_size=32, stride=8" in message and "Lower frontend_conf.stride" in message
    assert "train: 8 of 10 utterances (80.0 %)" in capsys.readouterr().out


def test_finer_stride_passes_and_reports_every_set(corpus, capsys):
    reports = main(_cmd(corpus, "--frontend_conf", "stride=4"))
    assert [(r.name, r.n_utts, len(r.infeasible)) for r in reports] == [("train", 10, 0)]
    assert "train: 0 of 10 utterances" in capsys.readouterr().out


def test_threshold_is_an_option_and_report_sets_never_stop(corpus):
    reports = main(_cmd(corpus, "--frontend_conf", "stride=8", max_infeasible="0.9"))
    assert reports[0].fraction == pytest.approx(0.8)
    spec = f"test={corpus / 'speech_shape'},{corpus / 'text'}"
    cmd = ["--token_list", str(corpus / "tokens.txt"), "--report", spec, "--", "--config", str(corpus / "train.yaml")]
    reports = main(cmd + ["--frontend_conf", "stride=8"])
    assert reports[0].fraction == pytest.approx(0.8)


def test_the_plugin_frontends_are_checked_without_importing_the_asr_task(corpus):
    """The check reads the frontend from the config and command line itself: ESPnet's ASR task (~20 s to import, and
    already imported by the statistics run before it) is not imported again."""
    import subprocess
    import sys

    code = (
        "import sys; from espnet_brain.bin.check_ctc_feasibility import main; "
        f"reports = main({_cmd(corpus, '--frontend_conf', 'stride=4')!r}); "
        "assert [(r.name, r.n_utts, len(r.infeasible)) for r in reports] == [('train', 10, 0)], reports; "
        "print(sorted(m for m in sys.modules if m.startswith('espnet2.tasks') or m == 'espnet_brain.tasks.brain_asr'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_other_frontends_are_built_by_the_task(corpus, caplog):
    # ESPnet's own audio frontend has no output_lengths: reported, not checked
    (corpus / "audio.yaml").write_text(yaml.safe_dump({"frontend": "default", "frontend_conf": {"n_fft": 512}}))
    cmd = _cmd(corpus)
    cmd[cmd.index(str(corpus / "train.yaml"))] = str(corpus / "audio.yaml")
    assert main(cmd) == []
    assert "frontend default has no output_lengths" in caplog.text
