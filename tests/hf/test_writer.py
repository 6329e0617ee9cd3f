import json

import pytest
import torch
from fixtures.hf_models import TINY, TINY_WAV2VEC2

from espnet_brain.bin import make_hf_model, make_ssl_model
from espnet_brain.hf.loading import load_ctc_tokenizer, load_model, read_do_normalize
from espnet_brain.hf.writer import build_random_model, write_tokenizer

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]


def test_tokenizer_adds_no_token_beyond_the_ctc_head(tmp_path):
    from transformers import Wav2Vec2CTCTokenizer

    write_tokenizer(TOKENS, tmp_path)
    tokenizer = Wav2Vec2CTCTokenizer.from_pretrained(str(tmp_path))
    assert len(tokenizer) == len(TOKENS)
    assert max(tokenizer.get_vocab().values()) == len(TOKENS) - 1


def test_make_hf_model_writes_a_ctc_checkpoint_with_its_tokenizer(tmp_path):
    config, tokens = tmp_path / "w2v.yaml", tmp_path / "tokens.txt"
    config.write_text(json.dumps(TINY_WAV2VEC2))
    tokens.write_text("".join(t + "\n" for t in TOKENS))
    out = tmp_path / "init"
    make_hf_model.main(["--config", str(config), "--token_list", str(tokens), "--output_dir", str(out), "--seed", "3"])
    model = load_model(str(out), head="ctc")
    assert model.lm_head.out_features == len(TOKENS) and model.config.pad_token_id == 0
    reference = build_random_model("wav2vec2", TINY_WAV2VEC2, TOKENS, seed=3)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    vocab = load_ctc_tokenizer(str(out), "x").get_vocab()
    assert vocab["<pad>"] == 0 and vocab["|"] == 2
    assert read_do_normalize(str(out), "x") and "NOT a pretrained model" in (out / "README.md").read_text()


def test_make_ssl_model_writes_a_bare_model(tmp_path, capsys):
    config = tmp_path / "wavlm.yaml"
    config.write_text(json.dumps(dict(TINY, num_buckets=16, max_bucket_distance=32)))
    out = tmp_path / "wavlm"
    assert make_ssl_model.main(["--config", str(config), "--output_dir", str(out)]) == 0
    model = load_model(str(out))
    assert type(model).__name__ == "WavLMModel" and model.config.num_hidden_layers == 3
    assert read_do_normalize(str(out), "x")
    preprocessor = json.loads((out / "preprocessor_config.json").read_text())
    assert preprocessor["sampling_rate"] == 16000 and preprocessor["return_attention_mask"] is False
    capsys.readouterr()
    config.write_text("- hidden_size\n")
    assert make_ssl_model.main(["--config", str(config), "--output_dir", str(out)]) == 1
    assert "expected a mapping of config fields" in capsys.readouterr().err


def test_writer_errors():
    with pytest.raises(ValueError, match="model_type: expected one of"):
        build_random_model("whisper", {})
    with pytest.raises(ValueError, match="come from the token list"):
        build_random_model("wav2vec2", dict(TINY_WAV2VEC2, vocab_size=5), TOKENS)
    with pytest.raises(ValueError, match="config: not a valid WavLMConfig"):
        build_random_model("wavlm", {"hidden_size": "16"})
