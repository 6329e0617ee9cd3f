#!/usr/bin/env python3
"""The real Whisper weights of the package index, converted from CTranslate2 to transformers: cost and fidelity.

For each installed short id of :mod:`espnet_brain.hf.ctranslate2` (``whisper-tiny.en``, ``whisper-base``):

- **conversion**: wall time of the first resolution into an empty cache (sha256 of the files, parsing ``model.bin``,
  building the transformers model, ``save_pretrained``) and of a second one (the cached conversion: hashing only);
- **encoder**: log-mel features of eSpeak NG speech (transformers' ``WhisperFeatureExtractor``, default settings,
  30 s padded) through the converted encoder in float32 and through CTranslate2's own
  ``ctranslate2.models.Whisper.encode`` (float32) on the same features: max and mean absolute difference, next to
  the output's standard deviation for scale;
- **speech**: greedy decoding (``generate``, beam 1, no timestamps, English transcription) of ``--sentences``
  eSpeak sentences (several voices) by the converted model and by CTranslate2 (``Whisper.generate``, beam 1, same
  prompt), corpus WER against the text (jiwer; lowercase, punctuation stripped), and the decoding time.

Prints a Markdown table::

    OMP_NUM_THREADS=1 python tools/benchmarks/bench_whisper_ct2.py
    python tools/benchmarks/bench_whisper_ct2.py --models whisper-tiny.en --sentences 5 --threads 2
"""

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Please call me back when you get home tonight.",
    "The weather was cold and windy all week.",
    "We need to buy bread, milk and some fresh fruit.",
    "He opened the window to let in the morning air.",
    "My brother plays the piano every Sunday afternoon.",
    "The meeting has been moved to next Thursday.",
    "A small dog was sleeping under the kitchen table.",
    "They walked along the river until the sun went down.",
    "I would like a cup of coffee with a little sugar.",
    "The children were laughing in the garden.",
    "Turn left at the next corner and keep going straight.",
    "Our train leaves the station at half past seven.",
    "The old house on the hill has a red door.",
    "Can you tell me where the nearest library is?",
    "The doctor said that I should rest for a few days.",
    "Water boils at one hundred degrees.",
    "She wrote a long letter to her grandmother.",
    "The team won the game in the last minute.",
)


def normalise(text: str) -> str:
    """Lowercase, punctuation (but apostrophes) removed, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def speech(n: int) -> List[np.ndarray]:
    """``n`` eSpeak NG sentences at 16 kHz (float32), voices and rates varied deterministically."""
    from espnet_brain.simulate.espeak import VOICES, get_synthesizer
    from espnet_brain.simulate.speech import resample_int16

    synth, out = get_synthesizer(), []
    for i, text in enumerate(SENTENCES[:n]):
        rendering = synth.synthesize(text, voice=VOICES[i % len(VOICES)], rate=150 + 10 * (i % 4))
        out.append(resample_int16(rendering.audio, rendering.sample_rate, 16000))
    return out


def ct2_directory(short_id: str, work: Path) -> str:
    """A directory CTranslate2 can load: the package's own, or (split model.bin) the parts joined in ``work``."""
    from espnet_brain.hf.ctranslate2 import short_id_files

    directory, parts, _ = short_id_files(short_id)
    if len(parts) == 1:
        return directory
    out = work / short_id
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "model.bin", "wb") as f:
        for part in parts:
            f.write(Path(part).read_bytes())
    for name in ("config.json", "vocabulary.txt", "tokenizer.json"):
        (out / name).symlink_to(Path(directory, name))
    return str(out)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="whisper-tiny.en,whisper-base", help="comma-separated short ids")
    parser.add_argument("--sentences", type=int, default=10, help=f"eSpeak sentences to decode (<= {len(SENTENCES)})")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(cmd)

    import ctranslate2
    import jiwer
    import transformers
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

    from espnet_brain.hf import ctranslate2 as ct2
    from espnet_brain.hf.loading import ModelNotFoundError

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    waves = speech(args.sentences)
    refs = [normalise(t) for t in SENTENCES[: args.sentences]]
    audio_s = sum(len(w) for w in waves) / 16000
    print(
        f"CTranslate2 Whisper -> transformers, {args.threads} CPU thread(s), torch {torch.__version__}, transformers "
        f"{transformers.__version__}, ctranslate2 {ctranslate2.__version__}; {args.sentences} eSpeak NG sentences "
        f"({audio_s:.1f} s of audio), greedy decoding\n"
    )
    print(
        "| model | encoder | convert cold (s) | cached (s) | enc max abs diff | enc mean abs diff | enc out std | "
        "WER transformers | WER CTranslate2 | decode transformers (s) | decode CTranslate2 (s) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[ct2.CACHE_ENV] = str(Path(tmp) / "cache")  # an empty cache: the first resolution converts
        for short_id in args.models.split(","):
            try:
                ct2.short_id_files(short_id)
            except ModelNotFoundError as err:
                print(f"| {short_id} | not installed: {err} |")
                continue
            start = time.perf_counter()
            path = ct2.resolve_short_id(short_id)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            ct2.resolve_short_id(short_id)
            cached = time.perf_counter() - start

            model = WhisperForConditionalGeneration.from_pretrained(path).eval()
            extractor = WhisperFeatureExtractor.from_pretrained(path)
            tokenizer = WhisperTokenizer.from_pretrained(path)
            reference = ctranslate2.models.Whisper(
                ct2_directory(short_id, Path(tmp)), device="cpu", compute_type="float32", intra_threads=args.threads
            )
            feats = extractor(waves, sampling_rate=16000, return_tensors="np").input_features  # (N, 80, 3000)
            with torch.no_grad():
                ours = model.model.encoder(torch.from_numpy(feats[:2])).last_hidden_state.numpy()
            theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[:2]))))
            diff = np.abs(ours - theirs)

            multilingual = model.generation_config.is_multilingual
            start = time.perf_counter()
            with torch.no_grad():
                kwargs = dict(language="en", task="transcribe") if multilingual else {}
                ids = model.generate(torch.from_numpy(feats), num_beams=1, do_sample=False, **kwargs)
            hyps = [normalise(t) for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
            t_hf = time.perf_counter() - start

            prompt = ["<|startoftranscript|>"] + (["<|en|>", "<|transcribe|>"] if multilingual else [])
            prompt = tokenizer.convert_tokens_to_ids(prompt + ["<|notimestamps|>"])
            start = time.perf_counter()
            results = reference.generate(
                ctranslate2.StorageView.from_array(np.ascontiguousarray(feats)),
                [prompt] * len(waves),
                beam_size=1,
                max_length=448,
            )
            hyps_ct2 = [normalise(tokenizer.decode(r.sequences_ids[0], skip_special_tokens=True)) for r in results]
            t_ct2 = time.perf_counter() - start

            c = model.config
            print(
                f"| {short_id} | {c.encoder_layers} x {c.d_model} | {cold:.2f} | {cached:.2f} | {diff.max():.2e} | "
                f"{diff.mean():.2e} | {ours.std():.3f} | {100 * jiwer.wer(refs, hyps):.1f} % | "
                f"{100 * jiwer.wer(refs, hyps_ct2):.1f} % | {t_hf:.1f} | {t_ct2:.1f} |"
            )
            for ref, hyp, hyp2 in zip(refs, hyps, hyps_ct2):
                if ref != hyp or hyp != hyp2:
                    print(f"|   | ref: {ref} | transformers: {hyp} | CTranslate2: {hyp2} |", file=sys.stderr)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
