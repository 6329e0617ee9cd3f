"""iEEG part: SEEG/ECoG sessions of read-aloud sentences, written as iEEG-BIDS with MNE-BIDS.

Layout under ``DIR/ieeg_bids/`` (BrainVision files; needs the ``pybv`` package)::

    dataset_description.json, participants.tsv, README
    sub-<NN>/ses-<NN>/ieeg/sub-<NN>_ses-<NN>_task-sentences_run-01_ieeg.{vhdr,eeg,vmrk,json}
                           ..._channels.tsv   type SEEG (odd subjects) or ECOG (even); status good/bad
                           ..._events.tsv     onset, duration, trial_type ("sentence"), value, sample,
                                              sent_id, sentence (the natural text)
    sub-<NN>/ses-<NN>/ieeg/sub-<NN>_ses-<NN>_space-fsaverage_electrodes.tsv   made-up contact positions
    derivatives/ground_truth/sub-<NN>_ses-<NN>.json   channel tuning, lags, the true envelopes' timing
    derivatives/ground_truth/sub-<NN>_ses-<NN>_envelope.npy  (T, C) true high-gamma envelope at 100 Hz

Each responsive channel's high-gamma (70-170 Hz) amplitude follows the phonemes of the sentence's
eSpeak NG rendering: ``env_c(t) = 1 + depth_c * relu(articulation(t + lag_c) @ tuning_c)`` smoothed
by 30 ms, with ``lag_c`` in [-0.10, +0.15] s (negative: the channel leads the sound, motor-like;
positive: it follows it, auditory-like). The broadband signal is 1/f^2 (power) background plus band-limited
70-170 Hz noise scaled by ``env_c``, plus a little 60 Hz line noise. Bad channels are flat with noise
bursts and marked ``bad`` in ``channels.tsv``.
"""

import datetime
import logging
import os
from typing import Dict, List

import numpy as np
from scipy.signal import butter, sosfiltfilt
from tqdm import tqdm

from espnet_brain.simulate.io import makedirs, write_json, write_npy
from espnet_brain.simulate.phonemes import articulatory_matrix, phoneme_index
from espnet_brain.simulate.presets import IEEGConfig
from espnet_brain.simulate.randomness import child_rng
from espnet_brain.simulate.speech import RenderCache
from espnet_brain.simulate.text import Sentence

TASK = "sentences"
ENVELOPE_SFREQ = 100.0
HG_BAND = (70.0, 170.0)
logger = logging.getLogger(__name__)


def _channel_names(ch_type: str, n: int) -> List[str]:
    if ch_type == "ecog":
        return [f"G{i + 1}" for i in range(n)]
    shafts = ("LA", "LT", "RA", "RT", "LH", "RH", "LO", "RO")
    per = 8
    return [f"{shafts[(i // per) % len(shafts)]}{i % per + 1}" for i in range(n)]


def _background(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """Unit-variance 1/f^2 (power) background activity, (c, n)."""
    spec = np.fft.rfft(rng.normal(0, 1, (c, n)), axis=1)
    f = np.arange(spec.shape[1], dtype=float)
    f[0] = 1.0
    x = np.fft.irfft(spec / f, n=n, axis=1)
    return x / x.std(axis=1, keepdims=True)


def _positions(rng: np.random.Generator, names: List[str], ch_type: str) -> Dict[str, np.ndarray]:
    """Made-up contact positions (m, fsaverage/MNI-like frame): shafts of 3.5 mm pitch or an ECoG grid."""
    pos = {}
    if ch_type == "ecog":
        side = int(np.ceil(np.sqrt(len(names))))
        origin = np.array([-0.06, -0.03, 0.0])
        for i, n in enumerate(names):
            pos[n] = origin + np.array([0.0, 0.01 * (i % side), 0.01 * (i // side)])
        return pos
    shafts: Dict[str, List[str]] = {}
    for n in names:
        shafts.setdefault(n.rstrip("0123456789"), []).append(n)
    for shaft, contacts in shafts.items():
        sign = -1.0 if shaft.startswith("L") else 1.0
        start = np.array([sign * 0.065, rng.uniform(-0.04, 0.02), rng.uniform(-0.02, 0.02)])
        direction = np.array([-sign, rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)])
        direction /= np.linalg.norm(direction)
        for k, n in enumerate(contacts):
            pos[n] = start + 0.0035 * k * direction
    return pos


def _session_sentences(
    seed: int, splits: Dict[str, List[Sentence]], subject: int, session: int, n: int
) -> List[Sentence]:
    """Mostly train sentences with some dev and test ones, so that recipes can split by sent_id."""
    rng = child_rng(seed, "ieeg", "sentences", subject, session)
    n_eval = max(1, n // 6) if n >= 3 else 0
    out = []
    for split, k in (("dev", n_eval), ("test", n_eval), ("train", n - 2 * n_eval)):
        pool = splits[split] or splits["train"]
        out += [pool[int(i)] for i in rng.choice(len(pool), k, replace=k > len(pool))]
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def write_ieeg(
    out_dir: str,
    seed: int,
    splits: Dict[str, List[Sentence]],
    cfg: IEEGConfig,
    cache: RenderCache,
    progress: bool = False,
) -> dict:
    """Write ``DIR/ieeg_bids``; returns the MANIFEST entry."""
    import mne
    import mne_bids

    root = makedirs(os.path.join(out_dir, "ieeg_bids"))
    gt_dir = makedirs(os.path.join(root, "derivatives", "ground_truth"))
    sf = float(cfg.sfreq)
    if sf < 2.2 * HG_BAND[1]:
        raise ValueError(f"ieeg.sfreq must be at least {2.2 * HG_BAND[1]:.0f} Hz to hold high gamma, got {sf}")
    art = articulatory_matrix()
    hg_sos = butter(4, HG_BAND, btype="band", fs=sf, output="sos")
    summary = {"sfreq": sf, "task": TASK, "high_gamma_band": list(HG_BAND), "sessions": []}
    jobs = [(s, k) for s in range(1, cfg.subjects + 1) for k in range(1, cfg.sessions + 1)]
    for subject, session in tqdm(jobs, desc="ieeg_bids", disable=not progress, leave=False):
        ch_type = "seeg" if subject % 2 else "ecog"
        rng = child_rng(seed, "ieeg", "channels", subject)
        c = cfg.channels
        names = _channel_names(ch_type, c)
        responsive = rng.random(c) < cfg.responsive_fraction
        tuning = np.abs(rng.normal(0, 1, (art.shape[1], c))) * (rng.random((art.shape[1], c)) < 0.4)
        lag = rng.uniform(-0.10, 0.15, c)
        depth = np.where(responsive, rng.uniform(1.0, 3.0, c), 0.0)
        srng = child_rng(seed, "ieeg", "session", subject, session)
        bads = sorted(srng.choice(c, min(cfg.bad_channels, c - 1), replace=False).tolist()) if cfg.bad_channels else []

        sentences = _session_sentences(seed, splits, subject, session, cfg.sentences_per_session)
        onsets, durations, renders = [], [], []
        t = 2.0
        for sent in sentences:
            r = cache.get(sent)
            onsets.append(round(t, 3))
            durations.append(round(r.duration, 3))
            renders.append(r)
            t += r.duration + srng.uniform(*cfg.iti_range_s)
        total = t + 1.0
        n = int(round(total * sf))
        # Articulatory drive at the signal's sampling rate, per channel with its own lag.
        times = np.arange(n) / sf
        env = np.ones((n, c))
        drive_f = np.zeros((n, art.shape[1]))
        for onset, r in zip(onsets, renders):
            for p in r.phonemes:
                a, b = int(round((onset + p.start) * sf)), int(round((onset + p.end) * sf))
                drive_f[a:b] += art[phoneme_index(p.label)]
        for ch in np.flatnonzero(responsive):
            shift = int(round(lag[ch] * sf))
            shifted = np.zeros(n)
            # A channel with lag > 0 responds after the sound: its drive at t is the sound at t - lag.
            src = drive_f @ tuning[:, ch]
            if shift >= 0:
                shifted[shift:] = src[: n - shift]
            else:
                shifted[:shift] = src[-shift:]
            k = int(0.03 * sf)
            kernel = np.exp(-0.5 * (np.arange(-3 * k, 3 * k + 1) / k) ** 2)
            smooth = np.convolve(shifted, kernel / kernel.sum(), mode="same")
            env[:, ch] = 1.0 + depth[ch] * smooth / max(src.max(), 1e-9)
        hg = sosfiltfilt(hg_sos, srng.normal(0, 1, (c, n)), axis=1)
        hg /= hg.std(axis=1, keepdims=True)
        data = 20e-6 * _background(srng, n, c) + 4e-6 * hg * env.T
        data += 2e-6 * np.sin(2 * np.pi * 60.0 * times + srng.uniform(0, 2 * np.pi, (c, 1)))
        for ch in bads:
            data[ch] = 1e-7 * srng.normal(0, 1, n)
            burst = srng.integers(0, max(n - int(sf), 1))
            data[ch, burst : burst + int(0.5 * sf)] += 500e-6 * srng.normal(0, 1, min(int(0.5 * sf), n - burst))

        info = mne.create_info(names, sf, ch_type)
        raw = mne.io.RawArray(data, info, verbose=False)
        raw.set_meas_date(
            datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(days=session)
        )
        raw.info["line_freq"] = 60.0
        raw.info["bads"] = [names[i] for i in bads]
        annotations = mne.Annotations(
            onset=onsets,
            duration=durations,
            description=["sentence"] * len(onsets),
            extras=[{"sent_id": s.sent_id, "sentence": s.text} for s in sentences],
        )
        raw.set_annotations(annotations)
        bids_path = mne_bids.BIDSPath(
            subject=f"{subject:02d}", session=f"{session:02d}", task=TASK, run="01", datatype="ieeg", root=root
        )
        # Positions in a template space go through ``montage=`` (raw keeps none), as MNE-BIDS asks.
        montage = mne.channels.make_dig_montage(ch_pos=_positions(rng, names, ch_type), coord_frame="mni_tal")
        mne_bids.write_raw_bids(
            raw, bids_path, format="BrainVision", montage=montage, allow_preload=True, overwrite=True, verbose=False
        )
        stem = f"sub-{subject:02d}_ses-{session:02d}"
        step = int(round(sf / ENVELOPE_SFREQ))
        write_npy(os.path.join(gt_dir, f"{stem}_envelope.npy"), env[::step].astype(np.float32))
        write_json(
            os.path.join(gt_dir, f"{stem}.json"),
            {
                "channels": names,
                "type": ch_type,
                "bads": [names[i] for i in bads],
                "responsive": [names[i] for i in np.flatnonzero(responsive)],
                "lag_s": np.round(lag, 4).tolist(),
                "depth": np.round(depth, 4).tolist(),
                "envelope_sfreq": sf / step,
                "sentences": [
                    {
                        "sent_id": s.sent_id,
                        "onset": o,
                        "duration": d,
                        "phonemes": [[round(o + p.start, 4), round(o + p.end, 4), p.label] for p in r.phonemes],
                    }
                    for s, o, d, r in zip(sentences, onsets, durations, renders)
                ],
            },
        )
        summary["sessions"].append(
            {
                "subject": f"{subject:02d}",
                "session": f"{session:02d}",
                "type": ch_type,
                "sentences": len(sentences),
                "seconds": round(total, 3),
                "channels": c,
                "bads": len(bads),
            }
        )
    return summary
