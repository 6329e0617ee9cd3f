"""The TR grid of the LeBel et al. (2023) stimuli (OpenNeuro ds003020) and its cut to the response rows.

Timing convention of the lab's public code (``load_simulated_trfiles(respdict, tr=2.0, start_time=10.0, pad=5)``,
then ``[5 + 5 : -5]``): volume ``k`` is acquired at scanner time ``k * TR`` and the story audio starts at scanner
time 10 s, so the stimulus grid ``k = 0 .. N - 6`` covers audio time ``[k * TR - 10, k * TR - 10 + TR)``; features
downsampled to that grid are cut with ``[10:-5]`` to match the N - 20 rows of the preprocessed responses
(:func:`stimulus_tr_times`, :func:`trim_to_responses`). N is the story's TR count in ``respdict.json``.
"""

from typing import Optional

import numpy as np

TR = 2.0
SOUND_START_S = 10.0
GRID_PAD = 5  # the grid has N - 5 entries
TRIM_START, TRIM_END = 10, 5


def stimulus_tr_times(
    n_acquired: int, tr: float = TR, sound_start: float = SOUND_START_S, midpoint: bool = True
) -> np.ndarray:
    """Times (s, relative to the story audio start) of the stimulus TR grid.

    Args:
        n_acquired: N from ``respdict.json``.
        tr: Repetition time.
        sound_start: Scanner time at which the audio starts.
        midpoint: Return window midpoints ``k * tr - sound_start + tr / 2`` (where the lab code
            samples features) instead of window starts.

    Returns:
        array of shape (N - 5,), float64, for ``k = 0 .. N - 6``.
    """
    if n_acquired <= TRIM_START + TRIM_END + GRID_PAD:
        raise ValueError(
            f"n_acquired must be > {TRIM_START + TRIM_END + GRID_PAD} (N - 20 response rows), got {n_acquired}"
        )
    t = np.arange(n_acquired - GRID_PAD) * tr - sound_start
    return t + tr / 2 if midpoint else t


def trim_to_responses(x: np.ndarray, n_acquired: Optional[int] = None) -> np.ndarray:
    """Cut features on the stimulus grid to the response rows: ``x[10:-5]``.

    Args:
        x: array of shape (N - 5, ...), features on the grid of :func:`stimulus_tr_times`.
        n_acquired: If given, check that ``len(x) == n_acquired - 5``.

    Returns:
        array of shape (N - 20, ...), a view of ``x``.
    """
    if n_acquired is not None and len(x) != n_acquired - GRID_PAD:
        raise ValueError(f"trim_to_responses: expected {n_acquired - GRID_PAD} grid rows (N - 5), got {len(x)}")
    if len(x) <= TRIM_START + TRIM_END:
        raise ValueError(f"trim_to_responses: need more than {TRIM_START + TRIM_END} rows, got {len(x)}")
    return x[TRIM_START:-TRIM_END]
