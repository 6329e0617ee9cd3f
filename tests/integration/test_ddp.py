"""Two-process data-parallel training through ESPnet's trainer (torchrun, gloo, CPU).

ESPnet shards every mini-batch across the ranks, so two ranks that did not average their gradients
would end the epoch with different weights; DistributedDataParallel must keep them identical.
"""

import os
import subprocess
import sys
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
import yaml
from fixtures.hf_models import save_tiny_wav2vec2_ctc

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("ddp_train_worker.py")
TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]
N_CHANNELS = 8


def _gloo_unavailable() -> str:
    if not torch.distributed.is_available():
        return "torch.distributed is not available in this torch build"
    if not torch.distributed.is_gloo_available():
        return "the gloo backend of torch.distributed is not available in this torch build"
    return ""


def _write_set(root: Path, name: str, n_utts: int, seed: int) -> Path:
    """Random (T, C) features, text over 'abc ', two recording days and ESPnet shape files."""
    rng = np.random.default_rng(seed)
    out = root / name
    out.mkdir()
    texts, days, speech_shape, text_shape = [], [], [], []
    with kaldiio.WriteHelper(f"ark,scp:{out}/feats.ark,{out}/feats.scp") as writer:
        for i in range(n_utts):
            key = f"{name}_utt{i:02d}"
            n_bins = int(rng.integers(24, 41))
            writer(key, rng.standard_normal((n_bins, N_CHANNELS)).astype(np.float32))
            words = ["".join(rng.choice(list("abc"), size=int(rng.integers(1, 3)))) for _ in range(2)]
            text = " ".join(words)
            texts.append(f"{key} {text}")
            days.append(f"{key} {i % 2}")
            speech_shape.append(f"{key} {n_bins},{N_CHANNELS}")
            text_shape.append(f"{key} {len(text)}")
    (out / "text").write_text("\n".join(texts) + "\n")
    (out / "utt2day").write_text("\n".join(days) + "\n")
    (out / "speech_shape").write_text("\n".join(speech_shape) + "\n")
    (out / "text_shape.char").write_text("\n".join(text_shape) + "\n")
    return out


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory) -> str:
    return save_tiny_wav2vec2_ctc(tmp_path_factory.mktemp("w2v2"), vocab_size=len(TOKENS))


def _config(model_dir: str) -> dict:
    return {
        "frontend": "brain_gru",
        "frontend_conf": {
            "input_size": N_CHANNELS,
            "output_size": 16,
            "n_days": 2,
            "kernel_size": 4,
            "stride": 2,
            "num_layers": 1,
            "hidden_size": 8,
            "dropout": 0.1,
            "white_noise_std": 0.1,  # random per rank: the weights must agree all the same
        },
        "encoder": "hf_ssl",
        "encoder_conf": {"model_name_or_path": model_dir, "mode": "finetune"},
        "decoder": "none",
        "normalize": None,
        "model_conf": {"ctc_weight": 1.0},
        "optim": "adam",
        "optim_conf": {"lr": 0.01},
        "encoder_lr": 0.001,
        "batch_type": "sorted",
        "batch_size": 4,
        "max_epoch": 1,
        "num_workers": 0,
        "seed": 0,
    }


def test_two_gloo_ranks_train_one_epoch_to_identical_weights(tmp_path, tiny_wav2vec2):
    reason = _gloo_unavailable()
    if reason:
        pytest.skip(reason)
    train = _write_set(tmp_path, "train", n_utts=8, seed=0)
    valid = _write_set(tmp_path, "valid", n_utts=4, seed=1)
    (tmp_path / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(_config(tiny_wav2vec2)))
    exp = tmp_path / "exp"

    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        # Each rank's output goes to its own file, so a failing rank's traceback is not lost.
        "--log-dir",
        str(tmp_path / "ranks"),
        "--redirects",
        "3",
        str(WORKER),
        "--ngpu",
        "0",
        "--dist_backend",
        "gloo",
        "--multiprocessing_distributed",
        "false",
        "--config",
        str(config),
        "--token_type",
        "char",
        "--token_list",
        str(tmp_path / "tokens.txt"),
        "--cleaner",
        "none",
        "--g2p",
        "none",
        "--non_linguistic_symbols",
        "none",
        "--use_preprocessor",
        "true",
        "--use_tensorboard",
        "false",
        "--use_matplotlib",
        "false",
        "--output_dir",
        str(exp),
    ]
    for mode, data in (("train", train), ("valid", valid)):
        cmd += [
            f"--{mode}_data_path_and_name_and_type",
            f"{data}/feats.scp,speech,kaldi_ark",
            f"--{mode}_data_path_and_name_and_type",
            f"{data}/text,text,text",
            f"--{mode}_data_path_and_name_and_type",
            f"{data}/utt2day,day,text_int",
            f"--{mode}_shape_file",
            f"{data}/speech_shape",
            f"--{mode}_shape_file",
            f"{data}/text_shape.char",
        ]
    # One thread per rank: two ranks share the machine's cores.
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        rank_logs = "".join(
            f"\n--- {log.relative_to(tmp_path)} ---\n{log.read_text()[-3000:]}"
            for log in sorted((tmp_path / "ranks").rglob("stderr.log"))
        )
        raise AssertionError(f"torchrun failed ({proc.returncode}):\n{proc.stderr[-2000:]}{rank_logs}")

    # ESPnet itself ran distributed over two ranks (not two independent single-process runs).
    written = yaml.safe_load((exp / "config.yaml").read_text())
    assert written["distributed"] is True and written["dist_backend"] == "gloo"

    init = torch.load(exp / "rank0_init.pth")
    final = [torch.load(exp / f"rank{r}.pth") for r in (0, 1)]
    assert set(final[0]) == set(final[1]) == set(init)
    differing = [k for k in init if not torch.equal(final[0][k], final[1][k])]
    assert not differing, f"ranks disagree after one epoch on {differing}"

    changed = {k for k in init if init[k].is_floating_point() and not torch.equal(init[k], final[0][k])}
    for prefix in ("frontend.gru.", "frontend.day_weight", "encoder.transformer.layers.", "ctc."):
        assert any(k.startswith(prefix) for k in changed), f"no parameter under {prefix} changed in training"

    # The checkpoint ESPnet wrote on rank 0 is the weights both ranks hold.
    saved = torch.load(exp / "1epoch.pth")
    assert all(torch.equal(saved[k], final[0][k]) for k in saved)
