"""Can CTC align each utterance's label with the frames the encoder gives it?

CTC emits one token (or blank) per encoder frame and needs a blank between two equal neighbours, so a label
of ``U`` tokens with ``R`` adjacent repeats needs at least ``U + R`` frames. ESPnet's CTC
(``zero_infinity=True``) gives an utterance with fewer frames a loss of 0 and no gradient: too coarse a
frontend stride makes a run "train" on nothing, in silence. This module counts such utterances before
training (:func:`check_set`, run by the recipes' statistics stage) and during it
(:func:`infeasible_mask`, reported per epoch by the brain ASR model).
"""

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch


def required_frames(token_ids: Sequence[int]) -> int:
    """Fewest encoder frames CTC needs for one label: its length plus its adjacent repeats."""
    ids = list(token_ids)
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def infeasible_mask(ys_pad: torch.Tensor, ys_lens: torch.Tensor, enc_lens: torch.Tensor) -> torch.Tensor:
    """Which utterances of a batch have fewer encoder frames than their CTC label needs.

    Args:
        ys_pad: (B, U) token ids, padded beyond ``ys_lens`` with any value.
        ys_lens: (B,) label lengths.
        enc_lens: (B,) encoder output lengths.

    Returns:
        (B,) bool, True where CTC cannot align the label (ESPnet then zeroes its loss).
    """
    positions = torch.arange(ys_pad.shape[1], device=ys_pad.device)
    valid_pair = positions[1:].unsqueeze(0) < ys_lens.unsqueeze(1)  # (B, U-1): both tokens inside the label
    repeats = ((ys_pad[:, 1:] == ys_pad[:, :-1]) & valid_pair).sum(dim=1)
    return enc_lens.to(ys_lens.device) < ys_lens + repeats


@dataclass
class FeasibilityReport:
    """Per-set counts of utterances too short for their CTC label.

    Attributes:
        name: The set's name.
        n_utts: Utterances checked.
        infeasible: ``(utt_id, frames, needed)`` of each utterance with too few frames.
        needed_per_frame: Needed frames / available frames of every utterance (> 1: infeasible).
    """

    name: str
    n_utts: int = 0
    infeasible: List[Tuple[str, int, int]] = field(default_factory=list)
    needed_per_frame: List[float] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return len(self.infeasible) / self.n_utts if self.n_utts else 0.0

    def summary(self) -> str:
        ratio = float(np.median(self.needed_per_frame)) if self.needed_per_frame else float("nan")
        text = (
            f"{self.name}: {len(self.infeasible)} of {self.n_utts} utterances ({100 * self.fraction:.1f} %) have "
            f"fewer encoder frames than their CTC label needs (median label needs {ratio:.2f} of the frames)"
        )
        if self.infeasible:
            examples = ", ".join(f"{u} ({n} frames, needs {k})" for u, n, k in self.infeasible[:3])
            text += f"; e.g. {examples}"
        return text


def read_lengths(shape_file: str) -> Dict[str, int]:
    """First dimension per utterance of an ESPnet shape file (``<utt> <T>[,<D>...]`` per line)."""
    from espnet2.fileio.read_text import read_2columns_text

    lengths = {}
    for utt, value in read_2columns_text(shape_file).items():
        try:
            lengths[utt] = int(value.split(",")[0])
        except ValueError:
            raise ValueError(f"{shape_file}: utterance {utt}: expected '<T>[,<D>]', got {value!r}") from None
    return lengths


def check_set(
    name: str,
    lengths: Dict[str, int],
    labels: Dict[str, Sequence[int]],
    output_lengths: Callable[[torch.Tensor], torch.Tensor],
) -> FeasibilityReport:
    """Count the utterances whose encoder output is shorter than their CTC label needs.

    Args:
        name: Name of the set (for the report).
        lengths: Input length (frames or samples) per utterance id.
        labels: Token ids per utterance id; utterances without a label are skipped.
        output_lengths: The frontend's input-to-output length rule, e.g.
            :meth:`espnet_brain.asr.frontend.brain_gru.BrainGRUFrontend.output_lengths`.

    Returns:
        The set's :class:`FeasibilityReport`.
    """
    report = FeasibilityReport(name)
    utts = [u for u in lengths if u in labels]
    if not utts:
        return report
    frames = output_lengths(torch.tensor([lengths[u] for u in utts])).tolist()
    for utt, n_frames in zip(utts, frames):
        needed = required_frames(labels[utt])
        report.n_utts += 1
        report.needed_per_frame.append(needed / n_frames if n_frames > 0 else math.inf)
        if n_frames < needed:
            report.infeasible.append((utt, int(n_frames), needed))
    return report
