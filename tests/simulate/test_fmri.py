import json
import shutil

import h5py
import numpy as np
import pytest
import soundfile

from espnet_brain.data.articulatory import ARTICULATORY_FEATURES, articulatory_features, articulatory_matrix
from espnet_brain.data.textgrid import read_textgrid
from espnet_brain.simulate import ensure_corpus
from espnet_brain.simulate.fmri import (
    SPACES,
    TEST_STORY,
    VOXEL_KINDS,
    check_ground_truth,
    delayed_rows,
    load_ground_truth,
    noiseless_rows,
)
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
        roi=json.load(open(gt / "roi.json")), model=json.load(open(gt / "model.json")),
        variance_share=np.load(gt / "variance_share.npy"), unique_variance=np.load(gt / "unique_variance.npy"),
        space_r2=np.load(gt / "space_r2.npy"),
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


def test_roi_labels_cover_all_voxels_and_each_kind_weights_only_its_spaces(fmri):
    roi, w, model = fmri["roi"], fmri["weights"], fmri["model"]
    kinds = [roi[k] for k in VOXEL_KINDS]
    assert sorted(i for k in kinds for i in k) == list(range(60))  # a partition of the voxels
    assert all(len(k) > 0 for k in kinds) and set(roi) == set(VOXEL_KINDS) | {"auditory"}
    assert sorted(roi["auditory"]) == sorted(
        roi["auditory_primary"] + roi["speech"] + roi["mixed_spectral_articulatory"]
    )
    manifest = json.load(open(fmri["root"].parent / "MANIFEST.json"))["lebel2023"]
    assert manifest["roi_sizes"] == {k: len(roi[k]) for k in VOXEL_KINDS} and manifest["simulator_version"] == 2
    blocks = model["blocks"]
    for kind, spaces in model["voxel_kinds"].items():
        used = {s for s in SPACES if np.any(w[:, slice(*blocks[s]), roi[kind]] != 0)}
        # speech voxels take no spectral share in the default preset
        expected = set(spaces) - ({"spectral"} if kind == "speech" else set())
        assert used == expected, (kind, used)
    assert np.all(fmri["snr"][roi["noise"]] == 0)


def test_variance_shares_sum_to_one_and_are_the_partial_signals_variances(fmri):
    roi, w, model, share = fmri["roi"], fmri["weights"].astype(np.float64), fmri["model"], fmri["variance_share"]
    assert model["feature_spaces"] == list(SPACES) and share.shape == (60, len(SPACES))
    signal_vox = np.setdiff1d(np.arange(60), roi["noise"])
    np.testing.assert_allclose(share[signal_vox].sum(1), 1.0, atol=1e-5)
    assert np.all(share[roi["noise"]] == 0) and np.all(fmri["unique_variance"][roi["noise"]] == 0)
    # by hand: the variance of each space's delayed partial signal over the pooled rows, normalised
    parts = np.zeros((60, len(SPACES)))
    for j, space in enumerate(SPACES):
        cols = slice(*model["blocks"][space])
        partial = [noiseless_rows(f[:, cols].astype(np.float64), w[:, cols]) for f in fmri["feats"].values()]
        parts[:, j] = np.concatenate(partial).var(0)
    parts = parts[signal_vox]
    np.testing.assert_allclose(share[signal_vox], parts / parts.sum(1, keepdims=True), atol=1e-5)
    col = {s: j for j, s in enumerate(SPACES)}
    np.testing.assert_allclose(share[roi["auditory_primary"], col["spectral"]], 1.0, atol=1e-5)
    np.testing.assert_allclose(share[roi["speech"], col["articulatory"]], 1.0, atol=1e-5)
    np.testing.assert_allclose(share[roi["semantic"], col["semantic"]], 0.9, atol=1e-5)
    mixed = share[roi["mixed_spectral_articulatory"], col["spectral"]]
    assert np.all((mixed >= 0.25 - 1e-5) & (mixed <= 0.75 + 1e-5)) and np.ptp(mixed) > 0.01


def _r2_by_hand(x, y):
    """Adjusted R2 of the least-squares fit of y (n, V) on x (n, p) with an intercept."""
    x1 = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    resid = y - x1 @ np.linalg.lstsq(x1, y, rcond=None)[0]
    r2 = 1 - (resid**2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    return 1 - (1 - r2) * (len(x) - 1) / (len(x) - x.shape[1] - 1)


def test_unique_variance_is_the_partition_of_the_noiseless_signal(fmri):
    roi, model, unique, alone = fmri["roi"], fmri["model"], fmri["unique_variance"], fmri["space_r2"]
    design = np.concatenate([delayed_rows(f.astype(np.float64)) for f in fmri["feats"].values()])
    signal = np.concatenate(list(fmri["signal"].values())).astype(np.float64)
    n_feats = fmri["weights"].shape[1]
    cols = {s: np.concatenate([d * n_feats + np.arange(*model["blocks"][s]) for d in range(4)]) for s in SPACES}
    v = roi["speech"] + roi["mixed_spectral_articulatory"]
    without = np.concatenate([cols[s] for s in SPACES if s != "articulatory"])
    full = _r2_by_hand(design, signal[:, v])
    np.testing.assert_allclose(full, 1.0, atol=1e-4)  # the signal is linear in the true features
    np.testing.assert_allclose(unique[v, 1], full - _r2_by_hand(design[:, without], signal[:, v]), atol=1e-3)
    np.testing.assert_allclose(alone[v, 0], _r2_by_hand(design[:, cols["spectral"]], signal[:, v]), atol=1e-3)
    # a space a voxel does not use has no unique variance there; the one it uses alone explains it all
    j = {s: i for i, s in enumerate(SPACES)}
    assert np.abs(unique[roi["auditory_primary"]][:, [j["articulatory"], j["semantic"]]]).max() < 0.02
    np.testing.assert_allclose(alone[roi["speech"], j["articulatory"]], 1.0, atol=1e-3)
    assert np.all(unique[roi["speech"], j["articulatory"]] > 0.3)


def test_speech_voxels_follow_the_articulatory_block_not_the_band_envelopes(fmri):
    """A ridge on one true block (train stories -> test story, noiseless signal): the articulatory block explains
    the speech voxels, the band envelopes alone clearly less; the reverse on primary auditory voxels."""
    model, roi = fmri["model"], fmri["roi"]
    train = [s for s in fmri["respdict"] if s != TEST_STORY]

    def test_r(space, voxels):
        cols = slice(*model["blocks"][space])
        x = np.concatenate([delayed_rows(fmri["feats"][s][:, cols].astype(np.float64)) for s in train])
        y = np.concatenate([fmri["signal"][s][:, voxels] for s in train])
        w = np.linalg.solve(x.T @ x + 10.0 * np.eye(x.shape[1]), x.T @ y)
        pred = delayed_rows(fmri["feats"][TEST_STORY][:, cols].astype(np.float64)) @ w
        return _corr(pred, fmri["signal"][TEST_STORY][:, voxels])

    speech, primary = roi["speech"], roi["auditory_primary"]
    art, spec = test_r("articulatory", speech), test_r("spectral", speech)
    print(f"speech voxels: articulatory r {art.mean():.3f}, spectral r {spec.mean():.3f}")
    assert art.mean() > 0.85 and spec.mean() < art.mean() - 0.25 and np.all(spec < art)
    assert test_r("spectral", primary).mean() > test_r("articulatory", primary).mean() + 0.1


def test_articulatory_block_is_the_phone_tier_on_the_tr_grid(fmri):
    model = fmri["model"]
    a0, a1 = model["blocks"]["articulatory"]
    assert model["articulatory_features"] == [f"art_{f}" for f in ARTICULATORY_FEATURES] and a1 - a0 == 22
    assert [model["blocks"][s] for s in SPACES] == sorted(model["blocks"].values())  # contiguous, in this order
    assert model["blocks"]["semantic"][1] == len(model["feature_names"])
    mean, std = np.array(model["feature_mean"]), np.array(model["feature_std"])
    for story, feats in fmri["feats"].items():
        tiers = read_textgrid(str(fmri["root"] / "derivative" / "TextGrids" / f"{story}.TextGrid"))
        expected = articulatory_features(tiers["phone"], len(feats), model["tr"], start=-model["sound_start_s"])
        np.testing.assert_allclose((feats * std + mean)[:, a0:a1], expected, atol=1e-4)


def test_articulatory_table_covers_every_phone_the_phone_tier_can_emit(fmri):
    from espnet_brain.simulate.phonemes import _ESPEAK, ARPABET, VOWELS, espeak_to_arpabet

    emitted = {p for v in _ESPEAK.values() if v is not None for p in ((v,) if isinstance(v, str) else v)}
    emitted |= set(ARPABET)
    for phone in sorted(emitted):
        labels = [phone + d for d in "012"] if phone in VOWELS else [phone]
        assert articulatory_matrix(labels).sum() > 0, phone
    # what the mapping falls back to for an unmapped eSpeak vowel, and the labels actually written
    assert articulatory_matrix(list(espeak_to_arpabet("'a9"))).shape == (1, 22)
    for story in fmri["respdict"]:
        tiers = read_textgrid(str(fmri["root"] / "derivative" / "TextGrids" / f"{story}.TextGrid"))
        labels = [lab for _, _, lab in tiers["phone"] if lab not in ("", "sp")]
        assert len(labels) > 50 and articulatory_matrix(labels).shape == (len(labels), 22)


def test_an_old_corpus_is_refused_with_the_command_that_regenerates_it(fmri, tmp_path):
    gt = fmri["root"] / "derivative" / "ground_truth" / "UTS01"
    assert load_ground_truth(str(gt))["variance_share"].shape == (60, 4)
    old = tmp_path / "corpus" / "lebel2023" / "derivative" / "ground_truth" / "UTS01"
    shutil.copytree(gt, old)
    shutil.copyfile(fmri["root"].parent / "MANIFEST.json", tmp_path / "corpus" / "MANIFEST.json")
    model = json.loads((old / "model.json").read_text())
    del model["simulator_version"]  # as version 1 wrote it
    (old / "model.json").write_text(json.dumps(model))
    for reader in (check_ground_truth, load_ground_truth):
        with pytest.raises(ValueError, match="version 1 of the fMRI simulator") as err:
            reader(str(old))
        assert (
            f"python -m espnet_brain.bin.simulate --out {tmp_path / 'corpus'} --preset tiny --seed 0 --parts fmri"
            in (str(err.value))
        )


def test_ensure_corpus_regenerates_an_old_fmri_part(tmp_path):
    out = tmp_path / "c"
    ensure_corpus(str(out), "tiny", 0, parts=["fmri"])
    manifest = json.loads((out / "MANIFEST.json").read_text())
    del manifest["lebel2023"]["simulator_version"]  # a corpus of version 1, knobs unchanged
    (out / "MANIFEST.json").write_text(json.dumps(manifest))
    (out / "lebel2023" / "derivative" / "ground_truth" / "UTS01" / "variance_share.npy").unlink()
    ensure_corpus(str(out), "tiny", 0, parts=["fmri"])
    assert json.loads((out / "MANIFEST.json").read_text())["lebel2023"]["simulator_version"] == 2
    assert (out / "lebel2023" / "derivative" / "ground_truth" / "UTS01" / "variance_share.npy").is_file()


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


@pytest.mark.parametrize("extra_delay, lo, hi", [(0, 0.70, 1.2), (2, -1.0, 0.65)])
def test_ridge_on_true_features_reaches_the_ceiling_only_with_the_right_delays(fmri, extra_delay, lo, hi):
    # 4 x 33 delayed columns on ~200 training rows: the estimate reaches 0.73-0.79 of the ceiling over seeds 0-2
    # (the wrong delays 0.42-0.57); tests/bin/test_ridge_encoding.py checks >= 0.90 with more training stories.
    train = [s for s in fmri["respdict"] if s != TEST_STORY]
    x = np.concatenate([_design(fmri["feats"][s], extra_delay) for s in train])
    y = np.concatenate([fmri["data"][s]["data"] for s in train])
    w = np.linalg.solve(x.T @ x + 50.0 * np.eye(x.shape[1]), x.T @ y)
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


def test_bad_cortex_knobs_are_named():
    from espnet_brain.simulate.fmri import draw_shares, roi_counts
    from espnet_brain.simulate.presets import FMRIConfig

    with pytest.raises(ValueError, match=r"fmri.roi_fractions: expected 6 .*auditory_primary.*\(0.5, 0.5, 0.0\)"):
        roi_counts(FMRIConfig(roi_fractions=(0.5, 0.5, 0.0)))
    cfg = FMRIConfig(n_voxels=12)
    counts = roi_counts(cfg)
    assert list(counts) == list(VOXEL_KINDS) and sum(counts.values()) == 12
    roi = {k: np.arange(12)[i::6] for i, k in enumerate(VOXEL_KINDS)}
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="fmri.speech_spectral_share"):
        draw_shares(rng, roi, FMRIConfig(n_voxels=12, speech_spectral_share=1.5))
    with pytest.raises(ValueError, match="fmri.mixed_share_range"):
        draw_shares(rng, roi, FMRIConfig(n_voxels=12, mixed_share_range=(0.8, 0.2)))
    share = draw_shares(rng, roi, FMRIConfig(n_voxels=12, speech_spectral_share=0.2))
    np.testing.assert_allclose(share[roi["speech"]], [[0.2, 0.8, 0.0, 0.0]] * 2)
