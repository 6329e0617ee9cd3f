"""Linear probes recover planted signals across held-out stories, do not score by temporal leakage, and the target
builders put intervals and words in the TR windows holding their midpoints."""

import numpy as np
import pytest

from espnet_brain.voxelwise.probes import (
    ProbeResult,
    compare_probes,
    embedding_targets,
    interval_targets,
    plot_probe_layers,
    probe_scores,
    read_embedding_table,
    speech_words,
    word_embeddings,
    word_features,
    word_phonemes,
)
from espnet_brain.voxelwise.timing import stimulus_tr_times

STORIES = ["a", "b", "c", "d"]


def planted(seed: int = 0, n: int = 120, noise: float = 0.5):
    """Features (n, 20) per story; acoustic targets from columns 0-4, semantic from 10-14, pure-noise controls."""
    rng = np.random.default_rng(seed)
    feats = {s: rng.standard_normal((n, 20)) for s in STORIES}
    w_ac, w_se = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    acoustic = {s: feats[s][:, 0:5] @ w_ac + noise * rng.standard_normal((n, 3)) for s in STORIES}
    semantic = {s: feats[s][:, 10:15] @ w_se + noise * rng.standard_normal((n, 3)) for s in STORIES}
    control = {s: rng.standard_normal((n, 3)) for s in STORIES}
    return feats, acoustic, semantic, control


def test_planted_signals_are_recovered_and_controls_score_near_zero():
    feats, acoustic, semantic, control = planted()
    ac = probe_scores(feats, acoustic, target_names=["a0", "a1", "a2"])
    se = probe_scores(feats, semantic)
    assert isinstance(ac, ProbeResult) and ac.r.shape == (3,) and ac.n_samples == 4 * 120
    assert ac.mean_r > 0.5 and se.mean_r > 0.5, (ac.mean_r, se.mean_r)
    assert np.all(ac.r > 0.5) and np.all(se.r > 0.5)
    assert abs(probe_scores(feats, control).mean_r) < 0.15
    # without the semantic columns the features know nothing of the semantic targets (the acoustic ones stay)
    no_semantic = {s: np.delete(x, np.arange(10, 15), axis=1) for s, x in feats.items()}
    assert abs(probe_scores(no_semantic, semantic).mean_r) < 0.15
    assert probe_scores(no_semantic, acoustic).mean_r > 0.5
    d = ac.as_dict()
    assert d["target_names"] == ["a0", "a1", "a2"] and d["n_samples"] == 480 and d["mean_r"] == pytest.approx(ac.mean_r)


def test_unrelated_random_walks_do_not_score_through_temporal_leakage():
    # smooth features and a slowly drifting target: a probe evaluated on TRs whose neighbours it was trained on
    # (rows shuffled between folds) interpolates the drift (r ~ 0.5 here); held-out stories leave it nothing
    rng = np.random.default_rng(0)
    feats, walks = {}, {}
    for s in STORIES:
        x = rng.standard_normal((140, 20))
        feats[s] = np.stack([x[i : i + 20].mean(0) for i in range(120)])  # 20-TR moving average
        walks[s] = np.cumsum(rng.standard_normal((120, 8)), axis=0)
    result = probe_scores(feats, walks)
    assert abs(result.mean_r) < 0.25, result.r


def test_story_level_offsets_are_not_scored_by_default():
    # targets that only differ in level between stories: no within-story variation, so nothing to probe
    feats, _, _, _ = planted()
    levels = {s: np.full((120, 1), float(i)) for i, s in enumerate(STORIES)}
    assert np.isnan(probe_scores(feats, levels).r[0])
    raw = probe_scores(feats, levels, center_per_story=False)
    assert np.isfinite(raw.r[0])


def test_mismatched_rows_and_missing_stories_are_named():
    feats, acoustic, _, _ = planted()
    short = dict(acoustic, c=acoustic["c"][:-3])
    with pytest.raises(ValueError, match=r"'c'.*\(120, 20\).*\(117, 3\)"):
        probe_scores(feats, short)
    with pytest.raises(ValueError, match="'d'"):
        probe_scores(feats, {s: y for s, y in acoustic.items() if s != "d"})
    with pytest.raises(ValueError, match="'e'"):
        probe_scores(feats, acoustic, stories=["a", "e"])
    with pytest.raises(ValueError, match="at least 2 stories.*'b'"):
        probe_scores(feats, acoustic, stories=["b"])
    # restricting to a subset that both have is fine
    assert probe_scores(feats, acoustic, stories=["a", "b", "c"]).n_samples == 360


def test_zero_variance_target_is_nan_and_left_out_of_the_mean():
    feats, acoustic, _, _ = planted()
    with_constant = {s: np.column_stack([y, np.full(len(y), 3.0)]) for s, y in acoustic.items()}
    result = probe_scores(feats, with_constant)
    assert np.isnan(result.r[3]) and np.all(np.isfinite(result.r[:3]))
    assert result.mean_r == pytest.approx(np.mean(result.r[:3]))
    assert result.as_dict()["r"][3] is None


def test_interval_targets_count_midpoints_per_window():
    grid = np.array([0.0, 2.0, 4.0])  # windows [0, 2), [2, 4), [4, 6)
    phones = [
        (0.0, 0.0, ""),
        (0.0, 1.0, "AH"),  # midpoint 0.5 -> window 0
        (1.0, 3.0, "B"),  # midpoint 2.0, on the boundary -> window 1 (the later one)
        (3.0, 3.4, "sp"),  # silence
        (3.4, 3.8, "AH"),  # 3.6 -> window 1
        (3.8, 4.4, "{BR}"),  # non-speech
        (4.4, 4.6, "K"),  # 4.5 -> window 2
        (5.5, 6.5, "AH"),  # 6.0 -> after the last window, dropped
        (-2.0, -1.0, "B"),  # before the grid
    ]
    counts, labels = interval_targets(phones, grid, 2.0)
    assert labels == ["AH", "B", "K"]
    np.testing.assert_array_equal(counts, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    counts, labels = interval_targets(phones, grid, 2.0, vocab=["K", "AH", "ZH"])
    assert labels == ["K", "AH", "ZH"]
    np.testing.assert_array_equal(counts, [[0, 1, 0], [0, 1, 0], [1, 0, 0]])
    # on the LeBel grid (window starts): the audio starts 10 s after the first window, in window 5
    grid = stimulus_tr_times(30, midpoint=False)
    counts, _ = interval_targets([(0.1, 0.3, "AH")], grid, 2.0)
    assert counts.shape == (25, 1) and counts[5, 0] == 1 and counts.sum() == 1


def test_embedding_targets_average_known_words_per_window():
    table = {"the": np.array([1.0, 0.0]), "Cat": np.array([0.0, 2.0]), "sat": np.array([3.0, 3.0])}
    grid = np.array([0.0, 2.0, 4.0])
    words = [
        (0.0, 1.0, "The"),  # 0.5 -> window 0 (lower-cased lookup)
        (1.0, 1.6, "cat"),  # 1.3 -> window 0 ("Cat" in the table)
        (1.6, 2.4, "sat"),  # 2.0, on the boundary -> window 1
        (2.4, 3.0, "zyzzyva"),  # missing from the table
        (3.0, 3.2, "sp"),  # silence: neither used nor missing
        (3.2, 3.6, "{LG}"),
    ]
    emb, missing = embedding_targets(words, table, grid, 2.0)
    np.testing.assert_allclose(emb, [[0.5, 1.0], [3.0, 3.0], [0.0, 0.0]])
    assert missing == pytest.approx(1 / 4)
    emb, missing = embedding_targets([(0.0, 1.0, "sp")], table, grid, 2.0)
    assert missing == 0.0 and not emb.any()


def test_read_embedding_table_text_header_npz_and_malformed_lines(tmp_path):
    text = tmp_path / "vectors.txt"
    text.write_text("2 3\nthe 0.1 0.2 0.3\nCat -1 0 1e-1\n")
    table = read_embedding_table(text)
    assert sorted(table) == ["Cat", "the"]
    np.testing.assert_allclose(table["Cat"], [-1.0, 0.0, 0.1], rtol=1e-6)
    plain = tmp_path / "glove.txt"
    plain.write_text("a 1 2\nb 3 4\n")
    np.testing.assert_allclose(read_embedding_table(plain)["b"], [3.0, 4.0])
    npz = tmp_path / "vectors.npz"
    np.savez(npz, words=np.array(["x", "y"]), vectors=np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(read_embedding_table(npz)["y"], [3.0, 4.0])
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 3 four\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2:"):
        read_embedding_table(bad)
    bad.write_text("2 3\na 1 2\nb 3 4\n")  # the header says 3 values per vector
    with pytest.raises(ValueError, match=r"bad\.txt:2:.*header"):
        read_embedding_table(bad)
    bad.write_text("a 1 2\nlonely\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2:"):
        read_embedding_table(bad)
    np.savez(npz, words=np.array(["x"]), vecs=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="vectors"):
        read_embedding_table(npz)


def test_plot_probe_layers_writes_a_png(tmp_path):
    path = plot_probe_layers({"frozen": {0: 0.1, 2: 0.3, 1: 0.2}, "tuned": {"0": 0.2, "1": None}}, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000 and path.endswith("p.png")


def test_compare_probes_finds_the_planted_gain_and_not_a_null_one():
    feats, acoustic, semantic, _ = planted()
    no_semantic = {s: np.delete(x, np.arange(10, 15), axis=1) for s, x in feats.items()}
    gain = compare_probes(probe_scores(no_semantic, semantic), probe_scores(feats, semantic))
    assert gain["mean_diff"] > 0.5 and gain["ci_low"] > 0 and gain["p"] < 0.01 and gain["wins"] == 1.0
    # the acoustic columns are in both: two probes of the same information with independent extra noise columns
    rng = np.random.default_rng(3)
    extra = [{s: np.c_[x, rng.standard_normal((len(x), 5))] for s, x in feats.items()} for _ in range(2)]
    null = compare_probes(probe_scores(extra[0], acoustic), probe_scores(extra[1], acoustic))
    assert null["ci_low"] < 0 < null["ci_high"] and null["p"] > 0.05
    with pytest.raises(ValueError, match="different"):
        compare_probes(probe_scores(feats, acoustic), probe_scores(feats, semantic))
    with pytest.raises(ValueError, match="no predictions"):
        compare_probes(ProbeResult(np.zeros(3), 0.0, None, 480), probe_scores(feats, semantic))


def test_word_features_average_the_windows_that_overlap_each_word():
    ends = np.arange(1, 11) * 0.5  # windows ending at 0.5 .. 5.0 s, stride 0.5
    feats = np.arange(10, dtype=float)[:, None] * [1.0, -1.0]
    words = [(0.6, 0.9, "a"), (1.2, 2.1, "b"), (4.6, 4.9, "c")]
    out = word_features(feats, ends, words)
    # "a": the window ending at 1.0 (its last 0.5 s holds the word); "b": ends 1.5, 2.0, 2.5; "c": end 5.0
    np.testing.assert_allclose(out[:, 0], [1.0, 3.0, 9.0])
    np.testing.assert_allclose(out[:, 1], -out[:, 0])
    with pytest.raises(ValueError, match="'late' at 5.20-5.40 s lies outside"):
        word_features(feats, ends, [(5.2, 5.4, "late")])
    with pytest.raises(ValueError, match="increase"):
        word_features(feats, ends[::-1], words)


def test_word_targets_phonemes_without_stress_and_embeddings():
    words = speech_words([(0, 1, ""), (1, 2, "Cat"), (2, 2.2, "sp"), (2.2, 3, "{NS}"), (3, 4, "dog")])
    assert words == [(1.0, 2.0, "cat"), (3.0, 4.0, "dog")]
    table = {"cat": np.ones(3), "Dog": np.zeros(3)}
    assert speech_words([(1, 2, "cat"), (2, 3, "emu")], table) == [(1.0, 2.0, "cat")]
    np.testing.assert_array_equal(word_embeddings(words, table), [[1, 1, 1], [0, 0, 0]])
    with pytest.raises(ValueError, match="emu"):
        word_embeddings([(1.0, 2.0, "emu")], table)
    # a table with a word in two cases: the lower-case entry wins, whatever the order (as in embedding_targets)
    both = {"dog": np.ones(3), "Dog": np.zeros(3)}
    np.testing.assert_array_equal(word_embeddings([(3.0, 4.0, "dog")], both), [[1, 1, 1]])
    phones = [(1.0, 1.3, "K"), (1.3, 1.6, "AE1"), (1.6, 2.0, "T"), (2.0, 2.2, "sp"), (3.0, 3.5, "D"),
              (3.5, 3.8, "AO0"), (3.8, 4.0, "G")]  # fmt: skip
    vocab = ["AE", "AO", "D", "G", "K", "T"]
    np.testing.assert_array_equal(word_phonemes(words, phones, vocab), [[1, 0, 0, 0, 1, 1], [0, 1, 1, 1, 0, 0]])
