"""egs2/mini_speech/asr1: the recipe end to end on a few sentences, and the committed pretrained models."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.recipes import REPO, copy_recipe, run

from espnet_brain.asr.scoring import score
from espnet_brain.data.datadir import read_2columns
from espnet_brain.data.text import normalize_transcript
from espnet_brain.simulate.speech import resample_int16

COMMITTED = REPO / "egs2" / "mini_speech" / "asr1" / "models"
SPEECH_CONF = REPO / "egs2" / "mini_speech" / "asr1" / "conf"
WORDS = "the a of and to in is you that it he was for on are as with his they at be this have from".split()


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    rec = copy_recipe(tmp_path_factory.mktemp("repo"), "mini_speech")
    (rec / "words.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    run(rec, "--n_train", "24", "--n_heldout", "4", "--words", "words.txt", "--asr_args", "--max_epoch 1",
        "--out", "exp/exported")  # fmt: skip
    return rec


@pytest.mark.slow
def test_recipe_exports_both_models_with_their_cards(recipe):
    from transformers import AutoModelForCTC

    for model, arch in (("wav2vec2", "Wav2Vec2ForCTC"), ("wavlm", "WavLMForCTC")):
        out = recipe / "exp" / "exported" / model
        hf = AutoModelForCTC.from_pretrained(out)
        assert type(hf).__name__ == arch and hf.config.hidden_size == 96
        card = (out / "README.md").read_text()
        # The card's CER is the score of the recipe's own greedy decode of the test split.
        refs = read_2columns(recipe / "data" / "test" / "text")
        expected = score(refs, read_2columns(recipe / "exp" / f"asr_{model}" / "decode_test" / "text"))
        assert f"CER {expected.cer:.2f} %" in card and "on 4 sentences" in card
        assert "24 training sentences" in card and "--n_train 24" in card
        assert len((out / "train_log.txt").read_text().splitlines()) == 1  # one epoch, one line
        assert (out / "shape.yaml").is_file() and (out / "train.yaml").is_file()


@pytest.mark.slow
def test_rerunning_the_export_is_safe(recipe):
    card = recipe / "exp" / "exported" / "wavlm" / "README.md"
    before = card.read_text()
    run(recipe, "--stage", "5", "--models", "wavlm", "--n_train", "24", "--out", "exp/exported")
    assert card.read_text() == before


def test_help_lists_the_options():
    proc = run(REPO / "egs2" / "mini_speech" / "asr1", "--help")
    assert "--n_train" in proc.stdout + proc.stderr and "--models" in proc.stdout + proc.stderr


@pytest.mark.parametrize("model", ["wav2vec2", "wavlm"])
def test_committed_model_is_small_and_documented(model):
    d = COMMITTED / model
    size = sum(p.stat().st_size for p in d.iterdir())
    assert size < 25 * 2**20
    card = (d / "README.md").read_text()
    assert re.search(r"CER \d+\.\d+ %, WER \d+\.\d+ %", card) and "./run.sh" in card
    assert json.loads((d / "config.json").read_text())["hidden_size"] == 96  # mini_brain's BFE output width
    assert (d / "train_log.txt").read_text().count("epoch results") >= 1


def _greedy(model, audio: np.ndarray) -> str:
    with torch.no_grad():
        logits = model(torch.from_numpy(audio)[None]).logits[0]
    ids = logits.argmax(-1).tolist()
    vocab = {i: t for t, i in json.loads((COMMITTED / "wav2vec2" / "vocab.json").read_text()).items()}
    out, prev = [], None
    for i in ids:
        if i != prev and i != model.config.pad_token_id:
            out.append(vocab[i])
        prev = i
    return "".join(out).replace("|", " ").strip()


@pytest.mark.parametrize("model_name", ["wav2vec2", "wavlm"])
def test_committed_model_knows_speech_it_never_heard(model_name):
    """mini_brain's own sentences (none of them in the pretraining corpus), in a voice of mini_brain's set."""
    from transformers import AutoConfig, AutoModelForCTC

    from espnet_brain.simulate.espeak import get_synthesizer
    from espnet_brain.simulate.text import generate_sentences

    sentences = [s.text for s in generate_sentences(7, 6, 0, 0)["train"]]
    synth = get_synthesizer()
    refs, hyps, random_hyps = {}, {}, {}
    trained = AutoModelForCTC.from_pretrained(COMMITTED / model_name).eval()
    torch.manual_seed(0)
    random = AutoModelForCTC.from_config(AutoConfig.from_pretrained(COMMITTED / model_name)).eval()
    for i, text in enumerate(sentences):
        r = synth.synthesize(text, voice="en-us+f3", rate=170, pitch=50, seed=i)
        audio = resample_int16(r.audio, 22050, 16000)
        audio = (audio - audio.mean()) / (audio.std() + 1e-7)
        refs[str(i)] = normalize_transcript(text)
        hyps[str(i)] = _greedy(trained, audio)
        random_hyps[str(i)] = _greedy(random, audio)
    cer = score(refs, hyps).cer
    assert cer < 40.0, (cer, hyps)
    assert score(refs, random_hyps).cer > 80.0  # what a model that knows no speech gets


@pytest.mark.parametrize(
    "recipe_dir, option, model", [("mini_brain/asr1", "pretrained", "wav2vec2"), ("mini_brain/enc1", None, "wavlm")]
)
def test_mini_brain_recipes_default_to_the_committed_models(recipe_dir, option, model):
    rec = REPO / "egs2" / recipe_dir
    text = (rec / "run.sh").read_text()
    path = f"../../mini_speech/asr1/models/{model}"
    if option:
        assert re.search(rf"^{option}={re.escape(path)}\s", text, re.M)
    else:
        assert re.search(r"^speech_model=wavlm\s", text, re.M) and f"speech_model={path}" in text
    assert (rec / path / "config.json").is_file()


@pytest.mark.parametrize("mode", ["full", "scratch", "frozen", "adapter", "bfe"])
def test_rate25_configs_differ_from_the_defaults_only_in_the_bfe_stride(mode):
    import yaml

    conf = REPO / "egs2" / "mini_brain" / "asr1" / "conf"
    default = yaml.safe_load((conf / f"train_brain_{mode}.yaml").read_text())
    rate25 = yaml.safe_load((conf / "rate25" / f"train_brain_{mode}.yaml").read_text())
    # the default is the pretrained transformer's own 50 frames/s; conf/rate25 halves it
    assert (default["frontend_conf"]["stride"], rate25["frontend_conf"]["stride"]) == (1, 2)
    rate25["frontend_conf"]["stride"] = 1
    assert rate25 == default


def _model_configs():
    return sorted(p.stem for p in SPEECH_CONF.glob("*.yaml") if not p.stem.startswith("train_"))


@pytest.mark.parametrize("model", _model_configs())
def test_every_model_config_trains_from_its_own_random_weights(model, tmp_path):
    """run.sh builds exp/init_<model> as the architecture named by the config's first part; a variant's training
    config copied from another must not train the other model's weights."""
    import yaml

    from espnet_brain.bin.make_hf_model import main as make_hf_model
    from espnet_brain.hf.writer import read_model_config

    train = yaml.safe_load((SPEECH_CONF / f"train_{model}.yaml").read_text())
    assert train["frontend_conf"]["model_name_or_path"] == f"exp/init_{model}"
    assert train["encoder_conf"]["model_name_or_path"] == f"exp/init_{model}"
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n<unk>\n<space>\na\nb\n<sos/eos>\n")
    make_hf_model(["--model_type", model.split("_")[0], "--config", str(SPEECH_CONF / f"{model}.yaml"),
                   "--token_list", str(tokens), "--output_dir", str(tmp_path / "init")])  # fmt: skip
    written = json.loads((tmp_path / "init" / "config.json").read_text())
    assert written["num_hidden_layers"] == read_model_config(str(SPEECH_CONF / f"{model}.yaml"))["num_hidden_layers"]
    assert written["hidden_size"] == 96  # mini_brain's BFE output width
