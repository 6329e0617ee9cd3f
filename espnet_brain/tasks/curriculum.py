"""Sentence-length curriculum for ESPnet training: the shortest utterances first, then all of them.

Fiedler et al. (2025) name curriculum learning among what they did not try. Here it is a property of the training
iterator, so it works for every transfer mode: in epoch ``e <= epochs`` only the ``f(e)`` shortest batches are
used, with ``f`` growing linearly from ``start_fraction`` (epoch 1) to 1 (epoch ``epochs + 1`` onwards); batches
are ranked by their longest input (the ``speech_shape`` file). Which batches an epoch uses depends only on the
epoch, so a resumed run sees the same curriculum.
"""

import math
from typing import Dict, List, Optional, Sequence

from espnet2.iterators.sequence_iter_factory import RawSampler, SequenceIterFactory


def read_lengths(shape_file: str) -> Dict[str, int]:
    """``{utt: frames}`` of an ESPnet shape file (``utt T[,D...]`` per line).

    Raises:
        ValueError: a malformed line, with the file and line number.
    """
    lengths = {}
    with open(shape_file, encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                lengths[parts[0]] = int(parts[1].split(",")[0])
            except (IndexError, ValueError):
                raise ValueError(f"{shape_file}:{i}: expected '<utt> <frames>[,<dim>...]', got {line.strip()!r}")
    return lengths


def curriculum_fraction(epoch: int, epochs: int, start_fraction: float) -> float:
    """Share of the (shortest) batches used in ``epoch`` (1-based)."""
    if epochs <= 0 or epoch > epochs:
        return 1.0
    return start_fraction + (1.0 - start_fraction) * (epoch - 1) / epochs


class CurriculumIterFactory(SequenceIterFactory):
    """A :class:`SequenceIterFactory` whose early epochs use only the shortest batches.

    Args:
        base: the iterator factory ESPnet built for training (its dataset, batches, seed and loader settings).
        lengths: ``{utt: frames}`` of the training inputs.
        epochs: curriculum epochs (after them, every batch in every epoch).
        start_fraction: share of the batches, shortest first, used in epoch 1 (0 < start_fraction <= 1).
    """

    def __init__(self, base: SequenceIterFactory, lengths: Dict[str, int], epochs: int, start_fraction: float):
        if not 0.0 < start_fraction <= 1.0:
            raise ValueError(f"curriculum: start_fraction must be in (0, 1], got {start_fraction}")
        if base.num_iters_per_epoch is not None:
            raise ValueError("curriculum: not with --num_iters_per_epoch (an epoch must be one pass over its batches)")
        self.__dict__.update(base.__dict__)
        self.epochs = epochs
        self.start_fraction = start_fraction
        self.lengths = lengths

    def batches_of_epoch(self, epoch: int) -> Optional[List[Sequence[str]]]:
        """The batches ``epoch`` trains on (in sampler order), or None for all of them."""
        fraction = curriculum_fraction(epoch, self.epochs, self.start_fraction)
        if fraction >= 1.0:
            return None
        batches = self.sampler.generate(epoch + self.seed)
        missing = [u for b in batches for u in b if u not in self.lengths]
        if missing:
            raise ValueError(
                f"curriculum: no length for {len(missing)} utterances in the shape file, e.g. {missing[0]}"
            )
        longest = [max(self.lengths[u] for u in b) for b in batches]
        n_keep = max(1, math.ceil(fraction * len(batches)))
        keep = sorted(sorted(range(len(batches)), key=lambda i: (longest[i], i))[:n_keep])
        return [batches[i] for i in keep]

    def build_iter(self, epoch: int, shuffle: Optional[bool] = None):
        selected = self.batches_of_epoch(epoch)
        if selected is None:
            return super().build_iter(epoch, shuffle)
        full = self.sampler
        self.sampler = RawSampler(selected)  # the loader takes its own list of these batches
        try:
            return super().build_iter(epoch, shuffle)
        finally:
            self.sampler = full
