"""HFSeq2SeqSpeechEncoder: Whisper's encoder without its convolutional stem, behind a brain frontend."""

import pytest
import torch
from espnet2.torch_utils.initialize import initialize
from fixtures.hf_models import TINY_WHISPER, save_tiny_whisper
from peft.tuners.lora import LoraLayer

from espnet_brain.asr.encoder.whisper import HFSeq2SeqSpeechEncoder, whisper_sinusoids
from espnet_brain.tasks.brain_asr import BrainASRTask

D = TINY_WHISPER["d_model"]
P = TINY_WHISPER["max_source_positions"]
TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory):
    return save_tiny_whisper(tmp_path_factory.mktemp("whisper"))


def _batch(d_in=12, lengths=(9, 6, 3), seed=1):
    torch.manual_seed(seed)
    return torch.randn(len(lengths), max(lengths), d_in), torch.tensor(lengths)


def test_same_output_as_hugging_face_on_the_stems_frames(whisper_dir):
    """Given what Whisper's stem makes of 30 s (here: P frames) of mel input, the encoder here gives Hugging Face's
    output: the same positions, layers and final norm."""
    from transformers import WhisperModel

    hf = WhisperModel.from_pretrained(whisper_dir).get_encoder().eval()
    stem = {}
    hf.conv2.register_forward_hook(lambda m, i, o: stem.__setitem__("out", torch.nn.functional.gelu(o)))
    torch.manual_seed(0)
    mel = torch.randn(2, TINY_WHISPER["num_mel_bins"], 2 * P)
    with torch.no_grad():
        want = hf(mel).last_hidden_state  # (2, P, D)
    enc = HFSeq2SeqSpeechEncoder(input_size=D, model_name_or_path=whisper_dir).eval()
    assert enc.input_proj is None
    got, lengths, _ = enc(stem["out"].transpose(1, 2), torch.tensor([P, P]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert lengths.tolist() == [P, P]


def test_padding_is_masked_so_a_batch_gives_each_utterance_alone(whisper_dir):
    enc = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir).eval()
    x, lengths = _batch()
    batch, _, _ = enc(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone, _, _ = enc(x[i : i + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(batch[i : i + 1, :n], alone, rtol=1e-5, atol=1e-5)
        assert torch.all(batch[i, n:] == 0)


def test_inputs_longer_than_whispers_table(whisper_dir):
    enc = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir).eval()
    table = enc.whisper.embed_positions.weight
    # the stored table is Whisper's sinusoids, so extending it with the formula continues it exactly
    torch.testing.assert_close(whisper_sinusoids(P, D), table, atol=1e-5, rtol=0)
    assert enc.positions(3 * P).shape == (3 * P, D)
    torch.testing.assert_close(enc.positions(3 * P)[:P], table, atol=1e-5, rtol=0)
    x, _ = _batch(lengths=(3 * P,))
    out, _, _ = enc(x, torch.tensor([3 * P]))
    assert out.shape == (1, 3 * P, D) and torch.isfinite(out).all()
    interp = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, long_inputs="interpolate")
    rows = interp.positions(2 * P + 1)
    torch.testing.assert_close(rows[0], table[0])
    torch.testing.assert_close(rows[-1], table[-1])
    with torch.no_grad():
        enc.whisper.embed_positions.weight.add_(1.0)  # a learned table: no formula to extend it with
    with pytest.raises(ValueError, match="long_inputs: interpolate"):
        enc.positions(P + 1)


def test_modes_train_what_they_should(whisper_dir):
    x, lengths = _batch()
    for mode, trained in (("finetune", "all"), ("frozen", "none"), ("adapter", "lora"), ("scratch", "all")):
        enc = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, mode=mode).train()
        torch.manual_seed(2)
        (enc(x, lengths)[0] * torch.randn(3, 9, D)).sum().backward()
        names = {n for n, p in enc.whisper.named_parameters() if p.requires_grad}
        if trained == "all":
            assert names == {n for n, _ in enc.whisper.named_parameters()} - {"embed_positions.weight"}
        elif trained == "none":
            assert not names and not enc.whisper.training  # eval mode: no dropout
        else:
            assert names and all("lora_" in n for n in names)
            assert all(p.grad.abs().sum() > 0 for n, p in enc.whisper.named_parameters() if "lora_B" in n)
        assert enc.input_proj.weight.grad is not None  # the frontend side always learns
    pretrained = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir).whisper.state_dict()
    scratch = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, mode="scratch").whisper.state_dict()
    assert not torch.equal(pretrained["layers.0.fc1.weight"], scratch["layers.0.fc1.weight"])


def test_espnet_initialize_keeps_the_pretrained_weights(whisper_dir):
    for mode in ("finetune", "adapter"):
        enc = HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, mode=mode)
        before = {k: v.clone() for k, v in enc.whisper.state_dict().items() if "lora_" not in k}
        model = torch.nn.Module()
        model.encoder = enc
        initialize(model, "xavier_uniform")
        after = enc.whisper.state_dict()
        for k, v in before.items():
            assert torch.equal(after[k], v), (mode, k)
        assert all(float(v.abs().sum()) == 0 for k, v in after.items() if "lora_B" in k)


def test_adapters_merge_into_a_plain_whisper_encoder(whisper_dir):
    enc = HFSeq2SeqSpeechEncoder(
        input_size=12, model_name_or_path=whisper_dir, mode="adapter", lora_conf={"targets": ["q_proj", "fc1"]}
    ).eval()
    wrapped = {n for n, m in enc.whisper.named_modules() if isinstance(m, LoraLayer)}
    assert wrapped == {f"layers.{i}.{m}" for i in range(2) for m in ("self_attn.q_proj", "fc1")}
    torch.manual_seed(3)
    with torch.no_grad():
        for n, p in enc.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    x, lengths = _batch()
    want = enc(x, lengths)[0]
    enc.merge_adapters()
    assert not any(isinstance(m, LoraLayer) for m in enc.modules())
    torch.testing.assert_close(enc(x, lengths)[0], want, rtol=1e-4, atol=1e-5)


def test_errors(whisper_dir, tmp_path):
    from fixtures.hf_models import save_tiny_wav2vec2_ctc

    with pytest.raises(ValueError, match="mode"):
        HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, mode="partial")
    with pytest.raises(ValueError, match="long_inputs"):
        HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, long_inputs="wrap")
    with pytest.raises(ValueError, match="num_layers"):
        HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=whisper_dir, num_layers=3)
    w2v2 = save_tiny_wav2vec2_ctc(tmp_path / "w2v2", vocab_size=7)
    with pytest.raises(ValueError, match="expected one of \\('whisper',\\)"):
        HFSeq2SeqSpeechEncoder(input_size=12, model_name_or_path=w2v2)


def test_behind_the_brain_feature_extractor_in_the_task(whisper_dir):
    cmd = ["--token_list", ",".join(TOKENS), "--frontend", "brain_gru", "--encoder", "hf_whisper"]
    cmd += ["--decoder", "none", "--normalize", "none", "--model_conf", "ctc_weight=1.0"]
    for k, v in dict(input_size=8, output_size=16, n_days=1, kernel_size=4, stride=2, num_layers=1).items():
        cmd += ["--frontend_conf", f"{k}={v}"]
    cmd += ["--frontend_conf", "hidden_size=8", "--encoder_conf", f"model_name_or_path={whisper_dir}"]
    args = BrainASRTask.get_parser().parse_args(cmd)
    args.token_list = list(TOKENS)
    model = BrainASRTask.build_model(args)
    assert model.encoder.output_size() == D and model.encoder.input_proj is None
    torch.manual_seed(0)
    loss, _, _ = model(
        speech=torch.randn(2, 40, 8),
        speech_lengths=torch.tensor([40, 30]),
        text=torch.tensor([[3, 4, 5], [4, 3, -1]]),
        text_lengths=torch.tensor([3, 2]),
    )
    loss.backward()
    assert torch.isfinite(loss)
    assert model.encoder.whisper.layers[0].fc1.weight.grad is not None
    assert model.frontend.gru.weight_ih_l0.grad is not None
