"""Articulatory features of LeBel-layout stories from the phone tier, on the stimulus grid
(espnet_brain.data.lebel_articulatory, espnet_brain.bin.articulatory_features)."""

import json

import numpy as np
import pytest

from espnet_brain.bin.articulatory_features import main
from espnet_brain.data.articulatory import ARTICULATORY_FEATURES
from espnet_brain.data.lebel_articulatory import story_articulatory_features, write_articulatory_features
from espnet_brain.data.textgrid import write_textgrid


@pytest.fixture(scope="module")
def tiny_lebel_dir(tmp_path_factory):
    from espnet_brain.simulate import ensure_corpus

    path = tmp_path_factory.mktemp("tiny_fmri")
    ensure_corpus(str(path), "tiny", 0, parts=["fmri"])
    return path / "lebel2023"


def _grid(tmp_path, phones, xmax=6.0):
    path = tmp_path / "story.TextGrid"
    write_textgrid(str(path), {"phone": phones, "word": [(0.0, xmax, "")]}, 0.0, xmax)
    return str(path)


def test_phones_land_on_the_grid_row_of_their_audio_time(tmp_path):
    # grid row k covers audio time [2k - 10, 2k - 8): the audio's first second is row 5, its third second row 6
    path = _grid(tmp_path, [(0.0, 0.5, ""), (0.5, 1.5, "AA1"), (1.5, 2.5, "S"), (2.5, 6.0, "sp")])
    x = story_articulatory_features(path, n_acquired=14)
    assert x.shape == (9, 22) and x.dtype == np.float32
    col = {f: i for i, f in enumerate(ARTICULATORY_FEATURES)}
    np.testing.assert_allclose(x[5, col["voiced"]], 0.5)  # AA, 0.5-1.5 s: all in row 5 ([0, 2) s)
    np.testing.assert_allclose(x[5, col["unvoiced"]], 0.25)  # S, 1.5-2.0 s of row 5
    np.testing.assert_allclose(x[6, col["unvoiced"]], 0.25)  # S, 2.0-2.5 s of row 6
    np.testing.assert_allclose(x[5, col["alveolar"]], 0.25)
    assert x[:5].sum() == 0 and x[7:].sum() == 0


def test_unknown_labels_are_skipped_with_a_warning(tmp_path, caplog):
    path = _grid(tmp_path, [(0.0, 1.0, "XX"), (1.0, 2.0, "B"), (2.0, 6.0, "")])
    x = story_articulatory_features(path, n_acquired=14)
    assert "XX" in caplog.text
    assert x[5, ARTICULATORY_FEATURES.index("bilabial")] == pytest.approx(0.5)


def test_features_of_the_tiny_corpus_equal_the_simulators_own(tmp_path, tiny_lebel_dir):
    """The simulator computes its articulatory block from the phones on the same grid: they must agree."""
    root = tiny_lebel_dir
    gt = root / "derivative" / "ground_truth" / "UTS01"
    model = json.loads((gt / "model.json").read_text())
    a, b = model["blocks"]["articulatory"]
    mean, std = np.array(model["feature_mean"])[a:b], np.array(model["feature_std"])[a:b]
    respdict = json.loads((root / "derivative" / "respdict.json").read_text())
    data = tmp_path / "data"
    data.mkdir()
    (data / "textgrid.scp").write_text(
        "".join(f"{s} {root / 'derivative' / 'TextGrids' / f'{s}.TextGrid'}\n" for s in respdict)
    )
    (data / "num_trs").write_text("".join(f"{s} {n}\n" for s, n in respdict.items()))
    paths = write_articulatory_features(str(data), str(tmp_path / "out"))
    assert sorted(paths) == sorted(respdict)
    for story, n in respdict.items():
        ours = np.load(paths[story])
        truth = np.load(gt / "features" / f"{story}.npy")[:, a:b] * std + mean
        assert ours.shape == (n - 5, 22)
        np.testing.assert_allclose(ours, truth, atol=1e-4)
    scp = (tmp_path / "out" / "feats.scp").read_text().split("\n")
    assert scp[0].split()[1].endswith(".npy")


def test_program_writes_each_data_dir_and_reports_errors(tmp_path, capsys):
    path = _grid(tmp_path, [(0.0, 0.5, ""), (0.5, 1.5, "AA1"), (1.5, 6.0, "")])
    data = tmp_path / "data"
    data.mkdir()
    (data / "textgrid.scp").write_text(f"s1 {path}\n")
    (data / "num_trs").write_text("s1 14\n")
    assert main(["--data_dir", str(data), "--output_dir", str(tmp_path / "out")]) == 0
    assert np.load(tmp_path / "out" / "s1.npy").shape == (9, 22)
    assert main(["--data_dir", str(tmp_path / "nothing"), "--output_dir", str(tmp_path / "o2")]) == 1
    assert "textgrid.scp does not exist" in capsys.readouterr().err
    (data / "num_trs").write_text("s2 14\n")
    assert main(["--data_dir", str(data), "--output_dir", str(tmp_path / "o3")]) == 1
    assert "only one of" in capsys.readouterr().err
