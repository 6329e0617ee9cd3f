#!/usr/bin/env python3
"""Benchmark brain-to-text training and decoding and print a markdown table.

On a fixed synthetic dataset (learnable: every character has its own pattern over the channels, held for
4-8 bins of 20 ms, plus noise), with a GRU brain feature extractor + HF Wav2Vec2 transformer + CTC model:

- **training throughput** (input bins per second, and x real time at 20 ms per bin) of ESPnet's own trainer
  (``BrainASRTask.main``, i.e. ``python -m espnet_brain.bin.brain_asr_train``; only ``Trainer.train_one_epoch``
  is timed, so validation and checkpoint writing are left out) against a bare PyTorch loop over the same,
  already collated batches (forward, backward, gradient clipping, optimizer and scheduler step, nothing else)
  on the same model. Each ESPnet epoch is paired with one bare epoch, in alternating order, so both see the
  same machine load; the first pair is a warm-up and is not counted;
- **decoding real-time factor** (decode time / input duration at 20 ms per bin) of greedy CTC (batch 8 and
  batch 1) and ESPnet's CTC prefix beam search, through the functions ``brain_asr_inference`` uses, on the
  trained model (the beam's cost depends on how peaked the posteriors are);
- **peak memory**: process peak RSS (``resource.getrusage``; it includes the Python/torch libraries) on CPU,
  ``torch.cuda.max_memory_allocated`` per phase on GPU.

Medians of ``--repeats`` repetitions in one run::

    python tools/benchmarks/bench_brain_asr.py                       # CPU, small model (mini_brain's shape)
    python tools/benchmarks/bench_brain_asr.py --device cuda --preset base   # wav2vec2-base-sized, paper BFE
"""

import argparse
import logging
import os
import resource
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import kaldiio
import numpy as np
import torch
import yaml
from _timing import Stopwatch, median, spread
from espnet2.train.trainer import Trainer

BIN_S = 0.02  # one neural feature bin is 20 ms

PRESETS: Dict[str, Dict] = {
    # mini_brain's shapes (conf/train_brain_full.yaml, conf/wav2vec2_mini.yaml)
    "small": dict(
        channels=256,
        kernel_size=16,
        stride=2,
        gru_layers=2,
        gru_hidden=128,
        hidden_size=96,
        layers=4,
        heads=4,
        intermediate=192,
    ),
    # Fiedler et al.'s best BFE (5 x 512, window 32, stride 4) in front of a wav2vec2-base-sized transformer
    "base": dict(
        channels=256,
        kernel_size=32,
        stride=4,
        gru_layers=5,
        gru_hidden=512,
        hidden_size=768,
        layers=12,
        heads=12,
        intermediate=3072,
    ),
}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TOKENS = ["<blank>", "<unk>", "<space>", *LETTERS, "<sos/eos>"]


# ----------------------------------------------------------------------------------------------------------------
# Data and model


def _sentences(rng: np.random.Generator, n: int) -> List[str]:
    vocab = ["".join(rng.choice(list(LETTERS), size=int(rng.integers(2, 7)))) for _ in range(60)]
    return [" ".join(rng.choice(vocab, size=int(rng.integers(2, 6)))) for _ in range(n)]


def write_set(out: Path, name: str, n_utts: int, channels: int, seed: int) -> int:
    """Kaldi ark/scp features (T, C), text, utt2day (2 days) and shape files; returns the total bins."""
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(1234).standard_normal((len(LETTERS) + 1, channels)).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    texts, days, speech_shape, text_shape = [], [], [], []
    total = 0
    with kaldiio.WriteHelper(f"ark,scp:{out}/feats.ark,{out}/feats.scp") as writer:
        for i, text in enumerate(_sentences(rng, n_utts)):
            key = f"{name}_{i:04d}"
            rows = [np.zeros((10, channels), np.float32)]  # 200 ms lead
            for ch in text:
                proto = protos[-1] if ch == " " else protos[LETTERS.index(ch)]
                rows.append(np.repeat(proto[None], int(rng.integers(4, 9)), axis=0))
            rows.append(np.zeros((10, channels), np.float32))
            feats = np.concatenate(rows) + 0.5 * rng.standard_normal((sum(len(r) for r in rows), channels))
            writer(key, feats.astype(np.float32))
            total += feats.shape[0]
            texts.append(f"{key} {text}")
            days.append(f"{key} {i % 2}")
            speech_shape.append(f"{key} {feats.shape[0]},{channels}")
            text_shape.append(f"{key} {len(text)}")
    for fname, lines in (("text", texts), ("utt2day", days), ("speech_shape", speech_shape)):
        (out / fname).write_text("\n".join(lines) + "\n")
    (out / "text_shape.char").write_text("\n".join(text_shape) + "\n")
    return total


def write_pretrained(path: Path, p: Dict) -> None:
    """A randomly initialised Wav2Vec2ForCTC of the preset's size (no download)."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    cfg = Wav2Vec2Config(
        hidden_size=p["hidden_size"],
        num_hidden_layers=p["layers"],
        num_attention_heads=p["heads"],
        intermediate_size=p["intermediate"],
        conv_dim=(32, 32),
        conv_kernel=(10, 3),
        conv_stride=(5, 2),
        num_conv_pos_embeddings=32 if p["hidden_size"] < 768 else 128,
        num_conv_pos_embedding_groups=4 if p["hidden_size"] < 768 else 16,
        vocab_size=len(TOKENS),
        pad_token_id=0,
    )
    torch.manual_seed(0)
    Wav2Vec2ForCTC(cfg).save_pretrained(str(path))


def train_config(p: Dict, model_dir: Path, args: argparse.Namespace) -> Dict:
    return {
        "frontend": "brain_gru",
        "frontend_conf": {
            "input_size": p["channels"],
            "output_size": p["hidden_size"],
            "n_days": 2,
            "smoothing_sigma": 2.0,
            "kernel_size": p["kernel_size"],
            "stride": p["stride"],
            "num_layers": p["gru_layers"],
            "hidden_size": p["gru_hidden"],
            "dropout": 0.3,
            "white_noise_std": 0.2,
        },
        "normalize": None,
        "specaug": None,
        "encoder": "hf_ssl",
        "encoder_conf": {"model_name_or_path": str(model_dir), "mode": "finetune"},
        "decoder": "none",
        "model": "brain",
        "model_conf": {"ctc_weight": 1.0},
        "optim": "adam",
        "optim_conf": {"lr": 0.001, "weight_decay": 0.0001},
        "encoder_lr": 0.0002,
        "scheduler": "transferlr",
        "scheduler_conf": {"freeze_steps": 0, "warmup_steps": 10},
        "batch_type": "sorted",
        "batch_size": args.batch_size,
        "max_epoch": args.repeats + 1,
        "num_workers": args.num_workers,
        "grad_clip": 5.0,
        "keep_nbest_models": 1,
        "use_tensorboard": False,
        "use_matplotlib": False,
        "seed": args.seed,
    }


# ----------------------------------------------------------------------------------------------------------------
# Measurement


def _rss_now_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class TimingTrainer(Trainer):
    """ESPnet's trainer; each timed ``train_one_epoch`` is paired with a timed bare-PyTorch epoch."""

    device = "cpu"
    batches: List[Dict[str, torch.Tensor]] = []
    espnet_s: List[float] = []
    bare_s: List[float] = []
    espnet_gpu_peak: List[float] = []
    bare_gpu_peak: List[float] = []
    grad_clip = 5.0

    @classmethod
    def run(cls, model, optimizers, schedulers, train_iter_factory, *args, **kwargs) -> None:
        # The same batches ESPnet's loader yields (collated once; the bare loop only moves them to the device).
        cls.batches = [batch for _, batch in train_iter_factory.build_iter(1)]
        options = kwargs.get("trainer_options", args[2] if len(args) > 2 else None)
        cls.grad_clip = options.grad_clip
        super().run(model, optimizers, schedulers, train_iter_factory, *args, **kwargs)

    @classmethod
    def _bare(cls, model, optimizers, schedulers) -> None:
        if cls.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        cls.bare_s.append(bare_epoch(model, optimizers, schedulers, cls.batches, cls.device, cls.grad_clip))
        if cls.device == "cuda":
            cls.bare_gpu_peak.append(torch.cuda.max_memory_allocated() / 2**20)

    @classmethod
    def train_one_epoch(
        cls, model, iterator, optimizers, schedulers, scaler, reporter, summary_writer, options, distributed_option
    ):
        # Alternate which loop goes first (ABBA), so that a slower first or second slot cancels out.
        bare_first = len(cls.espnet_s) % 2 == 1
        if bare_first:
            cls._bare(model, optimizers, schedulers)
        if cls.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with Stopwatch(cls.device) as watch:
            result = super().train_one_epoch(
                model=model,
                iterator=iterator,
                optimizers=optimizers,
                schedulers=schedulers,
                scaler=scaler,
                reporter=reporter,
                summary_writer=summary_writer,
                options=options,
                distributed_option=distributed_option,
            )
        cls.espnet_s.append(watch.seconds)
        if cls.device == "cuda":
            cls.espnet_gpu_peak.append(torch.cuda.max_memory_allocated() / 2**20)
        if not bare_first:
            cls._bare(model, optimizers, schedulers)
        return result


def bare_epoch(model, optimizers, schedulers, batches, device: str, grad_clip: float) -> float:
    """One epoch of plain PyTorch training over pre-collated batches; returns its wall time in seconds."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    with Stopwatch(device) as watch:
        for batch in batches:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            loss, _, _ = model(**batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
            for opt in optimizers:
                opt.step()
                opt.zero_grad()
            for sched in schedulers:
                if sched is not None:
                    sched.step()
    return watch.seconds


def time_decoding(
    model, test_dir: Path, device: str, mode: str, batch_size: int, beam_size: int, hyps: Optional[Dict] = None
) -> float:
    """Seconds to decode the whole test set (as brain_asr_inference does it, model already loaded).

    Args:
        hyps: If given, filled with utt_id -> token ids.
    """
    from espnet_brain.asr.ctc_decoding import CTCBeamSearch, greedy_ctc
    from espnet_brain.tasks.brain_asr import BrainASRTask

    loader = BrainASRTask.build_streaming_iterator(
        [(f"{test_dir}/feats.scp", "speech", "kaldi_ark"), (f"{test_dir}/utt2day", "day", "text_int")],
        dtype="float32",
        batch_size=batch_size,
        key_file=None,
        num_workers=0,
        preprocess_fn=None,
        collate_fn=BrainASRTask.build_collate_fn(argparse.Namespace(use_preprocessor=False), False),
        allow_variable_data_keys=True,
        inference=True,
    )
    beam = CTCBeamSearch(model, beam_size=beam_size) if mode == "beam" else None
    with Stopwatch(device) as watch, torch.no_grad():
        for keys, batch in loader:
            speech = batch["speech"].to(device)
            enc, enc_lens = model.encode(speech, batch["speech_lengths"].to(device), day=batch["day"].to(device))
            if beam is None:
                out = greedy_ctc(model.ctc.log_softmax(enc), enc_lens, blank=model.blank_id)
            else:
                out = [beam(enc[b, : int(enc_lens[b])]) for b in range(enc.shape[0])]
            if hyps is not None:
                hyps.update(zip(keys, out))
    return watch.seconds


def test_cer(test_dir: Path, hyps: Dict[str, List[int]]) -> float:
    """Corpus CER (%) of token-id hypotheses against the test set's text."""
    from espnet_brain.asr.ctc_decoding import tokens_to_text
    from espnet_brain.asr.scoring import score
    from espnet_brain.data.datadir import read_2columns

    refs = read_2columns(str(test_dir / "text"))
    return score(refs, {k: tokens_to_text(v, TOKENS) for k, v in hyps.items()}).cer


# ----------------------------------------------------------------------------------------------------------------


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--n_train", type=int, default=64, help="Training utterances")
    parser.add_argument("--n_test", type=int, default=16, help="Test utterances for the decoding RTF")
    parser.add_argument("--batch_size", type=int, default=8, help="Training batch size (utterances)")
    parser.add_argument("--repeats", type=int, default=5, help="Timed epochs / decoding passes (after a warm-up)")
    parser.add_argument("--beam_repeats", type=int, default=2, help="Timed beam-search passes")
    parser.add_argument("--beam_size", type=int, default=10)
    parser.add_argument("--num_workers", type=int, default=0, help="ESPnet data-loader workers")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default=None, help="Keep data and experiment here (default: a temp dir)")
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA device")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = PRESETS[args.preset]

    from espnet_brain.tasks.brain_asr import BrainASRTask

    tmp = None
    if args.work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_brain_asr_")
        work = Path(tmp.name)
    else:
        work = Path(args.work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        model_dir = work / "pretrained"
        write_pretrained(model_dir, p)
        train_bins = write_set(work / "train", "train", args.n_train, p["channels"], args.seed)
        write_set(work / "valid", "valid", max(args.batch_size, 4), p["channels"], args.seed + 1)
        test_bins = write_set(work / "test", "test", args.n_test, p["channels"], args.seed + 2)
        (work / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
        (work / "train.yaml").write_text(yaml.safe_dump(train_config(p, model_dir, args)))
        exp = work / "exp"

        # fmt: off
        cmd_train = [
            "--config", str(work / "train.yaml"), "--ngpu", "1" if args.device == "cuda" else "0",
            "--token_type", "char", "--token_list", str(work / "tokens.txt"), "--cleaner", "none", "--g2p", "none",
            "--non_linguistic_symbols", "none", "--use_preprocessor", "true", "--output_dir", str(exp),
        ]
        for mode, d in (("train", work / "train"), ("valid", work / "valid")):
            cmd_train += [
                f"--{mode}_data_path_and_name_and_type", f"{d}/feats.scp,speech,kaldi_ark",
                f"--{mode}_data_path_and_name_and_type", f"{d}/text,text,text",
                f"--{mode}_data_path_and_name_and_type", f"{d}/utt2day,day,text_int",
                f"--{mode}_shape_file", f"{d}/speech_shape", f"--{mode}_shape_file", f"{d}/text_shape.char",
            ]
        # fmt: on

        TimingTrainer.device = args.device
        BrainASRTask.trainer = TimingTrainer
        rss_before_train = _rss_now_mib()
        BrainASRTask.main(cmd=cmd_train)
        logging.getLogger().setLevel(logging.WARNING)
        peak_after_train = _peak_rss_mib()

        espnet_s, bare_s = TimingTrainer.espnet_s[1:], TimingTrainer.bare_s[1:]  # first pair: warm-up
        espnet_fps = [train_bins / s for s in espnet_s]
        bare_fps = [train_bins / s for s in bare_s]

        model, _ = BrainASRTask.build_model_from_file(
            str(exp / "config.yaml"), str(exp / f"{args.repeats + 1}epoch.pth"), args.device
        )
        model.eval()
        n_params = sum(p_.numel() for p_ in model.parameters())
        test_s = test_bins * BIN_S
        decode_rows = []
        cers: Dict[str, float] = {}
        for label, mode, bs, reps in (
            ("greedy CTC, batch 8", "greedy", 8, args.repeats),
            ("greedy CTC, batch 1", "greedy", 1, args.repeats),
            (f"beam search (beam {args.beam_size}), CTC prefix scorer", "beam", 1, args.beam_repeats),
        ):
            if args.device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            hyps: Dict[str, List[int]] = {}
            time_decoding(model, work / "test", args.device, mode, bs, args.beam_size, hyps)  # warm-up
            cers[label] = test_cer(work / "test", hyps)
            times = [time_decoding(model, work / "test", args.device, mode, bs, args.beam_size) for _ in range(reps)]
            gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
            decode_rows.append((label, [t / test_s for t in times], gpu_peak))
        peak_after_decode = _peak_rss_mib()
    finally:
        if tmp is not None:
            tmp.cleanup()

    device_name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    out = [
        f"## brain ASR benchmark: preset `{args.preset}` on {device_name}",
        "",
        f"Model: GRU BFE {p['gru_layers']} x {p['gru_hidden']} (bidirectional, window {p['kernel_size']} bins, "
        f"stride {p['stride']}) + Wav2Vec2 transformer {p['layers']} x {p['hidden_size']} + CTC, "
        f"{n_params / 1e6:.2f} M parameters, {p['channels']} channels. Train: {args.n_train} utterances, "
        f"{train_bins} bins ({train_bins * BIN_S:.0f} s), batch {args.batch_size}; test: {args.n_test} utterances, "
        f"{test_s:.0f} s. torch {torch.__version__}. Medians of {args.repeats} epochs / passes after a warm-up "
        "(min-max in the last column).",
        "",
        "| measurement | value | range |",
        "|---|---:|---:|",
        f"| training, ESPnet trainer (bins/s) | {median(espnet_fps):.0f} | {spread(espnet_fps)} |",
        f"| training, bare PyTorch loop (bins/s) | {median(bare_fps):.0f} | {spread(bare_fps)} |",
        f"| ESPnet / bare throughput (paired per epoch) | "
        f"{median([b / e for e, b in zip(espnet_s, bare_s)]):.3f} | "
        f"{spread([b / e for e, b in zip(espnet_s, bare_s)])} |",
        f"| training speed, ESPnet trainer (x real time) | {median(espnet_fps) * BIN_S:.1f} | |",
    ]
    for label, rtfs, _ in decode_rows:
        out.append(f"| decoding RTF, {label} | {median(rtfs):.4f} | {spread(rtfs)} |")
    for label, cer in cers.items():
        out.append(f"| test CER after training, {label} (%) | {cer:.1f} | |")
    if args.device == "cuda":
        out.append(f"| peak GPU memory, ESPnet training (MiB) | {max(TimingTrainer.espnet_gpu_peak):.0f} | |")
        out.append(f"| peak GPU memory, bare training (MiB) | {max(TimingTrainer.bare_gpu_peak):.0f} | |")
        for label, _, peak in decode_rows:
            out.append(f"| peak GPU memory, {label} (MiB) | {peak:.0f} | |")
    out.append(f"| process RSS before training (MiB) | {rss_before_train:.0f} | |")
    out.append(f"| peak process RSS after training (MiB) | {peak_after_train:.0f} | |")
    out.append(f"| peak process RSS after decoding (MiB) | {peak_after_decode:.0f} | |")
    out.append("")
    espnet_list, bare_list = (", ".join(f"{t:.2f}" for t in ts) for ts in (espnet_s, bare_s))
    out.append(f"Epoch seconds (timed pairs), ESPnet: {espnet_list}; bare: {bare_list}")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
