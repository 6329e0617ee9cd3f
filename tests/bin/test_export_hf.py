import torch
import yaml
from fixtures.hf_models import TINY_WAV2VEC2

from espnet_brain.bin.export_hf import export
from espnet_brain.hf.writer import write_random_model
from espnet_brain.tasks.brain_asr import BrainASRTask

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]
CONFIG = TINY_WAV2VEC2


def test_exported_model_reproduces_the_espnet_model(tmp_path):
    init_dir = tmp_path / "init"
    write_random_model("wav2vec2", CONFIG, init_dir, token_list=TOKENS, seed=0)

    cmd = ["--token_list", ",".join(TOKENS), "--frontend", "hf_cnn", "--frontend_conf"]
    cmd += [f"model_name_or_path={init_dir}", "--encoder", "hf_ssl", "--encoder_conf"]
    cmd += [f"model_name_or_path={init_dir}", "--decoder", "none", "--normalize", "none"]
    cmd += ["--model_conf", "ctc_weight=1.0"]
    args = BrainASRTask.get_parser().parse_args(cmd)
    args.token_list = list(TOKENS)
    model = BrainASRTask.build_model(args)
    # Move every weight away from the initial checkpoint so the test sees what training changed.
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    config_file, model_file = tmp_path / "config.yaml", tmp_path / "model.pth"
    config_file.write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), model_file)

    out = export(str(config_file), str(model_file), str(tmp_path / "hf"))

    from transformers import AutoFeatureExtractor, AutoModelForCTC, Wav2Vec2CTCTokenizer

    hf = AutoModelForCTC.from_pretrained(str(out)).eval()
    wave = torch.randn(1, 3000)
    with torch.no_grad():
        enc, enc_lens = model.encode(wave, torch.tensor([3000]))
        espnet_logits = model.ctc.ctc_lo(enc)
        normed = (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-7)
        x = normed if model.frontend.normalize_waveform else wave
        hf_logits = hf(input_values=x).logits
    assert hf_logits.shape == espnet_logits.shape
    torch.testing.assert_close(hf_logits, espnet_logits, atol=1e-4, rtol=1e-4)
    assert model.frontend.normalize_waveform  # the random init directory asks for normalised input
    assert AutoFeatureExtractor.from_pretrained(str(out)).do_normalize
    vocab = Wav2Vec2CTCTokenizer.from_pretrained(str(out)).get_vocab()
    assert vocab["<pad>"] == 0 and vocab["|"] == TOKENS.index("<space>") and vocab["a"] == TOKENS.index("a")
