"""probe_features end to end on directories of <story>.npy: the report files, and a tuned feature set that carries
the semantic signal beating a frozen one that does not."""

import json

import numpy as np
import pytest

from espnet_brain.bin.probe_features import main

STORIES = ["a", "b", "c", "d"]
N = 120
TRIM = (3, 2)  # the features have 5 more rows than the targets


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Ground truth (N, 8): acoustic columns 0-3, semantic 4-7; frozen features carry only the acoustic part,
    tuned features both; features are on a longer grid (N + 5 rows, the targets are rows 3 .. N + 2)."""
    base = tmp_path_factory.mktemp("probes")
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((16, 16))
    for d in ("truth", "frozen0", "frozen1", "tuned0", "tuned1"):
        (base / d).mkdir()
    for s in STORIES:
        latent = rng.standard_normal((N + sum(TRIM), 8))  # acoustic latent 0-3, semantic 4-7
        rows = slice(TRIM[0], TRIM[0] + N)
        np.save(base / "truth" / f"{s}.npy", latent[rows] + 0.3 * rng.standard_normal((N, 8)))
        noise = rng.standard_normal((N + sum(TRIM), 8))
        frozen = np.concatenate([latent[:, :4], noise[:, :4]], axis=1)
        tuned = latent
        np.save(base / "frozen0" / f"{s}.npy", frozen @ mix[:8, :8])
        np.save(base / "frozen1" / f"{s}.npy", frozen @ mix[8:, 8:] + 0.5 * noise)
        np.save(base / "tuned0" / f"{s}.npy", tuned @ mix[:8, :8])
        np.save(base / "tuned1" / f"{s}.npy", tuned @ mix[8:, 8:] + 0.5 * noise)
    return base


def _feats(base):
    return [a for n in ("frozen", "tuned") for k in (0, 1) for a in ("--feats", f"{n}:{k}={base / f'{n}{k}'}")]


def test_report_files_and_tuned_beats_frozen_on_semantic(corpus, tmp_path):
    out = tmp_path / "out"
    truth = corpus / "truth"
    rc = main([
        *_feats(corpus), "--targets", f"acoustic={truth}:0-3", "--targets", f"semantic={truth}:4-",
        "--trim", *map(str, TRIM), "--output_dir", str(out),
    ])  # fmt: skip
    assert rc == 0
    report = json.loads((out / "probes.json").read_text())
    res = report["results"]
    assert set(res) == {"frozen", "tuned"} and set(res["tuned"]) == {"0", "1"}
    semantic = res["tuned"]["1"]["semantic"]
    assert len(semantic["r"]) == 4 and semantic["n_samples"] == 4 * N
    for layer in ("0", "1"):
        assert res["tuned"][layer]["semantic"]["mean_r"] > 0.5
        assert abs(res["frozen"][layer]["semantic"]["mean_r"]) < 0.15
        assert res["tuned"][layer]["semantic"]["mean_r"] > res["frozen"][layer]["semantic"]["mean_r"] + 0.4
        assert res["frozen"][layer]["acoustic"]["mean_r"] > 0.5 and res["tuned"][layer]["acoustic"]["mean_r"] > 0.5
    table = (out / "probes.md").read_text()
    assert "| system | layer | acoustic | semantic |" in table
    for system in ("frozen", "tuned"):
        for layer in ("0", "1"):
            row = next(line for line in table.splitlines() if line.startswith(f"| {system} | {layer} |"))
            assert f"{res[system][layer]['semantic']['mean_r']:.3f}" in row
    assert (out / "probes_acoustic.png").stat().st_size > 1000 and (out / "probes_semantic.png").exists()
    # every layer of the tuned system against the frozen one (the first --feats), with its test statistics
    assert report["reference"] == "frozen" and set(report["comparisons"]) == {"tuned"}
    for layer in ("0", "1"):
        gain = report["comparisons"]["tuned"][layer]["semantic"]
        diff = res["tuned"][layer]["semantic"]["mean_r"] - res["frozen"][layer]["semantic"]["mean_r"]
        assert gain["mean_diff"] == pytest.approx(diff) and gain["ci_low"] > 0.3 and gain["p"] < 0.01
        row = next(line for line in table.splitlines() if line.startswith(f"| tuned | {layer} | semantic |"))
        assert f"{diff:+.3f} [" in row and "100% of 4" in row
    assert "| system - frozen |" in table


def test_reference_system_is_chosen_and_a_missing_one_named(corpus, tmp_path, capsys):
    truth = corpus / "truth"
    args = [*_feats(corpus), "--targets", f"semantic={truth}:4-", "--trim", *map(str, TRIM)]
    assert main([*args, "--reference", "tuned", "--n_resamples", "200", "--output_dir", str(tmp_path / "t")]) == 0
    loss = json.loads((tmp_path / "t" / "probes.json").read_text())["comparisons"]["frozen"]["1"]["semantic"]
    assert loss["ci_high"] < -0.3
    assert main([*args, "--reference", "lora", "--output_dir", str(tmp_path / "x")]) == 1
    assert "--reference 'lora'" in capsys.readouterr().err


def test_row_mismatch_without_trim_and_bad_arguments_are_named(corpus, tmp_path, capsys):
    def fails(*args: str) -> str:
        assert main([*args, "--output_dir", str(tmp_path)]) == 1
        return capsys.readouterr().err

    frozen0 = _feats(corpus)[:2]
    semantic = ["--targets", f"semantic={corpus / 'truth'}:4-"]
    err = fails(*frozen0, *semantic)  # the features have 5 rows more than the targets
    assert "frozen0" in err and "'a'" in err and "--trim" in err
    assert "NAME:LAYER=SOURCE" in fails("--feats", "frozen=x", *semantic)
    assert "'4-9'" in fails(*frozen0, "--targets", f"semantic={corpus / 'truth'}:4-9", "--trim", "3", "2")
    assert "at least 2 stories" in fails(*frozen0, *semantic, "--trim", "3", "2", "--stories", "a")
    assert "missing" in fails(*frozen0, "--targets", f"semantic={tmp_path / 'missing'}")
    assert not (tmp_path / "probes.json").exists()


@pytest.fixture(scope="module")
def word_corpus(tmp_path_factory):
    """Stories of words from a 200-word vocabulary, TextGrids, an embedding table, and window features every 0.25 s:
    "tuned" windows carry the embedding and the phonemes of the word being heard, "frozen" ones its phonemes only."""
    import kaldiio

    from espnet_brain.data.textgrid import write_textgrid

    base = tmp_path_factory.mktemp("words")
    rng = np.random.default_rng(1)
    phonemes = ["AA", "B", "K", "S", "T", "IY"]
    vocab = {f"w{i}": (rng.standard_normal(4), rng.choice(phonemes, rng.integers(2, 4))) for i in range(200)}
    (base / "emb.txt").write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, (v, _) in vocab.items()))
    mix = rng.standard_normal((10, 12))
    for d in ("tg", "frozen", "tuned"):
        (base / d).mkdir()
    writers = {
        (d, kind): kaldiio.WriteHelper(f"ark,scp:{base / d / kind}.ark,{base / d / kind}.scp")
        for d in ("frozen", "tuned") for kind in ("windows", "window_ends")
    }  # fmt: skip
    for s in STORIES:
        t, words, phones = 0.5, [(0.0, 0.5, "")], [(0.0, 0.5, "")]
        for w in rng.choice(sorted(vocab), 60):
            length = rng.uniform(0.4, 0.8)
            seq = vocab[w][1]
            words.append((t, t + length, w))
            edges = np.linspace(t, t + length, len(seq) + 1)
            phones += [(a, b, f"{p}1" if p in ("AA", "IY") else p) for a, b, p in zip(edges[:-1], edges[1:], seq)]
            words.append((t + length, t + length + 0.1, "sp"))
            phones.append((t + length, t + length + 0.1, "sp"))
            t += length + 0.1
        write_textgrid(str(base / "tg" / f"{s}.TextGrid"), {"phone": phones, "word": words}, 0.0, t)
        ends = np.arange(0.25, t + 0.5, 0.25)
        latent = np.zeros((len(ends), 10))
        for i, e in enumerate(ends):
            for a, b, w in words:
                if w in vocab and a < e and e - 0.25 < b:
                    latent[i, :4] = vocab[w][0]
                    latent[i, 4:] = [list(vocab[w][1]).count(p) for p in phonemes]
        noise = rng.standard_normal((len(ends), 4))
        frozen = np.concatenate([noise, latent[:, 4:]], axis=1)
        for d, x in (("frozen", frozen), ("tuned", latent)):
            writers[d, "windows"](s, (x @ mix + 0.3 * rng.standard_normal((len(ends), 12))).astype(np.float32))
            writers[d, "window_ends"](s, ends[:, None])
    for w in writers.values():
        w.close()
    return base


def test_word_level_probes_find_the_planted_word_embedding(word_corpus, tmp_path, capsys):
    out = tmp_path / "words"
    feats = [a for n in ("frozen", "tuned") for a in ("--feats", f"{n}:1={word_corpus / n / 'windows.scp'}")]
    rc = main([*feats, "--words", str(word_corpus / "tg"), "--embeddings", str(word_corpus / "emb.txt"),
               "--output_dir", str(out)])  # fmt: skip
    assert rc == 0
    report = json.loads((out / "probes.json").read_text())
    res = report["results"]
    assert res["tuned"]["1"]["word-embedding"]["n_samples"] == 4 * 60  # one row per word
    assert res["tuned"]["1"]["word-embedding"]["mean_r"] > 0.6
    assert abs(res["frozen"]["1"]["word-embedding"]["mean_r"]) < 0.2  # the control carries no embedding
    assert res["frozen"]["1"]["phonemes"]["mean_r"] > 0.6 and res["tuned"]["1"]["phonemes"]["mean_r"] > 0.6
    assert res["tuned"]["1"]["phonemes"]["n_targets"] == 6  # stress digits dropped: AA1 is AA
    gain = report["comparisons"]["tuned"]["1"]["word-embedding"]
    assert gain["ci_low"] > 0.4 and gain["p"] < 0.01
    assert "one row per word" in (out / "probes.md").read_text()
    # wrong combinations are named
    assert main([*feats, "--words", str(word_corpus / "tg"), "--targets", "x=y", "--output_dir", str(tmp_path)]) == 1
    assert "no --targets" in capsys.readouterr().err
    assert main([*feats, "--words", str(tmp_path), "--output_dir", str(tmp_path)]) == 1
    assert "no TextGrid for story a" in capsys.readouterr().err
    missing = str(tmp_path / "none.txt")
    assert (
        main([*feats, "--words", str(word_corpus / "tg"), "--embeddings", missing, "--output_dir", str(tmp_path)]) == 1
    )
    assert f"--embeddings {missing}: no such file" in capsys.readouterr().err


def test_words_missing_from_the_table_are_counted(word_corpus, tmp_path, caplog):
    lines = (word_corpus / "emb.txt").read_text().splitlines()
    (tmp_path / "emb.txt").write_text("\n".join(lines[:150]) + "\n")  # 50 of the 200 words have no vector
    feats = ["--feats", f"tuned:1={word_corpus / 'tuned' / 'windows.scp'}"]
    with caplog.at_level("WARNING"):
        rc = main([*feats, "--words", str(word_corpus / "tg"), "--embeddings", str(tmp_path / "emb.txt"),
                   "--n_resamples", "0", "--output_dir", str(tmp_path / "out")])  # fmt: skip
    assert rc == 0 and "spoken words are not in --embeddings" in caplog.text
    n = json.loads((tmp_path / "out" / "probes.json").read_text())["results"]["tuned"]["1"]["phonemes"]["n_samples"]
    assert 0 < n < 4 * 60  # the same words for both families
