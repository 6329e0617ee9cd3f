"""config_value: one value of a YAML config for recipe scripts; pack_fmri: ESPnet's packer under the task's name."""

import zipfile

import yaml

from espnet_brain.bin.config_value import main as config_value
from espnet_brain.bin.pack_fmri import main as pack_fmri


def test_prints_a_nested_value_and_names_a_missing_key(tmp_path, capsys):
    conf = tmp_path / "train.yaml"
    conf.write_text(yaml.safe_dump({"frontend_conf": {"model_name_or_path": "exp/wavlm", "layer": 6}}))
    assert config_value([str(conf), "frontend_conf.model_name_or_path"]) == 0
    assert capsys.readouterr().out == "exp/wavlm\n"
    assert config_value([str(conf), "frontend_conf.window_s"]) == 1
    err = capsys.readouterr().err
    assert str(conf) in err and "'frontend_conf.window_s'" in err and "layer" in err


def test_pack_writes_the_layout_of_espnet_pack(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "config.yaml").write_text("n_voxels: 3\n")
    (tmp_path / "exp" / "model.pth").write_bytes(b"weights")
    (tmp_path / "mask.npy").write_bytes(b"mask")
    args = ["--train_config", "exp/config.yaml", "--model_file", "exp/model.pth", "--outpath", "exp/packed.zip"]
    assert pack_fmri(args + ["--option", "mask.npy"]) == 0
    with zipfile.ZipFile(tmp_path / "exp" / "packed.zip") as z:
        assert set(z.namelist()) == {"meta.yaml", "exp/config.yaml", "exp/model.pth", "mask.npy"}
        meta = yaml.safe_load(z.read("meta.yaml"))
    assert meta["yaml_files"] == {"train_config": "exp/config.yaml"}
    assert meta["files"] == {"model_file": "exp/model.pth"}
    assert pack_fmri(args[:2] + args[-2:]) == 1 and "--model_file" in capsys.readouterr().err
