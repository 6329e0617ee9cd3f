"""Voxel values go back to the mask voxels they came from, in C or Fortran order; the glass-brain view is drawn when
nilearn is installed and skipped with a log line when it is not."""

import builtins

import nibabel
import numpy as np
import pytest

from espnet_brain.voxelwise.brain_maps import load_mask, plot_glass_brain, voxels_to_volume


@pytest.fixture
def mask_file(tmp_path):
    rng = np.random.default_rng(0)
    mask = rng.random((6, 7, 5)) > 0.6
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-6, -7, -5]
    path = tmp_path / "mask.nii.gz"
    nibabel.save(nibabel.Nifti1Image(mask.astype(np.uint8), affine), str(path))
    return path, mask, affine


def test_values_return_to_their_voxels_in_either_order(mask_file):
    path, mask, affine = mask_file
    loaded, loaded_affine = load_mask(path)
    np.testing.assert_array_equal(loaded, mask)
    np.testing.assert_allclose(loaded_affine, affine)
    values = np.arange(mask.sum(), dtype=float)
    vol = voxels_to_volume(values, mask)
    np.testing.assert_array_equal(vol[mask], values)  # C order: the order of data[mask]
    assert np.isnan(vol[~mask]).all()
    vol_f = voxels_to_volume(values, mask, order="F")
    np.testing.assert_array_equal(vol_f.ravel(order="F")[mask.ravel(order="F")], values)
    assert not np.array_equal(vol_f, vol, equal_nan=True)
    with pytest.raises(ValueError, match=f"{mask.sum() - 1} voxel values for a mask of {mask.sum()} voxels"):
        voxels_to_volume(values[1:], mask)


def test_the_mask_is_read_as_the_nifti_responses_were(tmp_path):
    from espnet_brain.data.lebel import load_mask as responses_mask

    data = np.zeros((3, 4, 5), dtype=np.int16)
    data[0, 1, 2], data[2, 3, 4] = 1, -1  # a signed mask: every non-zero voxel is a voxel
    path = tmp_path / "signed.nii.gz"
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), str(path))
    mask, _ = load_mask(path)
    assert mask.sum() == 2
    np.testing.assert_array_equal(mask, responses_mask(str(path)))


def test_glass_brain_is_skipped_without_nilearn(mask_file, tmp_path, monkeypatch, caplog):
    real_import = builtins.__import__

    def no_nilearn(name, *args, **kwargs):
        if name.startswith("nilearn"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nilearn)
    path, mask, _ = mask_file
    with caplog.at_level("INFO"):
        assert plot_glass_brain(np.ones(mask.sum()), path, tmp_path / "g.png") is None
    assert "nilearn is not installed" in caplog.text and not (tmp_path / "g.png").exists()


def test_glass_brain_png_with_nilearn(mask_file, tmp_path):
    pytest.importorskip("nilearn")
    path, mask, _ = mask_file
    values = np.linspace(-0.5, 0.5, mask.sum())
    out = plot_glass_brain(values, path, tmp_path / "maps" / "diff.png", "tuned minus frozen", symmetric=True)
    assert out is not None and (tmp_path / "maps" / "diff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
