import shutil

import huggingface_hub.constants
import pytest
import torch
from fixtures.hf_models import TINY_WAV2VEC2, save_tiny_wav2vec2_ctc, save_tiny_whisper

from espnet_brain.asr.ctc_init import init_ctc_from_hf
from espnet_brain.asr.encoder.hf_ssl import HFSSLEncoder
from espnet_brain.asr.frontend.hf_cnn import HFConvFrontend
from espnet_brain.bin import check_pretrained
from espnet_brain.fmri.ssl_model import SSLSpeechModel
from espnet_brain.hf.loading import ModelNotFoundError, load_config, load_model, resolve

MISSING_ID = "no-such-org/no-such-speech-model"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _builders():
    """Every place that loads a pretrained model, decoding and encoding."""
    from espnet2.asr.ctc import CTC

    return {
        "encoder": lambda name: HFSSLEncoder(input_size=16, model_name_or_path=name),
        "frontend": lambda name: HFConvFrontend(name),
        "ctc_init": lambda name: init_ctc_from_hf(CTC(odim=2, encoder_output_size=16), ["<blank>", "a"], name),
        "encoding": lambda name: SSLSpeechModel(name, layer=1),
    }


@pytest.mark.parametrize("where", ["encoder", "frontend", "ctc_init", "encoding"])
def test_one_error_for_an_unresolvable_hub_id(offline, where):
    with pytest.raises(ModelNotFoundError) as err:
        _builders()[where](MISSING_ID)
    message = str(err.value)
    assert isinstance(err.value, OSError) and isinstance(err.value, ValueError)
    assert MISSING_ID in message and "model_name_or_path" in message and "not in the local cache" in message
    assert "network" in message and f"from_pretrained('{MISSING_ID}').save_pretrained(DIR)" in message
    assert "pass the local directory DIR" in message


@pytest.mark.parametrize("where", ["encoder", "frontend", "ctc_init", "encoding"])
def test_one_error_for_a_missing_or_empty_directory(tmp_path, where):
    missing = str(tmp_path / "missing" / "model")
    with pytest.raises(ModelNotFoundError, match="the local directory does not exist") as err:
        _builders()[where](missing)
    assert missing in str(err.value) and "save_pretrained(DIR)" in str(err.value)
    with pytest.raises(ModelNotFoundError, match="the directory does not hold a loadable model"):
        _builders()[where](str(tmp_path))


def test_unsupported_model_type_is_a_value_error(tmp_path):
    from transformers import BertConfig

    BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32).save_pretrained(
        tmp_path
    )
    with pytest.raises(ValueError, match="model type 'bert'.*expected one of"):
        load_config(str(tmp_path), "encoder_conf.model_name_or_path")


def test_checkpoints_load_in_float32(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    model = Wav2Vec2Model(Wav2Vec2Config(**TINY_WAV2VEC2))
    model.half().save_pretrained(str(tmp_path))
    loaded = load_model(str(tmp_path))
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    assert not loaded.training
    ssl = SSLSpeechModel(str(tmp_path), layer=1)
    assert {p.dtype for p in ssl.parameters()} == {torch.float32}
    enc = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path))
    assert {p.dtype for p in enc.parameters()} == {torch.float32}


def test_cached_hub_id_resolves_to_its_snapshot_for_both_wings(tmp_path, monkeypatch, offline):
    cache = tmp_path / "cache"
    snapshot = cache / "models--tiny-org--tiny-w2v" / "snapshots" / "0123abcd"
    save_tiny_wav2vec2_ctc(snapshot, vocab_size=4)
    (cache / "models--tiny-org--tiny-w2v" / "refs").mkdir()
    (cache / "models--tiny-org--tiny-w2v" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert resolve("tiny-org/tiny-w2v", "x") == str(snapshot)
    assert HFSSLEncoder(input_size=16, model_name_or_path="tiny-org/tiny-w2v").output_size() == 16
    assert SSLSpeechModel("tiny-org/tiny-w2v", layer=1, local_files_only=True).output_size() == 16


def test_check_pretrained_uses_the_training_loader(tmp_path, capsys, offline):
    path = save_tiny_wav2vec2_ctc(tmp_path / "ctc", vocab_size=4)
    assert check_pretrained.main([path]) == 0
    assert "wav2vec2, hidden size 16, 2 layers" in capsys.readouterr().out
    whisper = save_tiny_whisper(tmp_path / "whisper")  # the hf_whisper encoder's checkpoints pass the check too
    assert check_pretrained.main([whisper]) == 0
    assert "whisper, hidden size 16, 2 layers" in capsys.readouterr().out
    assert check_pretrained.main([MISSING_ID]) == 1
    err = capsys.readouterr().err
    assert err.startswith("check_pretrained: pretrained_model: could not load") and "save_pretrained(DIR)" in err
    shutil.rmtree(tmp_path / "ctc")
