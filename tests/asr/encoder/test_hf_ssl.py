import huggingface_hub.constants
import pytest
import torch
from espnet2.torch_utils.initialize import initialize
from transformers import AutoModel, HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model, WavLMConfig, WavLMModel

from espnet_brain.asr.encoder import stream_cache
from espnet_brain.asr.encoder.hf_ssl import HFSSLEncoder, chunk_attention_mask

TINY = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8),
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2,
)
MODELS = {
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
    "wavlm": (WavLMConfig, WavLMModel),
    "hubert": (HubertConfig, HubertModel),
}


def save_tiny(path, kind="wav2vec2", **overrides):
    config_cls, model_cls = MODELS[kind]
    torch.manual_seed(0)
    model = model_cls(config_cls(**{**TINY, **overrides}))
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """{kind: directory} of tiny pretrained checkpoints."""
    root = tmp_path_factory.mktemp("hf")
    dirs = {}
    for kind in MODELS:
        save_tiny(root / kind, kind)
        dirs[kind] = str(root / kind)
    return dirs


KINDS = list(MODELS)


def _batch(d_in=12, lengths=(20, 13, 7)):
    torch.manual_seed(1)
    x = torch.randn(len(lengths), max(lengths), d_in)
    return x, torch.tensor(lengths)


def _loss(y):
    # A random readout: the plain sum of a layer-normed output has zero gradient when the norm's scale is uniform.
    torch.manual_seed(2)
    return (y * torch.randn_like(y)).sum()


def _pretrained_encoder_state(path):
    return AutoModel.from_pretrained(path).encoder.state_dict()


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_lengths_and_zero_padding(tiny_dirs, kind):
    enc = HFSSLEncoder(input_size=12, model_name_or_path=tiny_dirs[kind])
    assert "HFSSLEncoder" in repr(enc)
    assert enc.output_size() == 16
    assert enc.hf_config.hidden_size == 16
    x, lengths = _batch()
    y, y_lengths, states = enc(x, lengths)
    assert y.shape == (3, 20, 16)
    assert torch.equal(y_lengths, lengths)
    assert states is None
    assert torch.all(y[1, 13:] == 0) and torch.all(y[2, 7:] == 0)
    assert torch.all(y[2, :7].abs().sum(-1) > 0)


@pytest.mark.parametrize("kind", KINDS)
def test_batched_equals_alone(tiny_dirs, kind):
    enc = HFSSLEncoder(input_size=16, model_name_or_path=tiny_dirs[kind]).eval()
    x, lengths = _batch(d_in=16)
    x_before = x.clone()
    with torch.no_grad():
        y, _, _ = enc(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, _, _ = enc(x[i : i + 1, :n], lengths[i : i + 1])
            torch.testing.assert_close(y[i, :n], alone[0], atol=1e-5, rtol=1e-5)
    assert torch.equal(x, x_before), "the caller's tensor must not be edited in place"


def test_padding_would_leak_without_the_mask(tiny_dirs):
    """Control for test_batched_equals_alone: the tiny model is sensitive to padded frames."""
    enc = HFSSLEncoder(input_size=16, model_name_or_path=tiny_dirs["wav2vec2"]).eval()
    x, lengths = _batch(d_in=16)
    x[2, 7:] = 5.0
    with torch.no_grad():
        unmasked = enc.transformer(x.clone()).last_hidden_state
        alone, _, _ = enc(x[2:3, :7], lengths[2:3])
        masked, _, _ = enc(x, lengths)
    assert not torch.allclose(unmasked[2, :7], alone[0], atol=1e-3)
    torch.testing.assert_close(masked[2, :7], alone[0], atol=1e-5, rtol=1e-5)


def test_backward_ragged_and_input_projection(tiny_dirs):
    enc = HFSSLEncoder(input_size=12, model_name_or_path=tiny_dirs["wav2vec2"])
    assert isinstance(enc.input_proj, torch.nn.Linear) and enc.input_proj.in_features == 12
    x, lengths = _batch()
    x.requires_grad_(True)
    y, _, _ = enc(x, lengths)
    _loss(y).backward()
    assert x.grad is not None and torch.all(x.grad[2, 7:] == 0)
    assert x.grad[2, :7].abs().sum() > 0
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    same = HFSSLEncoder(input_size=16, model_name_or_path=tiny_dirs["wav2vec2"])
    assert same.input_proj is None


def test_modes(tiny_dirs):
    path = tiny_dirs["wav2vec2"]
    pretrained = _pretrained_encoder_state(path)
    finetune = HFSSLEncoder(input_size=16, model_name_or_path=path, mode="finetune")
    scratch = HFSSLEncoder(input_size=16, model_name_or_path=path, mode="scratch")
    frozen = HFSSLEncoder(input_size=16, model_name_or_path=path, mode="frozen")
    key = "layers.0.attention.q_proj.weight"
    assert torch.equal(finetune.transformer.state_dict()[key], pretrained[key])
    assert torch.equal(frozen.transformer.state_dict()[key], pretrained[key])
    assert scratch.transformer.state_dict()[key].shape == pretrained[key].shape
    assert not torch.allclose(scratch.transformer.state_dict()[key], pretrained[key])
    assert all(p.requires_grad for p in finetune.parameters())
    assert all(p.requires_grad for p in scratch.parameters())
    assert not any(p.requires_grad for p in frozen.transformer_parameters())

    x, lengths = _batch(d_in=16)
    x.requires_grad_(True)
    frozen.train()
    assert frozen.training and not frozen.transformer.training
    y, _, _ = frozen(x, lengths)
    _loss(y).backward()
    assert all(p.grad is None for p in frozen.parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0, "the frontend must still get gradients"


def test_frozen_has_no_dropout_in_training(tmp_path):
    save_tiny(tmp_path, hidden_dropout=0.5, attention_dropout=0.5, activation_dropout=0.5)
    x, lengths = _batch(d_in=16)
    frozen = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), mode="frozen").train()
    finetune = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), mode="finetune").train()
    assert torch.equal(frozen(x, lengths)[0], frozen(x, lengths)[0])
    assert not torch.equal(finetune(x, lengths)[0], finetune(x, lengths)[0])


def test_config_overrides_and_num_layers(tmp_path):
    save_tiny(tmp_path, hidden_dropout=0.3, layerdrop=0.2, mask_time_prob=0.5)
    enc = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), num_layers=1, attention_dropout=0.25)
    assert len(enc.transformer.layers) == 1
    assert enc.hf_config.layerdrop == 0.0
    assert enc.hf_config.hidden_dropout == 0.3
    assert enc.transformer.layers[0].attention.dropout == 0.25
    assert not enc.hf_config.apply_spec_augment
    key = "layers.0.feed_forward.output_dense.weight"
    assert torch.equal(enc.transformer.state_dict()[key], _pretrained_encoder_state(str(tmp_path))[key])
    with pytest.raises(ValueError, match="num_layers"):
        HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), num_layers=3)


@pytest.mark.parametrize("kind", KINDS)
def test_num_layers_of_a_stable_layer_norm_model_gives_its_hidden_state(tmp_path, kind):
    """Pre-norm models apply a final layer norm to the last layer only: cut to k layers, the output is the
    full model's hidden_states[k], not that norm applied to layer k."""
    full = save_tiny(tmp_path, kind, num_hidden_layers=3, do_stable_layer_norm=True, feat_extract_norm="layer").eval()
    x, lengths = _batch(d_in=16)
    mask = torch.arange(x.size(1))[None, :] < lengths[:, None]
    valid = mask[:, :, None]
    outputs = []  # what each layer of the full encoder returns: hidden_states[1..3] before the final norm
    hooks = [
        layer.register_forward_hook(lambda m, i, o: outputs.append(o[0] if isinstance(o, tuple) else o))
        for layer in full.encoder.layers
    ]
    with torch.no_grad():
        last = full.encoder(x.masked_fill(~valid, 0.0), attention_mask=mask).last_hidden_state
        for hook in hooks:
            hook.remove()
        ref = [None, outputs[0], outputs[1], last]
        assert not torch.allclose(last, outputs[2], atol=1e-3)  # the final norm changes the last layer's output
        for num_layers in (1, 2, None):
            enc = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), num_layers=num_layers).eval()
            y, _, _ = enc(x, lengths)
            want = ref[3 if num_layers is None else num_layers]  # ref[3]: the last layer, after the final norm
            torch.testing.assert_close(y, want.masked_fill(~valid, 0.0), atol=1e-5, rtol=1e-5)
        cut = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), num_layers=2).eval()
        for p in cut.parameters():
            p.normal_()
    cut.reload_pretrained_parameters()  # the cut encoder's weights reload from the full checkpoint
    with torch.no_grad():
        torch.testing.assert_close(cut(x, lengths)[0], ref[2].masked_fill(~valid, 0.0), atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_same_output(tiny_dirs):
    path = tiny_dirs["wavlm"]
    no_dropout = dict(hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    plain = HFSSLEncoder(input_size=16, model_name_or_path=path, **no_dropout)
    ckpt = HFSSLEncoder(input_size=16, model_name_or_path=path, gradient_checkpointing=True, **no_dropout)
    assert all(layer.gradient_checkpointing for layer in ckpt.transformer.layers)
    x, lengths = _batch(d_in=16)
    y0, _, _ = plain.train()(x, lengths)
    y1, _, _ = ckpt.train()(x, lengths)
    torch.testing.assert_close(y0, y1)
    _loss(y1).backward()
    assert ckpt.transformer.layers[0].attention.q_proj.weight.grad is not None


@pytest.mark.parametrize("mode", ["finetune", "scratch"])
def test_reload_pretrained_parameters(tiny_dirs, mode):
    enc = HFSSLEncoder(input_size=12, model_name_or_path=tiny_dirs["wav2vec2"], mode=mode)
    before = {k: v.clone() for k, v in enc.transformer.state_dict().items()}
    with torch.no_grad():
        for p in enc.parameters():
            p.normal_()
    key = "layers.1.attention.k_proj.weight"
    assert not torch.equal(enc.transformer.state_dict()[key], before[key])
    enc.reload_pretrained_parameters()
    after = enc.transformer.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def test_espnet_initialize_keeps_pretrained_transformer(tiny_dirs):
    """ESPnet's --init re-initialises all parameters, then calls model.encoder.reload_pretrained_parameters()."""
    enc = HFSSLEncoder(input_size=12, model_name_or_path=tiny_dirs["wav2vec2"])
    before = {k: v.clone() for k, v in enc.transformer.state_dict().items()}
    proj_before = enc.input_proj.weight.detach().clone()
    model = torch.nn.Module()
    model.encoder = enc
    initialize(model, "xavier_uniform")
    assert not torch.equal(enc.input_proj.weight, proj_before)
    for k, v in enc.transformer.state_dict().items():
        assert torch.equal(before[k], v), k


def test_errors(tiny_dirs, monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="mode"):
        HFSSLEncoder(input_size=16, model_name_or_path=tiny_dirs["wav2vec2"], mode="partial")
    with pytest.raises(ValueError, match="does not exist"):
        HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path / "missing" / "model"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError, match="local directory"):
        HFSSLEncoder(input_size=16, model_name_or_path="no-such-org/no-such-wav2vec2")
    enc = HFSSLEncoder(input_size=16, model_name_or_path=tiny_dirs["wav2vec2"])
    with pytest.raises(ValueError, match=r"\(B, T, 16\)"):
        enc(torch.randn(2, 5, 12), torch.tensor([5, 4]))


# ----------------------------------------------------------------------------------------------------------------
# Streaming: chunked attention and a causal positional convolution


def test_chunk_attention_mask_pattern():
    # chunks of 2 with 1 frame of right context: rows 0-1 see 0..2, rows 2-3 see 0..4, rows 4-5 see all
    want = torch.tensor(
        [
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 1, 1, 0],
            [1, 1, 1, 1, 1, 0],
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(chunk_attention_mask(6, 2, 1), want)
    assert torch.equal(chunk_attention_mask(5, 1, 0), torch.ones(5, 5, dtype=torch.bool).tril())


def _perturb_after(x, first):
    torch.manual_seed(3)
    moved = x.clone()
    moved[:, first:] += 3.0 * torch.randn_like(moved[:, first:])
    return moved


STREAMING = [(1, 0), (3, 0), (2, 1)]  # (chunk_size, right_context)


@pytest.mark.parametrize("chunk_size,right_context", STREAMING)
@pytest.mark.parametrize("kind", KINDS + ["wav2vec2-stable"])
def test_frames_beyond_the_allowed_context_do_not_change_earlier_outputs(tmp_path, kind, chunk_size, right_context):
    """Through every layer: an output frame changes only when an input frame within its (compounded) context does.
    The same check fails without the mask (chunk_size = 0, below)."""
    if kind == "wav2vec2-stable":
        save_tiny(tmp_path, "wav2vec2", do_stable_layer_norm=True, feat_extract_norm="layer")
    else:
        save_tiny(tmp_path, kind)
    conf = dict(chunk_size=chunk_size, right_context=right_context, causal_pos_conv=True)
    enc = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), **conf).eval()
    full = HFSSLEncoder(input_size=16, model_name_or_path=str(tmp_path), causal_pos_conv=True).eval()
    x, lengths = _batch(d_in=16, lengths=(20, 16))
    for first in (6, 9, 12):
        moved = _perturb_after(x, first)
        final = enc.num_final_frames(first)  # outputs that depend on input frames < first only
        assert 0 < final <= first
        with torch.no_grad():
            y, y_moved = enc(x, lengths)[0], enc(moved, lengths)[0]
            f, f_moved = full(x, lengths)[0], full(moved, lengths)[0]
        torch.testing.assert_close(y_moved[:, :final], y[:, :final], rtol=0, atol=1e-6)
        assert not torch.equal(y_moved[:, final], y[:, final])  # the first frame that can see it (maybe faintly)
        # the control: with full attention the perturbation reaches every earlier frame
        assert not torch.allclose(f_moved[:, :final], f[:, :final], atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_chunked_batched_equals_alone_backward_and_no_effect_when_a_chunk_covers_everything(tiny_dirs, kind):
    path = tiny_dirs[kind]
    enc = HFSSLEncoder(input_size=16, model_name_or_path=path, chunk_size=2, right_context=1).eval()
    x, lengths = _batch(d_in=16)
    with torch.no_grad():
        y, _, _ = enc(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, _, _ = enc(x[i : i + 1, :n], lengths[i : i + 1])
            torch.testing.assert_close(y[i, :n], alone[0], atol=1e-5, rtol=1e-5)
        # one chunk spanning the utterance is full attention (WavLM: its relative position bias is kept)
        whole = HFSSLEncoder(input_size=16, model_name_or_path=path, chunk_size=20).eval()
        plain = HFSSLEncoder(input_size=16, model_name_or_path=path).eval()
        torch.testing.assert_close(whole(x, lengths)[0], plain(x, lengths)[0], atol=1e-5, rtol=1e-5)
    enc.train()
    x.requires_grad_(True)
    y, _, _ = enc(x, lengths)
    _loss(y).backward()
    assert torch.all(x.grad[2, 7:] == 0) and x.grad[2, :7].abs().sum() > 0
    assert torch.isfinite(x.grad).all()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_eager_and_sdpa_masks_agree(tiny_dirs):
    """SDPA takes a boolean mask, eager attention an additive one: same outputs."""
    enc = HFSSLEncoder(input_size=16, model_name_or_path=tiny_dirs["wav2vec2"], chunk_size=3, right_context=1).eval()
    x, lengths = _batch(d_in=16)
    assert enc.attention_implementation == "sdpa"
    with torch.no_grad():
        sdpa = enc(x, lengths)[0]
        enc.transformer.config._attn_implementation = "eager"
        eager = enc(x, lengths)[0]
        enc.transformer.config._attn_implementation = "sdpa"
    torch.testing.assert_close(eager, sdpa, atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_recomputes_with_the_chunk_mask(tiny_dirs):
    path = tiny_dirs["wav2vec2"]
    conf = dict(hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, chunk_size=2)
    plain = HFSSLEncoder(input_size=16, model_name_or_path=path, **conf).train()
    ckpt = HFSSLEncoder(input_size=16, model_name_or_path=path, gradient_checkpointing=True, **conf).train()
    x, lengths = _batch(d_in=16)
    grads = []
    for enc in (plain, ckpt):
        _loss(enc(x, lengths)[0]).backward()
        grads.append(enc.transformer.layers[0].attention.q_proj.weight.grad)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_causal_pos_conv_is_the_pretrained_kernel_shifted(tiny_dirs, kind):
    path = tiny_dirs[kind]
    plain = HFSSLEncoder(input_size=16, model_name_or_path=path).eval()
    k = plain.transformer.pos_conv_embed.conv.kernel_size[0]  # 8: HF reads frames t - 4 .. t + 3
    torch.manual_seed(4)
    x = torch.randn(1, 24, 16)
    for right_context in (0, 1):
        causal = HFSSLEncoder(
            input_size=16, model_name_or_path=path, chunk_size=1, right_context=right_context, causal_pos_conv=True
        ).eval()
        assert causal.transformer.state_dict().keys() == plain.transformer.state_dict().keys()
        with torch.no_grad():
            want = plain.transformer.pos_conv_embed(x)
            got = causal.transformer.pos_conv_embed(x)
            # the same weights, read right_context frames ahead instead of (k - 1) // 2
            shift = (k - 1) // 2 - right_context
            torch.testing.assert_close(got[:, k:], want[:, k - shift : x.size(1) - shift], atol=1e-5, rtol=1e-5)
            moved = causal.transformer.pos_conv_embed(_perturb_after(x, 10))
        torch.testing.assert_close(moved[:, : 10 - right_context], got[:, : 10 - right_context], rtol=0, atol=0)
        assert not torch.allclose(moved[:, 10 - right_context], got[:, 10 - right_context])
    # reloading the pretrained weights keeps the shift
    before = got.clone()
    with torch.no_grad():
        for p in causal.parameters():
            p.normal_()
    causal.reload_pretrained_parameters()
    with torch.no_grad():
        torch.testing.assert_close(causal.transformer.pos_conv_embed(x), before)


def test_lookahead_and_final_frames(tiny_dirs):
    path = tiny_dirs["wav2vec2"]  # 2 layers, positional kernel 8 (look-ahead 3)

    def enc(**conf):
        return HFSSLEncoder(input_size=16, model_name_or_path=path, **conf)

    causal = enc(chunk_size=1, causal_pos_conv=True)
    assert causal.lookahead_frames() == 0 and causal.num_final_frames(7) == 7
    chunks = enc(chunk_size=3, causal_pos_conv=True)
    assert chunks.lookahead_frames() == 2 and chunks.num_final_frames(7) == 6
    # right context compounds: f(i) = (i // 2 + 1) * 2 twice, then 1 frame of the convolution: 0 -> 2 -> 4 -> 5
    compounding = enc(chunk_size=2, right_context=1, causal_pos_conv=True)
    assert compounding.lookahead_frames() == 5 and compounding.num_final_frames(8) == 4  # frames 2, 3: 4 -> 6 -> 7
    assert enc(chunk_size=1).lookahead_frames() == 3  # HF's centred convolution looks 3 frames ahead
    full = enc()
    assert full.lookahead_frames() is None and full.num_final_frames(50) == 0
    assert not any(layer.attention._forward_pre_hooks for layer in full.transformer.layers)


def test_chunk_errors(tiny_dirs):
    path = tiny_dirs["wav2vec2"]
    with pytest.raises(ValueError, match="encoder_conf.chunk_size"):
        HFSSLEncoder(input_size=16, model_name_or_path=path, chunk_size=-1)
    with pytest.raises(ValueError, match="right_context = 2 is only used with chunked attention"):
        HFSSLEncoder(input_size=16, model_name_or_path=path, right_context=2)


# Streaming with a key/value cache (forward_chunk)

STABLE = dict(do_stable_layer_norm=True, feat_extract_norm="layer")
BUCKETS = dict(num_buckets=16, max_bucket_distance=24)  # WavLM: exact and logarithmic buckets within 23 frames
CACHED = {  # id: (kind, config overrides, encoder_conf)
    "wav2vec2": ("wav2vec2", {}, {}),  # post-norm, even positional kernel (HF drops its last output)
    "wav2vec2-stable": ("wav2vec2", STABLE, {}),
    "wav2vec2-stable-cut": ("wav2vec2", dict(STABLE, num_hidden_layers=3), dict(num_layers=2)),  # no final norm
    "hubert": ("hubert", dict(num_conv_pos_embeddings=5), {}),  # odd kernel
    "hubert-stable": ("hubert", STABLE, {}),
    "hubert-pos-batch-norm": ("hubert", dict(conv_pos_batch_norm=True), {}),
    "wavlm": ("wavlm", BUCKETS, {}),
    "wavlm-stable": ("wavlm", dict(STABLE, **BUCKETS), {}),
}


def _cached_encoder(path, chunk_size, **conf):
    enc = HFSSLEncoder(input_size=12, model_name_or_path=path, chunk_size=chunk_size, causal_pos_conv=True, **conf)
    torch.manual_seed(5)
    with torch.no_grad():
        for module in enc.modules():
            if isinstance(module, torch.nn.BatchNorm1d):  # running statistics that are not the identity
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
        for layer in enc.transformer.layers:
            if hasattr(layer.attention, "rel_attn_embed"):  # a WavLM position bias that matters (init std 0.02)
                layer.attention.rel_attn_embed.weight.normal_(std=2.0)
    return enc.eval()


@pytest.mark.parametrize("chunk_size", [1, 3])
@pytest.mark.parametrize("case", list(CACHED))
def test_forward_chunk_equals_the_offline_forward_of_the_stream_so_far(tmp_path, monkeypatch, case, chunk_size):
    """Frame chunks of any sizes through the cache give, at every call, the offline outputs of the stream so far:
    final frames (complete chunks) and the frames of the incomplete chunk alike."""
    kind, overrides, conf = CACHED[case]
    save_tiny(tmp_path, kind, **overrides)
    enc = _cached_encoder(str(tmp_path), chunk_size, **conf)
    monkeypatch.setattr(stream_cache, "INITIAL_CAPACITY", 2)  # the key/value storage grows during the stream
    torch.manual_seed(6)
    x = torch.randn(2, 23, 12)  # two streams
    cache, pos = None, 0
    with torch.no_grad():
        for n in (1, 2, 4, 1, 5, 3, 7):
            start = 0 if cache is None else cache.n_frames
            y, cache = enc.forward_chunk(x[:, pos : pos + n], cache)
            pos += n
            want = enc(x[:, :pos], torch.tensor([pos, pos]))[0]
            assert y.shape == (2, pos - start, 16)
            torch.testing.assert_close(y, want[:, start:], rtol=1e-5, atol=1e-5)
            assert cache.n_frames == pos // chunk_size * chunk_size
    assert cache.keys[0].size(2) >= 23 and len(cache.keys) == len(enc.transformer.layers)


def test_forward_chunk_needs_the_cache_of_the_frames_before(tiny_dirs):
    """The guard of the test above: a stream whose cache is dropped after its first frames is encoded as a new
    stream, which is not the offline result."""
    enc = _cached_encoder(tiny_dirs["wav2vec2"], chunk_size=2)
    torch.manual_seed(6)
    x = torch.randn(1, 12, 12)
    with torch.no_grad():
        want = enc(x, torch.tensor([12]))[0]
        _, cache = enc.forward_chunk(x[:, :6])
        carried, _ = enc.forward_chunk(x[:, 6:], cache)
        dropped, _ = enc.forward_chunk(x[:, 6:], None)
    torch.testing.assert_close(carried, want[:, 6:], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(dropped, want[:, 6:], atol=1e-2)


def test_forward_chunk_errors(tiny_dirs):
    path = tiny_dirs["wav2vec2"]
    for conf, reason in (
        (dict(), r"full attention \(encoder_conf.chunk_size = 0\)"),
        (dict(chunk_size=2, right_context=1, causal_pos_conv=True), "encoder_conf.right_context = 1"),
        (dict(chunk_size=2), "encoder_conf.causal_pos_conv = false"),
    ):
        enc = HFSSLEncoder(input_size=16, model_name_or_path=path, **conf).eval()
        assert enc.stream_cache_unsupported() is not None
        with pytest.raises(ValueError, match="no incremental encoding with a key/value cache: " + reason):
            enc.forward_chunk(torch.zeros(1, 2, 16))
    enc = HFSSLEncoder(input_size=16, model_name_or_path=path, chunk_size=1, causal_pos_conv=True)
    assert enc.stream_cache_unsupported() is None
    with pytest.raises(ValueError, match=r"eval mode.*\.eval\(\)"):
        enc.train().forward_chunk(torch.zeros(1, 2, 16))
    enc.eval()
    with pytest.raises(ValueError, match=r"expected input \(B, t >= 1, 16\), got \(1, 2, 15\)"):
        enc.forward_chunk(torch.zeros(1, 2, 15))
    _, cache = enc.forward_chunk(torch.zeros(1, 2, 16))
    with pytest.raises(ValueError, match="the cache holds 1 streams, the input 2"):
        enc.forward_chunk(torch.zeros(2, 2, 16), cache)
