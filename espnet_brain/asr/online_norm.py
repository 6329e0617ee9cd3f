"""Online (causal) per-channel z-scoring of neural features, as a live decoder can compute it.

A block z-score (:func:`espnet_brain.data.willett.zscore_by_block`) normalises every bin with the mean and std of
its whole recording block, future bins included, which a live decoder does not have. :class:`OnlineZScore` starts
from training statistics and follows slow drifts with exponential moving averages of the mean and variance; the
output at bin t reads bins <= t only. The same object serves both uses:

- a whole recording (T, C) at once, e.g. when dumping training data (``dump_neural --zscore online``), so a model
  is trained on features normalised exactly as it will see them live;
- chunk by chunk, the state kept between calls (e.g. in front of
  :class:`espnet_brain.asr.streaming.StreamingDecoder`); the result is identical, to the bit, to the whole-array one.

The recursions (exponentially weighted mean and variance, ``a = 1 - exp(-1 / time_constant)``)::

    d_t   = x_t - m_{t-1}
    m_t   = m_{t-1} + a d_t
    v_t   = (1 - a) (v_{t-1} + a d_t^2)
    y_t   = (x_t - m_t) / (sqrt(v_t) + eps)

with ``m_{-1}`` and ``v_{-1}`` the training mean and variance. ``time_constant = inf`` never adapts: the training
z-score. Pure numpy (torch tensors are accepted and returned); the state is float64.
"""

import math
from typing import Any

import numpy as np

Array = Any  # a numpy array or a torch tensor (torch is not needed here)

DEFAULT_TIME_CONSTANT = 3000.0  # bins: 60 s at 20 ms, slow enough for stable variance estimates of spike counts
EPS = 1e-8  # added to the std, as in willett.zscore_by_block and dump.TrainStats


class OnlineZScore:
    """Running per-channel z-scoring from training statistics, adapted with exponential moving averages.

    Args:
        mean: (C,) per-channel mean of the training data (the starting point).
        std: (C,) per-channel standard deviation of the training data (>= 0).
        time_constant: Time constant of the moving averages in bins (> 0; ``math.inf``: no adaptation). At 20 ms
            bins, 3000 bins = 60 s.
        eps: Added to the std before dividing.

    Attributes:
        mean_: (C,) float64 current mean estimate.
        var_: (C,) float64 current variance estimate.
        n_seen: Bins consumed since the start (or the last :meth:`reset`); the stream position of the next bin.
    """

    def __init__(self, mean, std, time_constant: float = DEFAULT_TIME_CONSTANT, eps: float = EPS):
        mean = np.asarray(mean, dtype=np.float64)
        std = np.asarray(std, dtype=np.float64)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise ValueError(f"OnlineZScore: expected mean and std of shape (C,), got {mean.shape} and {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std < 0).any():
            raise ValueError("OnlineZScore: the training mean and std must be finite and the std >= 0")
        if not time_constant > 0:
            raise ValueError(
                f"OnlineZScore: time_constant must be > 0 bins (math.inf: no adaptation), got {time_constant}"
            )
        self.init_mean = mean.copy()
        self.init_var = std**2
        self.time_constant = float(time_constant)
        self.eps = float(eps)
        # 1 - exp(-1 / tau), accurate for large tau; 0 for tau = inf
        self.alpha = 0.0 if math.isinf(time_constant) else -math.expm1(-1.0 / time_constant)
        self.reset()

    @property
    def n_channels(self) -> int:
        """Channels C."""
        return self.init_mean.shape[0]

    def reset(self) -> "OnlineZScore":
        """Start again from the training statistics (e.g. at the start of a recording block)."""
        self.mean_ = self.init_mean.copy()
        self.var_ = self.init_var.copy()
        self.n_seen = 0
        return self

    def __call__(self, x: Array) -> Array:
        """Normalise the next bins and update the state.

        Args:
            x: (T, C) the next T bins (numpy array or torch tensor; T may be 0).

        Returns:
            (T, C) float32 normalised bins, a numpy array or a tensor on ``x``'s device as given.

        Raises:
            ValueError: A shape other than (T, C), or a NaN/Inf bin (named by its stream position); the state is
                left as it was before the call.
        """
        tensor = None
        if not isinstance(x, np.ndarray) and type(x).__module__.startswith("torch"):
            tensor = x
            x = x.detach().cpu().numpy()
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_channels:
            raise ValueError(f"OnlineZScore: expected bins (T, {self.n_channels}), got shape {x.shape}")
        bad = ~np.isfinite(x)
        if bad.any():
            t, c = np.argwhere(bad)[0]
            raise ValueError(
                f"OnlineZScore: NaN/Inf at stream bin {self.n_seen + int(t)} (channel {int(c)}); "
                "the normalisation state would be corrupted"
            )
        out = np.empty(x.shape, dtype=np.float32)
        m, v, a = self.mean_.copy(), self.var_.copy(), self.alpha
        xs = x.astype(np.float64, copy=False)
        for t in range(xs.shape[0]):  # a recursion: bin by bin, all channels at once
            d = xs[t] - m
            m += a * d
            v = (1.0 - a) * (v + a * d * d)
            out[t] = (xs[t] - m) / (np.sqrt(v) + self.eps)
        self.mean_, self.var_ = m, v
        self.n_seen += xs.shape[0]
        if tensor is None:
            return out
        import torch

        return torch.from_numpy(out).to(tensor.device)


def online_zscore(x: Array, mean, std, time_constant: float = DEFAULT_TIME_CONSTANT, eps: float = EPS) -> Array:
    """Online z-score of a whole recording (T, C), starting from the training statistics.

    Args:
        x: (T, C) bins.
        mean: (C,) training mean.
        std: (C,) training standard deviation.
        time_constant: Moving-average time constant in bins (see :class:`OnlineZScore`).
        eps: Added to the std.

    Returns:
        (T, C) float32, what :class:`OnlineZScore` gives chunk by chunk.
    """
    return OnlineZScore(mean, std, time_constant, eps)(x)
