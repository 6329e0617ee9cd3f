import json

import huggingface_hub.constants
import pytest
import torch
from espnet2.asr.ctc import CTC
from transformers import Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2ForCTC

from espnet_brain.asr.ctc_init import init_ctc_from_hf

# The layout of facebook/wav2vec2-base-960h's character vocabulary (32 rows, blank = <pad> = 0).
HF_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|"] + list("ETAONIHSRDLUMWCFGYPBVK'XJQZ")


@pytest.fixture(scope="module")
def ctc_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("w2v_ctc")
    vocab_file = path / "vocab.json"
    vocab_file.write_text(json.dumps({tok: i for i, tok in enumerate(HF_VOCAB)}))
    Wav2Vec2CTCTokenizer(str(vocab_file)).save_pretrained(path)
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8,),
        conv_kernel=(10,),
        conv_stride=(5,),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        vocab_size=len(HF_VOCAB),
        pad_token_id=0,
    )
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(path)
    return str(path)


def test_rows_are_copied_by_token(ctc_dir):
    token_list = ["<blank>", "<unk>", "<space>", "e", "t", "'", "q", "Z", "ü", "<sos/eos>"]
    torch.manual_seed(1)
    ctc = CTC(odim=len(token_list), encoder_output_size=16)
    before_w = ctc.ctc_lo.weight.detach().clone()
    report = init_ctc_from_hf(ctc, token_list, ctc_dir)
    head = Wav2Vec2ForCTC.from_pretrained(ctc_dir).lm_head
    expected = {"<blank>": "<pad>", "<unk>": "<unk>", "<space>": "|", "e": "E", "t": "T", "'": "'", "q": "Q", "Z": "Z"}
    assert report["mapped"] == expected
    assert report["unmapped"] == ["ü", "<sos/eos>"]
    assert report["n_mapped"] == 8 and report["n_tokens"] == 10
    for i, tok in enumerate(token_list):
        if tok in expected:
            row = HF_VOCAB.index(expected[tok])
            torch.testing.assert_close(ctc.ctc_lo.weight[i], head.weight[row], rtol=0, atol=0)
            torch.testing.assert_close(ctc.ctc_lo.bias[i], head.bias[row], rtol=0, atol=0)
        else:
            assert torch.equal(ctc.ctc_lo.weight[i], before_w[i])
    # the blank row is HF's pad row, not HF's row 0 by accident: check a non-zero blank position too
    shifted = ["<sos/eos>", "<blank>", "a"]
    ctc2 = CTC(odim=3, encoder_output_size=16)
    init_ctc_from_hf(ctc2, shifted, ctc_dir)
    torch.testing.assert_close(ctc2.ctc_lo.weight[1], head.weight[0], rtol=0, atol=0)
    torch.testing.assert_close(ctc2.ctc_lo.weight[2], head.weight[HF_VOCAB.index("A")], rtol=0, atol=0)


def test_errors(ctc_dir, monkeypatch):
    with pytest.raises(ValueError, match="16"):
        init_ctc_from_hf(CTC(odim=3, encoder_output_size=12), ["<blank>", "a", "b"], ctc_dir)
    with pytest.raises(ValueError, match="token_list has 2"):
        init_ctc_from_hf(CTC(odim=3, encoder_output_size=16), ["<blank>", "a"], ctc_dir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError, match="local directory"):
        init_ctc_from_hf(CTC(odim=2, encoder_output_size=16), ["<blank>", "a"], "no-such-org/no-such-ctc")
