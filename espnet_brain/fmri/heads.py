"""Readout heads of the fMRI encoding task, selectable by name (``head: fir_linear`` / ``head: fir_lowrank``).

Both are :class:`espnet_brain.fmri.readout.FIRReadout` (per-feature normalisation, FIR delays, linear map to
the voxels) with the rank fixed by the choice, so that a YAML names what it gets: a full Linear(D*k -> V) or
BrainWavLM's bottleneck Linear(D*k -> r) -> Linear(r -> V).
"""

from typing import Sequence

from typeguard import typechecked

from espnet_brain.fmri.readout import FIRReadout


class FIRLinearHead(FIRReadout):
    """Normalise, delay and map TR-grid features to voxels with one Linear(D * len(delays) -> V).

    Args:
        input_size: D, features per TR (given by the task: the frontend's output size).
        n_voxels: V (given by the task: ``--n_voxels``).
        delays: FIR delays in TRs; delay d means the response at TR t sees the features of TR t - d.
        normalize: per-feature normalisation, "batch" (running statistics), "time" (per chunk) or "none".
        dropout: dropout on the delayed features.
        bias: output bias per voxel.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        n_voxels: int,
        delays: Sequence[int] = (1, 2, 3, 4),
        normalize: str = "batch",
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__(
            input_size, n_voxels, delays=delays, rank=None, normalize=normalize, dropout=dropout, bias=bias
        )


class FIRLowRankHead(FIRReadout):
    """Normalise, delay and map TR-grid features to voxels through a rank-``rank`` bottleneck.

    Args:
        input_size: D, features per TR (given by the task).
        n_voxels: V (given by the task).
        delays: FIR delays in TRs.
        rank: bottleneck size (100 in BrainWavLM: Linear(3072 -> 100) -> Linear(100 -> V)).
        normalize: "batch", "time" or "none".
        dropout: dropout on the delayed features.
        bias: output bias per voxel.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        n_voxels: int,
        delays: Sequence[int] = (1, 2, 3, 4),
        rank: int = 100,
        normalize: str = "batch",
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__(
            input_size, n_voxels, delays=delays, rank=rank, normalize=normalize, dropout=dropout, bias=bias
        )
