"""fmri_encoding_inference: features of the frozen model (any layer) and a trained model's own predictions."""

import kaldiio
import numpy as np
import pytest
import soundfile
import torch
import yaml
from espnet2.fileio.read_text import read_2columns_text
from fixtures.lebel_encoding import make_tiny_wavlm, prepare_and_dump, tiny_lebel

from espnet_brain.bin.fmri_encoding_inference import main
from espnet_brain.fmri.inference import build_model
from espnet_brain.voxelwise.timing import stimulus_tr_times


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("infer")
    dump = prepare_and_dump(tiny_lebel(base / "corpus"), base, chunk_sets=[])
    wavlm = make_tiny_wavlm(base / "wavlm", num_hidden_layers=2)
    config = base / "train.yaml"
    conf = {
        "frontend_conf": {"model_name_or_path": wavlm, "layer": 2, "window_s": 1.0, "stride_s": 0.5},
        "head": "fir_linear",
        "model_conf": {"voxel_mask_file": str(dump / "voxel_mask.npy")},
    }
    config.write_text(yaml.safe_dump(conf))
    return dict(base=base, dump=dump, wavlm=wavlm, config=config)


def test_frozen_features_of_any_layer_on_the_stimulus_grid(setup, tmp_path):
    stories = setup["dump"] / "test" / "stories"
    args = ["--train_config", str(setup["config"]), "--data_dir", str(stories)]
    assert main(args + ["--output_dir", str(tmp_path / "l2")]) == 0
    assert main(args + ["--output_dir", str(tmp_path / "l0"), "--layer", "0"]) == 0
    n = int(read_2columns_text(str(stories / "num_trs"))["wheretheressmoke"])
    f2 = kaldiio.load_scp(str(tmp_path / "l2" / "feats.scp"))["wheretheressmoke"]
    f0 = kaldiio.load_scp(str(tmp_path / "l0" / "feats.scp"))["wheretheressmoke"]
    assert f2.shape == f0.shape == (n - 5, 16)
    assert not np.allclose(f2, f0)
    assert not (tmp_path / "l2" / "pred.scp").exists()  # an untrained head predicts nothing worth writing


def test_several_layers_in_one_pass_equal_one_pass_per_layer(setup, tmp_path):
    stories = setup["dump"] / "test" / "stories"
    args = ["--train_config", str(setup["config"]), "--data_dir", str(stories)]
    assert main(args + ["--output_dir", str(tmp_path / "layer{layer}"), "--layer", "2", "0"]) == 0
    for layer in (0, 2):
        assert main(args + ["--output_dir", str(tmp_path / f"alone{layer}"), "--layer", str(layer)]) == 0
        together = kaldiio.load_scp(str(tmp_path / f"layer{layer}" / "feats.scp"))["wheretheressmoke"]
        alone = kaldiio.load_scp(str(tmp_path / f"alone{layer}" / "feats.scp"))["wheretheressmoke"]
        assert together.shape == alone.shape
        np.testing.assert_allclose(together, alone, atol=1e-5)
    l0 = kaldiio.load_scp(str(tmp_path / "layer0" / "feats.scp"))["wheretheressmoke"]
    l2 = kaldiio.load_scp(str(tmp_path / "layer2" / "feats.scp"))["wheretheressmoke"]
    assert not np.allclose(l0, l2)  # the split hands each directory its own layer


def test_several_layers_need_a_directory_each(setup, tmp_path, capsys):
    stories = str(setup["dump"] / "test" / "stories")
    rc = main([
        "--train_config", str(setup["config"]), "--data_dir", stories, "--output_dir", str(tmp_path / "feats"),
        "--layer", "0", "2",
    ])  # fmt: skip
    assert rc == 1 and "put {layer} in the path" in capsys.readouterr().err


def test_spectral_baseline_features_on_the_same_grid(setup, tmp_path):
    stories = setup["dump"] / "test" / "stories"
    rc = main([
        "--train_config", str(setup["config"]), "--data_dir", str(stories), "--output_dir", str(tmp_path),
        "--frontend", "logmel", "--frontend_conf", "n_mels=12",
    ])  # fmt: skip
    assert rc == 0
    n = int(read_2columns_text(str(stories / "num_trs"))["wheretheressmoke"])
    feats = kaldiio.load_scp(str(tmp_path / "feats.scp"))["wheretheressmoke"]
    assert feats.shape == (n - 5, 12) and np.isfinite(feats).all()
    # the window grid of the config (window_s 1.0, stride_s 0.5) reached the spectral frontend
    model = build_model(str(setup["config"]), None, frontend="logmel")
    assert (model.frontend.window_s, model.frontend.stride_s) == (1.0, 0.5)
    with pytest.raises(ValueError, match="only for the speech model"):
        build_model(str(setup["config"]), None, layer=1, frontend="logmel")


def test_trained_model_predictions_are_its_story_outputs_on_the_response_rows(setup, tmp_path):
    config = yaml.safe_load(setup["config"].read_text())
    config["n_voxels"] = 60
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    model = build_model(str(tmp_path / "config.yaml"), None)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.head.parameters():
            p.normal_()
    torch.save(model.state_dict(), tmp_path / "model.pth")
    dirs = [str(setup["dump"] / s / "stories") for s in ("dev", "test")]
    rc = main([
        "--train_config", str(tmp_path / "config.yaml"), "--model_file", str(tmp_path / "model.pth"),
        "--data_dir", *dirs, "--output_dir", str(tmp_path / "dev"), str(tmp_path / "test"),
    ])  # fmt: skip
    assert rc == 0
    stories = setup["dump"] / "test" / "stories"
    n = int(read_2columns_text(str(stories / "num_trs"))["wheretheressmoke"])
    pred = kaldiio.load_scp(str(tmp_path / "test" / "pred.scp"))["wheretheressmoke"]
    assert pred.shape == (n - 20, 60)
    wav, _ = soundfile.read(read_2columns_text(str(stories / "wav.scp"))["wheretheressmoke"], dtype="float32")
    loaded = build_model(str(tmp_path / "config.yaml"), str(tmp_path / "model.pth"))
    _, expected = loaded.story_outputs(wav, stimulus_tr_times(n))
    np.testing.assert_allclose(pred, expected[10:-5], atol=1e-5)
    assert (tmp_path / "dev" / "pred.scp").is_file() and (tmp_path / "dev" / "feats.scp").is_file()


def test_a_trained_model_gives_features_of_its_own_layers_and_no_predictions(setup, tmp_path, capsys):
    config = yaml.safe_load(setup["config"].read_text())
    config["n_voxels"] = 60
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    model = build_model(str(tmp_path / "config.yaml"), None)
    torch.manual_seed(1)
    with torch.no_grad():  # a "tuned" speech model: its first transformer layer changed
        for name, p in model.frontend.named_parameters():
            if "encoder.layers.0." in name:
                p.add_(0.5 * torch.randn_like(p))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    stories = str(setup["dump"] / "test" / "stories")
    common = ["--train_config", str(tmp_path / "config.yaml"), "--data_dir", stories]
    trained = ["--model_file", str(tmp_path / "model.pth")]
    assert main(common + trained + ["--output_dir", str(tmp_path / "own")]) == 0
    assert main(common + trained + ["--output_dir", str(tmp_path / "tuned{layer}"), "--layer", "0", "1", "2"]) == 0
    assert main(common + ["--output_dir", str(tmp_path / "frozen{layer}"), "--layer", "0", "1"]) == 0

    def feats(d):
        return kaldiio.load_scp(str(tmp_path / d / "feats.scp"))["wheretheressmoke"]

    np.testing.assert_allclose(feats("tuned2"), feats("own"), atol=1e-5)  # its own layer, as it reads it
    np.testing.assert_allclose(feats("tuned0"), feats("frozen0"), atol=1e-5)  # below the change: the same
    assert not np.allclose(feats("tuned1"), feats("frozen1"), atol=1e-3)  # the changed layer
    assert not (tmp_path / "tuned2" / "pred.scp").exists()  # the readout fits layer 2 alone
    # a model that reads layer 1 dropped layer 2: it cannot be read
    config["frontend_conf"]["layer"] = 1
    (tmp_path / "config1.yaml").write_text(yaml.safe_dump(config))
    torch.save(build_model(str(tmp_path / "config1.yaml"), None).state_dict(), tmp_path / "model1.pth")
    rc = main([
        "--train_config", str(tmp_path / "config1.yaml"), "--model_file", str(tmp_path / "model1.pth"),
        "--data_dir", stories, "--output_dir", str(tmp_path / "x"), "--layer", "2",
    ])  # fmt: skip
    assert rc == 1 and "expected indices in [0, 1]" in capsys.readouterr().err


def test_frontend_conf_overrides_and_argument_errors(setup, tmp_path, capsys):
    stories = str(setup["dump"] / "test" / "stories")
    rc = main([
        "--train_config", str(setup["config"]), "--data_dir", stories, "--output_dir", str(tmp_path),
        "--frontend_conf", f"model_name_or_path={tmp_path / 'nowhere'}",
    ])  # fmt: skip
    assert rc == 1 and "model_name_or_path" in capsys.readouterr().err
    rc = main(["--train_config", str(setup["config"]), "--data_dir", stories, stories, "--output_dir", str(tmp_path)])
    assert rc == 1 and "as many of each" in capsys.readouterr().err


def test_window_features_are_what_the_grid_features_are_resampled_from(setup, tmp_path):
    from espnet_brain.voxelwise.lanczos import resample_matrix_np

    stories = setup["dump"] / "test" / "stories"
    rc = main([
        "--train_config", str(setup["config"]), "--data_dir", str(stories), "--output_dir", str(tmp_path / "l{layer}"),
        "--layer", "0", "2", "--write_windows",
    ])  # fmt: skip
    assert rc == 0
    n = int(read_2columns_text(str(stories / "num_trs"))["wheretheressmoke"])
    windows = {}
    for layer in (0, 2):
        d = tmp_path / f"l{layer}"
        win = kaldiio.load_scp(str(d / "windows.scp"))["wheretheressmoke"]
        ends = kaldiio.load_scp(str(d / "window_ends.scp"))["wheretheressmoke"][:, 0]
        grid = kaldiio.load_scp(str(d / "feats.scp"))["wheretheressmoke"]
        assert win.shape == (len(ends), 16) and np.allclose(np.diff(ends), 0.5)  # the config's stride
        # the model's default summary: the mean over each TR of the windows' last stride
        resampled = resample_matrix_np("tr_mean", ends, stimulus_tr_times(n), tr=2.0, span=0.5) @ win
        np.testing.assert_allclose(resampled, grid, atol=1e-4)
        windows[layer] = win
    assert not np.allclose(windows[0], windows[2])
