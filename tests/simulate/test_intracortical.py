import json

import numpy as np
import scipy.io

FIELDS = ("spikePow", "tx1", "tx2", "tx3", "tx4")


def _days(tiny_corpus, part):
    return sorted((tiny_corpus / "brain2text24" / part).glob("t12.*.mat"))


def test_willett_file_layout(tiny_corpus):
    train = _days(tiny_corpus, "train")
    assert len(train) == 2 and [p.name for p in train] == [p.name for p in _days(tiny_corpus, "test")]
    assert len(_days(tiny_corpus, "competitionHoldOut")) == 2
    for part in ("train", "test", "competitionHoldOut"):
        for path in _days(tiny_corpus, part):
            mat = scipy.io.loadmat(path)
            assert set(k for k in mat if not k.startswith("__")) == {"sentenceText", "blockIdx", *FIELDS}
            text = mat["sentenceText"]
            assert text.dtype.kind == "U" and text.ndim == 1  # a char array, as loadmat returns the real files
            s = len(text)
            assert mat["blockIdx"].shape == (s, 1)
            for f in FIELDS:
                assert mat[f].shape == (1, s) and mat[f].dtype == object
                for i in range(s):
                    x = mat[f][0, i]
                    assert x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 256
                    assert x.shape[0] == mat["tx1"][0, i].shape[0]
            for i in range(s):
                tx = [mat[f"tx{k}"][0, i] for k in (1, 2, 3, 4)]
                assert all(np.all(a >= b) for a, b in zip(tx, tx[1:]))
                assert np.all(tx[0] == np.round(tx[0])) and tx[0].min() >= 0
                assert np.all(mat["spikePow"][0, i] > 0)
            if part == "competitionHoldOut":
                assert all(t.strip() == "" for t in text)
            else:
                assert all(t.strip() and t.strip()[-1] in ".?!" for t in text)


def test_dev_sentences_are_the_last_block_of_each_train_day(tiny_corpus):
    dev = {line.split(" ", 1)[1].strip() for line in open(tiny_corpus / "text" / "dev.txt")}
    test = {line.split(" ", 1)[1].strip() for line in open(tiny_corpus / "text" / "test.txt")}
    seen_dev = set()
    for path in _days(tiny_corpus, "train"):
        mat = scipy.io.loadmat(path)
        texts = [t.strip() for t in mat["sentenceText"]]
        blocks = mat["blockIdx"].ravel()
        last = blocks.max()
        assert {t for t, b in zip(texts, blocks) if b == last} <= dev
        assert not {t for t, b in zip(texts, blocks) if b != last} & dev
        seen_dev |= {t for t, b in zip(texts, blocks) if b == last}
        assert len(np.unique(blocks)) >= 3
    assert seen_dev == dev
    for path in _days(tiny_corpus, "test"):
        assert {t.strip() for t in scipy.io.loadmat(path)["sentenceText"]} <= test


def test_neural_bins_cover_each_sentence(tiny_corpus):
    truth = json.load(open(tiny_corpus / "brain2text24" / "ground_truth" / "sentences.json"))
    mats = {}
    for row in truth:
        path = tiny_corpus / "brain2text24" / row["file"]
        mats.setdefault(path, scipy.io.loadmat(path))
        t = mats[path]["tx1"][0, row["index"]].shape[0]
        assert t == row["n_bins"]
        assert t * 0.02 >= row["audio_onset_s"] + row["audio_duration_s"]
        assert 0 < row["speech_onset_bin"] < row["speech_offset_bin"] <= t
        assert row["phonemes"][0][0] >= 0.4  # go-cue lead-in before the first phoneme
        if "holdout" != row["split"]:
            assert mats[path]["sentenceText"][row["index"]].strip() == row["text"]


def test_6v_is_tuned_and_44_is_not(tiny_corpus):
    # Pooled over trials, 6v rates change between speech and the pre-speech delay; area 44 barely does.
    truth = json.load(open(tiny_corpus / "brain2text24" / "ground_truth" / "sentences.json"))
    dead = np.load(tiny_corpus / "brain2text24" / "ground_truth" / "dead.npy")
    speech, rest = np.zeros(256), np.zeros(256)
    n_speech = n_rest = 0
    alive = ~dead.any(axis=0)
    mats = {}
    for row in truth:
        path = tiny_corpus / "brain2text24" / row["file"]
        mats.setdefault(path, scipy.io.loadmat(path))
        x = mats[path]["tx1"][0, row["index"]].astype(float)
        on, off = row["speech_onset_bin"], row["speech_offset_bin"]
        speech += x[on:off].sum(0)
        n_speech += off - on
        rest += x[15 : on - 12].sum(0)  # after the go-cue transient, before the neural lead
        n_rest += max(on - 27, 0)
    mod = np.abs(np.log((speech / n_speech + 1e-3) / (rest / n_rest + 1e-3)))
    assert np.median(mod[:128][alive[:128]]) > 3 * np.median(mod[128:][alive[128:]])


def test_day_drift_and_dead_channels(tiny_corpus):
    gt = tiny_corpus / "brain2text24" / "ground_truth"
    gain, dead = np.load(gt / "day_gain.npy"), np.load(gt / "dead.npy")
    assert gain.shape == dead.shape == (2, 256) and not np.allclose(gain[0], gain[1])
    assert dead.any() and np.all(dead[1] >= dead[0])  # dead electrodes stay dead
    units = json.load(open(gt / "units.json"))
    assert all(0.1 <= lead <= 0.2 for lead in units["lead_s"])
    for d, path in enumerate(_days(tiny_corpus, "train")):
        mat = scipy.io.loadmat(path)
        tx = np.concatenate([mat["tx1"][0, i] for i in range(mat["tx1"].shape[1])])
        assert np.all(tx[:, dead[d]] == 0)
        assert np.all(tx[:, ~dead[d]].sum(0) > 0)


def test_neural_activity_leads_the_sound(tiny_corpus):
    # Cross-correlate the 6v population rate with the phoneme timeline: the peak is at a lead of 100-200 ms.
    truth = json.load(open(tiny_corpus / "brain2text24" / "ground_truth" / "sentences.json"))
    dead = np.load(tiny_corpus / "brain2text24" / "ground_truth" / "dead.npy")
    scores = np.zeros(21)
    for row in truth:
        mat = scipy.io.loadmat(tiny_corpus / "brain2text24" / row["file"])
        x = mat["tx1"][0, row["index"]][:, :128][:, ~dead[row["day"], :128]].astype(float)
        active = np.zeros(len(x))
        for a, b, _ in row["phonemes"]:
            active[int(a / 0.02) : int(np.ceil(b / 0.02))] = 1
        rate = x.sum(1)
        for lag in range(21):  # activity at bin j vs sound at bin j + lag
            n = len(x) - lag
            scores[lag] += np.corrcoef(rate[:n], active[lag : lag + n])[0, 1]
    assert 4 <= int(np.argmax(scores)) <= 11


def test_knobs_days_sentences_channels(tmp_path):
    from espnet_brain.simulate import make_corpus

    knobs = ["intracortical.days=3", "intracortical.train_per_day=4", "intracortical.channels=16",
             "intracortical.holdout_per_day=1", "intracortical.block_size=2"]  # fmt: skip
    make_corpus(str(tmp_path), "tiny", 0, parts="intracortical", overrides=knobs)
    train = sorted((tmp_path / "brain2text24" / "train").glob("*.mat"))
    assert len(train) == 3
    for path in train:
        mat = scipy.io.loadmat(path)
        blocks = mat["blockIdx"].ravel()
        assert mat["tx1"][0, 0].shape[1] == 16
        assert (blocks < blocks.max()).sum() == 4 and len(np.unique(blocks)) == 3  # 4 train in blocks of 2 + dev
    holdout = scipy.io.loadmat(sorted((tmp_path / "brain2text24" / "competitionHoldOut").glob("*.mat"))[0])
    assert holdout["sentenceText"].shape == (1,)
