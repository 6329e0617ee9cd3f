"""No encoder: the frontend's frames go straight to the CTC head.

With the brain feature extractor in front (``encoder: identity``), this is the BFE-only control of a
transfer experiment, the NPTL-style recurrent CTC decoder: the same BFE and CTC head as the transfer
modes, without the pretrained transformer, so that a results table answers whether the transformer
helps at all.
"""

from typing import Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from typeguard import typechecked


class IdentityEncoder(AbsEncoder):
    """Pass frames through unchanged.

    Args:
        input_size: Frontend output size D (ESPnet passes it); the output size is the same.
    """

    @typechecked
    def __init__(self, input_size: int):
        super().__init__()
        if input_size <= 0:
            raise ValueError(f"encoder input_size: expected a positive int, got {input_size}")
        self._output_size = input_size

    def output_size(self) -> int:
        """D, the frontend's output size."""
        return self._output_size

    def forward(
        self, xs_pad: torch.Tensor, ilens: torch.Tensor, prev_states: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, None]:
        """Return the frames as they are.

        Args:
            xs_pad: (B, T, D) frontend frames.
            ilens: (B,) valid frames.
            prev_states: Unused (ESPnet's encoder interface).

        Returns:
            (B, T, D) the same frames, (B,) the same lengths, None.
        """
        return xs_pad, ilens, None
