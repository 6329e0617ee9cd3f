#!/usr/bin/env python3
"""Benchmark streaming brain-to-text decoding latency and print a markdown table.

A causal model (causal GRU brain feature extractor + HF Wav2Vec2 transformer with chunked attention and a causal
positional convolution + CTC head, random weights: latency does not depend on what was learned) decodes synthetic
neural streams through :class:`espnet_brain.asr.streaming.StreamingDecoder`, one increment of bins per ``push``,
for two sizes:

- ``mini``: mini_brain's shape (conf/train_brain_full_causal.yaml: BFE 2 x 256, window 16, stride 2; a 4-layer,
  96-wide transformer, chunks of 2 frames);
- ``reference``: Fiedler et al.'s best BFE (5 x 512, window 32, stride 4) and a wav2vec2-base-sized transformer
  (12 layers, 768 wide), chunks of 1 frame (causal attention).

Columns:

- **per-increment compute**: wall time of one ``push`` of an increment (BFE step, transformer, CTC, greedy
  decoding), median and 99th percentile over all increments of all sentences. Without right context the transformer
  encodes only the increment's new frames with a key/value cache (:meth:`HFSSLEncoder.forward_chunk`), so this does
  not grow with the sentence length; ``--no_kv_cache`` (or a right context) re-encodes all frames so far at each
  increment, as before the cache;
- **CPU time**: the median thread CPU time of a ``push`` (CPU only): on a machine shared with other jobs it leaves out
  the time the thread waited for a core, which the wall times include;
- **algorithmic latency**: with infinitely fast compute, the longest time from the start of a bin to the first
  final output frame that includes it: the increment plus the model's look-ahead (right context compounded
  through the layers), whatever part of a chunk does not line up with the increments;
- **last bin -> final**: wall time from the ``push`` of the increment holding a sentence's last bin to the return
  of ``finish()`` (the final hypothesis), median over sentences.

``--breakdown`` adds a table of where the time of an increment goes: the BFE (``forward_stream``: smoothing, day
layer, GRU), the transformer (``forward_chunk`` or the re-encoding ``forward``), the CTC head (``log_softmax``) and
the rest (greedy decoding of the running hypothesis, buffering), median wall time per increment.

On one CPU thread (``torch.set_num_threads(1)``), and on CUDA when it is available::

    python tools/benchmarks/bench_streaming.py                        # 3 sentences of 4 s per model
    python tools/benchmarks/bench_streaming.py --seconds 8 --sentences 5 --models reference --breakdown
    python tools/benchmarks/bench_streaming.py --no_kv_cache          # re-encode all frames at each increment
"""

import argparse
import logging
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from _timing import Stopwatch, median, p99

BIN_MS = 20.0  # one neural feature bin is 20 ms
TOKENS = ["<blank>", "<unk>", "<space>", *"abcdefghijklmnopqrstuvwxyz", "<sos/eos>"]

MODELS: Dict[str, Dict] = {
    "mini": dict(
        channels=256,
        kernel_size=16,
        stride=2,
        gru_layers=2,
        gru_hidden=256,
        hidden_size=96,
        layers=4,
        heads=4,
        intermediate=192,
        pos_kernel=32,
        pos_groups=4,
        chunk_size=2,
    ),
    "reference": dict(
        channels=256,
        kernel_size=32,
        stride=4,
        gru_layers=5,
        gru_hidden=512,
        hidden_size=768,
        layers=12,
        heads=12,
        intermediate=3072,
        pos_kernel=128,
        pos_groups=16,
        chunk_size=1,
    ),
}


def build_model(p: Dict, work: Path, right_context: int) -> torch.nn.Module:
    """A random causal BrainESPnetASRModel of shape ``p``, built by the task as a training config would."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    from espnet_brain.tasks.brain_asr import BrainASRTask

    hf_dir = work / f"hf_{p['hidden_size']}x{p['layers']}"
    if not hf_dir.is_dir():
        config = Wav2Vec2Config(
            hidden_size=p["hidden_size"],
            num_hidden_layers=p["layers"],
            num_attention_heads=p["heads"],
            intermediate_size=p["intermediate"],
            conv_dim=(32, 32),
            conv_kernel=(10, 3),
            conv_stride=(5, 2),
            num_conv_pos_embeddings=p["pos_kernel"],
            num_conv_pos_embedding_groups=p["pos_groups"],
            vocab_size=len(TOKENS),
            pad_token_id=0,
        )
        torch.manual_seed(0)
        Wav2Vec2ForCTC(config).save_pretrained(str(hf_dir))
    frontend = dict(
        input_size=p["channels"],
        output_size=p["hidden_size"],
        n_days=2,
        kernel_size=p["kernel_size"],
        stride=p["stride"],
        num_layers=p["gru_layers"],
        hidden_size=p["gru_hidden"],
        causal=True,
    )
    encoder = dict(
        model_name_or_path=str(hf_dir), chunk_size=p["chunk_size"], right_context=right_context, causal_pos_conv=True
    )
    cmd = ["--token_list", ",".join(TOKENS), "--frontend", "brain_gru", "--encoder", "hf_ssl", "--decoder", "none"]
    cmd += ["--normalize", "none", "--model_conf", "ctc_weight=1.0"]
    for key, conf in (("frontend_conf", frontend), ("encoder_conf", encoder)):
        for k, v in conf.items():
            cmd += [f"--{key}", f"{k}={v}"]
    args = BrainASRTask.get_parser().parse_args(cmd)
    args.token_list = list(TOKENS)
    torch.manual_seed(0)
    return BrainASRTask.build_model(args).eval()


def algorithmic_latency_ms(model: torch.nn.Module, increment: int, n_frames: int = 64) -> float:
    """Longest time from the start of a bin to the first final output frame that includes it (no compute time)."""
    stride = model.frontend.stride
    worst = 0
    for i in range(n_frames):
        # the first frame i' >= i that is final once the increment holding the last bin it needs has arrived
        needed = next(n for n in range(i + 1, 4 * n_frames) if model.encoder.num_final_frames(n) > i)
        emitted = math.ceil(needed * stride / increment) * increment  # bins received when frame i is final
        worst = max(worst, emitted - i * stride)  # frame i's earliest bin is bin i * stride (its stride's start)
    return worst * BIN_MS


PARTS = ("BFE", "transformer", "CTC")


class PartTimer:
    """Wall time per increment of the decoder's parts, by wrapping their methods on the instances (no profiler
    overhead); :meth:`remove` puts the methods back."""

    def __init__(self, decoder, device: torch.device):
        self.device = device
        self.current: Dict[str, float] = {}
        self.per_push: Dict[str, List[float]] = {part: [] for part in PARTS}
        self._wrapped = []
        encoder = decoder.encoder
        for part, obj, name in (
            ("BFE", decoder.frontend, "forward_stream"),
            ("transformer", encoder, "forward_chunk"),
            ("transformer", encoder, "forward"),
            ("CTC", decoder.model.ctc, "log_softmax"),
        ):
            self._wrap(part, obj, name)

    def _wrap(self, part: str, obj, name: str) -> None:
        method = getattr(obj, name)

        def timed(*args, **kwargs):
            with Stopwatch(self.device) as watch:
                out = method(*args, **kwargs)
            self.current[part] = self.current.get(part, 0.0) + watch.seconds
            return out

        setattr(obj, name, timed)
        self._wrapped.append((obj, name))

    def end_push(self) -> None:
        for part in PARTS:
            self.per_push[part].append(self.current.get(part, 0.0))
        self.current = {}

    def remove(self) -> None:
        for obj, name in self._wrapped:
            delattr(obj, name)  # the instance attribute hid the class's method


def run_stream(
    decoder,
    sentences: List[np.ndarray],
    increment: int,
    device: torch.device,
    parts: Optional[PartTimer] = None,
):
    """Per-increment push wall and CPU times and last-bin-to-final times (seconds) over the sentences."""
    pushes, cpu, finals = [], [], []
    for x in sentences:
        decoder.reset(day=1)
        n_full = len(x) // increment * increment
        for start in range(0, n_full, increment):
            with Stopwatch(device) as push:
                decoder.push(x[start : start + increment])
            pushes.append(push.seconds)
            cpu.append(push.cpu_seconds)
            if parts is not None:
                parts.end_push()
        # the last increment holds the sentence's last bin: its push and finish() are the end-of-sentence delay
        t_last = push.seconds
        with Stopwatch(device) as end:
            if n_full < len(x):
                t_last = 0.0
                decoder.push(x[n_full:])
            hyp = decoder.finish()
        finals.append(t_last + end.seconds)
        if parts is not None:
            parts.current = {}  # finish() is not an increment
        assert hyp.is_final
    return pushes, cpu, finals


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mini,reference", help=f"comma-separated, of {sorted(MODELS)}")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each synthetic sentence")
    parser.add_argument("--sentences", type=int, default=3, help="sentences per model and device")
    parser.add_argument("--increment", type=int, default=4, help="bins per push (4 = 80 ms)")
    parser.add_argument("--right_context", type=int, default=0, help="encoder_conf.right_context (frames)")
    parser.add_argument("--devices", default="auto", help="'auto' (cpu, and cuda when available) or e.g. 'cpu'")
    parser.add_argument(
        "--no_kv_cache", action="store_true", help="re-encode all frames so far at each increment (no key/value cache)"
    )
    parser.add_argument("--breakdown", action="store_true", help="also time the BFE, transformer and CTC per increment")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(cmd: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.disable(logging.WARNING)  # model-building reports of transformers/ESPnet
    warnings.filterwarnings("ignore")
    from espnet_brain.asr.streaming import StreamingDecoder

    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.devices != "auto":
        devices = [d for d in args.devices.split(",") if d]
    rng = np.random.default_rng(args.seed)
    rows, breakdown = [], []
    with tempfile.TemporaryDirectory(prefix="bench_streaming_") as work:
        for name in [m for m in args.models.split(",") if m]:
            p = MODELS[name]
            n_bins = int(round(args.seconds * 1000 / BIN_MS))
            sentences = [rng.standard_normal((n_bins, p["channels"])).astype(np.float32) for _ in range(args.sentences)]
            model = build_model(p, Path(work), args.right_context)
            latency = algorithmic_latency_ms(model, args.increment)
            n_params = sum(q.numel() for q in model.parameters()) / 1e6
            for dev in devices:
                device = torch.device(dev)
                decoder = StreamingDecoder(
                    model.to(device), increment=args.increment, day=1, kv_cache=not args.no_kv_cache
                )
                run_stream(decoder, sentences[:1], args.increment, device)  # warm-up (kernels, allocator)
                pushes, cpu, finals = run_stream(decoder, sentences, args.increment, device)
                where = "CPU, 1 thread" if dev == "cpu" else torch.cuda.get_device_name(device)
                rows.append(
                    (
                        name,
                        f"{n_params:.1f}",
                        where,
                        "key/value cache" if decoder.kv_cache else "re-encode all",
                        f"{median(pushes) * 1e3:.1f}",
                        f"{p99(pushes) * 1e3:.1f}",
                        f"{median(cpu) * 1e3:.1f}" if dev == "cpu" else "-",
                        f"{args.increment * BIN_MS:.0f}",
                        f"{latency:.0f}",
                        f"{median(finals) * 1e3:.1f}",
                    )
                )
                if args.breakdown:
                    # a separate run: the timers synchronise the device, which would slow the timed pushes above
                    parts = PartTimer(decoder, device)
                    pushes, _, _ = run_stream(decoder, sentences, args.increment, device, parts)
                    parts.remove()
                    medians = [median(parts.per_push[part]) for part in PARTS]
                    rest = median([p - sum(t) for p, *t in zip(pushes, *parts.per_push.values())])
                    breakdown.append(
                        (name, where, *(f"{t * 1e3:.2f}" for t in medians), f"{rest * 1e3:.2f}")
                        + (f"{median(pushes) * 1e3:.2f}",)
                    )
            model.to("cpu")
    print(
        f"Streaming decoding: {args.sentences} sentence(s) of {args.seconds:g} s per model and device "
        f"({int(args.seconds * 1000 / BIN_MS)} bins of {BIN_MS:g} ms), increments of {args.increment} bins, "
        f"right context {args.right_context} frame(s), random weights; torch {torch.__version__}, "
        f"{os.cpu_count()} CPU(s) on the machine" + ("" if torch.cuda.is_available() else "; CUDA not available") + "\n"
    )
    print(
        "| model | params (M) | device | transformer | per-increment compute, median (ms) | p99 (ms) "
        "| CPU time, median (ms) | increment (ms) | algorithmic latency (ms) | last bin -> final hypothesis (ms) |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if breakdown:
        print("\nWhere an increment's time goes (median wall time per increment, ms; medians need not add up):\n")
        print("| model | device | " + " | ".join(PARTS) + " | rest (greedy decoding, buffering) | push |")
        print("|---|---|" + "---:|" * (len(PARTS) + 2))
        for row in breakdown:
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
