"""Where the log-mel control of the encoding recipes loses signal: each step of its summary, measured on the simulator.

The log-mel control (``espnet_brain.fmri.spectral.LogMelWindowFrontend`` through the encoding model's summary onto
the TR grid, FIR delays 1-4 and a voxelwise ridge, as ``brain_enc.sh`` stage 4 runs it) is compared with

* each of its steps changed alone: the mean of the frames' log energies instead of the log of their mean
  (``frontend_conf.summary``), the per-TR mean of the window features instead of Lanczos resampling
  (``model_conf.resample``) or a narrower Lanczos kernel (``model_conf.lanczos_window``), and a penalty grid reaching
  down to 1 instead of the Huth-lab grid (``--alphas``);
* all of them together (the package's defaults);
* a plain per-TR mean of 10 ms log-mel frames computed here from the whole story (no windows), on both grids.

Scores: per voxel, the Pearson r between the prediction of the held-out story and its noiseless simulated signal
(``ground_truth/<subject>/signal``), which is r / noise ceiling without estimating the ceiling; the table gives its
mean over the voxels of each kind (``roi.json``), averaged over the subjects, and the median chosen penalty with the
share of voxels at the lowest penalty of the grid.

Usage (one thread; the corpus is generated on the first run, a few seconds)::

    OMP_NUM_THREADS=1 python tools/benchmarks/bench_logmel_control.py --corpus /tmp/logmel_bench_corpus
"""

import argparse
import json
import os
import subprocess
import sys
from typing import Dict, List

import numpy as np
import torch
import torchaudio

from espnet_brain.data.lebel import load_responses, load_story_wav
from espnet_brain.fmri.dump import zscore_story
from espnet_brain.fmri.espnet_model import ESPnetFMRIEncodingModel
from espnet_brain.fmri.readout import FIRReadout
from espnet_brain.fmri.spectral import LogMelWindowFrontend
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS
from espnet_brain.voxelwise.scoring import pearson_r
from espnet_brain.voxelwise.stories import fit_predict
from espnet_brain.voxelwise.timing import stimulus_tr_times

SR = 16000
TEST = "wheretheressmoke"
KINDS = ("auditory_primary", "speech", "semantic", "mixed_spectral_articulatory", "mixed_articulatory_semantic")
SHORT = {
    "auditory_primary": "spectral",
    "speech": "articulatory",
    "semantic": "semantic",
    "mixed_spectral_articulatory": "mix spec/art",
    "mixed_articulatory_semantic": "mix art/sem",
}
WIDE_ALPHAS = tuple(float(a) for a in np.logspace(0, 8, 17))
WIDER_ALPHAS = tuple(float(a) for a in np.logspace(-2, 8, 21))


def window_features(
    wavs: Dict[str, np.ndarray], n_trs: Dict[str, int], summary: str, resample: str, lanczos_window: int = 3
) -> Dict:
    """The package's log-mel control on the stimulus grid of every story: {story: (N - 5, 32)}."""
    frontend = LogMelWindowFrontend(window_s=4.0, stride_s=0.25, summary=summary)
    head = FIRReadout(32, 1, rank=None)
    model = ESPnetFMRIEncodingModel(frontend, head, resample=resample, lanczos_window=lanczos_window).eval()
    return {s: model.story_outputs(w, stimulus_tr_times(n_trs[s]), predict=False)[0] for s, w in wavs.items()}


def plain_features(wavs: Dict[str, np.ndarray], n_trs: Dict[str, int]) -> Dict:
    """Mean of the 10 ms log-mel frames (32 bands) whose centres fall in each TR of the grid: {story: (N - 5, 32)}."""
    mel = torchaudio.transforms.MelSpectrogram(SR, n_fft=400, hop_length=160, n_mels=32, center=False, power=2.0)
    out = {}
    for s, w in wavs.items():
        times = stimulus_tr_times(n_trs[s])  # TR midpoints, story time
        t0 = times[0] - 1.0  # the grid's first TR starts here (before the audio: silence)
        n = int(round((times[-1] + 1.0 - t0) * SR)) + 400
        x = np.zeros(n, np.float32)
        lead = int(round(-t0 * SR))
        x[lead : lead + len(w)] = w[: n - lead]
        logp = torch.log(mel(torch.from_numpy(x)) + 1e-8).T.numpy()  # (frames, 32)
        centres = t0 + (np.arange(len(logp)) * 160 + 200) / SR
        idx = np.floor((centres - t0) / 2.0).astype(int)
        keep = idx < len(times)
        sums = np.zeros((len(times), 32))
        np.add.at(sums, idx[keep], logp[keep])
        out[s] = sums / np.maximum(np.bincount(idx[keep], minlength=len(times)), 1)[:, None]
    return out


def evaluate(feats: Dict, subjects: List[dict], alphas) -> dict:
    """Mean r with the noiseless signal per kind (averaged over subjects), median penalty, share at the lowest."""
    per_kind = {k: [] for k in KINDS}
    medians, low = [], []
    for sub in subjects:
        preds, model = fit_predict(feats, sub["train"], {TEST: feats[TEST]}, alphas=alphas)
        r = pearson_r(sub["signal"], preds[TEST])
        for k in KINDS:
            per_kind[k].append(float(np.mean(r[sub["roi"][k]])))
        signal_vox = np.concatenate([sub["roi"][k] for k in KINDS])
        best = model.best_alphas_[signal_vox]
        medians.append(float(np.median(best)))
        low.append(float(np.mean(best == np.min(alphas))))
    return dict(
        **{k: float(np.mean(v)) for k, v in per_kind.items()}, median_alpha=float(np.median(medians)), low=np.mean(low)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus", default="/tmp/logmel_bench_corpus", help="simulated corpora <corpus>_seed<s> (made if absent)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="corpus seeds (results averaged)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: Dict[str, List[dict]] = {}
    for seed in args.seeds:
        n_train = corpus_results(f"{args.corpus}_seed{seed}", seed, results)
    print(
        f"\n{len(args.seeds)} simulated corpora (preset small, seeds {args.seeds}; {n_train} training TRs in the "
        "last), 2 subjects each; r with the noiseless signal of the test story (= r / noise ceiling), mean over the "
        "voxels of each kind, averaged over corpora and subjects; the median chosen penalty over the signal voxels\n"
    )
    print("| system | " + " | ".join(SHORT[k] for k in KINDS) + " | median alpha | at lowest alpha |")
    print("|---" * (len(KINDS) + 3) + "|")
    for name, res in results.items():
        mean = {k: float(np.mean([r[k] for r in res])) for k in res[0]}
        cells = " | ".join(f"{mean[k]:.3f}" for k in KINDS)
        print(f"| {name} | {cells} | {mean['median_alpha']:.3g} | {100 * mean['low']:.0f} % |")
    return 0


def corpus_results(corpus: str, seed: int, results: Dict[str, List[dict]]) -> int:
    """Append every system's scores on one corpus (generated if absent) to ``results``; returns its training TRs."""
    root = os.path.join(corpus, "lebel2023")
    if not os.path.isdir(root):
        cmd = [sys.executable, "-m", "espnet_brain.bin.simulate", "--out", corpus, "--preset", "small"]
        subprocess.run(cmd + ["--parts", "fmri", "--seed", str(seed), "--no-progress"], check=True)
    with open(os.path.join(root, "derivative", "respdict.json"), encoding="utf-8") as f:
        n_trs = json.load(f)
    wavs = {s: load_story_wav(os.path.join(root, "stimuli", f"{s}.wav"), SR) for s in n_trs}
    subjects = []
    for sub in sorted(os.listdir(os.path.join(root, "derivative", "preprocessed_data"))):
        gt = os.path.join(root, "derivative", "ground_truth", sub)
        with open(os.path.join(gt, "roi.json"), encoding="utf-8") as f:
            roi = {k: np.asarray(v, dtype=np.int64) for k, v in json.load(f).items()}
        train = {
            s: zscore_story(load_responses(os.path.join(root, "derivative", "preprocessed_data", sub, f"{s}.hf5")))
            for s in n_trs
            if s != TEST
        }
        subjects.append(dict(train=train, signal=np.load(os.path.join(gt, "signal", f"{TEST}.npy")), roi=roi))
    n_train = sum(v.shape[0] for v in subjects[0]["train"].values())
    systems = [
        ("former pipeline: log of mean, Lanczos, grid 1e2-1e8", ("log_mean", "lanczos"), HUTH_ALPHAS),
        ("fix 1: mean of logs", ("mean_log", "lanczos"), HUTH_ALPHAS),
        ("fix 2: per-TR mean instead of Lanczos", ("log_mean", "tr_mean"), HUTH_ALPHAS),
        ("fix 2': Lanczos with a = 1 instead of 3", ("log_mean", "lanczos", 1), HUTH_ALPHAS),
        ("fix 3: grid 1-1e8", ("log_mean", "lanczos"), WIDE_ALPHAS),
        ("fixes 1+2 (new default), grid 1e2-1e8", ("mean_log", "tr_mean"), HUTH_ALPHAS),
        ("fixes 1+2+3", ("mean_log", "tr_mean"), WIDE_ALPHAS),
        ("fixes 1+2, grid 1e-2-1e8", ("mean_log", "tr_mean"), WIDER_ALPHAS),
        ("plain per-TR mean of 10 ms log-mel, grid 1e2-1e8", "plain", HUTH_ALPHAS),
        ("plain per-TR mean of 10 ms log-mel, grid 1-1e8", "plain", WIDE_ALPHAS),
    ]
    cache: Dict = {}
    for name, spec, alphas in systems:
        if spec not in cache:
            cache[spec] = plain_features(wavs, n_trs) if spec == "plain" else window_features(wavs, n_trs, *spec)
        results.setdefault(name, []).append(evaluate(cache[spec], subjects, alphas))
    return n_train


if __name__ == "__main__":
    sys.exit(main())
