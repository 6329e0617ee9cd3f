"""asr.inference: batched decoding of ragged utterances equals decoding them one by one."""

import argparse

import kaldiio
import pytest
import torch

from espnet_brain.asr import inference

TOKENS = ["<blank>", "<unk>", "<space>", "A", "B", "C", "<sos/eos>"]
B_ID = TOKENS.index("B")
# Valid frames of each utterance (token id per frame, 0 = blank), lengths 9, 4, 6 and 3.
PATHS = {
    "u1": [0, 3, 3, 0, 4, 2, 5, 0, 5],
    "u2": [5, 0, 3, 0],
    "u3": [3, 2, 0, 5, 5, 0],
    "u4": [0, 4, 0],
}
EXPECTED = {"u1": "AB CC", "u2": "CA", "u3": "A C", "u4": "B"}


def _one_hot(path, scale=20.0):
    x = torch.full((len(path), len(TOKENS)), -scale)
    x[torch.arange(len(path)), torch.tensor(path)] = scale
    return x


class PaddingEmitsTokens(torch.nn.Module):
    """A CTC model whose encoder passes the valid frames through and turns every padded frame into a
    confident "B" frame alternating with blank: decoding any padding frame changes the hypothesis."""

    def __init__(self):
        super().__init__()
        from espnet2.asr.ctc import CTC

        self.ctc = CTC(odim=len(TOKENS), encoder_output_size=len(TOKENS))
        with torch.no_grad():  # the CTC layer passes its input through: the encoder frames are the logits
            self.ctc.ctc_lo.weight.copy_(torch.eye(len(TOKENS)))
            self.ctc.ctc_lo.bias.zero_()
        self.token_list = list(TOKENS)
        self.blank_id = 0
        self.sos = self.eos = len(TOKENS) - 1

    def encode(self, speech, speech_lengths, day=None):
        enc = speech.clone()
        n_frames = enc.shape[1]
        adversarial = _one_hot([B_ID if t % 2 == 0 else 0 for t in range(n_frames)])
        padded = torch.arange(n_frames)[None, :] >= speech_lengths[:, None]  # (B, T)
        enc[padded] = adversarial.expand(enc.shape[0], -1, -1)[padded]
        return enc, speech_lengths


@pytest.fixture
def feats_scp(tmp_path):
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/feats.ark,{tmp_path}/feats.scp") as writer:
        for key, path in PATHS.items():
            writer(key, _one_hot(path).numpy())
    return str(tmp_path / "feats.scp")


def _decode(tmp_path, monkeypatch, feats_scp, decoding, batch_size):
    model = PaddingEmitsTokens().eval()
    monkeypatch.setattr(
        inference.BrainASRTask,
        "build_model_from_file",
        lambda *args, **kwargs: (model, argparse.Namespace(use_preprocessor=False)),
    )
    out = tmp_path / f"{decoding}_{batch_size}"
    inference.decode(
        "config.yaml",
        "model.pth",
        [(feats_scp, "speech", "kaldi_ark")],
        str(out),
        batch_size=batch_size,
        decoding=decoding,
        beam_size=4,
    )
    text = dict(line.rstrip("\n").split(" ", 1) for line in (out / "text").read_text().splitlines())
    tokens = (out / "token").read_text()
    return text, tokens


@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_batched_decoding_of_ragged_lengths_equals_one_by_one(tmp_path, monkeypatch, feats_scp, decoding):
    one_by_one = _decode(tmp_path, monkeypatch, feats_scp, decoding, batch_size=1)
    batched = _decode(tmp_path, monkeypatch, feats_scp, decoding, batch_size=len(PATHS))
    assert one_by_one[0] == EXPECTED  # no padding at batch size 1
    # The padded frames of the three shorter utterances would each add "B"s if they were decoded.
    assert batched == one_by_one
