import json

import numpy as np
import soundfile

from espnet_brain.data.text import normalize_transcript


def _kaldi(path):
    return dict(line.rstrip("\n").split(" ", 1) for line in open(path, encoding="utf-8"))


def test_speech_dirs_match_text_split(tiny_corpus):
    for split in ("train", "dev", "test"):
        sents = dict(line.rstrip("\n").split(" ", 1) for line in open(tiny_corpus / "text" / f"{split}.txt"))
        d = tiny_corpus / "speech" / split
        text, utt2spk = _kaldi(d / "text"), _kaldi(d / "utt2spk")
        assert list(text) == sorted(text) and set(text) == set(utt2spk)
        assert {u.split("-", 1)[1] for u in text} == set(sents)
        for utt, transcript in text.items():
            assert utt.startswith(utt2spk[utt] + "-")
            assert transcript == sents[utt.split("-", 1)[1]]
            assert (d / f"{utt}.wav").is_file() and (d / "alignments" / f"{utt}.json").is_file()


def test_wav_format_and_alignment_inside_audio(tiny_corpus):
    d = tiny_corpus / "speech" / "dev"
    for utt in _kaldi(d / "text"):
        info = soundfile.info(str(d / f"{utt}.wav"))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        audio, sr = soundfile.read(str(d / f"{utt}.wav"), dtype="float32")
        align = json.load(open(d / "alignments" / f"{utt}.json"))
        duration = len(audio) / sr
        assert abs(align["duration"] - duration) < 1e-3
        assert align["sample_rate"] == 16000
        for key in ("phonemes", "words"):
            items = align[key]
            assert items and all(0 <= x["start"] < x["end"] <= duration + 1e-6 for x in items)
            assert [x["start"] for x in items] == sorted(x["start"] for x in items)
        words = [w["label"] for w in align["words"]]
        assert normalize_transcript(" ".join(words)) == normalize_transcript(align["text"])
        # the audio is loud where the words are and the phonemes lie within the words' span
        first, last = align["words"][0]["start"], align["words"][-1]["end"]
        assert align["phonemes"][0]["start"] >= first - 1e-6 and align["phonemes"][-1]["end"] <= last + 1e-6
        speech = audio[int(first * sr) : int(last * sr)]
        assert np.sqrt(np.mean(speech**2)) > 0.01


def test_voices_and_rates_vary(tiny_corpus):
    aligns = [json.load(open(p)) for p in sorted((tiny_corpus / "speech" / "train" / "alignments").glob("*.json"))]
    assert len({a["voice"] for a in aligns}) >= 3 and len({a["rate"] for a in aligns}) >= 5
