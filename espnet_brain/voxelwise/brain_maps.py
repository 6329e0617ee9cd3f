"""Voxelwise scores drawn on the brain: the V scored voxels put back into the volume they came from, and a glass-brain
view of them (nilearn, an optional dependency).

A mapper is a 3-D NIfTI mask: voxel ``v`` of the responses is the ``v``-th non-zero voxel of the mask's data array
in NumPy's C order (the order of ``data[mask != 0]``), or in Fortran order with ``order="F"`` (the order of
``data.ravel(order="F")``, as some pipelines flatten). nibabel reads the mask; nilearn draws the view, and without it
the view is skipped with a log line. Flatmaps of the LeBel data need pycortex and the subjects' surfaces, which are
not part of ds003020's derivatives: pass ``r_<system>.npy`` to ``cortex.Volume`` for those.

Shapes: ``V`` voxels, ``(X, Y, Z)`` the mask's grid.
"""

import logging
import os
from typing import Optional, Tuple, Union

import numpy as np

logger = logging.getLogger(__name__)


def load_mask(path: Union[str, os.PathLike]) -> Tuple[np.ndarray, np.ndarray]:
    """The boolean mask (X, Y, Z), True at the non-zero voxels, and the affine (4, 4) of a 3-D NIfTI file.

    The same voxels as the NIfTI responses were read with (:func:`espnet_brain.data.lebel.load_mask` calls this).
    """
    import nibabel

    img = nibabel.load(str(path))
    data = np.asanyarray(img.dataobj)
    if data.ndim != 3:
        raise ValueError(f"{path}: expected a 3-D mask, got shape {data.shape}")
    return data != 0, np.asarray(img.affine, dtype=np.float64)


def voxels_to_volume(values: np.ndarray, mask: np.ndarray, order: str = "C") -> np.ndarray:
    """Put one value per masked voxel back into the mask's grid.

    Args:
        values: (V,) one value per voxel, V = number of true voxels of ``mask``.
        mask: (X, Y, Z) bool.
        order: "C" or "F", the order in which the voxels were flattened.

    Returns:
        (X, Y, Z) float64, NaN outside the mask.
    """
    if order not in ("C", "F"):
        raise ValueError(f"order: expected 'C' or 'F', got {order!r}")
    values = np.asarray(values, dtype=np.float64).ravel()
    mask = np.asarray(mask, dtype=bool)
    if values.size != int(mask.sum()):
        raise ValueError(f"{values.size} voxel values for a mask of {int(mask.sum())} voxels")
    flat = np.full(mask.size, np.nan)
    flat[np.flatnonzero(mask.ravel(order=order))] = values
    return flat.reshape(mask.shape, order=order)


def plot_glass_brain(
    values: np.ndarray,
    mask_path: Union[str, os.PathLike],
    path: Union[str, os.PathLike],
    title: str = "",
    order: str = "C",
    symmetric: bool = False,
) -> Optional[str]:
    """Glass-brain view (nilearn) of voxelwise values; None, with a log line, when nilearn is not installed.

    Args:
        values: (V,) values (NaN: not drawn), in the mask's voxel order.
        mask_path: the 3-D NIfTI mask that maps the V voxels (see the module docstring).
        path: output .png path.
        title: figure title.
        order: "C" or "F", see :func:`voxels_to_volume`.
        symmetric: a diverging colour map centred on 0 (for differences).

    Returns:
        The path written, or None.
    """
    try:
        from nilearn import plotting
    except ImportError:
        logger.info(f"nilearn is not installed: no glass-brain view {path} (pip install nilearn)")
        return None
    import nibabel

    from espnet_brain.voxelwise.scoring import _pyplot

    mask, affine = load_mask(mask_path)
    volume = np.nan_to_num(voxels_to_volume(values, mask, order), nan=0.0)
    plt = _pyplot()
    fig = plt.figure(figsize=(8, 3))
    vmax = float(np.max(np.abs(volume))) or 1.0
    plotting.plot_glass_brain(
        nibabel.Nifti1Image(volume.astype(np.float32), affine),
        figure=fig,
        title=title[:60] or None,
        colorbar=True,
        plot_abs=not symmetric,
        cmap="RdBu_r" if symmetric else "hot",
        vmin=-vmax if symmetric else 0.0,
        vmax=vmax,
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


__all__ = ["load_mask", "voxels_to_volume", "plot_glass_brain"]
