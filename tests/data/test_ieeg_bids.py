import json

import mne_bids
import numpy as np
import pytest

from espnet_brain.data.ieeg_bids import (
    _bipolar_pairs,
    find_recordings,
    high_gamma_envelope,
    load_ieeg_sentences,
    read_events_tsv,
    sentence_rows,
    trial_type_holds_text,
)


@pytest.fixture(scope="module")
def recording(tiny_corpus):
    recs = find_recordings(str(tiny_corpus / "ieeg_bids"))
    assert len(recs) == 2
    return recs[0]


def test_sentences_features_and_text(recording, tiny_corpus):
    sents = load_ieeg_sentences(recording)
    gt = json.load(open(tiny_corpus / "ieeg_bids" / "derivatives" / "ground_truth" / "sub-01_ses-01.json"))
    assert len(sents) == len(gt["sentences"]) == 8
    good = [c for c in gt["channels"] if c not in gt["bads"]]
    texts = {}
    for split in ("train", "dev", "test"):
        for line in open(tiny_corpus / "text" / f"{split}.txt"):
            sid, text = line.rstrip("\n").split(" ", 1)
            texts[sid] = text
    for s, g in zip(sents, gt["sentences"]):
        assert s.ch_names == good and s.feats.shape == (int(round(g["duration"] * 100)), len(good))
        assert s.feats.dtype == np.float32 and s.sfreq == 100.0
        assert s.sent_id == g["sent_id"] and s.text == texts[s.sent_id]


def test_high_gamma_tracks_the_true_envelope(recording, tiny_corpus):
    gt_dir = tiny_corpus / "ieeg_bids" / "derivatives" / "ground_truth"
    gt = json.load(open(gt_dir / "sub-01_ses-01.json"))
    true_env = np.load(gt_dir / "sub-01_ses-01_envelope.npy")
    raw = mne_bids.read_raw_bids(recording, verbose=False)
    hg = high_gamma_envelope(raw).get_data().T
    n = min(len(hg), len(true_env))
    for ch in gt["responsive"]:
        if ch in gt["bads"]:
            continue
        i = gt["channels"].index(ch)
        assert np.corrcoef(hg[:n, i], true_env[:n, i])[0, 1] > 0.4
    # a narrower band far from high gamma does not track it
    raw = mne_bids.read_raw_bids(recording, verbose=False)
    low = high_gamma_envelope(raw, band=(8.0, 12.0)).get_data().T
    ch = [c for c in gt["responsive"] if c not in gt["bads"]][0]
    i = gt["channels"].index(ch)
    assert np.corrcoef(low[:n, i], true_env[:n, i])[0, 1] < 0.3


def test_rereferencing(recording):
    avg = load_ieeg_sentences(recording, reref="average")
    bip = load_ieeg_sentences(recording, reref="bipolar")
    assert avg[0].feats.shape[1] == 7
    assert all("-" in c for c in bip[0].ch_names) and bip[0].feats.shape[1] == len(bip[0].ch_names) < 7
    with pytest.raises(ValueError, match="reref"):
        load_ieeg_sentences(recording, reref="laplacian")


def test_band_and_channel_errors(recording):
    with pytest.raises(ValueError, match="Nyquist"):
        load_ieeg_sentences(recording, band=(70.0, 260.0))
    with pytest.raises(ValueError, match="no channels of type"):
        load_ieeg_sentences(recording, ch_types=("eeg",))


def test_bipolar_pairs():
    assert _bipolar_pairs(["LA1", "LA2", "LA4", "LT1", "LT2", "X"]) == [("LA1", "LA2"), ("LT1", "LT2")]


SENTENCES = [
    "Hello, world.",
    "The cat sat on the mat.",
    "Where is the station?",
    "I don't know.",
    "Bring me some water.",
    "It is cold today.",
    "Open the window.",
    "She reads every night.",
    "We will meet at noon.",
    "Turn left here.",
]


@pytest.fixture(scope="module")
def sentences_in_trial_type(tmp_path_factory):
    """An iEEG-BIDS dataset written by MNE-BIDS from annotations whose descriptions are the sentences."""
    import mne

    root = tmp_path_factory.mktemp("ieeg_trial_type")
    sfreq, names = 500.0, ["LA1", "LA2", "LA3", "LA4"]
    onsets = [1.0 + 2.0 * i for i in range(len(SENTENCES))]
    n = int((onsets[-1] + 3.0) * sfreq)
    data = 1e-5 * np.random.default_rng(0).normal(size=(len(names), n))
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "seeg"), verbose=False)
    raw.info["line_freq"] = 60.0
    raw.set_annotations(mne.Annotations(onset=onsets, duration=[1.2] * len(SENTENCES), description=SENTENCES))
    bids_path = mne_bids.BIDSPath(subject="01", session="01", task="speech", run="01", datatype="ieeg", root=root)
    mne_bids.write_raw_bids(raw, bids_path, format="BrainVision", allow_preload=True, overwrite=True, verbose=False)
    return root


def test_sentences_read_from_trial_type_without_a_filter(sentences_in_trial_type):
    (recording,) = find_recordings(str(sentences_in_trial_type))
    events = read_events_tsv(str(recording.copy().update(suffix="events", extension=".tsv").fpath))
    assert [r["trial_type"] for r in events] == SENTENCES  # what MNE-BIDS made of the annotations
    for no_filter in (None, ""):
        sents = load_ieeg_sentences(recording, trial_type=no_filter, text_column="trial_type")
        assert [s.text for s in sents] == SENTENCES
        assert all(s.feats.shape == (120, 4) for s in sents)
    with pytest.raises(ValueError, match=r"trial_type cannot also select .*\(--trial_type ''\)"):
        load_ieeg_sentences(recording, trial_type="sentence", text_column="trial_type")
    # The defaults (text in a 'sentence' column) say how to read this dataset.
    with pytest.raises(ValueError, match="no 'sentence' column .* --text_column trial_type --trial_type \"\""):
        load_ieeg_sentences(recording)


def _events(trial_types):
    """events.tsv rows as MNE-BIDS writes them from annotations."""
    return [
        {"onset": str(i), "duration": "1.0", "trial_type": t, "value": str(i + 1), "sample": str(100 * i)}
        for i, t in enumerate(trial_types)
    ]


def test_missing_text_column_points_to_trial_type_when_it_holds_the_sentences():
    found = (
        r"no 'sentence' column with the sentence text; found \['onset', 'duration', 'trial_type', 'value', 'sample'\]"
    )
    fix = r'--text_column trial_type --trial_type ""'
    with pytest.raises(ValueError, match=found + ".*" + fix):
        sentence_rows(_events(SENTENCES), "sentence", "sentence", "events.tsv")
    # Many distinct one-word values are free text too.
    words = [f"word{i}" for i in range(12)]
    assert trial_type_holds_text(_events(words))
    with pytest.raises(ValueError, match=fix):
        sentence_rows(_events(words), "sentence", "sentence")
    # A few event categories are not: the advice is the text column, not trial_type.
    categories = ["speech", "rest", "speech", "n/a"]
    assert not trial_type_holds_text(_events(categories))
    with pytest.raises(ValueError, match="--text_column") as err:
        sentence_rows(_events(categories), "speech", "sentence")
    assert "--text_column trial_type" not in str(err.value)
    # The advice works: it reads every sentence.
    assert [r["trial_type"] for r in sentence_rows(_events(SENTENCES), "", "trial_type")] == SENTENCES


def test_prepare_reads_the_text_from_trial_type(sentences_in_trial_type, tmp_path):
    from espnet_brain.bin import prepare_ieeg_bids
    from espnet_brain.data.text import normalize_transcript

    dst = tmp_path / "data"
    cmd = ["--bids_root", str(sentences_in_trial_type), "--dst", str(dst), "--feats_dir", str(tmp_path / "feats")]
    prepare_ieeg_bids.main([*cmd, "--text_column", "trial_type", "--trial_type", ""])
    texts = {}
    for split in ("train", "dev", "test"):
        for line in (dst / split / "text").read_text().splitlines():
            utt, text = line.split(" ", 1)
            texts[utt] = text
    assert sorted(texts.values()) == sorted(normalize_transcript(s) for s in SENTENCES)
    # Utterance ids follow the rows of events.tsv, so each one carries its own sentence.
    name = "sub-01_ses-01_task-speech_run-01"
    assert texts == {f"{name}-{i:04d}": normalize_transcript(s) for i, s in enumerate(SENTENCES)}
    with pytest.raises(ValueError, match="trial_type cannot also select"):
        prepare_ieeg_bids.main([*cmd, "--text_column", "trial_type"])


def test_prepare_without_the_recording_zscore_leaves_the_envelopes_in_volts(sentences_in_trial_type, tmp_path):
    from espnet_brain.bin import prepare_ieeg_bids
    from espnet_brain.data.brain2text25 import load_session_file

    feats = {}
    for zscore in ("recording", "none"):
        prepare_ieeg_bids.main(
            ["--bids_root", str(sentences_in_trial_type), "--dst", str(tmp_path / zscore / "data")]
            + ["--feats_dir", str(tmp_path / zscore / "feats"), "--text_column", "trial_type", "--trial_type", ""]
            + ["--zscore", zscore]
        )
        (path,) = (tmp_path / zscore / "feats").glob("*.hdf5")
        feats[zscore] = np.concatenate([t.feats for t in load_session_file(str(path), "all", zscore=False)])
    assert np.abs(feats["none"]).max() < 1e-3  # microvolt-scale amplitudes, for dump_neural --zscore train
    assert np.abs(feats["recording"]).max() > 0.5
