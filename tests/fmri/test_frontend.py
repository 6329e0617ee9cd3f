"""SSLWindowFrontend: window features per chunk with ragged lengths, errors, gradients through LoRA."""

import pytest
import torch
from fixtures.lebel_encoding import make_tiny_wavlm

from espnet_brain.fmri.chunking import ChunkGeometry
from espnet_brain.fmri.frontend import SSLWindowFrontend
from espnet_brain.fmri.readout import FIRLinearHead, FIRLowRankHead


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory):
    return make_tiny_wavlm(tmp_path_factory.mktemp("wavlm"))


def test_ragged_chunks_give_their_own_windows(wavlm_dir):
    fe = SSLWindowFrontend(wavlm_dir, layer=1, window_s=1.0, stride_s=0.5).eval()
    assert fe.output_size() == 16 and "layers=[1]" in repr(fe)
    torch.manual_seed(0)
    speech = torch.randn(2, 48000)
    lengths = torch.tensor([48000, 32000])
    with torch.no_grad():
        feats, n = fe(speech, lengths)
        alone, _ = fe(speech[1:, :32000], lengths[1:])
    g = ChunkGeometry(window_s=1.0, stride_s=0.5)
    assert n.tolist() == [g.num_windows(48000), g.num_windows(32000)] == [5, 3]
    assert feats.shape == (2, 5, 16) and feats[1, 3:].abs().sum() == 0
    torch.testing.assert_close(feats[1, :3], alone[0], atol=1e-5, rtol=1e-5)
    # window i of a chunk covers samples [i * stride, i * stride + window): the last window of the second chunk
    with torch.no_grad():
        last, _ = fe(speech[1:, 16000:32000], torch.tensor([16000]))
    torch.testing.assert_close(feats[1, 2], last[0, 0], atol=1e-5, rtol=1e-5)


def test_a_chunk_shorter_than_a_window_is_an_error(wavlm_dir):
    fe = SSLWindowFrontend(wavlm_dir, layer=1, window_s=1.0, stride_s=0.5)
    with pytest.raises(ValueError, match="shorter than one window"):
        fe(torch.zeros(1, 8000), torch.tensor([8000]))
    with pytest.raises(ValueError, match="frontend_conf.pool"):
        SSLWindowFrontend(wavlm_dir, layer=1, pool="max")


def test_gradients_reach_the_adapters_through_the_windows(wavlm_dir):
    fe = SSLWindowFrontend(wavlm_dir, layer=1, window_s=1.0, stride_s=0.5, lora_conf={"r": 2, "dropout": 0.0})
    with torch.no_grad():  # non-zero B so that both adapter matrices get gradients
        for name, p in fe.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    feats, _ = fe(torch.randn(1, 24000), torch.tensor([24000]))
    feats.pow(2).sum().backward()
    grads = [p.grad for n, p in fe.named_parameters() if "lora_" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_heads_differ_only_in_their_map():
    linear, lowrank = FIRLinearHead(8, 3, delays=[1, 2]), FIRLowRankHead(8, 3, delays=[1, 2], rank=2)
    assert isinstance(linear.proj, torch.nn.Linear) and linear.proj.in_features == 16
    assert [m.out_features for m in lowrank.proj] == [2, 3]
    x = torch.randn(2, 6, 8)
    for head in (linear, lowrank):
        y, n = head(x, torch.tensor([6, 4]))
        assert y.shape == (2, 6, 3) and n.tolist() == [6, 4]
