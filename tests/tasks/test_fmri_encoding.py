"""FMRIEncodingTask: choices by name, model building, --print_config round trip, data loading."""

import argparse

import kaldiio
import numpy as np
import pytest
import soundfile
import torch
import yaml
from fixtures.lebel_encoding import make_tiny_wavlm

from espnet_brain.fmri.espnet_model import ESPnetFMRIEncodingModel
from espnet_brain.fmri.readout import FIRLinearHead, FIRLowRankHead
from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory):
    return make_tiny_wavlm(tmp_path_factory.mktemp("wavlm"))


def _args(wavlm_dir, *extra):
    cmd = ["--n_voxels", "6", "--frontend_conf", f"model_name_or_path={wavlm_dir}", "--frontend_conf", "layer=1"]
    cmd += ["--frontend_conf", "window_s=1.0", "--frontend_conf", "stride_s=0.5", *extra]
    return FMRIEncodingTask.get_parser().parse_args(cmd)


def test_parser_lists_the_components_by_name():
    actions = {a.dest: a for a in FMRIEncodingTask.get_parser()._actions}
    assert set(actions["frontend"].choices) == {"ssl_windows", "logmel"}
    assert set(actions["head"].choices) == {"fir_linear", "fir_lowrank"}
    assert set(actions["model"].choices) == {"fmri_encoding"}
    defaults = FMRIEncodingTask.get_parser().parse_args([])
    assert (defaults.frontend, defaults.head, defaults.model) == ("ssl_windows", "fir_lowrank", "fmri_encoding")


@pytest.mark.parametrize("head, cls", [("fir_linear", FIRLinearHead), ("fir_lowrank", FIRLowRankHead)])
def test_head_is_chosen_by_name(wavlm_dir, head, cls):
    extra = ["--head", head] + (["--head_conf", "rank=3"] if head == "fir_lowrank" else [])
    model = FMRIEncodingTask.build_model(_args(wavlm_dir, *extra))
    assert isinstance(model, ESPnetFMRIEncodingModel) and type(model.head) is cls
    assert model.head.n_voxels == 6 and model.head.input_size == 16
    if head == "fir_linear":
        assert model.head.proj.weight.shape == (6, 16 * 4)
    else:
        assert model.head.proj[0].weight.shape == (3, 16 * 4) and model.head.proj[1].weight.shape == (6, 3)
    # without adapters the pretrained speech model is frozen: only the head trains
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head"}


def test_lora_conf_makes_adapters_trainable(wavlm_dir):
    model = FMRIEncodingTask.build_model(_args(wavlm_dir, "--frontend_conf", 'lora_conf={"r": 2}'))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in names) and any(n.startswith("head.") for n in names)
    assert not any("base_layer" in n for n in names)


def test_n_voxels_is_required_and_head_conf_cannot_override_it(wavlm_dir):
    args = FMRIEncodingTask.get_parser().parse_args(["--frontend_conf", f"model_name_or_path={wavlm_dir}"])
    with pytest.raises(ValueError, match="--n_voxels"):
        FMRIEncodingTask.build_model(args)
    with pytest.raises(ValueError, match="head_conf.n_voxels"):
        FMRIEncodingTask.build_model(_args(wavlm_dir, "--head_conf", "n_voxels=3"))


def test_unknown_loss_type_names_the_key(wavlm_dir):
    with pytest.raises(ValueError, match="model_conf.loss_type"):
        FMRIEncodingTask.build_model(_args(wavlm_dir, "--model_conf", "loss_type=huber"))


def test_print_config_round_trips_through_config(wavlm_dir, tmp_path, monkeypatch):
    cmd = ["--head", "fir_linear", "--frontend_conf", f"model_name_or_path={wavlm_dir}", "--n_voxels", "6"]
    monkeypatch.setattr("sys.argv", ["fmri_encoding_train", "--print_config", *cmd])
    config = tmp_path / "config.yaml"
    with open(config, "w") as f:
        FMRIEncodingTask.print_config(file=f)
    printed = yaml.safe_load(config.read_text())
    assert printed["head"] == "fir_linear" and printed["frontend"] == "ssl_windows"
    # the defaults of the classes are printed: the config documents every knob
    assert printed["head_conf"]["delays"] == [1, 2, 3, 4] and printed["head_conf"]["normalize"] == "batch"
    assert printed["frontend_conf"]["window_s"] == 4.0 and printed["frontend_conf"]["layer"] == 9
    assert printed["model_conf"]["loss_type"] == "spatial_corr" and printed["model_conf"]["lanczos_window"] == 3
    args = FMRIEncodingTask.get_parser().parse_args(["--config", str(config)])
    assert args.head == "fir_linear" and args.frontend_conf["model_name_or_path"] == wavlm_dir
    assert args.n_voxels == 6 and args.model_conf["tr"] == 2.0
    args.frontend_conf.update(layer=1, window_s=1.0, stride_s=0.5)
    model = FMRIEncodingTask.build_model(args)
    assert type(model.head) is FIRLinearHead and model.geometry.delays == (1, 2, 3, 4)


def test_command_line_conf_entries_merge_with_the_config_file(wavlm_dir, tmp_path):
    # brain_enc.sh adds --model_conf voxel_mask_file=... to the recipe's YAML: both must survive
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"model_conf": {"loss_type": "mse"}, "frontend_conf": {"layer": 1}}))
    args = FMRIEncodingTask.get_parser().parse_args(
        ["--config", str(config), "--model_conf", "voxel_mask_file=m.npy", "--frontend_conf", "window_s=1.0"]
    )
    assert args.model_conf == {"loss_type": "mse", "voxel_mask_file": "m.npy"}
    assert args.frontend_conf == {"layer": 1, "window_s": 1.0}


def test_chunks_reach_the_model_through_espnet_data_loader(tmp_path):
    lengths = {"c0": 24000, "c1": 20000}
    with open(tmp_path / "wav.scp", "w") as f:
        for key, n in lengths.items():
            soundfile.write(tmp_path / f"{key}.flac", np.zeros(n, np.float32), 16000, subtype="PCM_16")
            f.write(f"{key} {tmp_path / key}.flac\n")
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/response.ark,{tmp_path}/response.scp") as writer:
        writer("c0", np.ones((5, 6), np.float32))
        writer("c1", np.ones((3, 6), np.float32))
    (tmp_path / "tr_start").write_text("c0 12.5\nc1 11.25\n")
    loader = FMRIEncodingTask.build_streaming_iterator(
        [
            (str(tmp_path / "wav.scp"), "speech", "sound"),
            (str(tmp_path / "response.scp"), "response", "kaldi_ark"),
            (str(tmp_path / "tr_start"), "tr_start", "text_float"),
        ],
        dtype="float32",
        batch_size=2,
        key_file=None,
        num_workers=0,
        preprocess_fn=None,
        collate_fn=FMRIEncodingTask.build_collate_fn(argparse.Namespace(), False),
        inference=False,
    )
    keys, batch = next(iter(loader))
    assert keys == ["c0", "c1"]
    assert batch["speech"].shape == (2, 24000) and batch["speech_lengths"].tolist() == [24000, 20000]
    assert batch["response"].shape == (2, 5, 6) and batch["response_lengths"].tolist() == [5, 3]
    assert batch["response"][1, 3:].abs().sum() == 0  # padding
    assert batch["tr_start"].shape == (2, 1) and "tr_start_lengths" not in batch
    assert torch.allclose(batch["tr_start"][:, 0], torch.tensor([12.5, 11.25]))


def test_init_reinitialises_the_head_but_keeps_the_pretrained_weights(wavlm_dir):
    plain = FMRIEncodingTask.build_model(_args(wavlm_dir))
    inited = FMRIEncodingTask.build_model(_args(wavlm_dir, "--init", "xavier_uniform"))
    pretrained = plain.frontend.state_dict()
    for key, value in inited.frontend.state_dict().items():
        if key in pretrained:
            torch.testing.assert_close(value, pretrained[key], msg=key)
    assert not torch.allclose(inited.head.proj[0].weight, plain.head.proj[0].weight)


@pytest.fixture(scope="module")
def speech_model_dirs(wavlm_dir, tmp_path_factory):
    from fixtures.hf_models import save_tiny_whisper

    whisper = save_tiny_whisper(tmp_path_factory.mktemp("whisper"), num_mel_bins=80, max_source_positions=1500)
    return {"wavlm": wavlm_dir, "whisper": whisper}


@pytest.mark.parametrize("kind", ["wavlm", "whisper"])
def test_lora_tuning_with_the_fmri_loss_changes_the_speech_features(speech_model_dirs, kind):
    """LoRA on q/k/v of the speech model (WavLM, whose attention needed a fix, and Whisper's encoder) trains on the
    encoding loss: every adapter gets a gradient and two Adam steps change the features."""
    from espnet_brain.fmri.chunking import cut_audio
    from espnet_brain.voxelwise.timing import stimulus_tr_times

    lora = 'lora_conf={"r": 2, "dropout": 0.0}'
    args = _args(speech_model_dirs[kind], "--frontend_conf", lora)
    model = FMRIEncodingTask.build_model(args).train()
    assert type(model.frontend.ssl).__name__ == ("WhisperSpeechModel" if kind == "whisper" else "SSLSpeechModel")
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(40 * 16000)).astype(np.float32)
    rows = stimulus_tr_times(40)[10:-5]
    start, end = model.geometry.audio_span(rows[0], rows[5])
    audio = torch.from_numpy(cut_audio(wav, start, end))[None]
    lengths = torch.tensor([audio.shape[1]])
    tr_start = torch.tensor([[rows[0] - start / 16000]])
    response = torch.from_numpy(rng.standard_normal((1, 6, 6)).astype(np.float32))
    with torch.no_grad():
        before, _ = model.frontend(audio, lengths)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    for step in range(2):  # lora_A gets a gradient once lora_B has left zero
        optimizer.zero_grad()
        loss, _, _ = model(audio, lengths, response, torch.tensor([6]), tr_start)
        loss.backward()
        adapters = {n: p.grad for n, p in model.named_parameters() if "lora_B" in n or (step and "lora_A" in n)}
        assert adapters and all(g is not None and g.abs().sum() > 0 for g in adapters.values()), step
        optimizer.step()
    assert not any("base_layer" in n for n, p in model.named_parameters() if p.requires_grad)
    with torch.no_grad():
        after, _ = model.frontend(audio, lengths)
    assert (after - before).abs().max() > 1e-4
