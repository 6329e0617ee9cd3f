"""Intracortical part: Willett et al. (2023) style recordings of attempted speech.

Layout under ``DIR/brain2text24/``::

    train/t12.<yyyy.mm.dd>.mat              train sentences; the LAST block of each day holds the
                                            dev sentences of the text split (the recipe holds out
                                            the last block of each day as its dev set)
    test/t12.<yyyy.mm.dd>.mat               test sentences of the text split
    competitionHoldOut/t12.<yyyy.mm.dd>.mat a few sentences with empty ``sentenceText``
    ground_truth/                           what produced the data (not part of the real layout)

Each ``.mat`` holds ``sentenceText`` (char array, one space-padded row per sentence, as
``scipy.io.loadmat`` returns it for the real files), ``spikePow`` and ``tx1``..``tx4`` (1 x S cells of
T x C float32 arrays, 20 ms bins) and ``blockIdx`` (S x 1). Columns ``0..C/2-1`` are area 6v,
``C/2..C-1`` area 44.

Generative model, per electrode ``e`` (ground truth in ``ground_truth/``):

* articulation ``a(t)``: the ARPAbet phoneme sounding at time ``t`` in one eSpeak NG rendering of the
  sentence (the attempted utterance), placed after a go-cue lead-in; per 20 ms bin, the fraction of
  the bin each phoneme covers, (T, 39).
* drive ``d_e(t) = sum_p a_p(t + lead_e) * M[p, e]``: the neural activity leads the sound by
  ``lead_e`` in 100-200 ms; ``M = onehot_tuning + articulatory_matrix @ feature_tuning`` (units tuned
  to phonemes and to articulatory features), smoothed with a 40 ms Gaussian.
* rate (counts per bin) ``lam_e(t) = g_{e,day} * exp(log b_e + k_e d_e(t) + s_e speaking(t) +
  c_e gocue(t) + block_shift + noise) + o_{e,day}``; area 44 is untuned or weakly tuned.
* ``tx1 ~ Poisson(lam)`` (crossings of -3.5 RMS); ``tx2..tx4`` thin ``tx1`` binomially, so
  ``tx1 >= tx2 >= tx3 >= tx4`` (crossings of stricter thresholds).
* ``spikePow = (floor_e g_{e,day} + alpha_e lam_e(t)) * lognormal noise``.
* dead electrodes: ``tx* = 0`` and ``spikePow`` at a small constant floor with noise.
"""

import datetime
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from scipy.ndimage import gaussian_filter1d
from tqdm import tqdm

from espnet_brain.simulate.io import makedirs, write_json, write_mat, write_npy
from espnet_brain.simulate.phonemes import ARPABET, ARTICULATORY_FEATURES, articulatory_matrix, phoneme_index
from espnet_brain.simulate.presets import IntracorticalConfig
from espnet_brain.simulate.randomness import child_rng
from espnet_brain.simulate.speech import RenderCache
from espnet_brain.simulate.text import Sentence

BIN_S = 0.02
THINNING = (0.62, 0.55, 0.5)  # tx2 = Binomial(tx1, 0.62), tx3 = Binomial(tx2, 0.55), ...
PARTITIONS = ("train", "test", "competitionHoldOut")


@dataclass
class _Trial:
    sentence: Sentence
    label: str  # text written to sentenceText ("" for the hold-out)
    block: int
    partition: str


@dataclass
class ArrayModel:
    """Ground truth of the electrode array (C electrodes, D days)."""

    area: np.ndarray  # (C,) str "6v" / "44"
    tuning: np.ndarray  # (39, C) combined phoneme tuning M
    onehot_tuning: np.ndarray  # (39, C)
    feature_tuning: np.ndarray  # (F, C)
    depth: np.ndarray  # (C,) k_e
    lead_s: np.ndarray  # (C,)
    base_rate: np.ndarray  # (C,) b_e, counts per bin
    speak_gain: np.ndarray  # (C,)
    gocue_gain: np.ndarray  # (C,)
    pow_floor: np.ndarray  # (C,)
    pow_alpha: np.ndarray  # (C,)
    day_gain: np.ndarray  # (D, C)
    day_offset: np.ndarray  # (D, C)
    dead: np.ndarray  # (D, C) bool


def make_array_model(seed: int, cfg: IntracorticalConfig) -> ArrayModel:
    if cfg.channels < 2 or cfg.channels % 2:
        raise ValueError(f"intracortical.channels must be a positive even number (6v | 44 halves), got {cfg.channels}")
    rng = child_rng(seed, "intracortical", "array")
    c, half, n_ph = cfg.channels, cfg.channels // 2, len(ARPABET)
    area = np.array(["6v"] * half + ["44"] * half)
    art = articulatory_matrix()
    # Sparse tuning: each 6v electrode prefers a few articulatory features and a few phonemes.
    feature_tuning = rng.normal(0, 1, (art.shape[1], c)) * (rng.random((art.shape[1], c)) < 0.25)
    onehot_tuning = rng.normal(0, 1, (n_ph, c)) * (rng.random((n_ph, c)) < 0.15)
    tuning = onehot_tuning + art @ feature_tuning
    tuning /= np.maximum(tuning.std(axis=0, keepdims=True), 1e-6)
    depth = rng.uniform(0.4, 0.9, c)
    # Area 44: most electrodes untuned, a quarter weakly tuned (as reported for the real arrays).
    weak = rng.random(half) < 0.25
    depth[half:] = np.where(weak, rng.uniform(0.03, 0.1, half), 0.0)
    speak_gain = np.concatenate([rng.uniform(0.1, 0.5, half), rng.uniform(0.0, 0.05, half)])
    gocue_gain = np.concatenate([rng.uniform(0.0, 0.6, half), rng.uniform(0.0, 0.1, half)])
    lead_s = rng.uniform(cfg.lead_range_s[0], cfg.lead_range_s[1], c)
    base_rate = np.exp(rng.normal(np.log(0.5), 0.5, c))  # ~25 Hz multi-unit threshold crossings
    pow_floor = np.exp(rng.normal(np.log(40.0), 0.3, c))
    pow_alpha = np.exp(rng.normal(np.log(25.0), 0.3, c))
    d = cfg.days
    day_gain = np.exp(np.cumsum(rng.normal(0, 0.12, (d, c)), axis=0))
    day_offset = np.cumsum(rng.normal(0, 0.04, (d, c)), axis=0)
    dead = np.zeros((d, c), bool)
    n_dead = int(round(cfg.dead_fraction * c))
    if n_dead:
        idx = rng.choice(c, n_dead, replace=False)
        dies_on = rng.integers(0, d, n_dead)
        for e, day in zip(idx, dies_on):
            dead[day:, e] = True
    return ArrayModel(
        area=area,
        tuning=tuning.astype(np.float32),
        onehot_tuning=onehot_tuning,
        feature_tuning=feature_tuning,
        depth=depth,
        lead_s=lead_s,
        base_rate=base_rate,
        speak_gain=speak_gain,
        gocue_gain=gocue_gain,
        pow_floor=pow_floor,
        pow_alpha=pow_alpha,
        day_gain=day_gain,
        day_offset=day_offset,
        dead=dead,
    )


def phoneme_bins(phonemes, onset_s: float, n_bins: int) -> np.ndarray:
    """Fraction of each 20 ms bin covered by each ARPAbet phoneme.

    Args:
        phonemes: Segments with ``start``/``end`` in seconds from the audio start and ARPAbet labels.
        onset_s: Time of the audio start within the trial (the go-cue lead-in).
        n_bins: Number of bins T.

    Returns:
        (T, 39) float32.
    """
    out = np.zeros((n_bins, len(ARPABET)), np.float32)
    for p in phonemes:
        a, b = (onset_s + p.start) / BIN_S, (onset_s + p.end) / BIN_S
        k = phoneme_index(p.label)
        for j in range(max(int(np.floor(a)), 0), min(int(np.ceil(b)), n_bins)):
            out[j, k] += min(b, j + 1) - max(a, j)
    return out


def simulate_trial(
    model: ArrayModel, rendering, day: int, block_shift: np.ndarray, rng: np.random.Generator, cfg: IntracorticalConfig
) -> Tuple[Dict[str, np.ndarray], dict]:
    """Simulate one sentence; returns the fields (T, C) and its timing ground truth."""
    onset = float(rng.uniform(*cfg.go_cue_range_s))
    tail = float(rng.uniform(*cfg.tail_range_s))
    n_bins = int(np.ceil((onset + rendering.duration + tail) / BIN_S))
    max_lead = int(np.ceil(cfg.lead_range_s[1] / BIN_S)) + 1
    art = phoneme_bins(rendering.phonemes, onset, n_bins + max_lead)  # (T + lead, 39)
    lead_bins = np.round(model.lead_s / BIN_S).astype(int)
    c = len(model.area)
    drive = np.zeros((n_bins, c), np.float32)
    speaking = np.zeros((n_bins, c), np.float32)
    active = (art.sum(axis=1) > 0).astype(np.float32)
    first = int(np.argmax(active > 0))
    last = len(active) - int(np.argmax(active[::-1] > 0))
    span = np.zeros(len(active), np.float32)
    span[first:last] = 1.0
    for lb in np.unique(lead_bins):
        cols = np.flatnonzero(lead_bins == lb)
        # Activity at bin j reflects the sound at bin j + lead: neural activity precedes the sound.
        drive[:, cols] = art[lb : lb + n_bins] @ model.tuning[:, cols]
        speaking[:, cols] = span[lb : lb + n_bins, None]
    drive = gaussian_filter1d(drive, 2.0, axis=0)
    speaking = gaussian_filter1d(speaking, 3.0, axis=0)
    t = np.arange(n_bins) * BIN_S
    gocue = np.exp(-0.5 * ((t - 0.15) / 0.06) ** 2)[:, None]
    # Slow trial-to-trial fluctuation of the log-rate (an AR(1) process per electrode).
    eps = rng.normal(0, 0.2 * cfg.noise, (n_bins, c))
    noise = np.zeros_like(eps)
    noise[0] = eps[0]
    for j in range(1, n_bins):
        noise[j] = 0.8 * noise[j - 1] + 0.6 * eps[j]
    log_rate = (
        np.log(model.base_rate)
        + model.depth * drive
        + model.speak_gain * speaking
        + model.gocue_gain * gocue
        + block_shift
        + noise
    )
    lam = np.maximum(model.day_gain[day] * np.exp(log_rate) + model.day_offset[day], 0.01)
    tx1 = rng.poisson(lam)
    tx2 = rng.binomial(tx1, THINNING[0])
    tx3 = rng.binomial(tx2, THINNING[1])
    tx4 = rng.binomial(tx3, THINNING[2])
    pow_noise = np.exp(rng.normal(0, 0.25 * cfg.noise, (n_bins, c)))
    spike_pow = (
        model.pow_floor * model.day_gain[day] + model.pow_alpha * gaussian_filter1d(lam, 1.0, axis=0)
    ) * pow_noise
    dead = model.dead[day]
    for arr in (tx1, tx2, tx3, tx4):
        arr[:, dead] = 0
    spike_pow[:, dead] = 2.0 * pow_noise[:, dead]
    fields = {
        "tx1": tx1.astype(np.float32),
        "tx2": tx2.astype(np.float32),
        "tx3": tx3.astype(np.float32),
        "tx4": tx4.astype(np.float32),
        "spikePow": spike_pow.astype(np.float32),
    }
    truth = {
        "n_bins": n_bins,
        "audio_onset_s": round(onset, 6),
        "speech_onset_bin": int(np.floor((onset + rendering.phonemes[0].start) / BIN_S)),
        "speech_offset_bin": int(np.ceil((onset + rendering.phonemes[-1].end) / BIN_S)),
        "audio_duration_s": round(rendering.duration, 6),
        "phonemes": [[round(onset + p.start, 4), round(onset + p.end, 4), p.label] for p in rendering.phonemes],
        "voice": rendering.voice,
        "rate": rendering.rate,
    }
    return fields, truth


def _day_dates(seed: int, days: int) -> List[str]:
    rng = child_rng(seed, "intracortical", "dates")
    date = datetime.date(2022, 6, 14)
    out = []
    for _ in range(days):
        out.append(date.strftime("%Y.%m.%d"))
        date += datetime.timedelta(days=int(rng.integers(2, 10)))
    return out


def plan_days(splits: Dict[str, List[Sentence]], cfg: IntracorticalConfig) -> List[List[_Trial]]:
    """Assign sentences to days, files and blocks (see the module docstring)."""
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    d = cfg.days
    if d < 1:
        raise ValueError(f"intracortical.days must be >= 1, got {d}")
    if len(dev) < d:
        raise ValueError(
            f"intracortical: every day's last train block holds dev sentences, so text.n_dev ({len(dev)}) "
            f"must be >= intracortical.days ({d})"
        )
    if not train:
        raise ValueError("intracortical: the text split has no train sentences")
    if cfg.train_per_day is None:
        train_days = [list(x) for x in np.array_split(np.arange(len(train)), d)]
    else:
        train_days = [[(k * cfg.train_per_day + i) % len(train) for i in range(cfg.train_per_day)] for k in range(d)]
    dev_days = np.array_split(np.arange(len(dev)), d)
    test_days = np.array_split(np.arange(len(test)), d)
    plan = []
    for k in range(d):
        trials: List[_Trial] = []
        block = 1
        for i, idx in enumerate(train_days[k]):
            if i and i % cfg.block_size == 0:
                block += 1
            trials.append(_Trial(train[idx], train[idx].text, block, "train"))
        block += 1
        trials += [_Trial(dev[i], dev[i].text, block, "train") for i in dev_days[k]]
        block += 1
        trials += [_Trial(test[i], test[i].text, block, "test") for i in test_days[k]]
        block += 1
        for i in range(cfg.holdout_per_day):
            sent = test[(k * cfg.holdout_per_day + i) % len(test)] if test else train[i % len(train)]
            trials.append(_Trial(sent, "", block, "competitionHoldOut"))
        plan.append(trials)
    return plan


def _char_array(texts: List[str]) -> np.ndarray:
    # A char matrix S x L padded with spaces, as MATLAB stores it; all-empty labels keep one space
    # column so that loadmat still returns S rows.
    width = max([len(t) for t in texts] + [1])
    return np.array([t.ljust(width) for t in texts], dtype=f"<U{width}")


def write_intracortical(
    out_dir: str,
    seed: int,
    splits: Dict[str, List[Sentence]],
    cfg: IntracorticalConfig,
    cache: RenderCache,
    progress: bool = False,
) -> dict:
    """Write ``DIR/brain2text24``; returns the MANIFEST entry."""
    root = makedirs(os.path.join(out_dir, "brain2text24"))
    gt_dir = makedirs(os.path.join(root, "ground_truth"))
    model = make_array_model(seed, cfg)
    dates = _day_dates(seed, cfg.days)
    plan = plan_days(splits, cfg)
    counts = {p: 0 for p in PARTITIONS}
    truth_rows = []
    for day, trials in enumerate(tqdm(plan, desc="brain2text24", disable=not progress, leave=False)):
        blocks = sorted({t.block for t in trials})
        shift_rng = child_rng(seed, "intracortical", "blocks", day)
        shifts = {
            b: shift_rng.normal(0, 0.1, len(model.area)) + shift_rng.normal(0, 0.1) for b in blocks
        }  # per-block baseline shift of the log-rate, per electrode plus a shared part
        for part in PARTITIONS:
            part_trials = [t for t in trials if t.partition == part]
            if not part_trials:
                continue
            cells = {k: np.empty((1, len(part_trials)), dtype=object) for k in ("spikePow", "tx1", "tx2", "tx3", "tx4")}
            for i, trial in enumerate(part_trials):
                rng = child_rng(seed, "intracortical", "trial", day, part, i)
                fields, truth = simulate_trial(model, cache.get(trial.sentence), day, shifts[trial.block], rng, cfg)
                for k, v in fields.items():
                    cells[k][0, i] = v
                truth.update(
                    file=f"{part}/t12.{dates[day]}.mat",
                    index=i,
                    day=day,
                    block=trial.block,
                    sent_id=trial.sentence.sent_id,
                    text=trial.sentence.text,
                    split=trial.sentence.split if part != "competitionHoldOut" else "holdout",
                )
                truth_rows.append(truth)
            variables = {
                "sentenceText": _char_array([t.label for t in part_trials]),
                **cells,
                "blockIdx": np.array([[t.block] for t in part_trials], dtype=np.float64),
            }
            write_mat(os.path.join(makedirs(os.path.join(root, part)), f"t12.{dates[day]}.mat"), variables)
            counts[part] += len(part_trials)
    write_npy(os.path.join(gt_dir, "tuning.npy"), model.tuning)
    write_npy(os.path.join(gt_dir, "feature_tuning.npy"), model.feature_tuning.astype(np.float32))
    write_npy(os.path.join(gt_dir, "onehot_tuning.npy"), model.onehot_tuning.astype(np.float32))
    write_npy(os.path.join(gt_dir, "day_gain.npy"), model.day_gain.astype(np.float32))
    write_npy(os.path.join(gt_dir, "day_offset.npy"), model.day_offset.astype(np.float32))
    write_npy(os.path.join(gt_dir, "dead.npy"), model.dead)
    write_json(
        os.path.join(gt_dir, "units.json"),
        {
            "area": model.area.tolist(),
            "lead_s": np.round(model.lead_s, 4).tolist(),
            "depth": np.round(model.depth, 4).tolist(),
            "base_rate_per_bin": np.round(model.base_rate, 4).tolist(),
            "speak_gain": np.round(model.speak_gain, 4).tolist(),
            "phonemes": list(ARPABET),
            "articulatory_features": list(ARTICULATORY_FEATURES),
            "dates": dates,
            "dead_by_day": {dates[d]: np.flatnonzero(model.dead[d]).tolist() for d in range(cfg.days)},
        },
    )
    write_json(os.path.join(gt_dir, "sentences.json"), truth_rows)
    return {
        "bin_s": BIN_S,
        "channels": cfg.channels,
        "areas": {"6v": [0, cfg.channels // 2 - 1], "44": [cfg.channels // 2, cfg.channels - 1]},
        "days": dates,
        "sentences": counts,
        "dev_sentences": len(splits["dev"]),
        "dev_block": "the last block (largest blockIdx) of each train/ file holds the dev sentences of the text split",
    }
