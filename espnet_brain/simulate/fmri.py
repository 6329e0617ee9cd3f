"""fMRI part: LeBel et al. (2023) (OpenNeuro ds003020) style story-listening responses.

Layout under ``DIR/lebel2023/``::

    stimuli/<story>.wav                                   22.05 kHz mono PCM16 (readers resample to 16 kHz)
    derivative/TextGrids/<story>.TextGrid                 tiers "phone" (ARPAbet) and "word"; silences "",
                                                          pauses "sp", non-speech tokens {BR}, {NS}, {LG}
    derivative/respdict.json                              {story: N = number of TRs acquired}
    derivative/preprocessed_data/<subject>/<story>.hf5    dataset "data" (N - 20, V) float32
    derivative/preprocessed_data/<subject>/wheretheressmoke.hf5
                                                          also "individual_repeats" (R, N - 20, V);
                                                          "data" is their mean over repeats
    derivative/ground_truth/<subject>/                    what produced the data (not in the real layout)

Timing convention (that of the lab's public code, ``load_simulated_trfiles(respdict, tr=2.0,
start_time=10.0, pad=5)`` then ``[10:-5]``): the scanner acquires N volumes, volume ``k`` at scanner
time ``k * TR``; the story audio starts at scanner time ``sound_start_s = 10`` s. The stimulus TR
grid has ``N - 5`` entries, ``k = 0 .. N - 6``, and volume ``k`` covers audio time
``[k * TR - 10, k * TR - 10 + TR)`` (the lab samples features at its midpoint). The ``.hf5``
``data`` holds rows ``k = 10 .. N - 11``, i.e. exactly ``grid[10:-5]``, N - 20 rows. TR = 2.0 s here
(the lab code uses 2.0; the scanner's was 2.0045 s).

Ground truth (``derivative/ground_truth/<subject>/``):

* ``features/<story>.npy`` X, (N - 5, F) float32 on the whole grid: per TR window, the RMS amplitude
  of the audio in ``n_bands`` log-spaced bands from 100 Hz to 8 kHz (acoustic), the number of words whose midpoint
  falls in the window (word rate) and the sum of their seeded embeddings (semantic); each column
  standardised with the mean and std of all stories' grid rows (``model.json``).
* ``weights.npy`` W, (4, F, V): the noiseless response of grid row k is
  ``signal[k] = sum_{d=1..4} X[k - d] @ W[d - 1]`` (FIR delays of 1..4 TRs). Auditory voxels weight
  only acoustic columns, semantic voxels only word columns, noise voxels nothing. W is scaled so that
  each signal voxel has unit variance over the rows of all stories (each story counted once).
* ``signal/<story>.npy`` (N - 20, V): the noiseless rows ``k = 10 .. N - 11``.
* ``snr.npy`` (V,): signal/noise variance ratio s (0 for noise voxels); ``noise_sd.npy`` = 1/sqrt(s)
  (1 for noise voxels). In every recording (story, repeat), the noise of voxel v is Gaussian,
  centred and rescaled to have exactly ``noise_sd[v]`` sample standard deviation, so the data are
  ``signal + noise`` at the requested SNR and the single-repeat noise ceiling is sqrt(s / (1 + s)).
* ``roi.json``: voxel indices of the "auditory", "semantic" and "noise" ROIs.
* ``../word_embeddings.txt`` (all subjects): ``word v1 .. vE`` per line, the seeded vector of every word (the
  semantic columns of ``features`` sum them per TR before standardisation).

A ridge regression on the delayed true features (delays 1..4, cut with ``[10:-5]``) therefore
reaches the noise ceiling up to estimation error.
"""

import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import h5py
import numpy as np
from tqdm import tqdm

from espnet_brain.data.textgrid import write_textgrid
from espnet_brain.simulate.espeak import SAMPLE_RATE
from espnet_brain.simulate.io import makedirs, write_json, write_npy, write_wav
from espnet_brain.simulate.presets import FMRIConfig
from espnet_brain.simulate.randomness import child_rng
from espnet_brain.simulate.speech import RenderCache
from espnet_brain.simulate.text import Sentence

TEST_STORY = "wheretheressmoke"
TRIM_START, TRIM_END = 10, 5
DELAYS = (1, 2, 3, 4)
_STORY_NAMES = (
    "alittlebird", "theoldhouse", "abrightmorning", "thelongroad", "lettershome", "thequietgarden", "theredboat",
    "acitynight", "kitchentales", "ayoungteacher", "acrosstheriver", "thelostphone", "familydinner", "anopendoor",
    "thegreenwindow", "asongforyou",
)  # fmt: skip
NONSPEECH = ("{BR}", "{NS}", "{LG}")


@dataclass
class Story:
    """A story's audio and its phone/word timings (seconds from the audio start)."""

    name: str
    audio: np.ndarray  # (S,) int16 at 22.05 kHz
    phones: List[Tuple[float, float, str]]
    words: List[Tuple[float, float, str]]
    gaps: List[Tuple[float, float, str]]  # labelled non-speech spans between sentences
    sent_ids: List[str]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def story_names(n_train: int) -> List[str]:
    names = list(_STORY_NAMES[:n_train])
    names += [f"simstory{i:02d}" for i in range(len(names), n_train)]
    return names


def n_acquired(duration_s: float, cfg: FMRIConfig) -> int:
    """Number of volumes N so that the grid (N - 5 TRs from scanner time 0) covers the audio."""
    return int(np.ceil((duration_s + cfg.sound_start_s) / cfg.tr)) + TRIM_END


def build_story(name: str, pool: List[Sentence], target_s: float, seed: int, cache: RenderCache) -> Story:
    """Concatenate renderings of sentences drawn from ``pool`` (with pauses) until ``target_s`` seconds."""
    rng = child_rng(seed, "fmri", "story", name)
    lead = int(rng.uniform(1.0, 2.0) * SAMPLE_RATE)
    chunks = [np.zeros(lead, np.int16)]
    pos = lead
    phones, words, gaps, sent_ids = [], [], [], []
    order = rng.permutation(len(pool))
    i = 0
    while pos < target_s * SAMPLE_RATE:
        if i and i % len(pool) == 0:
            order = rng.permutation(len(pool))
        sent = pool[int(order[i % len(pool)])]
        i += 1
        r = cache.get(sent)
        t0 = pos / SAMPLE_RATE
        phones += [(t0 + p.start, t0 + p.end, p.label) for p in r.phonemes]
        words += [(t0 + w.start, t0 + w.end, w.label.lower()) for w in r.words]
        sent_ids.append(sent.sent_id)
        chunks.append(r.audio)
        pos += len(r.audio)
        pause = int(rng.uniform(0.3, 1.2) * SAMPLE_RATE)
        chunks.append(np.zeros(pause, np.int16))
        u = rng.random()
        if u < 0.25 and words:
            # Now and then the silence after a sentence is labelled as breath/noise/laughter.
            gaps.append((words[-1][1], (pos + pause) / SAMPLE_RATE, NONSPEECH[int(u * 12) % len(NONSPEECH)]))
        pos += pause
    chunks.append(np.zeros(int(rng.uniform(1.0, 2.0) * SAMPLE_RATE), np.int16))
    return Story(name, np.concatenate(chunks), phones, words, gaps, sent_ids)


def _tile(spans: List[Tuple[float, float, str]], xmax: float, gap_label: str, lead_label: str = "") -> list:
    """Fill the gaps between ``spans`` so that intervals tile [0, xmax]."""
    out = []
    prev = 0.0
    for a, b, lab in spans:
        a = max(a, prev)
        if b <= a:
            continue
        if a > prev + 1e-6:
            out.append((prev, a, lead_label if not out else gap_label))
        elif a > prev:
            a = prev
        out.append((a, b, lab))
        prev = b
    if xmax > prev:
        out.append((prev, xmax, ""))
    return out


def write_story_textgrid(path: str, story: Story, short: bool) -> None:
    xmax = story.duration
    phones = _tile(story.phones, xmax, "sp")
    # Word tier: the words; between sentences "sp" or a non-speech token such as {BR}.
    spans = sorted(story.words + story.gaps)
    words = _tile(spans, xmax, "sp")
    write_textgrid(path, {"phone": phones, "word": words}, 0.0, xmax, short=short)


def band_edges(n_bands: int) -> np.ndarray:
    """Edges (Hz) of the acoustic bands: ``n_bands`` log-spaced bands from 100 Hz to 8 kHz."""
    return np.geomspace(100.0, 8000.0, n_bands + 1)


def raw_features(story: Story, n_grid: int, cfg: FMRIConfig, embeddings: Dict[str, np.ndarray]) -> np.ndarray:
    """TR-level stimulus features before standardisation.

    Acoustic: per TR window and band, the RMS amplitude of the audio within the band (from the
    window's spectrum, Parseval), silence outside the audio. Words: count and summed embedding of
    the words whose midpoint falls in the window.

    Returns:
        (n_grid, n_bands + 1 + embedding_dim) float64.
    """
    win = int(round(cfg.tr * SAMPLE_RATE))
    lead = int(round(cfg.sound_start_s * SAMPLE_RATE))
    x = np.zeros(n_grid * win)
    audio = story.audio.astype(np.float64) / 32768.0
    # Scanner time 0 is sound_start_s before the audio; the grid may end before or after the audio.
    x[lead : lead + len(audio)] = audio[: max(0, len(x) - lead)]
    power = np.abs(np.fft.rfft(x.reshape(n_grid, win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1.0 / SAMPLE_RATE)
    out = np.zeros((n_grid, cfg.n_bands + 1 + cfg.embedding_dim))
    edges = band_edges(cfg.n_bands)
    for b in range(cfg.n_bands):
        sel = (freqs >= edges[b]) & (freqs < edges[b + 1])
        out[:, b] = np.sqrt(2.0 * power[:, sel].sum(axis=1)) / win
    for a, b, w in story.words:
        k = int(np.floor(((a + b) / 2 + cfg.sound_start_s) / cfg.tr))
        if 0 <= k < n_grid:
            out[k, cfg.n_bands] += 1.0
            out[k, cfg.n_bands + 1 :] += embeddings[w]
    return out


def _embedding(seed: int, word: str, dim: int) -> np.ndarray:
    return child_rng(seed, "fmri", "embedding", word.lower()).normal(0, 1, dim)


def _hrf(rng: np.random.Generator) -> np.ndarray:
    """FIR weights of delays 1..4 TRs: a gamma-shaped response peaking 4-6 s after the stimulus."""
    peak = rng.uniform(4.0, 6.0)
    t = np.array(DELAYS, float) * 2.0
    h = (t / peak) ** 6 * np.exp(-6 * (t / peak - 1))
    return h / h.max()


def delayed(x: np.ndarray, delays=DELAYS) -> List[np.ndarray]:
    """``[X shifted down by d rows (zeros on top) for d in delays]``, each (n, F)."""
    out = []
    for d in delays:
        y = np.zeros_like(x)
        y[d:] = x[:-d]
        out.append(y)
    return out


def noiseless_rows(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Noiseless responses on the kept rows.

    Args:
        x: (N - 5, F) features on the whole grid.
        weights: (4, F, V) FIR weights of delays 1..4.

    Returns:
        (N - 20, V): ``signal[k] = sum_d x[k - d] @ weights[d - 1]`` for ``k = 10 .. N - 11``.
    """
    full = sum(xd @ w for xd, w in zip(delayed(x), weights))
    return full[TRIM_START:-TRIM_END]


def _exact_noise(rng: np.random.Generator, n_rows: int, noise_sd: np.ndarray) -> np.ndarray:
    z = rng.normal(0, 1, (n_rows, len(noise_sd)))
    z -= z.mean(axis=0)
    z /= z.std(axis=0)
    return z * noise_sd


def _write_hf5(path: str, **datasets) -> None:
    with h5py.File(path, "w", track_order=False) as f:
        for name, arr in datasets.items():
            f.create_dataset(name, data=arr, track_times=False)


def write_fmri(
    out_dir: str,
    seed: int,
    splits: Dict[str, List[Sentence]],
    cfg: FMRIConfig,
    cache: RenderCache,
    progress: bool = False,
) -> dict:
    """Write ``DIR/lebel2023``; returns the MANIFEST entry."""
    if abs(cfg.sound_start_s / cfg.tr - round(cfg.sound_start_s / cfg.tr)) > 1e-9:
        raise ValueError(f"fmri.sound_start_s ({cfg.sound_start_s}) must be a multiple of fmri.tr ({cfg.tr})")
    root = makedirs(os.path.join(out_dir, "lebel2023"))
    stim_dir = makedirs(os.path.join(root, "stimuli"))
    deriv = makedirs(os.path.join(root, "derivative"))
    tg_dir = makedirs(os.path.join(deriv, "TextGrids"))
    train_pool = splits["train"] + splits["dev"]
    test_pool = splits["test"] or splits["dev"]
    names = story_names(cfg.n_train_stories)
    stories = []
    for i, name in enumerate(tqdm(names + [TEST_STORY], desc="lebel2023/stories", disable=not progress, leave=False)):
        test = name == TEST_STORY
        pool, target = (test_pool, cfg.test_story_seconds) if test else (train_pool, cfg.story_seconds)
        story = build_story(name, pool, target, seed, cache)
        write_wav(os.path.join(stim_dir, f"{name}.wav"), story.audio, SAMPLE_RATE)
        # Odd stories in Praat's short text format, the others long, as both occur in the wild.
        write_story_textgrid(os.path.join(tg_dir, f"{name}.TextGrid"), story, short=bool(i % 2))
        stories.append(story)
    respdict = {s.name: n_acquired(s.duration, cfg) for s in stories}
    write_json(os.path.join(deriv, "respdict.json"), respdict)

    vocab = sorted({w for s in stories for _, _, w in s.words})
    embeddings = {w: _embedding(seed, w, cfg.embedding_dim) for w in vocab}
    raw = {s.name: raw_features(s, respdict[s.name] - TRIM_END, cfg, embeddings) for s in stories}
    # the words' own vectors, the semantic target of word-level probes
    with open(os.path.join(makedirs(os.path.join(deriv, "ground_truth")), "word_embeddings.txt"), "w") as f:
        f.writelines(f"{w} {' '.join(f'{v:.6f}' for v in embeddings[w])}\n" for w in vocab)
    pooled = np.concatenate(list(raw.values()))
    mean, std = pooled.mean(axis=0), pooled.std(axis=0)
    std[std == 0] = 1.0
    feats = {k: ((v - mean) / std).astype(np.float32) for k, v in raw.items()}
    feature_names = [f"band{b}" for b in range(cfg.n_bands)] + ["word_rate"]
    feature_names += [f"embedding{j}" for j in range(cfg.embedding_dim)]
    acoustic = np.arange(cfg.n_bands)
    semantic = np.arange(cfg.n_bands, len(feature_names))

    subjects = [f"UTS{i + 1:02d}" for i in range(cfg.subjects)]
    n_vox = cfg.n_voxels
    fr = np.asarray(cfg.roi_fractions, float)
    if n_vox < 3 or len(fr) != 3 or np.any(fr < 0) or fr.sum() <= 0:
        raise ValueError(
            f"fmri: need n_voxels >= 3 and three non-negative roi_fractions, got {n_vox}, {cfg.roi_fractions}"
        )
    counts = np.floor(fr / fr.sum() * n_vox).astype(int)
    counts[2] = n_vox - counts[0] - counts[1]
    for subject in tqdm(subjects, desc="lebel2023/subjects", disable=not progress, leave=False):
        rng = child_rng(seed, "fmri", "subject", subject)
        perm = rng.permutation(n_vox)
        roi = {
            "auditory": np.sort(perm[: counts[0]]),
            "semantic": np.sort(perm[counts[0] : counts[0] + counts[1]]),
            "noise": np.sort(perm[counts[0] + counts[1] :]),
        }
        beta = np.zeros((len(feature_names), n_vox))
        for name, cols in (("auditory", acoustic), ("semantic", semantic)):
            vox = roi[name]
            beta[np.ix_(cols, vox)] = rng.normal(0, 1, (len(cols), len(vox)))
        hrf = np.stack([_hrf(rng) for _ in range(n_vox)], axis=1)  # (4, V)
        weights = hrf[:, None, :] * beta[None]  # (4, F, V)
        signal = {s.name: noiseless_rows(feats[s.name].astype(np.float64), weights) for s in stories}
        sd = np.concatenate(list(signal.values())).std(axis=0)
        scale = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
        weights = weights * scale
        signal = {k: v * scale for k, v in signal.items()}
        lo, hi = np.log(cfg.snr_range[0]), np.log(cfg.snr_range[1])
        snr = np.exp(rng.uniform(lo, hi, n_vox))
        snr[roi["noise"]] = 0.0
        noise_sd = np.where(snr > 0, 1.0 / np.sqrt(np.where(snr > 0, snr, 1.0)), 1.0)

        sub_dir = makedirs(os.path.join(deriv, "preprocessed_data", subject))
        gt = makedirs(os.path.join(deriv, "ground_truth", subject))
        makedirs(os.path.join(gt, "features"))
        makedirs(os.path.join(gt, "signal"))
        for s in stories:
            noise_rng = child_rng(seed, "fmri", "noise", subject, s.name)
            sig = signal[s.name]
            if s.name == TEST_STORY:
                reps = np.stack([sig + _exact_noise(noise_rng, len(sig), noise_sd) for _ in range(cfg.n_repeats)])
                reps = reps.astype(np.float32)
                _write_hf5(os.path.join(sub_dir, f"{s.name}.hf5"), data=reps.mean(axis=0), individual_repeats=reps)
            else:
                data = (sig + _exact_noise(noise_rng, len(sig), noise_sd)).astype(np.float32)
                _write_hf5(os.path.join(sub_dir, f"{s.name}.hf5"), data=data)
            write_npy(os.path.join(gt, "features", f"{s.name}.npy"), feats[s.name])
            write_npy(os.path.join(gt, "signal", f"{s.name}.npy"), sig.astype(np.float32))
        write_npy(os.path.join(gt, "weights.npy"), weights.astype(np.float32))
        write_npy(os.path.join(gt, "snr.npy"), snr.astype(np.float32))
        write_npy(os.path.join(gt, "noise_sd.npy"), noise_sd.astype(np.float32))
        write_json(os.path.join(gt, "roi.json"), {k: v.tolist() for k, v in roi.items()})
        write_json(
            os.path.join(gt, "model.json"),
            {
                "feature_names": feature_names,
                "acoustic_features": [feature_names[i] for i in acoustic],
                "word_features": [feature_names[i] for i in semantic],
                "feature_mean": np.round(mean, 8).tolist(),
                "feature_std": np.round(std, 8).tolist(),
                "delays_tr": list(DELAYS),
                "tr": cfg.tr,
                "sound_start_s": cfg.sound_start_s,
                "response": "signal[k] = sum_{d=1..4} features[k-d] @ weights[d-1], rows k = 10..N-11; "
                "data = signal + noise with noise sample std = noise_sd per voxel and recording",
                "test_story_data": "mean of individual_repeats over repeats",
            },
        )
    return {
        "tr": cfg.tr,
        "sound_start_s": cfg.sound_start_s,
        "trim": [TRIM_START, TRIM_END],
        "stimulus_sample_rate": SAMPLE_RATE,
        "subjects": subjects,
        "stories": {s.name: {"seconds": round(s.duration, 3), "n_trs_acquired": respdict[s.name]} for s in stories},
        "test_story": TEST_STORY,
        "n_repeats": cfg.n_repeats,
        "n_voxels": n_vox,
        "roi_sizes": {"auditory": int(counts[0]), "semantic": int(counts[1]), "noise": int(counts[2])},
        "timing": "volume k at scanner time k*TR; audio starts at scanner time sound_start_s; stimulus grid "
        "k = 0..N-6 covers audio time [k*TR - sound_start_s, +TR); hf5 rows = grid[10:-5] (N-20 rows)",
    }
