"""Streaming brain-to-text: decode neural bins as they arrive, with a causal BFE + chunked-attention transformer.

A speech neuroprosthesis decodes live: every increment of neural bins (by default 4 bins = 80 ms at 20 ms bins)
updates the running text. :class:`StreamingDecoder` wraps a trained :class:`espnet_brain.asr.espnet_model.
BrainESPnetASRModel` whose frontend is a causal :class:`espnet_brain.asr.frontend.brain_gru.BrainGRUFrontend`
(``frontend_conf.causal: true``) and whose encoder is an :class:`espnet_brain.asr.encoder.hf_ssl.HFSSLEncoder`
with chunked attention (``encoder_conf.chunk_size > 0``, ``causal_pos_conv: true``):

- the frontend runs incrementally (:meth:`BrainGRUFrontend.forward_stream`: smoothing history, the incomplete
  window, the GRU's hidden state);
- without right context (``encoder_conf.right_context: 0``) the transformer encodes only the new frames at each
  increment, with a key/value cache of the frames before (:meth:`HFSSLEncoder.forward_chunk`), so an increment
  costs the same at any point of a sentence. With right context (the keys and values of a frame then change with
  the next chunk) the transformer re-encodes all frames of the stream so far under the chunk mask: exact, and
  O(T^2) per increment;
- frames whose encoder output no later bin can change (:meth:`HFSSLEncoder.num_final_frames`) are final: their
  CTC log-posteriors are kept as first computed; the later frames are provisional until more bins (or
  :meth:`StreamingDecoder.finish`) arrive;
- the running hypothesis is greedy CTC over all frames so far; its part over the final frames never changes;
- optionally a lexicon + word n-gram beam search (:class:`espnet_brain.asr.lm.lexicon_search.LexiconBeamSearch`)
  runs online over the final frames (torchaudio's ``decode_begin`` / ``decode_step`` / ``decode_end``), so each
  result also carries the running beam + LM text.

At the end of a sentence (:meth:`StreamingDecoder.finish`), the log-posteriors and the hypotheses are those of the
offline forward of the same model (and of the offline beam search) on the whole sentence.
"""

import logging
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from espnet_brain.asr.ctc_decoding import collapse_path, tokens_to_text
from espnet_brain.asr.encoder.hf_ssl import HFSSLEncoder
from espnet_brain.asr.frontend.brain_gru import BrainGRUFrontend, BrainGRUStreamState
from espnet_brain.asr.lm.lexicon_search import Hypothesis, LexiconBeamSearch
from espnet_brain.asr.online_norm import OnlineZScore

DEFAULT_INCREMENT = 4  # bins: 80 ms at 20 ms bins, the update rate of the reference BFE (stride 4)


@dataclass
class StreamingHypothesis:
    """The running result of a stream.

    Attributes:
        token_ids: Greedy CTC token ids over all frames so far (final and provisional).
        text: ``token_ids`` as text.
        final_token_ids: Greedy CTC token ids over the final frames only: a prefix of ``token_ids`` that later
            bins no longer change.
        n_bins: Bins received (the stream position of the next bin), pending ones included.
        n_frames: Frames encoded.
        n_final_frames: Leading frames whose log-posteriors are final.
        is_final: True once :meth:`StreamingDecoder.finish` has been called.
        lm_token_ids: With an ``lm_search``: token ids of the best beam + LM hypothesis over the final frames, up to
            its last complete word while the stream runs (flashlight's ``get_best_hypothesis``), the search's best
            hypothesis once final; as :class:`LexiconBeamSearch` gives them. None without an ``lm_search``.
        lm_text: Its text, as :class:`LexiconBeamSearch` gives it (None without an ``lm_search``).
    """

    token_ids: List[int]
    text: str
    final_token_ids: List[int] = field(default_factory=list)
    n_bins: int = 0
    n_frames: int = 0
    n_final_frames: int = 0
    is_final: bool = False
    lm_token_ids: Optional[List[int]] = None
    lm_text: Optional[str] = None


class StreamingDecoder:
    """Decode a live stream of neural bins with a trained causal brain-to-text model.

    Args:
        model: A :class:`BrainESPnetASRModel` (``frontend`` -> ``encoder`` -> ``ctc``) with a causal BFE and an
            HF SSL encoder; it is put in eval mode. No ``normalize``, ``preencoder`` or ``postencoder``.
        increment: Bins per update (>= 1). Bins are buffered until an increment is complete.
        day: Recording-day id of the stream (its input layer); required when the frontend has several days.
        normalizer: Optional online z-scoring of the raw bins (e.g. :class:`OnlineZScore` built from the training
            statistics of ``dump_neural --zscore online``), applied before the model; it is reset with the stream.
        token_list: Tokens for the text (default: ``model.token_list``).
        kv_cache: Encode only the new frames at each increment, with a key/value cache
            (:meth:`HFSSLEncoder.forward_chunk`), when the encoder allows it (no right context); False, or an
            encoder that does not allow it: re-encode all frames so far at each increment.
        lm_search: Optional lexicon + word n-gram beam search run online over the final frames: each result then
            carries its running text (``lm_text``), and at :meth:`finish` it is the search run offline on the
            sentence's log-posteriors. The search object holds the stream's beam: give each decoder its own, and do
            not decode other utterances with it while a stream runs.

    Example::

        decoder = StreamingDecoder(model, increment=4, day=3)
        for chunk in source:                   # (t, C) arrays as they arrive
            hyp = decoder.push(chunk)
            show(hyp.text)
        final = decoder.finish()               # end of the sentence
        decoder.reset(day=3)                   # next sentence
    """

    def __init__(
        self,
        model: torch.nn.Module,
        increment: int = DEFAULT_INCREMENT,
        day: Optional[int] = None,
        normalizer: Optional[OnlineZScore] = None,
        token_list: Optional[Sequence[str]] = None,
        kv_cache: bool = True,
        lm_search: Optional[LexiconBeamSearch] = None,
    ):
        frontend, encoder = getattr(model, "frontend", None), getattr(model, "encoder", None)
        if not isinstance(frontend, BrainGRUFrontend) or not frontend.causal:
            raise ValueError(
                "StreamingDecoder: the model's frontend must be a brain_gru frontend with frontend_conf.causal = true "
                f"(no look-ahead), got {type(frontend).__name__}"
                + ("" if not isinstance(frontend, BrainGRUFrontend) else " with causal = false")
            )
        if not isinstance(encoder, HFSSLEncoder):
            raise ValueError(f"StreamingDecoder: the model's encoder must be hf_ssl, got {type(encoder).__name__}")
        for key in ("normalize", "preencoder", "postencoder"):
            if getattr(model, key, None) is not None:
                raise ValueError(
                    f"StreamingDecoder: the model has a {key} ({type(getattr(model, key)).__name__}); "
                    f"streaming supports {key}: null only"
                )
        if getattr(model, "ctc", None) is None:
            raise ValueError("StreamingDecoder: the model has no CTC head")
        if increment < 1:
            raise ValueError(f"StreamingDecoder: increment must be >= 1 bin, got {increment}")
        if encoder.chunk_size == 0 or not encoder.causal_pos_conv:
            logging.warning(
                "StreamingDecoder: the encoder looks at the whole utterance (encoder_conf.chunk_size = "
                f"{encoder.chunk_size}, causal_pos_conv = {encoder.causal_pos_conv}); its hypotheses stay provisional "
                "until finish()"
            )
        if normalizer is not None and normalizer.n_channels != frontend.input_size:
            raise ValueError(
                f"StreamingDecoder: the normalizer has {normalizer.n_channels} channels, the frontend "
                f"{frontend.input_size} (frontend_conf.input_size)"
            )
        self.model = model.eval()
        self.frontend: BrainGRUFrontend = frontend
        self.encoder: HFSSLEncoder = encoder
        self.increment = int(increment)
        self.normalizer = normalizer
        self.token_list = list(token_list if token_list is not None else model.token_list)
        self.blank = int(getattr(model, "blank_id", 0))
        self.device = next(model.parameters()).device
        reason = encoder.stream_cache_unsupported()
        self.kv_cache = kv_cache and reason is None
        if kv_cache and reason is not None:
            logging.info(
                f"StreamingDecoder: all frames are re-encoded at each increment (no key/value cache: {reason})"
            )
        if lm_search is not None and list(lm_search.token_list) != self.token_list:
            raise ValueError(
                f"StreamingDecoder: the lm_search has {len(lm_search.token_list)} tokens that differ from the "
                f"model's {len(self.token_list)} (token_list)"
            )
        self.lm_search = lm_search
        self.reset(day)

    # ------------------------------------------------------------------------------------------------------------
    # Stream control

    def reset(self, day: Optional[int] = None) -> None:
        """Start a new stream (e.g. the next sentence), on recording day ``day``."""
        self._day = self._check_day(day)
        self._state: Optional[BrainGRUStreamState] = None
        self._pending = torch.zeros(0, self.frontend.input_size, device=self.device)  # (t, C) waiting bins
        self._frames = torch.zeros(1, 0, self.frontend.output_size(), device=self.device)  # (1, T', D), no cache
        self._cache = None  # the encoder's key/value cache (kv_cache)
        self._log_probs = torch.zeros(0, len(self.token_list), device=self.device)  # (T', V)
        self._n_final = 0
        # best path of the final frames, collapsed as they become final, so that a push's greedy decoding only
        # looks at the frames that may still change (its cost does not grow with the sentence)
        self._final_ids: List[int] = []
        self._final_last: Optional[int] = None  # best-path symbol of the last final frame
        self.n_bins = 0
        self._finished = False
        if self.normalizer is not None:
            self.normalizer.reset()
        self._lm_best: Optional[Hypothesis] = None
        if self.lm_search is not None:
            self.lm_search.decoder.decode_begin()
            self._lm_best = Hypothesis(tokens=[], text="", score=0.0)

    @torch.no_grad()
    def push(self, bins: Union[np.ndarray, torch.Tensor]) -> StreamingHypothesis:
        """Add the next bins; every complete increment updates the hypothesis.

        Args:
            bins: (t, C) neural features of the next t bins (t may be 0), in the frontend's input space.

        Returns:
            The running hypothesis.

        Raises:
            ValueError: A chunk of the wrong shape or channel count, NaN/Inf bins (named by stream bin and
                channel), or a push after :meth:`finish`.
        """
        if self._finished:
            raise ValueError(f"StreamingDecoder: the stream ended at bin {self.n_bins} (finish()); call reset() first")
        x = self._check_bins(bins)
        if self.normalizer is not None:
            x = self.normalizer(x)
        self._pending = torch.cat([self._pending, x.to(self.device, torch.float32)])
        self.n_bins += x.shape[0]
        complete = self._pending.size(0) // self.increment * self.increment
        if complete:
            ready, self._pending = self._pending[:complete], self._pending[complete:]
            frames = self._consume(ready)
            if frames is not None:
                self._encode(frames, finish=False)
        return self.hypothesis()

    @torch.no_grad()
    def finish(self) -> StreamingHypothesis:
        """End the stream (a sentence's end, or a stream that stops mid-sentence): the pending bins are used, every
        frame becomes final, and the result is the offline forward of the model on all bins received. Bins after
        the last complete frame (fewer than ``frontend_conf.stride``) make no frame, as offline."""
        if not self._finished:
            frames = self._consume(self._pending) if self._pending.size(0) else None
            self._pending = self._pending[:0]
            if frames is not None or self._n_final < self._log_probs.size(0):
                self._encode(frames, finish=True)
            if self.lm_search is not None:
                search = self.lm_search.decoder
                # the word boundary after the last frame, as the offline search reads it (completes the last word)
                search.decode_step(self.lm_search.boundary_frame())
                search.decode_end()  # the LM's end of sentence; the hypotheses come out sorted
                self._lm_best = self._lm_convert(search.get_final_hypothesis())
            self._finished = True
        return self.hypothesis()

    # ------------------------------------------------------------------------------------------------------------
    # Results

    @property
    def log_probs(self) -> torch.Tensor:
        """(T', V) CTC log-posteriors of the frames so far (final ones first, as first computed)."""
        return self._log_probs.clone()

    def hypothesis(self) -> StreamingHypothesis:
        """The running hypothesis (greedy CTC)."""
        n = self._log_probs.size(0)
        final_ids = list(self._final_ids)
        ids = final_ids + self._collapse(self._log_probs[self._n_final :], self._final_last)[0]
        return StreamingHypothesis(
            token_ids=ids,
            text=tokens_to_text(ids, self.token_list),
            final_token_ids=final_ids,
            n_bins=self.n_bins,
            n_frames=n,
            n_final_frames=self._n_final,
            is_final=self._finished,
            lm_token_ids=None if self._lm_best is None else list(self._lm_best.tokens),
            lm_text=None if self._lm_best is None else self._lm_best.text,
        )

    # ------------------------------------------------------------------------------------------------------------
    # Internals

    def _consume(self, bins: torch.Tensor) -> Optional[torch.Tensor]:
        """Run the frontend on (t, C) bins; the new frames (1, t', D), None when none came out."""
        frames, self._state = self.frontend.forward_stream(bins[None], self._state, day=self._day)
        return frames if frames.size(1) else None

    def _encode(self, frames: Optional[torch.Tensor], finish: bool) -> None:
        """Encode the new frames (1, t', D) (None: none) and update the log-posteriors and the final frames."""
        if self.kv_cache:
            # Only the new frames (and those of an incomplete chunk) go through the transformer; at the end of a
            # stream the outputs of an incomplete last chunk are already those of the offline forward.
            if frames is not None:
                start = 0 if self._cache is None else self._cache.n_frames
                hidden, self._cache = self.encoder.forward_chunk(frames, self._cache)
                log_probs = self.model.ctc.log_softmax(hidden)[0]  # (t_p + t', V)
                self._log_probs = torch.cat([self._log_probs[:start], log_probs])
            n_final = self._log_probs.size(0) if finish else self._cache.n_frames
        else:
            if frames is not None:
                self._frames = torch.cat([self._frames, frames], dim=1)
            n = self._frames.size(1)
            # All frames so far are re-encoded; the chunk mask makes the outputs of the final frames equal to what
            # they were.
            hidden, _, _ = self.encoder(self._frames, torch.tensor([n], device=self.device))
            log_probs = self.model.ctc.log_softmax(hidden)[0]  # (T', V)
            # Final frames keep the values they had when they became final (equal up to rounding, never re-decided).
            self._log_probs = torch.cat([self._log_probs[: self._n_final], log_probs[self._n_final :]])
            n_final = n if finish else max(self._n_final, self.encoder.num_final_frames(n))
        if self.lm_search is not None and n_final > self._n_final:
            self._search_step(self._log_probs[self._n_final : n_final])
        if n_final > self._n_final:
            new_ids, self._final_last = self._collapse(self._log_probs[self._n_final : n_final], self._final_last)
            self._final_ids.extend(new_ids)
        self._n_final = n_final

    def _collapse(self, log_probs: torch.Tensor, prev: Optional[int]) -> Tuple[List[int], Optional[int]]:
        """Greedy CTC over (t, V) frames that follow a frame whose best-path symbol was ``prev``: the new tokens
        (repeats of ``prev`` merged, blanks dropped) and the last frame's symbol."""
        return collapse_path(log_probs.argmax(dim=-1).tolist(), self.blank, prev)

    def _search_step(self, log_probs: torch.Tensor) -> None:
        """Feed the (t, V) log-posteriors of newly final frames to the online beam search."""
        search = self.lm_search.decoder
        search.decode_step(log_probs.detach().to("cpu", torch.float32).contiguous())
        # torchaudio's CTCDecoder has no get_best_hypothesis (its get_final_hypothesis takes the first nbest
        # hypotheses, unsorted until decode_end); flashlight's does: the best path back to its last complete word.
        best = search.decoder.get_best_hypothesis()
        self._lm_best = self._lm_convert(search._to_hypo([best]))  # torchaudio's conversion of flashlight's result

    def _lm_convert(self, results: list) -> Hypothesis:
        """The best of torchaudio's hypotheses (best first), converted as the offline search converts them."""
        hyps = self.lm_search.convert(results)
        return hyps[0] if hyps else Hypothesis(tokens=[], text="", score=0.0)

    def _check_day(self, day: Optional[int]) -> Optional[torch.Tensor]:
        # A stream's day is set when it starts (bin 0): one input layer for the whole stream.
        n_days = self.frontend.n_days
        if day is None:
            if n_days > 1:
                raise ValueError(
                    f"StreamingDecoder: no day id at stream bin 0: the frontend has an input layer per day "
                    f"(frontend_conf.n_days = {n_days}); give the stream's day id"
                )
            return None
        if not 0 <= int(day) < n_days:
            layers = f"days 0..{n_days - 1}" if n_days else "no day layers"
            raise ValueError(
                f"StreamingDecoder: day id {day} at stream bin 0 has no input layer: the frontend has {layers} "
                f"(frontend_conf.n_days = {n_days})"
            )
        return torch.tensor([int(day)], device=self.device)

    def _check_bins(self, bins: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
        x = bins if isinstance(bins, torch.Tensor) else torch.as_tensor(np.asarray(bins, dtype=np.float32))
        channels = self.frontend.input_size
        if x.dim() != 2 or x.size(1) != channels:
            raise ValueError(
                f"StreamingDecoder: the chunk at stream bin {self.n_bins} has shape {tuple(x.shape)}, expected "
                f"(t, {channels}) (frontend_conf.input_size channels)"
            )
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            t, c = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"StreamingDecoder: NaN/Inf at stream bin {self.n_bins + t} (channel {c}); the stream state is "
                "unchanged, the chunk was not used"
            )
        return x
