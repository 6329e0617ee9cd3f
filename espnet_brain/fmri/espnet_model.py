"""ESPnet model of the fMRI encoding task: story audio chunks -> voxelwise responses, trained end to end.

A training example is a chunk of consecutive TRs of one story with the audio its predictions need (see
``chunking.py``). The model

1. runs the frontend (a speech SSL model over sliding windows) on the chunk audio: (B, L) -> (B, N, D);
2. summarises the window-end features on the chunk's TR grid inside the autograd graph, from ``max(delays)`` TRs
   before the first predicted TR on: (B, N, D) -> (B, G, D); by default the mean of the windows whose last
   ``stride_s`` falls in each TR (``resample: tr_mean``), or Lanczos resampling (``resample: lanczos``);
3. applies the readout head (per-feature normalisation, FIR delays, linear or low-rank map): (B, G, D) -> (B, G, V),
   and keeps the predicted TRs: (B, T, V);
4. returns the loss (minus the spatial correlation by default; temporal correlation or MSE) against the responses,
   on the voxels of an optional mask (valid voxels, ROIs).
"""

import json
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from espnet2.train.abs_espnet_model import AbsESPnetModel
from typeguard import typechecked

from espnet_brain.fmri.chunking import ChunkGeometry, cut_audio
from espnet_brain.fmri.frontend import AbsEncodingFrontend
from espnet_brain.fmri.lanczos import resample_to_grid
from espnet_brain.fmri.losses import LOSS_TYPES, EncodingLoss, spatial_correlation, temporal_correlation
from espnet_brain.voxelwise.lanczos import RESAMPLERS


def load_voxel_mask(
    n_voxels: int,
    voxel_mask_file: Optional[str] = None,
    roi_file: Optional[str] = None,
    rois: Optional[Sequence[str]] = None,
) -> Optional[np.ndarray]:
    """Voxels to use: a saved boolean mask (e.g. the voxels without NaN) and/or the union of named ROIs.

    Args:
        n_voxels: V.
        voxel_mask_file: ``.npy`` of (V,) booleans, or None.
        roi_file: JSON ``{roi name: [voxel indices]}``, needed when ``rois`` is given.
        rois: ROI names whose union is kept, or None for all voxels.

    Returns:
        (V,) bool mask, or None when nothing restricts the voxels.
    """
    mask = None
    if voxel_mask_file is not None:
        if not os.path.isfile(voxel_mask_file):
            raise ValueError(f"model_conf.voxel_mask_file: {voxel_mask_file} does not exist")
        mask = np.load(voxel_mask_file)
        if mask.dtype != bool or mask.shape != (n_voxels,):
            raise ValueError(
                f"model_conf.voxel_mask_file: {voxel_mask_file} holds {mask.dtype} {mask.shape}, expected bool "
                f"({n_voxels},)"
            )
    if rois:
        if roi_file is None:
            raise ValueError(
                f"model_conf.loss_rois={list(rois)} needs model_conf.roi_file (JSON name -> voxel indices)"
            )
        with open(roi_file, encoding="utf-8") as f:
            table = json.load(f)
        missing = [r for r in rois if r not in table]
        if missing:
            raise ValueError(f"model_conf.loss_rois: {missing} not in {roi_file}; it has {sorted(table)}")
        in_roi = np.zeros(n_voxels, dtype=bool)
        for r in rois:
            idx = np.asarray(table[r], dtype=np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= n_voxels):
                raise ValueError(f"{roi_file}: ROI {r!r} has voxel indices outside [0, {n_voxels})")
            in_roi[idx] = True
        mask = in_roi if mask is None else mask & in_roi
    if mask is not None and not mask.any():
        raise ValueError("model_conf: the voxel mask (voxel_mask_file and loss_rois) selects no voxel")
    return mask


class ESPnetFMRIEncodingModel(AbsESPnetModel):
    """Speech-to-fMRI encoding model trained on chunks of TRs.

    Args:
        frontend: audio -> window features (e.g. :class:`~espnet_brain.fmri.frontend.SSLWindowFrontend`).
        head: TR-grid features -> voxels, with a ``delays`` attribute (e.g. ``FIRLowRankHead``).
        tr: repetition time in seconds (2.0 for LeBel et al. 2023, as in the lab's code).
        lanczos_window: Lanczos parameter ``a`` of the resampling to the TR grid (3); with ``resample: tr_mean`` it
            only sets how much audio a chunk carries.
        resample: how window features reach the TR grid: "tr_mean" (the mean over each TR of the windows' last
            ``stride_s``, so each TR summarises exactly its own audio) or "lanczos" (Lanczos resampling, the Huth-lab
            way, which smooths over +-``lanczos_window`` TRs; it lost signal against the per-TR mean on the simulator,
            ``tools/benchmarks/bench_logmel_control.py``).
        loss_type: "spatial_corr" (minus the across-voxel correlation per TR, BrainWavLM), "temporal_corr" or "mse".
        voxel_mask_file: ``.npy`` (V,) booleans of the voxels to train on (the data preparation writes the mask of
            voxels without NaN); None for all.
        roi_file: JSON ``{roi: [voxel indices]}`` for ``loss_rois``.
        loss_rois: train on the union of these ROIs only (e.g. ["auditory"]); None for all voxels.
    """

    @typechecked
    def __init__(
        self,
        frontend: AbsEncodingFrontend,
        head: torch.nn.Module,
        tr: float = 2.0,
        lanczos_window: int = 3,
        resample: str = "tr_mean",
        loss_type: str = "spatial_corr",
        voxel_mask_file: Optional[str] = None,
        roi_file: Optional[str] = None,
        loss_rois: Optional[Sequence[str]] = None,
    ):
        super().__init__()
        if resample not in RESAMPLERS:
            raise ValueError(f"model_conf.resample: expected one of {RESAMPLERS}, got {resample!r}")
        self.resample = resample
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"model_conf.loss_type: expected one of {LOSS_TYPES}, got {loss_type!r}")
        if not hasattr(head, "delays") or not hasattr(head, "n_voxels"):
            raise TypeError(f"head: expected a readout with .delays and .n_voxels, got {type(head).__name__}")
        self.frontend = frontend
        self.head = head
        self.geometry = ChunkGeometry(
            tr=tr,
            delays=tuple(head.delays),
            lanczos_window=lanczos_window,
            window_s=frontend.window_s,
            stride_s=frontend.stride_s,
            sample_rate=frontend.sample_rate,
        )
        mask = load_voxel_mask(head.n_voxels, voxel_mask_file, roi_file, loss_rois)
        self.loss_fn = EncodingLoss(loss_type, voxel_mask=None if mask is None else torch.from_numpy(mask))
        n_used = head.n_voxels if mask is None else int(mask.sum())
        logging.info(f"encoding loss {loss_type} on {n_used} of {head.n_voxels} voxels")

    @property
    def n_voxels(self) -> int:
        return self.head.n_voxels

    def grid_features(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, tr_start: torch.Tensor, n_trs: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Frontend features resampled to each chunk's TR grid (differentiable).

        Args:
            speech: (B, L) chunk audio, right-padded.
            speech_lengths: (B,) samples.
            tr_start: (B,) chunk time (s) of the first predicted TR.
            n_trs: (B,) predicted TRs.

        Returns:
            grid features (B, G, D), G = pre + max(n_trs) + post (rows before the first predicted TR included),
            and their lengths (B,).
        """
        g = self.geometry
        for b in range(speech.shape[0]):
            g.check_coverage(int(speech_lengths[b]), float(tr_start[b]), int(n_trs[b]), name=f"chunk {b} of the batch")
        feats, feats_lengths = self.frontend(speech, speech_lengths)  # (B, L) -> (B, N, D)
        rows: List[torch.Tensor] = []
        for b in range(speech.shape[0]):
            ends = g.window_ends(int(speech_lengths[b]))
            if len(ends) != int(feats_lengths[b]):
                raise RuntimeError(f"frontend returned {int(feats_lengths[b])} windows, expected {len(ends)}")
            times = g.grid_times(float(tr_start[b]), int(n_trs[b]))
            rows.append(self._to_grid(feats[b, : len(ends)], ends, times))  # (N_b, D) -> (G_b, D)
        lengths = torch.tensor([r.shape[0] for r in rows], dtype=torch.long, device=speech.device)
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True), lengths

    def _to_grid(self, feats: torch.Tensor, ends: np.ndarray, times: np.ndarray) -> torch.Tensor:
        """Window features (N, D) ending at ``ends`` -> (G, D) at the TR midpoints ``times`` (``self.resample``)."""
        g = self.geometry
        return resample_to_grid(feats, ends, times, self.resample, window=g.lanczos_window, tr=g.tr, span=g.stride_s)

    def predict(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, tr_start: torch.Tensor, n_trs: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predicted responses of each chunk's TRs.

        Args:
            speech: (B, L), speech_lengths: (B,), tr_start: (B,) s, n_trs: (B,) as in :meth:`grid_features`.

        Returns:
            pred (B, T, V) with T = max(n_trs) (rows past a chunk's n_trs carry no meaning) and n_trs (B,).
        """
        grid, grid_lengths = self.grid_features(speech, speech_lengths, tr_start, n_trs)
        out, _ = self.head(grid, grid_lengths)  # (B, G, D) -> (B, G, V)
        pre = self.geometry.pre
        return out[:, pre : pre + int(n_trs.max())], n_trs

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        response: torch.Tensor,
        response_lengths: torch.Tensor,
        tr_start: torch.Tensor,
        tr_start_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Loss of a batch of chunks.

        Args:
            speech: (B, L) chunk audio; speech_lengths: (B,).
            response: (B, T, V) measured responses; response_lengths: (B,) TRs per chunk.
            tr_start: (B, 1) or (B,) chunk time (s) of the first TR; tr_start_lengths: ignored.

        Returns:
            loss (scalar), stats (loss, spatial_corr, temporal_corr; detached), weight (batch size).
        """
        if response.dim() != 3 or response.shape[-1] != self.n_voxels:
            raise ValueError(f"response: expected shape (B, T, {self.n_voxels}), got {tuple(response.shape)}")
        pred, lengths = self.predict(speech, speech_lengths, tr_start.reshape(-1), response_lengths)
        target = response[:, : pred.shape[1]]
        loss = self.loss_fn(pred, target, lengths)
        with torch.no_grad():
            mask = self.loss_fn.voxel_mask
            corr, time_mask = spatial_correlation(pred, target, mask, lengths)
            spatial = (corr * time_mask).sum() / time_mask.sum().clamp_min(1)
            temporal = temporal_correlation(pred, target, mask, lengths).mean()
        stats = dict(loss=loss.detach(), spatial_corr=spatial, temporal_corr=temporal)
        weight = torch.tensor(speech.shape[0], dtype=torch.float32, device=speech.device)
        return loss, stats, weight

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        # Nothing to normalise globally: collect_stats only needs the shapes of the data.
        return {}

    @torch.no_grad()
    def story_outputs(
        self, wav: np.ndarray, grid_times: np.ndarray, predict: bool = True, windows: bool = False
    ) -> Tuple[np.ndarray, ...]:
        """Features and predictions of a whole story on its TR grid (inference; no gradient).

        The windows are those of the training chunks (window ends at multiples of ``stride_s`` in story time, silence
        before and after the audio), so a story gives the same features as the chunks that cover it.

        Args:
            wav: (S,) story audio at the frontend's sample rate.
            grid_times: (G,) story times (s) of the TR grid, evenly spaced by ``tr``.
            predict: also run the readout (False: features only, the predictions are None).
            windows: also return the features of every window before resampling, with the story times of their ends
                (for probes at the time of each word).

        Returns:
            features (G, D) on the grid and predictions (G, V); the first ``max(delays)`` rows have zero-filled
            delays (the lab's code trims them anyway). With ``windows``, then the window features (N, D) and their
            end times (N,) in story time (s).
        """
        g = self.geometry
        grid_times = np.asarray(grid_times, dtype=np.float64)
        if grid_times.ndim != 1 or len(grid_times) < 1:
            raise ValueError(f"grid_times: expected shape (G,), got {grid_times.shape}")
        start, end = g.audio_span(float(grid_times[0]), float(grid_times[-1]))
        segment = torch.from_numpy(cut_audio(np.asarray(wav, dtype=np.float32), start, end))
        device = next(self.parameters()).device
        feats, _ = self.frontend(segment[None].to(device), torch.tensor([len(segment)], device=device))
        ends = g.window_ends(len(segment)) + start / g.sample_rate  # chunk time -> story time
        grid = self._to_grid(feats[0], ends, grid_times)  # (N, D) -> (G, D)
        pred = None
        if predict:
            pred = self.head(grid[None], torch.tensor([grid.shape[0]], device=device))[0][0].cpu().numpy()
        if windows:
            return grid.cpu().numpy(), pred, feats[0].cpu().numpy(), np.asarray(ends, dtype=np.float64)
        return grid.cpu().numpy(), pred
