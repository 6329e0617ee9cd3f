import numpy as np
import pytest
import torch
from fixtures.hf_models import make_tiny_model, save_tiny_wav2vec2_ctc

from espnet_brain.asr.ctc_decoding import greedy_ctc, tokens_to_text
from espnet_brain.asr.lm.lexicon import build_lexicon, write_lexicon
from espnet_brain.asr.lm.lexicon_search import LexiconBeamSearch
from espnet_brain.asr.lm.ngram import estimate_kneser_ney
from espnet_brain.asr.online_norm import OnlineZScore, online_zscore
from espnet_brain.asr.streaming import StreamingDecoder
from espnet_brain.tasks.brain_asr import BrainASRTask

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "d", "e", "<sos/eos>"]
C = 8


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory) -> str:
    return save_tiny_wav2vec2_ctc(tmp_path_factory.mktemp("w2v2"), vocab_size=len(TOKENS))


@pytest.fixture(scope="module")
def encoder_dirs(tmp_path_factory, tiny_wav2vec2) -> dict:
    """Tiny checkpoints of both HF layer-norm variants (post-norm; pre-norm 'stable'), Wav2Vec2, HuBERT, WavLM."""
    root = tmp_path_factory.mktemp("ssl")
    dirs = {"wav2vec2": tiny_wav2vec2}
    for name in ("wav2vec2-stable", "hubert", "hubert-stable", "wavlm"):
        kind = name.split("-")[0]
        dirs[name] = make_tiny_model(kind, root / name, stable_layer_norm=name.endswith("-stable"))
    return dirs


def _model(model_dir, chunk_size=1, right_context=0, causal=True, causal_pos_conv=True, seed=0, gru_gain=1.0):
    """A tiny causal BrainESPnetASRModel built by the task, as a training config would build it (``gru_gain``:
    a GRU input layer that many times larger, for frames that differ more)."""
    conf = {
        "frontend_conf": dict(
            input_size=C,
            output_size=16,
            n_days=2,
            smoothing_sigma=1.5,
            kernel_size=8,
            stride=4,
            num_layers=2,
            hidden_size=12,
            causal=causal,
        ),
        "encoder_conf": dict(
            model_name_or_path=model_dir,
            chunk_size=chunk_size,
            right_context=right_context,
            causal_pos_conv=causal_pos_conv,
        ),
    }
    cmd = ["--token_list", ",".join(TOKENS), "--frontend", "brain_gru", "--encoder", "hf_ssl"]
    cmd += ["--decoder", "none", "--normalize", "none", "--model_conf", "ctc_weight=1.0"]
    for key, values in conf.items():
        for k, v in values.items():
            cmd += [f"--{key}", f"{k}={v}"]
    args = BrainASRTask.get_parser().parse_args(cmd)
    args.token_list = list(TOKENS)
    torch.manual_seed(seed)
    model = BrainASRTask.build_model(args).eval()
    with torch.no_grad():
        model.frontend.day_weight[1] += 0.3 * torch.randn(C, C)  # the days differ
        # random weights that make frames differ and a head that says more than one character
        model.frontend.out.weight.normal_(std=1.0)
        model.ctc.ctc_lo.weight.normal_(std=2.0)
        model.frontend.gru.weight_ih_l0.mul_(gru_gain)
    return model


def _sentence(n_bins=62, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_bins, C)).astype(np.float32)


def _offline(model, x, day=1):
    """The offline forward of the model on the whole recording: (T', V) log-posteriors and greedy tokens."""
    with torch.no_grad():
        enc, lens = model.encode(torch.from_numpy(x)[None], torch.tensor([len(x)]), day=torch.tensor([[day]]))
        log_probs = model.ctc.log_softmax(enc)[0, : int(lens[0])]
    return log_probs, greedy_ctc(log_probs[None], torch.tensor([log_probs.size(0)]))[0]


def _stream(decoder, x, sizes):
    """Push x in chunks of the given sizes (cycled); the hypotheses after each push."""
    hyps, pos, i = [], 0, 0
    while pos < len(x):
        n = sizes[i % len(sizes)]
        hyps.append(decoder.push(x[pos : pos + n]))
        pos, i = pos + n, i + 1
    return hyps


@pytest.mark.parametrize("chunk_size,right_context", [(1, 0), (2, 0), (2, 1)])
@pytest.mark.parametrize("increment,chunks", [(4, [4]), (3, [1, 5, 2]), (8, [7, 0, 3])])
def test_stream_ends_with_the_offline_posteriors_and_hypothesis(
    tiny_wav2vec2, chunk_size, right_context, increment, chunks
):
    """Frames become final while the stream runs and keep those values; at the end they are the offline ones, so
    a frame declared final too early (a look-ahead anywhere in the model) makes this test fail."""
    model = _model(tiny_wav2vec2, chunk_size, right_context)
    x = _sentence()
    want, want_ids = _offline(model, x)
    assert len(want_ids) >= 3, "a hypothesis with tokens to compare"
    decoder = StreamingDecoder(model, increment=increment, day=1)
    hyps = _stream(decoder, x, chunks)
    finals = [h.n_final_frames for h in hyps]
    assert finals == sorted(finals) and 0 < finals[len(finals) // 2] < finals[-1] <= want.size(0)
    for h in hyps:  # the final part of a running hypothesis is never revised
        assert h.token_ids[: len(h.final_token_ids)] == h.final_token_ids
    end = decoder.finish()
    assert end.is_final and end.n_final_frames == end.n_frames == want.size(0) and end.n_bins == len(x)
    torch.testing.assert_close(decoder.log_probs, want, rtol=1e-5, atol=1e-5)
    assert end.token_ids == want_ids and end.final_token_ids == want_ids
    assert end.text == tokens_to_text(want_ids, TOKENS)
    if chunk_size == 1 and right_context == 0 and increment == 4:
        # fully causal: every frame is final as soon as its bins are in; the sentence's end needs no flush
        assert hyps[-1].n_final_frames == hyps[-1].n_frames == len(x) // 4
        assert hyps[-1].token_ids == want_ids


@pytest.mark.parametrize("kv_cache,right_context", [(True, 0), (False, 1)])
def test_running_hypothesis_is_the_greedy_path_of_the_frames_so_far(tiny_wav2vec2, kv_cache, right_context):
    """The final frames' best path is collapsed once, as they become final; every running hypothesis must still
    be the greedy decoding of all frames so far (and its final part that of the final frames)."""
    decoder = StreamingDecoder(_model(tiny_wav2vec2, 2, right_context), increment=3, day=1, kv_cache=kv_cache)
    x = _sentence()
    seen_non_final = False
    for start in range(0, len(x), 3):
        h = decoder.push(x[start : start + 3])
        lp = decoder.log_probs[None]
        assert h.token_ids == greedy_ctc(lp, torch.tensor([h.n_frames]))[0]
        assert h.final_token_ids == greedy_ctc(lp, torch.tensor([h.n_final_frames]))[0]
        seen_non_final |= h.n_final_frames < h.n_frames
    assert seen_non_final or right_context == 0
    end = decoder.finish()
    assert end.token_ids == end.final_token_ids == greedy_ctc(decoder.log_probs[None], torch.tensor([end.n_frames]))[0]


def test_finish_flushes_a_stream_that_stops_mid_sentence_and_reset_starts_again(tiny_wav2vec2):
    model = _model(tiny_wav2vec2, chunk_size=2, right_context=1)
    x = _sentence()
    decoder = StreamingDecoder(model, increment=4, day=1)
    _stream(decoder, x[:30], [4])  # 7 increments and 2 pending bins; the last frames wait for right context
    assert decoder.hypothesis().n_final_frames < 7
    end = decoder.finish()
    want, want_ids = _offline(model, x[:30])
    assert end.n_frames == 7 == want.size(0)
    torch.testing.assert_close(decoder.log_probs, want, rtol=1e-5, atol=1e-5)
    assert end.token_ids == want_ids
    assert decoder.finish() == end  # idempotent
    with pytest.raises(ValueError, match="ended at bin 30.*reset"):
        decoder.push(x[30:34])
    decoder.reset(day=0)
    _stream(decoder, x, [5])
    again = decoder.finish()
    want0, want0_ids = _offline(model, x, day=0)
    torch.testing.assert_close(decoder.log_probs, want0, rtol=1e-5, atol=1e-5)
    assert again.token_ids == want0_ids


def test_online_normalizer_in_front_of_the_model(tiny_wav2vec2):
    model = _model(tiny_wav2vec2)
    x = 3.0 + 2.0 * _sentence()
    mean, std = np.full(C, 2.5), np.full(C, 1.5)
    decoder = StreamingDecoder(model, day=1, normalizer=OnlineZScore(mean, std, time_constant=20.0))
    _stream(decoder, x, [3, 4])
    decoder.finish()
    want, _ = _offline(model, online_zscore(x, mean, std, time_constant=20.0))
    torch.testing.assert_close(decoder.log_probs, want, rtol=1e-5, atol=1e-5)


def test_bad_input_names_the_stream_position(tiny_wav2vec2):
    model = _model(tiny_wav2vec2)
    decoder = StreamingDecoder(model, day=1)
    x = _sentence()
    decoder.push(x[:8])
    with pytest.raises(ValueError, match=r"chunk at stream bin 8 has shape \(4, 7\), expected \(t, 8\)"):
        decoder.push(x[8:12, :7])
    bad = x[8:16].copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN/Inf at stream bin 13 \(channel 2\)"):
        decoder.push(bad)
    # the rejected chunks changed nothing: the stream goes on and ends as offline
    _stream(decoder, x[8:], [4])
    decoder.finish()
    torch.testing.assert_close(decoder.log_probs, _offline(model, x)[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"day id 2 at stream bin 0 has no input layer.*days 0\.\.1"):
        StreamingDecoder(model, day=2)
    with pytest.raises(ValueError, match=r"no day id at stream bin 0.*n_days = 2"):
        decoder.reset()
    with pytest.raises(ValueError, match="increment"):
        StreamingDecoder(model, increment=0, day=1)


def test_needs_a_causal_frontend(tiny_wav2vec2):
    with pytest.raises(ValueError, match="frontend_conf.causal = true"):
        StreamingDecoder(_model(tiny_wav2vec2, causal=False), day=1)


class _Spy:
    """Records the calls of the encoder's forward_chunk; the re-encoding forward must not run."""

    def __init__(self, encoder, monkeypatch):
        self.calls, self.returned = [], []
        forward_chunk = encoder.forward_chunk

        def spy(xs, cache=None):
            self.calls.append((xs.size(1), cache))
            out = forward_chunk(xs, cache)
            self.returned.append(out[1])
            return out

        def no_recompute(*args, **kwargs):
            raise AssertionError("the stream was re-encoded although the encoder has a key/value cache")

        monkeypatch.setattr(encoder, "forward_chunk", spy)
        monkeypatch.setattr(encoder, "forward", no_recompute)


@pytest.mark.parametrize("chunk_size", [1, 2])
@pytest.mark.parametrize("encoder", ["wav2vec2", "wav2vec2-stable", "hubert", "hubert-stable", "wavlm"])
def test_cached_stream_encodes_each_frame_once_and_ends_as_offline(encoder_dirs, monkeypatch, encoder, chunk_size):
    """Without right context each increment's frames go through the transformer once, with the cache the previous
    increment returned; at the end the log-posteriors and hypothesis are the offline ones. A cache dropped between
    increments, or a stream re-encoded from its start, fails here."""
    model = _model(encoder_dirs[encoder], chunk_size=chunk_size, gru_gain=4.0)
    x = _sentence(n_bins=70)
    want, want_ids = _offline(model, x)
    assert len(want_ids) >= 3
    decoder = StreamingDecoder(model, increment=4, day=1)
    assert decoder.kv_cache
    spy = _Spy(model.encoder, monkeypatch)
    hyps = _stream(decoder, x, [3, 1, 6])
    end = decoder.finish()
    torch.testing.assert_close(decoder.log_probs, want, rtol=1e-5, atol=1e-5)
    assert end.token_ids == want_ids and end.n_final_frames == want.size(0)
    # one call per push that completed increments (a frame every 4 bins), with those increments' new frames only
    new_frames = np.diff([0] + [h.n_frames for h in hyps])
    assert [n for n, _ in spy.calls] == [int(n) for n in new_frames if n] and sum(new_frames) == want.size(0)
    assert spy.calls[0][1] is None
    for (_, cache), returned in zip(spy.calls[1:], spy.returned):  # the cache the previous increment returned
        assert cache is returned
    # a frame is final once its chunk is complete
    assert [h.n_final_frames for h in hyps if h.n_frames] == [
        h.n_frames // chunk_size * chunk_size for h in hyps if h.n_frames
    ]


def test_cached_and_re_encoding_paths_agree_at_every_increment(tiny_wav2vec2):
    model = _model(tiny_wav2vec2, chunk_size=2)
    x = _sentence()
    cached, plain = StreamingDecoder(model, day=1), StreamingDecoder(model, day=1, kv_cache=False)
    assert cached.kv_cache and not plain.kv_cache
    for a, b in zip(_stream(cached, x, [5, 3]), _stream(plain, x, [5, 3])):
        assert (a.token_ids, a.final_token_ids, a.n_final_frames) == (b.token_ids, b.final_token_ids, b.n_final_frames)
    cached.finish(), plain.finish()
    torch.testing.assert_close(cached.log_probs, plain.log_probs, rtol=1e-5, atol=1e-5)
    assert not StreamingDecoder(_model(tiny_wav2vec2, chunk_size=2, right_context=1), day=1).kv_cache


WORDS = ["a", "be", "bad", "bed", "cab", "dab", "ace", "bead", "dead", "cede", "add", "ebb", "deed"]


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory):
    """A tiny word bigram ARPA and lexicon over the tokens' letters."""
    root = tmp_path_factory.mktemp("lm")
    rng = np.random.default_rng(0)
    sentences = [list(rng.choice(WORDS, size=4)) for _ in range(60)]
    estimate_kneser_ney(sentences, order=2).write_arpa(str(root / "words.arpa"))
    write_lexicon(build_lexicon(WORDS, TOKENS), str(root / "lexicon.txt"))
    return dict(lexicon=str(root / "lexicon.txt"), lm=str(root / "words.arpa"), beam_size=20, lm_weight=1.0)


@pytest.mark.parametrize("chunk_size,right_context", [(2, 0), (2, 1)])
def test_online_beam_search_ends_as_the_offline_search(tiny_wav2vec2, word_lm, monkeypatch, chunk_size, right_context):
    """The beam + LM search reads each frame once, when it becomes final; at the end its text is that of the
    search run offline on the whole sentence's log-posteriors."""
    model = _model(tiny_wav2vec2, chunk_size=chunk_size, right_context=right_context)
    x = _sentence(n_bins=160)
    want, _ = _offline(model, x)
    offline = LexiconBeamSearch(TOKENS, **word_lm)(want)[0]
    assert len(offline.text.split()) >= 3, "a sentence of words to compare"
    search = LexiconBeamSearch(TOKENS, **word_lm)
    fed = []
    decode_step = search.decoder.decode_step
    monkeypatch.setattr(search.decoder, "decode_step", lambda e: fed.append(e.clone()) or decode_step(e))
    decoder = StreamingDecoder(model, increment=4, day=1, lm_search=search)
    hyps = _stream(decoder, x, [4, 7, 1])
    assert all(h.lm_text is not None for h in hyps)
    assert any(h.lm_text for h in hyps), "the running beam + LM text before the end of the sentence"
    finals = [h.n_final_frames for h in hyps]
    end = decoder.finish()
    assert end.lm_text == offline.text and end.lm_token_ids == offline.tokens
    # the frames it read: each once, in order, final ones only (the running total never passes the final frames),
    # then the word boundary that completes the last word
    torch.testing.assert_close(torch.cat(fed[:-1]), decoder.log_probs, rtol=0, atol=0)
    torch.testing.assert_close(fed[-1], search.boundary_frame(), rtol=0, atol=0)
    assert np.cumsum([len(e) for e in fed]).tolist()[: len(set(finals) - {0})] == sorted(set(finals) - {0})
    # the next sentence starts a new search
    decoder.reset(day=1)
    _stream(decoder, x, [4])
    assert decoder.finish().lm_text == offline.text
    assert StreamingDecoder(model, day=1).hypothesis().lm_text is None
    with pytest.raises(ValueError, match="lm_search has 3 tokens"):
        StreamingDecoder(model, day=1, lm_search=LexiconBeamSearch(["<blank>", "<space>", "a"]))
