"""dump_neural --zscore online: a running z-score from training statistics, as a live decoder sees the features."""

import math

import kaldiio
import numpy as np
import pytest

from espnet_brain.asr import dump as neural_dump
from espnet_brain.bin import dump_neural
from espnet_brain.data.brain2text25 import write_trials

DAYS = ["d0", "d1", "d2"]  # d2 is recorded in the test set only
D = 4
TAU = 25.0
BLOCKS = [1, 1, 1, 2, 2]  # block of trial i of every file
UNLISTED = {("test", "d0"): {1}}  # trials in the file but not in the data directory (e.g. no transcript)


def _raw(day, seed):
    """The trials of one day file: (T_i, D) features with a day offset and a drift across trials."""
    rng = np.random.default_rng(seed)
    k = DAYS.index(day)
    return [(2.0 + k + 0.5 * i) + (1.0 + k) * rng.normal(size=(20 + 3 * i, D)) for i in range(len(BLOCKS))]


def _write_set(root, split, per_day):
    data = root / "data" / split
    data.mkdir(parents=True, exist_ok=True)
    scp, text, utt2day = [], [], []
    for day, trials in per_day.items():
        path = root / "feats" / f"{split}_{day}.hdf5"
        write_trials(
            str(path),
            [{"feats": x, "session": day, "block": BLOCKS[i], "trial": i} for i, x in enumerate(trials)],
        )
        for i in range(len(trials)):
            if i in UNLISTED.get((split, day), ()):
                continue
            utt = f"{split}-{day}-{i:02d}"
            scp.append(f"{utt} {path} trial_{i:04d}\n")
            text.append(f"{utt} HELLO\n")
            utt2day.append(f"{utt} {DAYS.index(day)}\n")
    (data / "neural.scp").write_text("".join(scp))
    (data / "text").write_text("".join(text))
    (data / "utt2day").write_text("".join(utt2day))
    (data / "days").write_text("".join(f"{i} {d}\n" for i, d in enumerate(DAYS)))


def _dump(root, split, zscore="online", fit=False, tag="dump", extra=()):
    stats = root / "dump" / "train" / "zscore_stats.npz"
    cmd = ["--data_dir", str(root / "data" / split), "--out_dir", str(root / tag / split), "--feature_set", "all"]
    cmd += ["--zscore", zscore, *extra]
    if zscore in ("train", "online"):
        cmd += ["--stats_file", str(stats), "--fit_stats", str(fit).lower()]
    dump_neural.main(cmd)
    return dict(kaldiio.load_scp(str(root / tag / split / "feats.scp")))


def _reference(trials, mean, std, tau):
    """An independent float64 implementation: one running mean/variance per block, through all its trials."""
    a = 1.0 - math.exp(-1.0 / tau)
    out, state = [], {}
    for i, x in enumerate(trials):
        m, v = state.get(BLOCKS[i], (mean.copy(), std**2))
        y = np.empty_like(x, dtype=np.float64)
        for t, row in enumerate(x.astype(np.float32).astype(np.float64)):
            d = row - m
            m = m + a * d
            v = (1 - a) * (v + a * d**2)
            y[t] = (row - m) / (np.sqrt(v) + 1e-8)
        state[BLOCKS[i]] = (m, v)
        out.append(y)
    return out


@pytest.fixture
def corpus(tmp_path):
    train = {"d0": _raw("d0", 0), "d1": _raw("d1", 1)}
    test = {"d0": _raw("d0", 2), "d2": _raw("d2", 3)}
    _write_set(tmp_path, "train", train)
    _write_set(tmp_path, "test", test)
    return tmp_path, train, test


def _train_day_stats(train):
    """Training mean and std per day and pooled, over the listed training trials (all of them)."""
    stats = {d: (np.concatenate(t).mean(0), np.concatenate(t).std(0)) for d, t in train.items()}
    pooled = np.concatenate([x for t in train.values() for x in t])
    return stats, (pooled.mean(0), pooled.std(0))


def test_every_set_is_normalised_online_from_the_training_statistics(corpus):
    root, train, test = corpus
    train_out = _dump(root, "train", fit=True, extra=("--online_time_constant", str(TAU)))
    test_out = _dump(root, "test", extra=("--online_time_constant", str(TAU)))
    day_stats, pooled = _train_day_stats(train)
    # the statistics file is the --zscore train one: the training set's raw per-day statistics
    saved = neural_dump.TrainStats.load(root / "dump" / "train" / "zscore_stats.npz")
    assert saved.days == ["d0", "d1"]
    np.testing.assert_allclose(saved.mean[0], day_stats["d0"][0], rtol=1e-5)
    np.testing.assert_allclose(saved.std[1], day_stats["d1"][1], rtol=1e-5)
    for split, out, per_day in (("train", train_out, train), ("test", test_out, test)):
        for day, trials in per_day.items():
            mean, std = day_stats.get(day, pooled)  # d2 is absent from training: statistics of all days
            want = _reference(trials, mean.astype(np.float64), std.astype(np.float64), TAU)
            for i in range(len(trials)):
                utt = f"{split}-{day}-{i:02d}"
                if i in UNLISTED.get((split, day), ()):
                    assert utt not in out
                    continue
                np.testing.assert_allclose(out[utt], want[i], rtol=1e-4, atol=1e-4, err_msg=utt)
    assert (root / "dump" / "test" / "feats_type").read_text() == "neural all zscore=online time_constant=25\n"


def test_later_bins_never_change_earlier_features_and_each_block_restarts(corpus):
    root, train, test = corpus
    _dump(root, "train", fit=True)
    before = _dump(root, "test")
    block_before = _dump(root, "test", zscore="block", tag="block")
    changed = {day: [x.copy() for x in trials] for day, trials in test.items()}
    changed["d0"][2][5:] = 5.0 * changed["d0"][2][5:] + 3.0  # trial 2 (block 1) from bin 5 on
    _write_set(root, "test", changed)
    after = _dump(root, "test")
    block_after = _dump(root, "test", zscore="block", tag="block")
    np.testing.assert_array_equal(after["test-d0-00"], before["test-d0-00"])  # an earlier trial of the block
    np.testing.assert_array_equal(after["test-d0-02"][:5], before["test-d0-02"][:5])  # earlier bins of the trial
    assert not np.allclose(after["test-d0-02"][5:], before["test-d0-02"][5:])
    for utt in ("test-d0-03", "test-d0-04"):  # block 2 starts again from the training statistics
        np.testing.assert_array_equal(after[utt], before[utt])
    # the control: a block z-score moves the block's earlier trial too
    assert not np.allclose(block_after["test-d0-00"], block_before["test-d0-00"], atol=1e-3)

    # the unlisted trial 1 is part of block 1's running statistics: changing it moves trial 2, not trial 0
    changed["d0"][1] = changed["d0"][1] * 3.0 - 2.0
    _write_set(root, "test", changed)
    unlisted = _dump(root, "test")
    np.testing.assert_array_equal(unlisted["test-d0-00"], after["test-d0-00"])
    assert not np.allclose(unlisted["test-d0-02"], after["test-d0-02"])


def test_an_infinite_time_constant_is_the_training_zscore(corpus):
    root, _, _ = corpus
    _dump(root, "train", fit=True)
    online = _dump(root, "test", extra=("--online_time_constant", "inf"))
    fixed = _dump(root, "test", zscore="train", tag="train_zscore")
    assert online.keys() == fixed.keys()
    for utt in online:
        np.testing.assert_allclose(online[utt], fixed[utt], rtol=1e-5, atol=1e-5)


def test_errors(corpus):
    root, _, test = corpus
    with pytest.raises(ValueError, match=r"zscore_stats\.npz not found: with --zscore online .* before this one"):
        _dump(root, "test")
    with pytest.raises(ValueError, match="--zscore online needs --stats_file"):
        neural_dump.dump(root / "data" / "test", root / "x", "all", "online")
    with pytest.raises(ValueError, match="--online_time_constant is only used with --zscore online"):
        neural_dump.dump(root / "data" / "test", root / "x", "all", "block", online_time_constant=10.0)
    _dump(root, "train", fit=True)
    with pytest.raises(ValueError, match="expected > 0 bins"):
        _dump(root, "test", extra=("--online_time_constant", "0"))
    bad = {day: [x.copy() for x in trials] for day, trials in test.items()}
    bad["d0"][1][7, 2] = np.nan  # in the unlisted trial: it still feeds block 1's running statistics
    _write_set(root, "test", bad)
    with pytest.raises(ValueError, match=r"test_d0\.hdf5: trial trial_0001 \(block 1\): .*stream bin 27 \(channel 2\)"):
        _dump(root, "test")
