"""ESPnet ASR model that carries a per-utterance recording-day id to its frontend."""

import contextlib
import inspect
from typing import Dict, Iterator, Optional, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel


class BrainESPnetASRModel(ESPnetASRModel):
    """CTC/attention ASR model whose frontend may take a recording-day id.

    Neural recordings drift from day to day, so brain frontends keep one input layer per
    recording day (session). The day ids come from the data loader as an extra data key
    ``day`` (an ``utt2day`` file read as ``text_int``), shaped ``(B, 1)`` after collation.
    Everything else is ESPnet's :class:`ESPnetASRModel`, so stock frontends (audio) work
    unchanged and ignore the day.
    """

    _day: Optional[torch.Tensor] = None

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
        with self._day_scope(day):
            return super().forward(speech, speech_lengths, text, text_lengths, **kwargs)

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
