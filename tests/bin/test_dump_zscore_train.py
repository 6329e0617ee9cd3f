"""dump_neural --zscore train: per-day statistics of the training set only, applied to every set."""

import hashlib

import kaldiio
import numpy as np
import pytest

from espnet_brain.asr import dump as neural_dump
from espnet_brain.bin import dump_neural
from espnet_brain.data.brain2text25 import write_trials

DAYS = ["d0", "d1", "d2"]  # d2 is recorded in the test set only
D = 5


def _raw(split, day, n_trials, seed):
    """Trials of one recording day: (T_i, D) features with a day-specific offset and scale."""
    rng = np.random.default_rng(seed)
    day_id = DAYS.index(day)
    return [(3.0 + 2.0 * day_id) + (1.0 + day_id) * rng.normal(size=(7 + 2 * i, D)) for i in range(n_trials)]


def _write_set(root, split, per_day, transform=lambda x: x):
    """A data directory (neural.scp, text, utt2day, days) over one trial-group file per day."""
    data = root / "data" / split
    data.mkdir(parents=True, exist_ok=True)
    scp, text, utt2day, raw = [], [], [], {}
    for day, trials in per_day.items():
        path = root / "feats" / f"{split}_{day}.hdf5"
        write_trials(
            str(path),
            [{"feats": transform(x), "session": day, "block": 1 + i // 2, "trial": i} for i, x in enumerate(trials)],
        )
        for i, x in enumerate(trials):
            utt = f"{split}-{day}-{i:02d}"
            scp.append(f"{utt} {path} trial_{i:04d}\n")
            text.append(f"{utt} HELLO\n")
            utt2day.append(f"{utt} {DAYS.index(day)}\n")
            raw[utt] = transform(x).astype(np.float32)
    (data / "neural.scp").write_text("".join(scp))
    (data / "text").write_text("".join(text))
    (data / "utt2day").write_text("".join(utt2day))
    (data / "days").write_text("".join(f"{i} {d}\n" for i, d in enumerate(DAYS)))
    return data, raw


def _dump(root, split, zscore="train", fit=False, tag="dump"):
    stats = root / tag / "train" / "zscore_stats.npz"
    cmd = ["--data_dir", str(root / "data" / split), "--out_dir", str(root / tag / split), "--feature_set", "all"]
    cmd += ["--zscore", zscore]
    if zscore == "train":
        cmd += ["--stats_file", str(stats), "--fit_stats", str(fit).lower()]
    dump_neural.main(cmd)
    return dict(kaldiio.load_scp(str(root / tag / split / "feats.scp"))), stats


@pytest.fixture
def corpus(tmp_path):
    train = {"d0": _raw("train", "d0", 4, 0), "d1": _raw("train", "d1", 3, 1)}
    _, train_raw = _write_set(tmp_path, "train", train)
    test = {"d0": _raw("test", "d0", 3, 2), "d2": _raw("test", "d2", 2, 3)}
    return tmp_path, train_raw, test


def _expected_stats(train_raw):
    """Mean and std per training day, and over all training days, computed directly."""
    stats = {}
    for d in DAYS:
        frames = [x for u, x in train_raw.items() if f"-{d}-" in u]
        if frames:
            x = np.concatenate(frames).astype(np.float64)
            stats[d] = (x.mean(0), x.std(0))
    pooled = np.concatenate(list(train_raw.values())).astype(np.float64)
    return stats, (pooled.mean(0), pooled.std(0))


def test_test_features_are_normalised_with_training_statistics_only(corpus):
    root, train_raw, test = corpus
    train_out, stats_file = _dump(root, "train", fit=True)
    day_stats, pooled = _expected_stats(train_raw)
    # The training set itself: each day z-scored with its own (training) statistics.
    d0 = np.concatenate([x for u, x in sorted(train_out.items()) if "-d0-" in u])
    np.testing.assert_allclose(d0.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d0.std(0), 1.0, atol=1e-5)
    stats_digest = hashlib.sha256(stats_file.read_bytes()).hexdigest()

    # The same test recordings, and again with every block's offset and scale changed: the training-stats
    # output follows the fixed affine map (x - mean_train) / std_train, the per-block output does not move.
    outputs = {}
    for name, transform in (("as recorded", lambda x: x), ("shifted", lambda x: 2.5 * x - 4.0)):
        _, test_raw = _write_set(root, "test", test, transform)
        out, _ = _dump(root, "test")
        for utt, y in out.items():
            day = utt.split("-")[1]
            mean, std = day_stats.get(day, pooled)  # d2 is absent from training: statistics of all its days
            np.testing.assert_allclose(y, (test_raw[utt] - mean) / std, rtol=1e-4, atol=1e-4)
        block, _ = _dump(root, "test", zscore="block", tag="block")
        outputs[name] = (out, block)
    for utt in outputs["shifted"][0]:
        # training statistics: 2.5 x - 4 in, so (2.5 x - 4 - m) / s = 2.5 y + (1.5 m - 4) / s out
        mean, std = day_stats.get(utt.split("-")[1], pooled)
        np.testing.assert_allclose(
            outputs["shifted"][0][utt], 2.5 * outputs["as recorded"][0][utt] + (1.5 * mean - 4.0) / std, atol=1e-3
        )
        # per-block statistics: the test block's own statistics absorb the change
        np.testing.assert_allclose(outputs["shifted"][1][utt], outputs["as recorded"][1][utt], atol=1e-4)
    # Dumping the test set never rewrote the training statistics.
    assert hashlib.sha256(stats_file.read_bytes()).hexdigest() == stats_digest
    saved = neural_dump.TrainStats.load(stats_file)
    assert saved.days == ["d0", "d1"] and saved.feature_set == "all"
    assert (root / "dump" / "test" / "feats_type").read_text() == "neural all zscore=train\n"


def test_test_set_dumped_before_the_training_set_is_an_error(corpus):
    root, _, test = corpus
    _write_set(root, "test", test)
    with pytest.raises(ValueError, match=r"zscore_stats\.npz not found: .* dump the training set before this one"):
        _dump(root, "test")


def test_statistics_of_another_feature_set_or_without_a_file_are_refused(corpus):
    root, _, test = corpus
    _write_set(root, "test", test)
    _dump(root, "train", fit=True)
    stats_file = root / "dump" / "train" / "zscore_stats.npz"
    with pytest.raises(ValueError, match="holds statistics of feature set 'all', not 'tx_all'"):
        neural_dump.dump(root / "data" / "test", root / "x", "tx_all", "train", stats_file)
    with pytest.raises(ValueError, match="--zscore train needs --stats_file"):
        neural_dump.dump(root / "data" / "test", root / "x", "all", "train")
    with pytest.raises(ValueError, match="only used with --zscore train"):
        neural_dump.dump(root / "data" / "test", root / "x", "all", "block", stats_file)
