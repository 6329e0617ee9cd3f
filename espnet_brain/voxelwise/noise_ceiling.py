"""Noise ceiling of voxelwise encoding models from repeated presentations.

For R repeats ``y_r = s + n_r`` of a voxel's response (T time points, noise independent across
repeats with variance ``sigma^2``), the signal power is estimated without bias by (Sahani & Linden
2003; Schoppe et al. 2016)::

    SP = (Var(sum_r y_r) - sum_r Var(y_r)) / (R (R - 1))

since ``Var(sum_r y_r) = R^2 Var(s) + R sigma^2`` and ``sum_r Var(y_r) = R Var(s) + R sigma^2``
(variances over time, the same ``ddof`` in both terms). The largest correlation a perfect model
(one predicting ``s``) can reach is

* with a single repeat: ``CC_max = sqrt(SP / mean_r Var(y_r))``; for a signal/noise variance ratio
  ``snr`` this is ``sqrt(snr / (1 + snr))``;
* with the mean over the R repeats (Schoppe et al. 2016): ``CC_max = sqrt(SP / Var(mean_r y_r))``,
  i.e. ``sqrt(R snr / (1 + R snr))``.

Negative SP estimates (noise-only voxels) give a ceiling of 0; voxels without variance give NaN.
"""

import numpy as np


def signal_power(repeats: np.ndarray) -> np.ndarray:
    """Unbiased estimate of the signal variance of each voxel.

    Args:
        repeats: (R, T, V) responses to R >= 2 presentations of the same stimulus.

    Returns:
        (V,) float64 signal power (may be negative for noise-only voxels).
    """
    y = np.asarray(repeats, dtype=np.float64)
    if y.ndim == 2:
        y = y[:, :, None]  # (R, T) -> (R, T, 1)
    if y.ndim != 3:
        raise ValueError(f"repeats must have shape (n_repeats, n_TRs, n_voxels), got {np.shape(repeats)}")
    r = y.shape[0]
    if r < 2:
        raise ValueError(f"a noise ceiling needs at least 2 repeats, got shape {y.shape}")
    if y.shape[1] < 2:
        raise ValueError(f"a noise ceiling needs at least 2 time points, got shape {y.shape}")
    var_of_sum = y.sum(axis=0).var(axis=0)  # (V,)
    sum_of_var = y.var(axis=1).sum(axis=0)  # (V,)
    return (var_of_sum - sum_of_var) / (r * (r - 1))


def noise_ceiling(repeats: np.ndarray, reference: str = "single") -> np.ndarray:
    """Largest correlation a perfect model can reach, per voxel (CC_max).

    Args:
        repeats: (R, T, V) responses to R >= 2 presentations ((R, T) for one voxel).
        reference: ``"single"``: the model is scored against one repeat; ``"mean"``: against the
            mean over the R repeats (Schoppe et al. 2016's CC_max).

    Returns:
        (V,) float64 in [0, 1]; NaN for voxels without variance.
    """
    if reference not in ("single", "mean"):
        raise ValueError(f"reference must be 'single' or 'mean', got {reference!r}")
    y = np.asarray(repeats, dtype=np.float64)
    if y.ndim == 2:
        y = y[:, :, None]
    sp = signal_power(y)
    if reference == "single":
        total = y.var(axis=1).mean(axis=0)
    else:
        total = y.mean(axis=0).var(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total > 0, sp / np.where(total > 0, total, 1.0), np.nan)
    return np.sqrt(np.clip(ratio, 0.0, 1.0))


def ceiling_from_snr(snr: np.ndarray, n_repeats: int = 1) -> np.ndarray:
    """CC_max implied by a signal/noise variance ratio, for the mean of ``n_repeats`` repeats.

    Args:
        snr: (V,) signal variance / noise variance of a single repeat.
        n_repeats: Number of repeats averaged by the reference (1 = a single repeat).

    Returns:
        (V,) ``sqrt(n snr / (1 + n snr))``.
    """
    s = n_repeats * np.asarray(snr, dtype=np.float64)
    if np.any(s < 0):
        raise ValueError("snr must be non-negative")
    return np.sqrt(s / (1.0 + s))
