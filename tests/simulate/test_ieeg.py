import csv
import json

import mne_bids
import numpy as np
import pytest


@pytest.fixture(scope="module")
def recordings(tiny_corpus):
    root = tiny_corpus / "ieeg_bids"
    return root, mne_bids.find_matching_paths(root, datatypes="ieeg", suffixes="ieeg", extensions=".vhdr")


def test_bids_layout_and_channels(recordings, tiny_corpus):
    root, paths = recordings
    assert len(paths) == 2 and {p.session for p in paths} == {"01", "02"}
    for bp in paths:
        raw = mne_bids.read_raw_bids(bp, verbose=False)
        assert raw.info["sfreq"] == 500.0 and set(raw.get_channel_types()) == {"seeg"}
        assert len(raw.ch_names) == 8 and len(raw.info["bads"]) == 1
        rows = list(csv.DictReader(open(bp.copy().update(suffix="channels", extension=".tsv").fpath), delimiter="\t"))
        assert [r["name"] for r in rows if r["status"] == "bad"] == raw.info["bads"]
        assert raw.get_montage() is not None


def test_events_hold_sentences(recordings, tiny_corpus):
    root, paths = recordings
    texts = {}
    for split in ("train", "dev", "test"):
        for line in open(tiny_corpus / "text" / f"{split}.txt"):
            sid, text = line.rstrip("\n").split(" ", 1)
            texts[sid] = text
    for bp in paths:
        events = bp.copy().update(suffix="events", extension=".tsv").fpath
        rows = list(csv.DictReader(open(events, encoding="utf-8"), delimiter="\t"))
        assert len(rows) == 8
        assert set(rows[0]) >= {"onset", "duration", "trial_type", "value", "sent_id", "sentence"}
        raw = mne_bids.read_raw_bids(bp, verbose=False)
        for r in rows:
            assert r["trial_type"] == "sentence" and texts[r["sent_id"]] == r["sentence"]
            assert 0 < float(r["onset"]) and float(r["onset"]) + float(r["duration"]) < raw.times[-1]
        assert {r["sent_id"].split("-")[0] for r in rows} == {"train", "dev", "test"}


def test_ground_truth_envelope_follows_phonemes(tiny_corpus):
    gt_dir = tiny_corpus / "ieeg_bids" / "derivatives" / "ground_truth"
    gt = json.load(open(gt_dir / "sub-01_ses-01.json"))
    env = np.load(gt_dir / "sub-01_ses-01_envelope.npy")
    assert env.shape[1] == len(gt["channels"])
    resp = [gt["channels"].index(c) for c in gt["responsive"]]
    quiet = [i for i in range(len(gt["channels"])) if i not in resp]
    assert np.all(env[:, quiet] == 1.0) and np.all(env[:, resp].max(0) > 1.5)
    speech = np.zeros(len(env), bool)
    for s in gt["sentences"]:
        speech[int(s["onset"] * 100) : int((s["onset"] + s["duration"]) * 100)] = True
    assert env[speech][:, resp].mean() > env[~speech][:, resp].mean() + 0.2
