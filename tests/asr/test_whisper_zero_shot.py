"""Whisper's zero-shot reference row: text normalisation to the corpus's alphabet, and the program on a tiny random
Whisper in CTranslate2 format (the path of the installed OpenAI models)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from fixtures.whisper import ORDINARY, make_tiny_ctranslate2_whisper

from espnet_brain.asr.whisper_zero_shot import generate_kwargs, normalize_text, read_wav_scp, spell_number
from espnet_brain.bin import model_type as model_type_bin
from espnet_brain.bin import whisper_zero_shot as zero_shot_bin
from espnet_brain.hf import ctranslate2 as ct2


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Hello, world -- it's 7 o'clock.", "HELLO WORLD IT'S SEVEN O'CLOCK"),
        ("  The dog\u2019s bone!  ", "THE DOG'S BONE"),
        ("Caf\u00e9 na\u00efve co-operate", "CAFE NAIVE CO OPERATE"),
        ("1,000 and 21 and 105", "ONE THOUSAND AND TWENTY ONE AND ONE HUNDRED FIVE"),
        ("'quoted' words", "QUOTED WORDS"),
        ("[MUSIC] (laughs) \u266a", "MUSIC LAUGHS"),
        ("", ""),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected
    assert set(normalize_text(raw)) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ")


def test_normalize_text_keeps_only_the_charset():
    assert normalize_text("Don't stop", charset="ABCDEFGHIJKLMNOPQRSTUVWXYZ ") == "DONT STOP"


def test_spell_number():
    assert [spell_number(n) for n in (0, 13, 40, 99, 100, 2024)] == [
        "ZERO",
        "THIRTEEN",
        "FORTY",
        "NINETY NINE",
        "ONE HUNDRED",
        "TWO THOUSAND TWENTY FOUR",
    ]
    assert spell_number(3_000_017) == "THREE MILLION SEVENTEEN"
    with pytest.raises(ValueError, match="spell_number"):
        spell_number(-1)


def test_read_wav_scp_refuses_commands(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("a /x/a.wav\n\nb sox /x/b.wav -t wav - |\n")
    with pytest.raises(ValueError, match=r"wav.scp:3: expected '<utt> <audio file>'"):
        read_wav_scp(str(scp))
    scp.write_text("a /x/a.wav\nb /x/b.wav\n")
    assert read_wav_scp(str(scp)) == [("a", "/x/a.wav"), ("b", "/x/b.wav")]


def _tiny_ctranslate2_whisper(root: Path) -> str:
    """A random English-only Whisper, converted to CTranslate2 by ctranslate2's own converter."""
    return str(make_tiny_ctranslate2_whisper(root, encoder_layers=1, name="ct2"))


@pytest.fixture
def tiny_ct2(tmp_path, monkeypatch):
    monkeypatch.setenv(ct2.CACHE_ENV, str(tmp_path / "cache"))
    return _tiny_ctranslate2_whisper(tmp_path / "model")


def test_program_writes_normalised_hypotheses_and_raw_text(tiny_ct2, tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = []
    for i, seconds in enumerate((1.0, 0.4, 2.5)):
        path = tmp_path / f"u{i}.wav"
        soundfile.write(str(path), (rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32), 16000)
        lines.append(f"utt{i} {path}\n")
    (tmp_path / "wav.scp").write_text("".join(lines))
    out = tmp_path / "exp" / "text"
    code = zero_shot_bin.main(
        ["--model", tiny_ct2, "--wav_scp", str(tmp_path / "wav.scp"), "--output", str(out), "--batch_size", "2"]
    )
    assert code == 0
    hyps = out.read_text().splitlines()
    raw = Path(str(out) + ".raw").read_text().splitlines()
    assert [h.split(" ")[0] for h in hyps] == [r.split(" ")[0] for r in raw] == ["utt0", "utt1", "utt2"]
    for hyp, text in zip(hyps, raw):
        assert hyp.partition(" ")[2] == normalize_text(text.partition(" ")[2])
    assert model_type_bin.main([tiny_ct2]) == 0 and capsys.readouterr().out.strip() == "whisper"


def test_english_only_whisper_gets_no_language(tiny_ct2):
    from transformers import WhisperForConditionalGeneration

    model = WhisperForConditionalGeneration.from_pretrained(ct2.resolve_directory(tiny_ct2))
    kwargs = generate_kwargs(model, 128)
    assert "language" not in kwargs and kwargs["num_beams"] == 1 and kwargs["max_new_tokens"] == 12
    model.generation_config.lang_to_id = {"<|en|>": len(ORDINARY) + 2}
    assert generate_kwargs(model, 5)["language"] == "en"


def test_program_refuses_a_model_that_is_not_whisper(tmp_path, capsys):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    Wav2Vec2Model(Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2)).save_pretrained(tmp_path)
    (tmp_path / "wav.scp").write_text("")
    args = ["--model", str(tmp_path), "--wav_scp", str(tmp_path / "wav.scp"), "--output", str(tmp_path / "t")]
    assert zero_shot_bin.main(args) == 1
    assert "model type 'wav2vec2'" in capsys.readouterr().err
