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

Simulated cortex (simulator version 2). Real cortex processes speech hierarchically: de Heer et al. (2017,
J. Neurosci. 37(27), "The hierarchical cortical organization of human speech processing") fitted spectral,
articulatory and semantic feature spaces to story-listening fMRI with variance partitioning; spectral features
explain primary auditory cortex, articulatory features the lateral superior temporal cortex (STG/STS), semantic
features a broad network beyond it (Huth et al., 2016, Nature 532), with overlap where the regions meet. The
simulated voxels are of these kinds (``roi.json``; fractions ``FMRIConfig.roi_fractions`` in this order):

* ``auditory_primary``: band envelopes only (the spectral space), as primary auditory cortex (Heschl's gyrus);
* ``speech``: articulatory features at the phone tier's timing (de Heer's 22 features,
  :mod:`espnet_brain.data.articulatory`), as lateral STG; a share ``FMRIConfig.speech_spectral_share`` of their
  variance (default 0) may come from the band envelopes;
* ``semantic``: the summed word embeddings per TR, plus a share ``FMRIConfig.semantic_word_rate_share`` (default
  0.1) from the word rate, as the semantic network of Huth et al. (2016);
* ``mixed_spectral_articulatory`` and ``mixed_articulatory_semantic``: the borders (de Heer's overlap), a share
  ``u ~ U(FMRIConfig.mixed_share_range)`` from the first space and ``1 - u`` from the second;
* ``noise``: no signal.

``roi.json`` also holds the group ``auditory`` = ``auditory_primary`` + ``speech`` +
``mixed_spectral_articulatory`` (the auditory cortex of the encoding literature, e.g. BrainWavLM's auditory ROI).
A speech model can thus beat the spectrogram where cortex is not spectral, as in real data (Millet et al., 2022;
Vaidya et al., 2022): the band envelopes do not determine the articulatory features.

Ground truth (``derivative/ground_truth/<subject>/``):

* ``features/<story>.npy`` X, (N - 5, F) float32 on the whole grid, four column blocks (``model.json``
  ``blocks``: ``[start, stop)`` per feature space, in this order): ``spectral``, per TR window the RMS amplitude
  of the audio in ``n_bands`` log-spaced bands from 100 Hz to 8 kHz; ``articulatory``, the fraction of the window
  during which each of the 22 articulatory features is active, from the TextGrid phone tier's timing (eSpeak NG's
  phoneme events); ``word_rate``, the number of words whose midpoint falls in the window; ``semantic``, the sum of
  their seeded embeddings. Each column is standardised with the mean and std of all stories' grid rows
  (``model.json``).
* ``weights.npy`` W, (4, F, V): the noiseless response of grid row k is
  ``signal[k] = sum_{d=1..4} X[k - d] @ W[d - 1]`` (FIR delays of 1..4 TRs, one hemodynamic shape per voxel).
  A voxel weights only the columns of its kind's spaces; each space's partial signal is scaled to its drawn share
  of the variance, and W so that each signal voxel has unit variance over the rows of all stories (each story
  counted once).
* ``variance_share.npy`` (V, S), S = ``model.json`` ``feature_spaces`` = (spectral, articulatory, word_rate,
  semantic): the variance of each space's partial signal ``X[:, space] @ W[space]`` (delayed), normalised to sum
  to 1 (all 0 for noise voxels): the drawn shares. The spaces are correlated (articulatory features and band
  envelopes come from the same sound), so this is not what variance partitioning measures; that is
* ``unique_variance.npy`` (V, S): R2(all spaces) - R2(all spaces but this one), the unique variance of each space
  in the noiseless signal, from least-squares fits of the noiseless signal on the delayed true features of the
  pooled rows of all stories, as adjusted R2 (so that the many delayed columns of the other spaces do not fit the
  rest by chance), relative to the signal variance; and ``space_r2.npy`` (V, S): adjusted R2 of each space alone.
  Shared variance of two spaces a, b in a voxel that has only them: ``space_r2[a] + space_r2[b] - 1``.
* ``signal/<story>.npy`` (N - 20, V): the noiseless rows ``k = 10 .. N - 11``.
* ``snr.npy`` (V,): signal/noise variance ratio s (0 for noise voxels); ``noise_sd.npy`` = 1/sqrt(s)
  (1 for noise voxels). In every recording (story, repeat), the noise of voxel v is Gaussian,
  centred and rescaled to have exactly ``noise_sd[v]`` sample standard deviation, so the data are
  ``signal + noise`` at the requested SNR and the single-repeat noise ceiling is sqrt(s / (1 + s)).
* ``roi.json``: voxel indices of each kind (a partition of the voxels) and of the group ``auditory``.
* ``model.json``: ``simulator_version`` (2; :func:`check_ground_truth` refuses other versions with the command
  that regenerates the corpus), feature names, blocks, voxel kinds and their spaces, standardisation statistics.
* ``../word_embeddings.txt`` (all subjects): ``word v1 .. vE`` per line, the seeded vector of every word (the
  semantic columns of ``features`` sum them per TR before standardisation).

A ridge regression on the delayed true features (delays 1..4, cut with ``[10:-5]``) therefore
reaches the noise ceiling up to estimation error; on one block alone it reaches the ceiling only on the voxels
of that block's kind (and partly, through the correlation of the spaces, on others).
"""

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import h5py
import numpy as np
from tqdm import tqdm

from espnet_brain.data.articulatory import ARTICULATORY_FEATURES, articulatory_features
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

# Version of the fMRI simulator's generative model, in model.json and MANIFEST.json (1: auditory/semantic/noise
# voxels on band envelopes and words; 2: the hierarchical cortex below).
SIMULATOR_VERSION = 2
SPACES = ("spectral", "articulatory", "word_rate", "semantic")  # feature spaces, in column order
KIND_SPACES = {
    "auditory_primary": ["spectral"],
    "speech": ["articulatory", "spectral"],
    "semantic": ["semantic", "word_rate"],
    "mixed_spectral_articulatory": ["spectral", "articulatory"],
    "mixed_articulatory_semantic": ["articulatory", "semantic"],
    "noise": [],
}
VOXEL_KINDS = tuple(KIND_SPACES)  # the order of FMRIConfig.roi_fractions
MIXED_KINDS = {k: tuple(v) for k, v in KIND_SPACES.items() if k.startswith("mixed_")}
ROI_GROUPS = {"auditory": ("auditory_primary", "speech", "mixed_spectral_articulatory")}


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


def feature_blocks(cfg: FMRIConfig) -> Dict[str, Tuple[int, int]]:
    """Column range ``[start, stop)`` of each feature space in ``features/<story>.npy``, in column order."""
    sizes = {"spectral": cfg.n_bands, "articulatory": len(ARTICULATORY_FEATURES), "word_rate": 1}
    sizes["semantic"] = cfg.embedding_dim
    out, start = {}, 0
    for name in SPACES:
        out[name] = (start, start + sizes[name])
        start += sizes[name]
    return out


def feature_names(cfg: FMRIConfig) -> List[str]:
    """Column names of ``features/<story>.npy``: ``band<b>``, ``art_<feature>``, ``word_rate``, ``embedding<j>``."""
    names = [f"band{b}" for b in range(cfg.n_bands)] + [f"art_{f}" for f in ARTICULATORY_FEATURES] + ["word_rate"]
    return names + [f"embedding{j}" for j in range(cfg.embedding_dim)]


def raw_features(story: Story, n_grid: int, cfg: FMRIConfig, embeddings: Dict[str, np.ndarray]) -> np.ndarray:
    """TR-level stimulus features before standardisation, in the column order of :func:`feature_blocks`.

    Spectral: per TR window and band, the RMS amplitude of the audio within the band (from the window's
    spectrum, Parseval), silence outside the audio. Articulatory: the fraction of the window during which each
    of the 22 features of :mod:`espnet_brain.data.articulatory` is active, from the phone tier's timing. Word
    rate and semantic: count and summed embedding of the words whose midpoint falls in the window.

    Returns:
        (n_grid, n_bands + 22 + 1 + embedding_dim) float64.
    """
    blocks = feature_blocks(cfg)
    win = int(round(cfg.tr * SAMPLE_RATE))
    lead = int(round(cfg.sound_start_s * SAMPLE_RATE))
    x = np.zeros(n_grid * win)
    audio = story.audio.astype(np.float64) / 32768.0
    # Scanner time 0 is sound_start_s before the audio; the grid may end before or after the audio.
    x[lead : lead + len(audio)] = audio[: max(0, len(x) - lead)]
    power = np.abs(np.fft.rfft(x.reshape(n_grid, win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1.0 / SAMPLE_RATE)
    out = np.zeros((n_grid, blocks["semantic"][1]))
    edges = band_edges(cfg.n_bands)
    for b in range(cfg.n_bands):
        sel = (freqs >= edges[b]) & (freqs < edges[b + 1])
        out[:, b] = np.sqrt(2.0 * power[:, sel].sum(axis=1)) / win
    a0, a1 = blocks["articulatory"]
    out[:, a0:a1] = articulatory_features(story.phones, n_grid, cfg.tr, start=-cfg.sound_start_s)
    rate, (s0, s1) = blocks["word_rate"][0], blocks["semantic"]
    for a, b, w in story.words:
        k = int(np.floor(((a + b) / 2 + cfg.sound_start_s) / cfg.tr))
        if 0 <= k < n_grid:
            out[k, rate] += 1.0
            out[k, s0:s1] += embeddings[w]
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


def delayed_rows(x: np.ndarray) -> np.ndarray:
    """The FIR design of the kept rows: (N - 20, 4 F), ``[X[k-1], X[k-2], X[k-3], X[k-4]]`` for k = 10 .. N - 11.

    ``delayed_rows(x) @ weights.reshape(4 * F, V)`` equals :func:`noiseless_rows`.
    """
    return np.concatenate(delayed(x), axis=1)[TRIM_START:-TRIM_END]


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


def roi_counts(cfg: FMRIConfig) -> Dict[str, int]:
    """Number of voxels of each kind (:data:`VOXEL_KINDS` order); the remainder of the rounding goes to noise."""
    fr = np.asarray(cfg.roi_fractions, float)
    if len(fr) != len(VOXEL_KINDS) or np.any(fr < 0) or fr.sum() <= 0 or cfg.n_voxels < len(VOXEL_KINDS):
        raise ValueError(
            f"fmri.roi_fractions: expected {len(VOXEL_KINDS)} non-negative fractions ({', '.join(VOXEL_KINDS)}) "
            f"and fmri.n_voxels >= {len(VOXEL_KINDS)}, got {tuple(cfg.roi_fractions)} and {cfg.n_voxels}"
        )
    counts = np.floor(fr / fr.sum() * cfg.n_voxels).astype(int)
    counts[-1] = cfg.n_voxels - counts[:-1].sum()
    return dict(zip(VOXEL_KINDS, counts.tolist()))


def draw_shares(rng: np.random.Generator, roi: Dict[str, np.ndarray], cfg: FMRIConfig) -> np.ndarray:
    """The share of each feature space in each voxel's noiseless signal variance, by voxel kind.

    Returns:
        (V, len(SPACES)); rows of signal voxels sum to 1, rows of noise voxels are 0.
    """
    for name, value in (("speech_spectral_share", cfg.speech_spectral_share),
                        ("semantic_word_rate_share", cfg.semantic_word_rate_share)):  # fmt: skip
        if not 0.0 <= value < 1.0:
            raise ValueError(f"fmri.{name}: expected a value in [0, 1), got {value}")
    lo, hi = cfg.mixed_share_range
    if not 0.0 < lo <= hi < 1.0:
        raise ValueError(f"fmri.mixed_share_range: expected 0 < low <= high < 1, got {tuple(cfg.mixed_share_range)}")
    col = {name: i for i, name in enumerate(SPACES)}
    share = np.zeros((cfg.n_voxels, len(SPACES)))
    share[roi["auditory_primary"], col["spectral"]] = 1.0
    share[roi["speech"], col["articulatory"]] = 1.0 - cfg.speech_spectral_share
    share[roi["speech"], col["spectral"]] = cfg.speech_spectral_share
    share[roi["semantic"], col["semantic"]] = 1.0 - cfg.semantic_word_rate_share
    share[roi["semantic"], col["word_rate"]] = cfg.semantic_word_rate_share
    for kind, (first, second) in MIXED_KINDS.items():
        vox = roi[kind]
        u = rng.uniform(lo, hi, len(vox))
        share[vox, col[first]] = u
        share[vox, col[second]] = 1.0 - u
    return share


def _r2(design: np.ndarray, y: np.ndarray, adjusted: bool) -> np.ndarray:
    """R^2 of the least-squares fit of each column of centred ``y`` on centred ``design`` (with intercept)."""
    n, p = design.shape
    xc, yc = design - design.mean(0), y - y.mean(0)
    total = (yc**2).sum(0)
    coef = np.linalg.lstsq(xc, yc, rcond=None)[0]
    resid = ((yc - xc @ coef) ** 2).sum(0)
    r2 = 1.0 - resid / np.where(total > 0, total, 1.0)
    if adjusted:
        r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)
    return np.where(total > 0, r2, 0.0)


def variance_partition(design: np.ndarray, weights: np.ndarray, blocks: Dict[str, Tuple[int, int]]) -> dict:
    """Ground-truth variance partition of the noiseless signal into the feature spaces.

    Args:
        design: (n, 4 F) FIR design of the kept rows of all stories (:func:`delayed_rows`, stacked).
        weights: (4, F, V) FIR weights.
        blocks: column range of each space (:func:`feature_blocks`).

    Returns:
        ``share`` (V, S): variance of each space's partial signal ``design[:, space] @ W[space]``, normalised
        to sum to 1 per signal voxel (0 for noise voxels); ``unique`` (V, S): R^2(all spaces) - R^2(all but this
        space), the unique variance that variance partitioning estimates; ``alone`` (V, S): R^2(this space
        only). R^2 are least-squares fits of the noiseless signal on the delayed true features of the pooled
        rows, adjusted for the number of regressors (Ezekiel's adjusted R^2, so that the many delayed columns
        do not inflate what the other spaces seem to explain); all relative to the signal's own variance.
    """
    n_delays, n_feats, n_vox = weights.shape
    flat = weights.reshape(n_delays * n_feats, n_vox)
    signal = design @ flat
    cols = {name: np.concatenate([d * n_feats + np.arange(a, b) for d in range(n_delays)]) for name, (a, b) in
            blocks.items()}  # fmt: skip
    part_var = np.stack([(design[:, c] @ flat[c]).var(0) for c in cols.values()], axis=1)  # (V, S)
    total = part_var.sum(1, keepdims=True)
    share = np.where(total > 0, part_var / np.where(total > 0, total, 1.0), 0.0)
    full = _r2(design, signal, adjusted=True)
    unique, alone = np.zeros_like(share), np.zeros_like(share)
    for i, name in enumerate(cols):
        rest = np.concatenate([c for other, c in cols.items() if other != name])
        unique[:, i] = full - _r2(design[:, rest], signal, adjusted=True)
        alone[:, i] = _r2(design[:, cols[name]], signal, adjusted=True)
    signal_vox = signal.var(0) > 0
    return {
        "share": share,
        "unique": np.where(signal_vox[:, None], unique, 0.0),
        "alone": np.where(signal_vox[:, None], alone, 0.0),
    }


def check_ground_truth(gt_dir: str) -> dict:
    """Check that ``gt_dir`` (``lebel2023/derivative/ground_truth/<subject>``) holds this simulator's ground truth.

    Returns:
        The parsed ``model.json``.

    Raises:
        ValueError: if it is missing or was written by another version of the fMRI simulator, with the command
            that regenerates it.
    """
    path = os.path.join(gt_dir, "model.json")
    corpus = os.path.normpath(os.path.join(gt_dir, *[os.pardir] * 4))
    preset, seed = "small", 0
    try:
        with open(os.path.join(corpus, "MANIFEST.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        preset, seed = manifest.get("preset", preset), manifest.get("seed", seed)
    except (OSError, ValueError):
        pass
    fix = (
        f"regenerate the fMRI part: python -m espnet_brain.bin.simulate --out {corpus} --preset {preset} "
        f"--seed {seed} --parts fmri (the recipes' stage 1 does it too)"
    )
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist: not a ground-truth directory of the fMRI simulator; {fix}")
    with open(path, encoding="utf-8") as f:
        model = json.load(f)
    version = model.get("simulator_version", 1)
    if version != SIMULATOR_VERSION:
        raise ValueError(
            f"{gt_dir} was written by version {version} of the fMRI simulator; this code reads version "
            f"{SIMULATOR_VERSION} (voxel kinds {', '.join(VOXEL_KINDS)}; feature spaces {', '.join(SPACES)}): {fix}"
        )
    return model


def load_ground_truth(gt_dir: str) -> dict:
    """The per-subject ground truth of the fMRI part, checked by :func:`check_ground_truth`.

    Returns:
        ``model`` (model.json), ``roi`` ({name: (n,) int indices}), ``weights`` (4, F, V), ``snr`` (V,),
        ``noise_sd`` (V,), ``variance_share``, ``unique_variance``, ``space_r2`` (V, S) with S in
        ``model["feature_spaces"]`` order, and ``features_dir`` / ``signal_dir`` (the per-story ``.npy`` files).
    """
    model = check_ground_truth(gt_dir)
    with open(os.path.join(gt_dir, "roi.json"), encoding="utf-8") as f:
        roi = {k: np.asarray(v, int) for k, v in json.load(f).items()}
    out = {"model": model, "roi": roi}
    for name in ("weights", "snr", "noise_sd", "variance_share", "unique_variance", "space_r2"):
        out[name] = np.load(os.path.join(gt_dir, f"{name}.npy"))
    out["features_dir"] = os.path.join(gt_dir, "features")
    out["signal_dir"] = os.path.join(gt_dir, "signal")
    return out


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
    counts = roi_counts(cfg)
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
    names_f = feature_names(cfg)
    blocks = feature_blocks(cfg)
    # the FIR design of the kept rows, per story and pooled (features as saved, float32 -> float64)
    design = {s.name: delayed_rows(feats[s.name].astype(np.float64)) for s in stories}
    bounds = np.cumsum([0] + [len(design[s.name]) for s in stories])
    pooled_design = np.concatenate([design[s.name] for s in stories])
    n_feats, n_delays = len(names_f), len(DELAYS)

    subjects = [f"UTS{i + 1:02d}" for i in range(cfg.subjects)]
    n_vox = cfg.n_voxels
    for subject in tqdm(subjects, desc="lebel2023/subjects", disable=not progress, leave=False):
        rng = child_rng(seed, "fmri", "subject", subject)
        perm = rng.permutation(n_vox)
        ends = np.cumsum([counts[k] for k in VOXEL_KINDS])
        roi = {k: np.sort(perm[e - counts[k] : e]) for k, e in zip(VOXEL_KINDS, ends)}
        share = draw_shares(rng, roi, cfg)  # (V, S)
        beta = rng.normal(0, 1, (n_feats, n_vox))
        hrf = np.stack([_hrf(rng) for _ in range(n_vox)], axis=1)  # (4, V)
        # Each space's partial signal is scaled to variance share[v, space], then the sum to unit variance.
        weights = np.zeros((n_delays, n_feats, n_vox))
        for j, (name, (a, b)) in enumerate(blocks.items()):
            w = np.zeros_like(weights)
            w[:, a:b] = hrf[:, None, :] * beta[None, a:b]
            sd = (pooled_design @ w.reshape(-1, n_vox)).std(axis=0)
            ok = (share[:, j] > 0) & (sd > 0)
            weights += w * np.where(ok, np.sqrt(share[:, j]) / np.where(ok, sd, 1.0), 0.0)
        pooled_signal = pooled_design @ weights.reshape(-1, n_vox)
        sd = pooled_signal.std(axis=0)
        scale = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
        weights = weights * scale
        pooled_signal = pooled_signal * scale
        signal = {s.name: pooled_signal[bounds[i] : bounds[i + 1]] for i, s in enumerate(stories)}
        partition = variance_partition(pooled_design, weights, blocks)
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
        write_npy(os.path.join(gt, "variance_share.npy"), partition["share"].astype(np.float32))
        write_npy(os.path.join(gt, "unique_variance.npy"), partition["unique"].astype(np.float32))
        write_npy(os.path.join(gt, "space_r2.npy"), partition["alone"].astype(np.float32))
        rois = {k: v.tolist() for k, v in roi.items()}
        for group, kinds in ROI_GROUPS.items():
            rois[group] = sorted(i for k in kinds for i in rois[k])
        write_json(os.path.join(gt, "roi.json"), rois)
        write_json(
            os.path.join(gt, "model.json"),
            {
                "simulator_version": SIMULATOR_VERSION,
                "feature_names": names_f,
                "feature_spaces": list(SPACES),
                "blocks": {k: list(v) for k, v in blocks.items()},
                "acoustic_features": names_f[slice(*blocks["spectral"])],
                "articulatory_features": names_f[slice(*blocks["articulatory"])],
                "word_features": names_f[blocks["word_rate"][0] : blocks["semantic"][1]],
                "voxel_kinds": {k: KIND_SPACES[k] for k in VOXEL_KINDS},
                "roi_groups": {k: list(v) for k, v in ROI_GROUPS.items()},
                "feature_mean": np.round(mean, 8).tolist(),
                "feature_std": np.round(std, 8).tolist(),
                "delays_tr": list(DELAYS),
                "tr": cfg.tr,
                "sound_start_s": cfg.sound_start_s,
                "response": "signal[k] = sum_{d=1..4} features[k-d] @ weights[d-1], rows k = 10..N-11; "
                "data = signal + noise with noise sample std = noise_sd per voxel and recording",
                "variance_share": "(V, S), S = feature_spaces: variance of each space's partial signal (its "
                "columns of features and weights), normalised to sum to 1 (0 for noise voxels)",
                "unique_variance": "(V, S): adjusted R2 of the noiseless signal on all spaces' delayed features "
                "minus that on all but this space (pooled rows of all stories)",
                "space_r2": "(V, S): adjusted R2 of the noiseless signal on this space's delayed features alone",
                "test_story_data": "mean of individual_repeats over repeats",
            },
        )
    return {
        "simulator_version": SIMULATOR_VERSION,
        "tr": cfg.tr,
        "sound_start_s": cfg.sound_start_s,
        "trim": [TRIM_START, TRIM_END],
        "stimulus_sample_rate": SAMPLE_RATE,
        "subjects": subjects,
        "stories": {s.name: {"seconds": round(s.duration, 3), "n_trs_acquired": respdict[s.name]} for s in stories},
        "test_story": TEST_STORY,
        "n_repeats": cfg.n_repeats,
        "n_voxels": n_vox,
        "roi_sizes": dict(counts),
        "feature_blocks": {k: list(v) for k, v in blocks.items()},
        "timing": "volume k at scanner time k*TR; audio starts at scanner time sound_start_s; stimulus grid "
        "k = 0..N-6 covers audio time [k*TR - sound_start_s, +TR); hf5 rows = grid[10:-5] (N-20 rows)",
    }
