"""Speech part: one eSpeak NG rendering per sentence, Kaldi-style directories with alignments.

Layout under ``DIR/speech/<split>/`` (split = train, dev, test)::

    <utt_id>.wav               16 kHz mono PCM16
    text                       "<utt_id> <natural text>" (normalise with espnet_brain.data.text)
    utt2spk                    "<utt_id> <speaker>", speaker = the eSpeak NG voice
    alignments/<utt_id>.json   {"phonemes": [{"start", "end", "label", "espeak"}], "words": [...], ...}

``utt_id`` is ``<speaker>-<sent_id>`` (speaker-prefixed, as Kaldi sorting expects). The same
rendering of a sentence (voice, rate, pitch) is used by the intracortical, fMRI and iEEG parts.
"""

import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from scipy.signal import resample_poly
from tqdm import tqdm

from espnet_brain.simulate.espeak import SAMPLE_RATE, Rendering, get_synthesizer
from espnet_brain.simulate.io import makedirs, write_json, write_wav
from espnet_brain.simulate.presets import SpeechConfig
from espnet_brain.simulate.randomness import child_rng, child_seed
from espnet_brain.simulate.text import Sentence


@dataclass(frozen=True)
class RenderSettings:
    voice: str
    rate: int
    pitch: int
    espeak_seed: int

    @property
    def speaker(self) -> str:
        return self.voice.replace("+", "_").replace("-", "_")


def render_settings(seed: int, sentence: Sentence, cfg: SpeechConfig) -> RenderSettings:
    """Voice, rate and pitch of a sentence's rendering (a function of seed and sentence id only)."""
    rng = child_rng(seed, "speech", "voice", sentence.sent_id)
    voice = cfg.voices[int(rng.integers(len(cfg.voices)))]
    rate = int(rng.integers(cfg.rate_range[0], cfg.rate_range[1] + 1))
    pitch = int(rng.integers(cfg.pitch_range[0], cfg.pitch_range[1] + 1))
    return RenderSettings(voice, rate, pitch, child_seed(seed, "speech", "espeak", sentence.sent_id))


class RenderCache:
    """Renderings keyed by sentence id, shared by the parts of one corpus."""

    def __init__(self, seed: int, cfg: SpeechConfig):
        self.seed = seed
        self.cfg = cfg
        self._cache: Dict[str, Rendering] = {}

    def get(self, sentence: Sentence) -> Rendering:
        if sentence.sent_id not in self._cache:
            st = render_settings(self.seed, sentence, self.cfg)
            self._cache[sentence.sent_id] = get_synthesizer().synthesize(
                sentence.text, voice=st.voice, rate=st.rate, pitch=st.pitch, seed=st.espeak_seed
            )
        return self._cache[sentence.sent_id]


def resample_int16(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of int16 audio; returns float32 in [-1, 1]."""
    x = audio.astype(np.float32) / 32768.0
    if sr_in == sr_out:
        return x
    g = np.gcd(int(sr_in), int(sr_out))
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def write_speech(
    out_dir: str,
    seed: int,
    splits: Dict[str, List[Sentence]],
    cfg: SpeechConfig,
    cache: RenderCache,
    progress: bool = False,
) -> dict:
    """Write ``DIR/speech``; returns the MANIFEST entry."""
    root = makedirs(os.path.join(out_dir, "speech"))
    summary = {"sample_rate": cfg.sample_rate, "splits": {}}
    for split, sentences in splits.items():
        sdir = makedirs(os.path.join(root, split))
        adir = makedirs(os.path.join(sdir, "alignments"))
        rows: List[Tuple[str, str, str]] = []
        seconds = 0.0
        for sent in tqdm(sentences, desc=f"speech/{split}", disable=not progress, leave=False):
            r = cache.get(sent)
            st = render_settings(seed, sent, cfg)
            utt_id = f"{st.speaker}-{sent.sent_id}"
            audio = resample_int16(r.audio, SAMPLE_RATE, cfg.sample_rate)
            duration = len(audio) / cfg.sample_rate
            write_wav(os.path.join(sdir, f"{utt_id}.wav"), audio, cfg.sample_rate)
            align = {
                "utt_id": utt_id,
                "sent_id": sent.sent_id,
                "text": sent.text,
                "sample_rate": cfg.sample_rate,
                "duration": round(duration, 6),
                "voice": r.voice,
                "rate": r.rate,
                "pitch": r.pitch,
                "phonemes": [
                    {"start": round(p.start, 6), "end": round(min(p.end, duration), 6), "label": p.label, "espeak": e}
                    for p, e in zip(r.phonemes, r.espeak_phonemes)
                ],
                "words": [
                    {"start": round(w.start, 6), "end": round(min(w.end, duration), 6), "label": w.label}
                    for w in r.words
                ],
            }
            write_json(os.path.join(adir, f"{utt_id}.json"), align)
            rows.append((utt_id, sent.text, st.speaker))
            seconds += duration
        rows.sort()
        with open(os.path.join(sdir, "text"), "w", encoding="utf-8") as f:
            f.writelines(f"{u} {t}\n" for u, t, _ in rows)
        with open(os.path.join(sdir, "utt2spk"), "w", encoding="utf-8") as f:
            f.writelines(f"{u} {s}\n" for u, _, s in rows)
        summary["splits"][split] = {"utterances": len(rows), "seconds": round(seconds, 3)}
    return summary
