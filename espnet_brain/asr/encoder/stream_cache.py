"""Incremental forward of a chunked-attention HF speech transformer: a key/value cache for streaming.

With chunked attention and no right context (``chunk_size > 0``, ``right_context = 0``) and a causal positional
convolution, a frame's output depends on the frames of its own chunk and of the chunks before it only. The keys and
values of every layer for the frames of complete chunks therefore never change, and a stream can be encoded chunk by
chunk: each call projects the new frames' queries, keys and values, attends over the cached keys and values plus its
own, and runs the feed-forward blocks on the new frames only, so the cost per call does not grow with the stream's
length (but for the attention's dot products, one per cached frame).

The layers are run from the Hugging Face modules themselves (positional convolution, layer norms, q/k/v/out
projections, feed-forward blocks, WavLM's relative-position embedding and gate), in the order of the two HF layer
variants: post-norm (``config.do_stable_layer_norm = False``: ``Wav2Vec2EncoderLayer``, ``HubertEncoderLayer``,
``WavLMEncoderLayer``) and pre-norm (``True``: the ``*StableLayerNorm`` encoders, with their final layer norm).
WavLM's gated relative position bias depends on key position - query position only (bucketed), so it is computed
for the new query rows against all keys.

Frames of an incomplete chunk (fewer than ``chunk_size`` so far) are encoded as the offline forward encodes the last
chunk of an utterance that ends there, but their keys and values are not kept: they are encoded again, with the next
frames, until their chunk is complete. Eval mode only (no dropout).
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch

INITIAL_CAPACITY = 64  # frames of key/value storage per layer before the first doubling (5 s at 80 ms frames)


@dataclass
class EncoderStreamCache:
    """What :func:`forward_chunk` carries from one call to the next (B streams, all at the same frame).

    Attributes:
        n_frames: Final frames so far (those of complete chunks): their keys and values are cached.
        pending: (B, t_p, H) transformer inputs of the frames of the incomplete chunk (t_p < chunk_size); they are
            encoded again with the next frames.
        conv_context: (B, H, K - 1) the positional convolution's inputs for the K - 1 frames before frame
            ``n_frames`` (zeros before the stream starts: the causal convolution's left padding).
        conv_weight: (groups, H / groups, H / groups * K) the positional convolution's kernel, one matrix per group,
            computed once per stream (it is weight-normed: recomputing it at every call costs more than using it).
        keys: Per layer (B, heads, capacity, head_dim): keys of frames 0 .. n_frames - 1 (beyond: scratch space).
        values: Per layer, as ``keys``.
    """

    n_frames: int
    pending: torch.Tensor
    conv_context: torch.Tensor
    conv_weight: torch.Tensor
    keys: List[torch.Tensor]
    values: List[torch.Tensor]


def init_cache(
    transformer: torch.nn.Module, batch_size: int, device: torch.device, dtype: torch.dtype
) -> EncoderStreamCache:
    """An empty cache for ``batch_size`` streams of the HF ``encoder`` module ``transformer``."""
    conv = transformer.pos_conv_embed.conv
    hidden = conv.in_channels
    attention = transformer.layers[0].attention
    heads, head_dim = attention.num_heads, hidden // attention.num_heads
    groups = conv.groups
    with torch.no_grad():
        # (H, H / g, K) -> (g, H / g, H / g * K): output channels of group g read its inputs (channel, tap) flattened
        weight = conv.weight.detach().to(device, dtype).reshape(groups, hidden // groups, -1).contiguous()
    storage = (batch_size, heads, INITIAL_CAPACITY, head_dim)
    n_layers = len(transformer.layers)
    return EncoderStreamCache(
        n_frames=0,
        pending=torch.zeros(batch_size, 0, hidden, device=device, dtype=dtype),
        conv_context=torch.zeros(batch_size, hidden, conv.kernel_size[0] - 1, device=device, dtype=dtype),
        conv_weight=weight,
        keys=[torch.empty(storage, device=device, dtype=dtype) for _ in range(n_layers)],
        values=[torch.empty(storage, device=device, dtype=dtype) for _ in range(n_layers)],
    )


def forward_chunk(
    transformer: torch.nn.Module,
    config,
    chunk_size: int,
    xs: torch.Tensor,
    cache: EncoderStreamCache,
) -> Tuple[torch.Tensor, EncoderStreamCache]:
    """Encode the next frames of the streams with the key/value cache.

    Args:
        transformer: The HF ``encoder`` module (positional convolution made causal, see
            :class:`espnet_brain.asr.encoder.hf_ssl.HFSSLEncoder`), in eval mode.
        config: Its HF config (``do_stable_layer_norm``, ``model_type`` are read).
        chunk_size: Frames per attention chunk (> 0); no right context.
        xs: (B, t, H) transformer inputs of the next t frames (after the input projection).
        cache: What the previous call returned (:func:`init_cache` at the start); updated in place.

    Returns:
        Tuple of the outputs (B, t_p + t, H) of the frames from ``cache.n_frames`` (as it was before the call) on,
        i.e. the pending frames of the incomplete chunk again and then the new ones, and the cache, whose
        ``n_frames`` now counts the frames of all complete chunks: outputs before it are final.
    """
    start = cache.n_frames
    x = torch.cat([cache.pending, xs], dim=1) if cache.pending.size(1) else xs  # (B, m, H)
    b, m, _ = x.shape
    end = start + m
    n_final = (end // chunk_size) * chunk_size - start  # frames of x in complete chunks

    # Positional convolution over the K - 1 frames before and the new ones; the causal kernel reads frames <= t.
    pos = transformer.pos_conv_embed
    xc = x.transpose(1, 2)  # (B, m, H) -> (B, H, m)
    if getattr(pos, "batch_norm", None) is not None:  # HuBERT's conv_pos_batch_norm variant
        xc = pos.batch_norm(xc)
    window = torch.cat([cache.conv_context, xc], dim=2)  # (B, H, K - 1 + m)
    h = x + pos.activation(_grouped_conv(window, cache.conv_weight, pos.conv.bias))
    stable = bool(getattr(config, "do_stable_layer_norm", False))
    if not stable:
        h = transformer.layer_norm(h)

    # Frame i attends to frames j < (i // chunk_size + 1) * chunk_size: all cached frames, and the new frames up to
    # the end of its chunk (none of a later chunk). No mask when every new frame may see all of them.
    query_pos = torch.arange(start, end, device=x.device)
    allowed = None
    if (start // chunk_size + 1) * chunk_size < end:  # the first new frame's chunk ends before the last new frame
        limit = (torch.div(query_pos, chunk_size, rounding_mode="floor") + 1) * chunk_size  # (m,)
        allowed = torch.arange(end, device=x.device)[None, :] < limit[:, None]  # (m, end)
    wavlm = config.model_type == "wavlm"
    position_bias = _relative_position_bias(transformer.layers[0].attention, query_pos, end) if wavlm else None

    for i, layer in enumerate(transformer.layers):
        residual = h
        a = layer.layer_norm(h) if stable else h
        a = _attend(layer.attention, a, cache, i, start, allowed, position_bias)
        h = residual + layer.dropout(a)
        if stable:
            h = h + layer.feed_forward(layer.final_layer_norm(h))
            if getattr(layer, "adapter_layer", None) is not None:
                h = h + layer.adapter_layer(h)
        else:
            h = layer.layer_norm(h)
            h = layer.final_layer_norm(h + layer.feed_forward(h))
    if stable:
        h = transformer.layer_norm(h)  # an Identity when the model is cut to its first layers

    cache.n_frames = start + n_final
    cache.pending = x[:, n_final:].clone()  # not a view of the caller's tensor
    cache.conv_context = window[:, :, n_final : n_final + cache.conv_context.size(2)]
    return h, cache


def _attend(
    attention: torch.nn.Module,
    a: torch.Tensor,
    cache: EncoderStreamCache,
    layer: int,
    start: int,
    allowed: Optional[torch.Tensor],
    position_bias: Optional[torch.Tensor],
) -> torch.Tensor:
    """Self-attention of the new frames (B, m, H) over the cached and new keys and values -> (B, m, H).

    The new frames' keys and values are written after the cached ones; only ``cache.n_frames`` of them count as
    cached, so those of an incomplete chunk are overwritten by the next call.
    """
    b, m, hidden = a.shape
    heads = attention.num_heads

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, m, heads, hidden // heads).transpose(1, 2)  # (B, m, H) -> (B, heads, m, d)

    end = start + m
    cache.keys[layer] = _write(cache.keys[layer], start, split(attention.k_proj(a)))
    cache.values[layer] = _write(cache.values[layer], start, split(attention.v_proj(a)))
    mask = allowed
    if position_bias is not None:
        # WavLM: the layer's gate (from its attention input, per query frame and head) scales the shared bias
        mask = _gated_bias(attention, a, position_bias)  # (B, heads, m, end)
        if allowed is not None:
            mask = mask.masked_fill(~allowed, float("-inf"))
    out = torch.nn.functional.scaled_dot_product_attention(
        split(attention.q_proj(a)),
        cache.keys[layer][:, :, :end],
        cache.values[layer][:, :, :end],
        attn_mask=mask,
        scale=attention.scaling,
    )  # (B, heads, m, d)
    return attention.out_proj(out.transpose(1, 2).reshape(b, m, hidden))


def _grouped_conv(window: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The positional convolution's m outputs of a (B, H, K - 1 + m) window as one batched matrix product per group:
    (B, m, H). For a few output frames, mkldnn's grouped ``conv1d`` is several times slower (~8x for wav2vec2-base's
    768 channels, kernel 128, 16 groups, on one CPU thread)."""
    b, hidden, _ = window.shape
    groups, per_group, width = weight.shape
    k = width // per_group
    m = window.size(2) - k + 1
    # (B, H, m, K) -> (g, B * m, H / g * K): the (channel, tap) inputs of each output frame, per group
    taps = window.unfold(2, k, 1).reshape(b, groups, per_group, m, k).permute(1, 0, 3, 2, 4)
    out = torch.bmm(taps.reshape(groups, b * m, width), weight.transpose(1, 2))  # (g, B * m, H / g)
    return out.view(groups, b, m, per_group).permute(1, 2, 0, 3).reshape(b, m, hidden) + bias


def _write(storage: torch.Tensor, start: int, new: torch.Tensor) -> torch.Tensor:
    """Write (B, heads, n, d) at frames start .. start + n - 1 of the storage, doubling it when it is full."""
    end = start + new.size(2)
    if end > storage.size(2):
        grown = storage.new_empty(*storage.shape[:2], max(end, 2 * storage.size(2)), storage.size(3))
        grown[:, :, :start] = storage[:, :, :start]
        storage = grown
    storage[:, :, start:end] = new
    return storage


def _relative_position_bias(attention: torch.nn.Module, query_pos: torch.Tensor, n_keys: int) -> torch.Tensor:
    """WavLM's relative position bias (heads, m, n_keys) of query frames ``query_pos`` against keys 0..n_keys-1,
    from the first layer's bucketing and embedding (rows of ``compute_bias(n_keys, n_keys)``)."""
    relative = torch.arange(n_keys, device=query_pos.device)[None, :] - query_pos[:, None]  # key - query, (m, n)
    buckets = attention._relative_positions_bucket(relative)
    return attention.rel_attn_embed(buckets).permute(2, 0, 1)  # (m, n, heads) -> (heads, m, n)


def _gated_bias(attention: torch.nn.Module, a: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
    """WavLM's gate on the relative position bias: (B, m, H) attention input -> (B, heads, m, n) additive bias."""
    b, m, hidden = a.shape
    heads = attention.num_heads
    per_head = a.view(b, m, heads, hidden // heads).permute(0, 2, 1, 3)  # (B, heads, m, d)
    proj = attention.gru_rel_pos_linear(per_head).view(b, heads, m, 2, 4).sum(-1)  # (B, heads, m, 2)
    gate_a, gate_b = torch.sigmoid(proj).chunk(2, dim=-1)
    gate = gate_a * (gate_b * attention.gru_rel_pos_const - 1.0) + 2.0  # (B, heads, m, 1)
    return gate * position_bias[None]
