import json

import h5py
import numpy as np
import pytest
import soundfile

from espnet_brain.data.textgrid import read_textgrid
from espnet_brain.simulate.fmri import TEST_STORY, noiseless_rows
from espnet_brain.voxelwise.noise_ceiling import ceiling_from_snr, noise_ceiling, signal_power


def _corr(a, b):
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


@pytest.fixture(scope="module")
def fmri(tiny_corpus):
    root = tiny_corpus / "lebel2023"
    gt = root / "derivative" / "ground_truth" / "UTS01"
    respdict = json.load(open(root / "derivative" / "respdict.json"))
    data, feats, signal = {}, {}, {}
    for story in respdict:
        with h5py.File(root / "derivative" / "preprocessed_data" / "UTS01" / f"{story}.hf5", "r") as f:
            data[story] = {k: f[k][...] for k in f}
        feats[story] = np.load(gt / "features" / f"{story}.npy")
        signal[story] = np.load(gt / "signal" / f"{story}.npy")
    return dict(
        root=root, respdict=respdict, data=data, feats=feats, signal=signal,
        weights=np.load(gt / "weights.npy"), snr=np.load(gt / "snr.npy"), noise_sd=np.load(gt / "noise_sd.npy"),
        roi=json.load(open(gt / "roi.json")),
    )  # fmt: skip


def test_layout_and_tr_convention(fmri):
    root, respdict = fmri["root"], fmri["respdict"]
    assert TEST_STORY in respdict and len(respdict) == 4
    for story, n in respdict.items():
        x = fmri["data"][story]["data"]
        assert x.dtype == np.float32 and x.shape == (n - 20, 60)
        assert fmri["feats"][story].shape[0] == n - 5  # the stimulus grid k = 0 .. N - 6
        info = soundfile.info(str(root / "stimuli" / f"{story}.wav"))
        assert info.channels == 1 and info.subtype == "PCM_16"
        # the grid (N - 5 TRs from scanner time 0, audio starting at 10 s) covers the whole audio
        assert (n - 5) * 2.0 >= info.duration + 10.0 > (n - 6) * 2.0 - 2.0
    reps = fmri["data"][TEST_STORY]["individual_repeats"]
    assert reps.shape == (4, respdict[TEST_STORY] - 20, 60) and reps.dtype == np.float32
    np.testing.assert_allclose(fmri["data"][TEST_STORY]["data"], reps.mean(0), atol=1e-5)


def test_signal_is_the_documented_linear_function(fmri):
    for story in fmri["respdict"]:
        expected = noiseless_rows(fmri["feats"][story].astype(np.float64), fmri["weights"].astype(np.float64))
        np.testing.assert_allclose(fmri["signal"][story], expected, atol=1e-4)
        # by hand: rows k = 10 .. N - 11 of sum_d X[k - d] @ W[d - 1]
        x, w, k = fmri["feats"][story], fmri["weights"], 13
        by_hand = sum(x[k - d] @ w[d - 1] for d in (1, 2, 3, 4))
        np.testing.assert_allclose(fmri["signal"][story][k - 10], by_hand, atol=1e-4)


def test_rois_and_weights(fmri):
    roi, w = fmri["roi"], fmri["weights"]
    assert sorted(roi["auditory"] + roi["semantic"] + roi["noise"]) == list(range(60))
    n_bands = 6
    assert np.all(w[:, n_bands:, roi["auditory"]] == 0) and np.any(w[:, :n_bands, roi["auditory"]] != 0)
    assert np.all(w[:, :n_bands, roi["semantic"]] == 0) and np.any(w[:, n_bands:, roi["semantic"]] != 0)
    assert np.all(w[:, :, roi["noise"]] == 0) and np.all(fmri["snr"][roi["noise"]] == 0)


def test_empirical_snr_matches_requested(fmri):
    sig = np.concatenate([fmri["signal"][s] for s in fmri["respdict"]])
    noise = [fmri["data"][s]["data"] - fmri["signal"][s] for s in fmri["respdict"] if s != TEST_STORY]
    noise += list(fmri["data"][TEST_STORY]["individual_repeats"] - fmri["signal"][TEST_STORY])
    noise_var = np.concatenate(noise).var(0)
    v = np.flatnonzero(fmri["snr"] > 0)
    empirical = sig.var(0)[v] / noise_var[v]
    np.testing.assert_allclose(empirical, fmri["snr"][v], rtol=0.10)
    np.testing.assert_allclose(np.sqrt(noise_var), fmri["noise_sd"], rtol=0.01)
    noise_vox = fmri["roi"]["noise"]
    assert np.all(sig[:, noise_vox] == 0)


def test_noise_ceiling_from_repeats_matches_snr(fmri):
    reps = fmri["data"][TEST_STORY]["individual_repeats"]
    sig = fmri["signal"][TEST_STORY]
    implied = ceiling_from_snr(sig.var(0) / fmri["noise_sd"].astype(np.float64) ** 2)
    est = noise_ceiling(reps)
    v = np.flatnonzero(fmri["snr"] > 0)
    err = np.abs(est - implied)
    assert err[v].mean() < 0.08
    # with 4 repeats of ~50 TRs, low ceilings are estimated coarsely (negative signal power clips to 0)
    assert err[implied > 0.45].max() < 0.2
    # noise voxels: the signal power estimate is unbiased around 0 (the sqrt makes single estimates look large)
    noise = fmri["roi"]["noise"]
    assert abs(signal_power(reps)[noise].mean()) < 0.05 and np.median(est[noise]) < 0.3
    # the true signal reaches the implied ceiling with single repeats
    r_true = np.mean([_corr(sig[:, v], rep[:, v]) for rep in reps], axis=0)
    assert np.abs(r_true - implied[v]).mean() < 0.05 and np.abs(r_true - implied[v]).max() < 0.25


def _design(x, extra_delay=0):
    cols = []
    for d in (1, 2, 3, 4):
        d += extra_delay
        y = np.zeros_like(x)
        y[d:] = x[:-d]
        cols.append(y)
    return np.concatenate(cols, axis=1)[10:-5]


@pytest.mark.parametrize("extra_delay, lo, hi", [(0, 0.75, 1.2), (2, -1.0, 0.65)])
def test_ridge_on_true_features_reaches_the_ceiling_only_with_the_right_delays(fmri, extra_delay, lo, hi):
    train = [s for s in fmri["respdict"] if s != TEST_STORY]
    x = np.concatenate([_design(fmri["feats"][s], extra_delay) for s in train])
    y = np.concatenate([fmri["data"][s]["data"] for s in train])
    w = np.linalg.solve(x.T @ x + 10.0 * np.eye(x.shape[1]), x.T @ y)
    pred = _design(fmri["feats"][TEST_STORY], extra_delay) @ w
    reps = fmri["data"][TEST_STORY]["individual_repeats"]
    r = np.mean([_corr(pred, rep) for rep in reps], axis=0)
    ceiling = noise_ceiling(reps)
    v = np.flatnonzero(fmri["snr"] > 0.5)
    ratio = np.median(r[v] / ceiling[v])
    assert lo < ratio < hi


def test_textgrids_parse_and_match_the_audio(fmri):
    root = fmri["root"]
    formats = set()
    for story in fmri["respdict"]:
        path = root / "derivative" / "TextGrids" / f"{story}.TextGrid"
        content = path.read_text()
        formats.add("short" if "item [" not in content else "long")
        tiers = read_textgrid(str(path))
        assert list(tiers) == ["phone", "word"]
        duration = soundfile.info(str(root / "stimuli" / f"{story}.wav")).duration
        for name, entries in tiers.items():
            assert entries[0][0] == 0.0 and abs(entries[-1][1] - duration) < 1e-5
            assert all(abs(a[1] - b[0]) < 1e-9 for a, b in zip(entries, entries[1:]))  # intervals tile the story
        labels = {lab for _, _, lab in tiers["word"]}
        assert "" in labels and "sp" in labels
        assert any(lab.startswith("{") for lab in labels) or story == TEST_STORY
        assert all(lab == "" or lab == "sp" or lab[-1].isdigit() or lab.isalpha() for _, _, lab in tiers["phone"])
    assert formats == {"short", "long"}


def test_word_embedding_table_is_what_the_semantic_features_sum_per_tr(fmri):
    from espnet_brain.voxelwise.probes import read_embedding_table

    root = fmri["root"]
    table = read_embedding_table(root / "derivative" / "ground_truth" / "word_embeddings.txt")
    model = json.load(open(root / "derivative" / "ground_truth" / "UTS01" / "model.json"))
    first = model["feature_names"].index("embedding0")
    mean, std = np.array(model["feature_mean"]), np.array(model["feature_std"])
    checked = 0
    for story, feats in fmri["feats"].items():
        raw = feats * std + mean  # (N - 5, F) before standardisation
        words = [w for w in read_textgrid(str(root / "derivative" / "TextGrids" / f"{story}.TextGrid"))["word"]
                 if w[2] and w[2] != "sp" and not w[2].startswith("{")]  # fmt: skip
        assert {w for _, _, w in words} <= set(table)
        per_tr = {}
        for a, b, w in words:
            per_tr.setdefault(int(((a + b) / 2 + model["sound_start_s"]) // model["tr"]), []).append(w)
        for k, ws in per_tr.items():
            if k < len(raw):
                np.testing.assert_allclose(raw[k, first:], sum(table[w] for w in ws), atol=1e-3)
                checked += 1
    assert checked > 20
