"""Ridge encoding on the simulator's true features reaches the known noise ceiling; a misalignment does not.

The corpus is the tiny preset with more and longer stories (16 x 300 s of training, a 240 s test story with 4
repeats), which makes the ridge estimate good enough for >= 90 % of the ceiling on every seed tried (0.91-0.92 on
seeds 0-2; with the 132 delayed columns of the hierarchical simulator, 10 x 240 s reach only 0.87).
"""

import json
import logging

import kaldiio
import numpy as np
import pytest
from fixtures.lebel_encoding import prepare_and_dump, tiny_lebel

from espnet_brain.bin.ridge_encoding import main
from espnet_brain.voxelwise.io import read_arrays
from espnet_brain.voxelwise.noise_ceiling import noise_ceiling
from espnet_brain.voxelwise.report import voxel_scores
from espnet_brain.voxelwise.stories import design_matrix, fit_predict

SIZE = {"fmri": {"n_train_stories": 16, "story_seconds": 300.0, "test_story_seconds": 240.0}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("ridge")
    root = tiny_lebel(base / "corpus", SIZE)
    # Stories only (no chunks): the ridge needs the dumped responses, not the training chunks.
    dump = prepare_and_dump(root, base, chunk_sets=[])
    gt = root / "derivative" / "ground_truth" / "UTS01"
    return dict(root=root, dump=dump, gt=gt, rois=json.loads((gt / "roi.json").read_text()))


def _responses(dump):
    train = read_arrays(str(dump / "train" / "stories" / "response.scp"))
    train.update(read_arrays(str(dump / "dev" / "stories" / "response.scp")))
    return train


def _score(corpus, preds):
    dump = corpus["dump"]
    test = read_arrays(str(dump / "test" / "stories" / "response.scp"))["wheretheressmoke"]
    reps = read_arrays(str(dump / "test" / "stories" / "repeats.scp"))["wheretheressmoke"]
    r = voxel_scores(preds["wheretheressmoke"], test, None)
    return r, noise_ceiling(reps, reference="mean")


def test_true_features_reach_the_noise_ceiling_on_signal_voxels_and_nothing_on_noise_voxels(corpus):
    feats = read_arrays(str(corpus["gt"] / "features"))
    train = _responses(corpus["dump"])
    preds, model = fit_predict(feats, train, {"wheretheressmoke": feats["wheretheressmoke"]})
    r, ceiling = _score(corpus, preds)
    signal = np.array(corpus["rois"]["auditory"] + corpus["rois"]["semantic"])
    noise = np.array(corpus["rois"]["noise"])
    fraction = r[signal].mean() / ceiling[signal].mean()
    print(f"fraction of ceiling on signal voxels: {fraction:.3f}, noise voxels mean r {r[noise].mean():.3f}")
    assert fraction >= 0.90, fraction
    reliable = signal[ceiling[signal] > 0.2]  # the per-voxel ratio is meaningless where the ceiling is ~0
    assert len(reliable) > 0.8 * len(signal) and np.median(r[reliable] / ceiling[reliable]) >= 0.90
    assert abs(r[noise].mean()) < 0.06 and np.median(np.abs(r[noise])) < 0.15
    # the default penalty grid: 1 to 1e8 (himalaya's convention; two decades below the Huth-lab grid squared)
    assert model.alphas_.min() == pytest.approx(1.0) and model.alphas_.max() == pytest.approx(1e8)


@pytest.mark.parametrize("shift", [2, 4])
def test_shifting_the_responses_by_a_few_trs_loses_most_of_the_fit(corpus, shift):
    feats = read_arrays(str(corpus["gt"] / "features"))
    # each training story's responses move `shift` TRs later, as a wrong TR alignment would do
    train = {s: np.roll(y, shift, axis=0) for s, y in _responses(corpus["dump"]).items()}
    preds, _ = fit_predict(feats, train, {"wheretheressmoke": feats["wheretheressmoke"]})
    r, ceiling = _score(corpus, preds)
    signal = np.array(corpus["rois"]["auditory"] + corpus["rois"]["semantic"])
    assert r[signal].mean() / ceiling[signal].mean() < 0.6


def test_wrong_delays_lose_the_fit(corpus):
    feats = read_arrays(str(corpus["gt"] / "features"))
    test = {"wheretheressmoke": feats["wheretheressmoke"]}
    preds, _ = fit_predict(feats, _responses(corpus["dump"]), test, delays=[6, 7])
    r, ceiling = _score(corpus, preds)
    signal = np.array(corpus["rois"]["auditory"] + corpus["rois"]["semantic"])
    assert r[signal].mean() / ceiling[signal].mean() < 0.6


def test_design_matrix_delays_reach_into_the_rows_before_the_responses():
    x = np.arange(30, dtype=np.float64)[:, None] * np.array([[1.0, -2.0]])  # (N - 5 = 30, 2)
    d = design_matrix(x, [1, 3])
    assert d.shape == (15, 4)
    rows = x[10:-5]
    z = (x - rows.mean(0)) / rows.std(0)
    # response row 0 is grid row 10: delay 1 sees grid row 9, delay 3 grid row 7 (before the response rows)
    np.testing.assert_allclose(d[0], np.concatenate([z[9], z[7]]), atol=1e-6)
    np.testing.assert_allclose(d[:, :2].mean(0), (z[9:24]).mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="stimulus grid"):
        design_matrix(np.zeros((12, 2)), [1])


def test_row_mismatch_between_features_and_responses_is_named(corpus):
    feats = read_arrays(str(corpus["gt"] / "features"))
    train = _responses(corpus["dump"])
    story = sorted(train)[0]
    feats[story] = feats[story][:-1]
    with pytest.raises(ValueError, match=story):
        fit_predict(feats, train, {})


def test_command_line_writes_predictions_and_the_alpha_convention(corpus, tmp_path):
    dump, gt = corpus["dump"], corpus["gt"]
    rc = main([
        "--train_feats", str(gt / "features"),
        "--train_responses", str(dump / "train" / "stories" / "response.scp"),
        "--train_responses", str(dump / "dev" / "stories" / "response.scp"),
        "--test_feats", str(gt / "features"), "--alphas", "logspace(1,5,5)", "--output_dir", str(tmp_path),
    ])  # fmt: skip
    assert rc == 0
    preds = kaldiio.load_scp(str(tmp_path / "pred.scp"))
    assert preds["wheretheressmoke"].shape == (read_arrays(str(dump / "test" / "stories" / "response.scp"))[
        "wheretheressmoke"].shape)  # fmt: skip
    settings = (tmp_path / "ridge.yaml").read_text()
    assert "S/(S^2 + alpha)" in settings and "sqrt(alpha)" in settings
    assert set(np.load(tmp_path / "best_alphas.npy")) <= {10.0, 100.0, 1000.0, 10000.0, 100000.0}


def test_a_corpus_too_small_for_the_folds_gets_fewer_and_says_so(tmp_path, caplog):
    rng = np.random.default_rng(0)
    feats, resp = tmp_path / "feats", tmp_path / "resp"
    feats.mkdir()
    resp.mkdir()
    lines = []
    for story, n in (("a", 100), ("b", 68)):  # N acquired: 80 + 48 = 128 response rows in 40-TR chunks
        x = rng.standard_normal((n - 5, 3))
        np.save(feats / f"{story}.npy", x)
        np.save(resp / f"{story}.npy", design_matrix(x, [1, 2])[:, :2] + 0.1 * rng.standard_normal((n - 20, 2)))
        lines.append(f"{story} {resp / story}.npy\n")
    (tmp_path / "resp.scp").write_text("".join(lines))
    args = ["--train_feats", str(feats), "--train_responses", str(tmp_path / "resp.scp"), "--test_feats", str(feats)]
    with caplog.at_level(logging.WARNING):
        assert main(args + ["--output_dir", str(tmp_path / "out")]) == 0
    # 3 chunks of 40 TRs, the last 8 TRs joining the third (alone they would be a fold of their own)
    assert "cannot make n_splits=5 folds; using 3 folds" in caplog.text and "--chunk_len" in caplog.text
    assert "3 folds of shuffled contiguous chunks of 40 TRs" in (tmp_path / "out" / "ridge.yaml").read_text()
    preds = kaldiio.load_scp(str(tmp_path / "out" / "pred.scp"))
    assert preds["a"].shape == (80, 2) and preds["b"].shape == (48, 2)
