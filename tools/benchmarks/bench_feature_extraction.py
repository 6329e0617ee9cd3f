#!/usr/bin/env python3
"""Benchmark the speech-model feature extraction of the encoding recipes and print a markdown table.

BrainWavLM's stimulus features pass a window of ``window_s`` seconds ending every ``stride_s`` seconds through the
speech model (4 s every 0.25 s: each second of audio goes through the model 16 times), then read one or more
hidden layers at each window's end. The ridge baselines of a recipe ask for several layers (``--ridge_layers``).
Compared here, on the recipe's own path (``espnet_brain.fmri.inference.build_model`` and ``story_outputs``, the
code stage 4 of ``brain_enc.sh`` runs):

- **one pass per layer**: a model cut above each requested layer, run once per layer (the transformer layers
  below a layer are recomputed for every layer above it, and the convolutional encoder every time);
- **one pass**: one model up to the highest requested layer, the requested hidden states concatenated and split
  after resampling (``--layer 3 6 9 12``).

Timed: the frontend over the story's audio (the windows through the speech model: all but a negligible part of
``story_outputs``, whose Lanczos resampling and head are left out).

Reported: wall time for one story, throughput in audio seconds per second, and the projected time for the
training stories of one ds003020 subject (27,800 TRs of 2.0045 s, i.e. ~15.5 hours of audio), for a
wavlm-base-plus-sized model (12 layers, 768 wide, 7-layer convolutional encoder of 512 channels; random weights:
the time does not depend on them) and for mini_brain enc1's model, with BrainWavLM's windows (4 s / 0.25 s) and
the mini recipe's (2 s / 0.5 s). On one CPU thread by default; on CUDA as well when it is available.

Real checkpoints go by name too (:data:`CHECKPOINTS`): the small WavLM committed under egs2/mini_speech
(``mini-speech-wavlm``, 4 layers x 96) and the encoders of OpenAI's Whisper from their installed packages
(``whisper-tiny.en``, 4 x 384; ``whisper-base``, 6 x 512), which read their windows' own 20 ms frames
(:mod:`espnet_brain.fmri.whisper_model`).

    python tools/benchmarks/bench_feature_extraction.py                    # 8 s story, both models
    python tools/benchmarks/bench_feature_extraction.py --seconds 20 --models base --threads 2
    python tools/benchmarks/bench_feature_extraction.py --seconds 60 --models mini-speech-wavlm,whisper-tiny.en
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import transformers
import yaml

SUBJECT_TRS = 27_800  # training TRs of one ds003020 subject (UTS01-UTS03 have ~27,800)
TR_S = 2.0045

MODELS: Dict[str, Dict] = {
    # microsoft/wavlm-base-plus's shape
    "base": dict(hidden_size=768, layers=12, heads=12, intermediate=3072, conv_dim=512, ridge_layers=(3, 6, 9, 12)),
    # egs2/mini_brain/enc1/conf/wavlm_mini.yaml
    "mini": dict(hidden_size=32, layers=2, heads=2, intermediate=64, conv_dim=32, ridge_layers=(1, 2)),
}
REPO = Path(__file__).resolve().parents[2]
# Real checkpoints: what frontend_conf.model_name_or_path is given, and the layers of a ridge per layer.
CHECKPOINTS: Dict[str, Dict] = {
    "mini-speech-wavlm": dict(
        path=str(REPO / "egs2" / "mini_speech" / "asr1" / "models" / "wavlm"), ridge_layers=(1, 2, 3, 4)
    ),
    "whisper-tiny.en": dict(path="whisper-tiny.en", ridge_layers=(1, 2, 3, 4)),
    "whisper-base": dict(path="whisper-base", ridge_layers=(2, 4, 6)),
}
WINDOWS = {"BrainWavLM 4 s / 0.25 s": (4.0, 0.25), "mini recipe 2 s / 0.5 s": (2.0, 0.5)}


def make_wavlm(p: Dict, out: Path) -> str:
    """A random WavLM of shape ``p`` written with ``save_pretrained`` (the recipes load local directories)."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    if not out.is_dir():
        config = WavLMConfig(
            hidden_size=p["hidden_size"],
            num_hidden_layers=p["layers"],
            num_attention_heads=p["heads"],
            intermediate_size=p["intermediate"],
            conv_dim=(p["conv_dim"],) * 7,
        )
        torch.manual_seed(0)
        WavLMModel(config).save_pretrained(str(out))
        Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(str(out))  # as wavlm-base-plus
    return str(out)


def write_config(work: Path, model_dir: str, window_s: float, stride_s: float) -> str:
    conf = {
        "frontend": "ssl_windows",
        "frontend_conf": dict(
            model_name_or_path=model_dir, layer=1, window_s=window_s, stride_s=stride_s, window_batch_size=16
        ),
        "head": "fir_linear",
        "n_voxels": 1,
    }
    path = work / f"config_{Path(model_dir).name}_{window_s}_{stride_s}.yaml"
    path.write_text(yaml.safe_dump(conf))
    return str(path)


def time_story(models: List[torch.nn.Module], wav: np.ndarray, device: str, repeats: int) -> float:
    """Median wall time of the window features of one story (the frontend of ``story_outputs``) with each model."""
    speech = torch.from_numpy(wav)[None].to(device)
    lengths = torch.tensor([speech.shape[1]], device=device)
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for model in models:
            model.frontend(speech, lengths)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", default="base,mini", help=f"comma-separated, of {sorted(MODELS)} (random) or {sorted(CHECKPOINTS)}"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the synthetic story")
    parser.add_argument("--repeats", type=int, default=1, help="timed repeats per row (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--devices", default="auto", help="'auto' (cpu, and cuda when available) or e.g. 'cpu'")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    from espnet_brain.fmri.inference import build_model

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.devices == "auto" else []
    devices = devices or args.devices.split(",")
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(int(args.seconds * 16000))).astype(np.float32)
    subject_audio_s = SUBJECT_TRS * TR_S
    print(
        f"Feature extraction of one {args.seconds:.0f} s story (noise), {args.threads} CPU thread(s), "
        f"torch {torch.__version__}; projection: {SUBJECT_TRS} TRs x {TR_S} s = {subject_audio_s / 3600:.1f} h of "
        "audio (one ds003020 subject's training stories)\n"
    )
    print(
        "| model | windows | device | layers | extraction | story time (s) | audio s / s | "
        "one subject (h) | one pass speed-up |"
    )
    print("|---|---|---|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.models.split(","):
            if name in CHECKPOINTS:
                p = CHECKPOINTS[name]
                model_dir = p["path"]
            else:
                p = MODELS[name]
                model_dir = make_wavlm(p, work / f"wavlm_{name}")
            layers = list(p["ridge_layers"])
            for windows, (window_s, stride_s) in WINDOWS.items():
                config = write_config(work, model_dir, window_s, stride_s)
                for device in devices:
                    with torch.no_grad():
                        per_layer = [build_model(config, None, device, layer=k) for k in layers]
                        one_pass = [build_model(config, None, device, layer=layers)]
                        time_story(one_pass, wav[: 16000 * 5], device, 1)  # warm-up
                        rows = {
                            "one pass per layer": time_story(per_layer, wav, device, args.repeats),
                            "one pass": time_story(one_pass, wav, device, args.repeats),
                        }
                    where = "CPU" if device == "cpu" else "CUDA"
                    for mode, seconds in rows.items():
                        speed = args.seconds / seconds
                        ratio = rows["one pass per layer"] / seconds
                        print(
                            f"| {name} | {windows} | {where} | {','.join(map(str, layers))} | {mode} | "
                            f"{seconds:.2f} | {speed:.2f} | {subject_audio_s / speed / 3600:.1f} | {ratio:.2f}x |"
                        )
                    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
