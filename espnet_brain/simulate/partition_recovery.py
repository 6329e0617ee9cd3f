"""Does variance partitioning recover the simulated cortex? The partition on the simulator's true feature blocks,
against the simulator's own ground truth.

The fMRI simulator (:mod:`espnet_brain.simulate.fmri`) plants voxels of known kinds (``auditory_primary`` on the
band envelopes, ``speech`` on articulatory features, ``semantic`` on word embeddings, mixed borders, noise) and
writes, per voxel, the unique variance of each feature space in the noiseless signal (``unique_variance.npy``,
adjusted R^2 of least-squares fits on the pooled rows). :func:`partition_recovery` fits the banded-ridge partition
(:func:`espnet_brain.voxelwise.story_partition.fit_story_partition`) on the noisy training stories, with the
simulator's TRUE feature blocks as the spaces, scores it on the test story (the mean of its repeats) and compares:

* per space, the Pearson correlation over signal voxels between the estimated unique variance and the true one,
  raw (held-out R^2 of the noisy test data) and as a share (divided by the voxel's explainable variance, the
  noise ceiling's R^2 ``s / (s + 1 / R)`` for SNR ``s`` and ``R`` repeats, so that the SNR drawn per voxel does not
  dominate the correlation);
* per planted voxel kind, the fraction of voxels whose winning space (largest estimated unique variance) is a space
  planted in that voxel (one with a drawn share of its signal variance, ``variance_share.npy``; for a mixed kind,
  either of its two spaces), and the fraction that agree with the space of largest TRUE unique variance.

The word-level space ``semantic`` is the simulator's ``word_rate`` and ``semantic`` blocks together (adjacent
columns; the semantic voxels draw a share of their variance from the word rate); its true unique variance is read
from ``unique_variance.npy``'s ``semantic`` column, and also recomputed for exactly the spaces fitted
(:func:`espnet_brain.simulate.fmri.variance_partition` with the merged blocks: ``truth_regrouped``).

``shift_trs`` and ``swap_truth`` put known bugs in (features shifted against the responses; two spaces' truth
swapped), for the tests that must then fail.

Shapes: ``V`` voxels, ``k`` spaces.
"""

import json
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

#: The three spaces of de Heer et al. (2017) and the simulator's column blocks that make each.
DEFAULT_SPACES: Dict[str, Tuple[str, ...]] = {
    "spectral": ("spectral",),
    "articulatory": ("articulatory",),
    "semantic": ("word_rate", "semantic"),
}


def _zscore(y: np.ndarray) -> np.ndarray:
    sd = y.std(0)
    return ((y - y.mean(0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def partition_recovery(
    lebel_root: str,
    subject: str = "UTS01",
    spaces: Optional[Dict[str, Sequence[str]]] = None,
    shift_trs: int = 0,
    swap_truth: Optional[Tuple[str, str]] = None,
    **fit_kwargs,
) -> Dict:
    """Fit the partition on the true feature blocks of a simulated corpus and compare it with the ground truth.

    Args:
        lebel_root: the simulated corpus's ``lebel2023`` directory.
        subject: simulated subject.
        spaces: space name -> the simulator's blocks (``model.json`` ``blocks``) whose columns make it; the blocks of
            a space must be adjacent. Default :data:`DEFAULT_SPACES`; every name must be a simulator space whose
            truth is in ``unique_variance.npy`` (its first block's column is used).
        shift_trs: shift every space's features by this many TRs (a broken alignment; 0 in real use).
        swap_truth: two space names whose truth columns are swapped (a broken bookkeeping; None in real use).
        **fit_kwargs: passed to :func:`~espnet_brain.voxelwise.story_partition.fit_story_partition` (alphas, n_splits,
            chunk_len, ...).

    Returns:
        {"spaces": names, "corr": {space: r over signal voxels, raw R^2}, "corr_share": {space: r, shares},
        "corr_regrouped": {space: r of the shares against the truth recomputed for these spaces},
        "roi": {kind: {"n_voxels", "win_planted", "win_truth"}}, "fit_seconds": total, "partition": StoryPartition,
        "n_signal_voxels"}.
    """
    from espnet_brain.data.lebel import TEST_STORY, load_repeats, load_respdict, load_responses, response_path
    from espnet_brain.simulate.fmri import delayed_rows, load_ground_truth, variance_partition
    from espnet_brain.voxelwise.story_partition import fit_story_partition

    spaces = dict(spaces or DEFAULT_SPACES)
    gt = load_ground_truth(os.path.join(lebel_root, "derivative", "ground_truth", subject))
    model = gt["model"]
    blocks = {k: tuple(v) for k, v in model["blocks"].items()}
    cols: Dict[str, Tuple[int, int]] = {}
    for name, parts in spaces.items():
        ranges = sorted(blocks[p] for p in parts)
        if any(a[1] != b[0] for a, b in zip(ranges, ranges[1:])):
            raise ValueError(f"spaces[{name!r}]: blocks {parts} are not adjacent columns")
        cols[name] = (ranges[0][0], ranges[-1][1])
    respdict = load_respdict(lebel_root)
    feats = {s: np.load(os.path.join(gt["features_dir"], f"{s}.npy")) for s in respdict}
    if shift_trs:
        feats = {s: np.roll(x, shift_trs, axis=0) for s, x in feats.items()}
    by_space = {n: {s: x[:, a:b] for s, x in feats.items()} for n, (a, b) in cols.items()}
    train = {s: _zscore(load_responses(response_path(lebel_root, subject, s))) for s in respdict if s != TEST_STORY}
    test = {TEST_STORY: _zscore(load_responses(response_path(lebel_root, subject, TEST_STORY)))}
    n_repeats = load_repeats(response_path(lebel_root, subject, TEST_STORY)).shape[0]
    result = fit_story_partition(by_space, train, by_space, test, **fit_kwargs)
    part = result.partition
    names = list(spaces)

    truth_names = model["feature_spaces"]
    truth = np.stack([gt["unique_variance"][:, truth_names.index(spaces[n][-1])] for n in names], axis=1)  # (V, k)
    if swap_truth is not None:
        i, j = names.index(swap_truth[0]), names.index(swap_truth[1])
        truth[:, [i, j]] = truth[:, [j, i]]
    # the truth for exactly these spaces: the simulator's partition of its noiseless signal with merged blocks
    design = np.concatenate([delayed_rows(feats[s].astype(np.float64)) for s in sorted(respdict)])
    if shift_trs:  # the truth is of the unshifted features
        design = np.concatenate(
            [delayed_rows(np.load(os.path.join(gt["features_dir"], f"{s}.npy")).astype(np.float64))
             for s in sorted(respdict)])  # fmt: skip
    regrouped = variance_partition(design, gt["weights"].astype(np.float64), cols)["unique"]  # (V, k)
    if swap_truth is not None:
        regrouped[:, [i, j]] = regrouped[:, [j, i]]

    snr = gt["snr"].astype(np.float64)
    signal = snr > 0
    explainable = np.where(signal, snr / (snr + 1.0 / n_repeats), 1.0)  # R^2 of the noiseless signal on the test data
    est = np.stack([part.unique(n) for n in names], axis=1)
    share = est / explainable[:, None]
    out = {
        "spaces": names,
        "n_signal_voxels": int(signal.sum()),
        "corr": {n: _corr(est[signal, i], truth[signal, i]) for i, n in enumerate(names)},
        "corr_share": {n: _corr(share[signal, i], truth[signal, i]) for i, n in enumerate(names)},
        "corr_regrouped": {n: _corr(share[signal, i], regrouped[signal, i]) for i, n in enumerate(names)},
        "fit_seconds": float(sum(result.settings["fit_seconds"].values())),
        "partition": result,
    }
    winners = np.array(names, dtype=object)[np.argmax(est, axis=1)]
    winners[part.joint_r2 <= 0] = "none"
    true_winner = np.array(names, dtype=object)[np.argmax(truth, axis=1)]
    # the spaces planted in each voxel: those with a drawn share of its signal variance
    planted = np.stack([sum(gt["variance_share"][:, truth_names.index(p)] for p in spaces[n]) for n in names], axis=1)
    planted = planted > 0  # (V, k)
    roi = {}
    for kind in model["voxel_kinds"]:
        vox = gt["roi"][kind]
        if vox.size == 0 or not planted[vox].any():
            continue
        won = np.array([w in names and planted[v, names.index(w)] for v, w in zip(vox, winners[vox])])
        roi[kind] = {
            "n_voxels": int(vox.size),
            "planted": [n for i, n in enumerate(names) if planted[vox, i].any()],
            "win_planted": float(won.mean()),
            "win_truth": float(np.mean(winners[vox] == true_winner[vox])),
        }
    out["roi"] = roi
    return out


def format_recovery(out: Dict) -> str:
    """The result of :func:`partition_recovery` as two Markdown tables (per space; per planted voxel kind)."""
    lines = ["| space | r (unique R2 vs truth) | r (shares vs truth) | r (shares vs truth of these spaces) |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for n in out["spaces"]:
        lines.append(f"| {n} | {out['corr'][n]:.3f} | {out['corr_share'][n]:.3f} | {out['corr_regrouped'][n]:.3f} |")
    lines += ["", "| planted kind | voxels | planted space(s) | winner is planted | winner = true winner |",
              "|---|---:|---|---:|---:|"]  # fmt: skip
    for kind, row in out["roi"].items():
        lines.append(f"| {kind} | {row['n_voxels']} | {', '.join(row['planted'])} | {100 * row['win_planted']:.0f} % "
                     f"| {100 * row['win_truth']:.0f} % |")  # fmt: skip
    return "\n".join(lines)


def recovery_json(out: Dict) -> str:
    """The numbers of :func:`partition_recovery` (without the fitted partition) as JSON."""
    return json.dumps({k: v for k, v in out.items() if k != "partition"}, indent=1)


__all__ = ["partition_recovery", "format_recovery", "recovery_json", "DEFAULT_SPACES"]
