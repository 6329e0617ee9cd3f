"""ESPnet ASR model that carries a per-utterance recording-day id to its frontend."""

import contextlib
import inspect
import logging
from typing import Dict, Iterator, Optional, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_brain.asr.ctc_feasibility import infeasible_mask


class BrainESPnetASRModel(ESPnetASRModel):
    """CTC/attention ASR model whose frontend may take a recording-day id.

    Neural recordings drift from day to day, so brain frontends keep one input layer per
    recording day (session). The day ids come from the data loader as an extra data key
    ``day`` (an ``utt2day`` file read as ``text_int``), shaped ``(B, 1)`` after collation.
    Everything else is ESPnet's :class:`ESPnetASRModel`, so stock frontends (audio) work
    unchanged and ignore the day.

    It also reports ``ctc_infeasible``: the fraction of utterances whose encoder output is shorter
    than their CTC label needs (ESPnet's CTC silently gives them zero loss). ESPnet's reporter
    averages it over the epoch weighted by batch size, so the epoch summary in ``train.log`` shows
    the fraction of that epoch's utterances that taught nothing; a batch in which every utterance is
    infeasible is also logged as a warning.
    """

    _day: Optional[torch.Tensor] = None
    _ctc_infeasible: Optional[torch.Tensor] = None

    @contextlib.contextmanager
    def _day_scope(self, day: Optional[torch.Tensor]) -> Iterator[None]:
        # ESPnetASRModel.forward calls self.encode(speech, speech_lengths) without extra
        # arguments, so the day ids are held for the duration of one call only.
        previous = self._day
        self._day = None if day is None else day.reshape(day.shape[0], -1)[:, 0].long()
        try:
            yield
        finally:
            self._day = previous

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        day: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Compute the loss.

        Args:
            speech: Neural features (B, T, C) or waveforms (B, L).
            speech_lengths: (B,)
            text: Token ids (B, U), padded with -1.
            text_lengths: (B,)
            day: Recording-day ids (B, 1) or (B,), or None.

        Returns:
            loss, stats, weight as every ESPnet model.
        """
        kwargs.pop("day_lengths", None)
        self._ctc_infeasible = None
        with self._day_scope(day):
            loss, stats, weight = super().forward(speech, speech_lengths, text, text_lengths, **kwargs)
        if self._ctc_infeasible is not None:
            infeasible = self._ctc_infeasible
            stats["ctc_infeasible"] = infeasible.float().mean().detach()
            if self.training and bool(infeasible.all()):
                logging.warning(
                    f"all {infeasible.numel()} utterances of this batch have fewer encoder frames than their CTC "
                    "label needs: their CTC loss is zero and nothing is learned from them (lower the frontend's "
                    "stride, see espnet_brain.bin.check_ctc_feasibility)"
                )
            # As ESPnet's own stats, made gatherable across DataParallel replicas.
            loss, stats, weight = force_gatherable((loss, stats, weight), loss.device)
        return loss, stats, weight

    def _calc_ctc_loss(
        self, encoder_out: torch.Tensor, encoder_out_lens: torch.Tensor, ys_pad: torch.Tensor, ys_pad_lens: torch.Tensor
    ):
        self._ctc_infeasible = infeasible_mask(ys_pad, ys_pad_lens, encoder_out_lens)
        return super()._calc_ctc_loss(encoder_out, encoder_out_lens, ys_pad, ys_pad_lens)

    def collect_feats(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        day: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        with self._day_scope(day):
            return super().collect_feats(speech, speech_lengths, text, text_lengths, **kwargs)

    def encode(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, day: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Frontend + encoder.

        Args:
            speech: (B, T, C) neural features or (B, L) waveforms.
            speech_lengths: (B,)
            day: (B,) or (B, 1) recording-day ids; when None, the ids of the enclosing
                ``forward`` call are used (if any).

        Returns:
            encoder_out (B, T', H), encoder_out_lens (B,)
        """
        if day is None:
            return super().encode(speech, speech_lengths)
        with self._day_scope(day):
            return super().encode(speech, speech_lengths)

    def extract_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, day: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Frontend output only (e.g. for latent analyses of the brain feature extractor).

        Args:
            speech: (B, T, C) or (B, L)
            speech_lengths: (B,)
            day: (B,) or (B, 1) recording-day ids, or None.

        Returns:
            feats (B, T', D), feats_lengths (B,)
        """
        with self._day_scope(day):
            return self._extract_feats(speech, speech_lengths)

    def _extract_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.frontend is None or not _accepts_day(self.frontend):
            return super()._extract_feats(speech, speech_lengths)
        speech = speech[:, : speech_lengths.max()]
        return self.frontend(speech, speech_lengths, day=self._day)


def _accepts_day(module: torch.nn.Module) -> bool:
    return "day" in inspect.signature(module.forward).parameters
