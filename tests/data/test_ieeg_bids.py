import json

import mne_bids
import numpy as np
import pytest

from espnet_brain.data.ieeg_bids import _bipolar_pairs, find_recordings, high_gamma_envelope, load_ieeg_sentences


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
