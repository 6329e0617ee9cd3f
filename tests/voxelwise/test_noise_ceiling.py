import numpy as np
import pytest

from espnet_brain.simulate import ensure_corpus
from espnet_brain.voxelwise.noise_ceiling import ceiling_from_snr, noise_ceiling, signal_power


def _repeats(rng, snr, n_repeats=6, n_trs=20000):
    signal = rng.normal(0, 1, (n_trs, len(snr)))
    noise = rng.normal(0, 1, (n_repeats, n_trs, len(snr))) / np.sqrt(np.where(snr > 0, snr, 1.0))
    return signal * (snr > 0) + noise, signal


def test_matches_known_snr():
    rng = np.random.default_rng(0)
    snr = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 10.0])
    reps, _ = _repeats(rng, snr)
    est = noise_ceiling(reps)
    np.testing.assert_allclose(est[1:], np.sqrt(snr[1:] / (1 + snr[1:])), atol=0.02)
    assert est[0] < 0.1
    np.testing.assert_allclose(signal_power(reps)[1:], 1.0, rtol=0.1)
    mean_ceiling = noise_ceiling(reps, reference="mean")
    np.testing.assert_allclose(mean_ceiling[1:], ceiling_from_snr(snr[1:], n_repeats=6), atol=0.02)
    assert np.all(mean_ceiling[1:] > est[1:])


def test_perfect_model_reaches_the_ceiling():
    rng = np.random.default_rng(1)
    snr = np.array([0.3, 2.0])
    reps, signal = _repeats(rng, snr, n_repeats=4, n_trs=3000)
    r = [np.corrcoef(signal[:, v], reps[k][:, v])[0, 1] for v in range(2) for k in range(4)]
    np.testing.assert_allclose(np.reshape(r, (2, 4)).mean(1), noise_ceiling(reps), atol=0.03)


def test_shapes_and_edge_cases():
    rng = np.random.default_rng(2)
    one_voxel = rng.normal(size=(3, 50))
    assert noise_ceiling(one_voxel).shape == (1,)
    flat = np.zeros((3, 50, 3))
    flat[:, :, 1] = rng.normal(size=(3, 50))  # noise only
    flat[:, :, 2] = rng.normal(size=50) + 0.1 * rng.normal(size=(3, 50))  # the same signal in every repeat
    out = noise_ceiling(flat)
    assert np.isnan(out[0]) and out[1] < 0.3 and out[2] > 0.95
    with pytest.raises(ValueError, match="at least 2 repeats"):
        noise_ceiling(rng.normal(size=(1, 10, 2)))
    with pytest.raises(ValueError, match="shape"):
        noise_ceiling(rng.normal(size=(2, 3, 4, 5)))
    with pytest.raises(ValueError, match="reference"):
        noise_ceiling(one_voxel, reference="median")


def test_against_the_simulator(tmp_path_factory):
    # The ceilings estimated from the simulated repeats follow the simulator's per-voxel SNR.
    root = tmp_path_factory.getbasetemp() / "mini_brain-tiny-seed0"
    ensure_corpus(str(root), "tiny", 0, parts="fmri")
    from espnet_brain.data.lebel import load_repeats, response_path

    lebel = root / "lebel2023"
    gt = lebel / "derivative" / "ground_truth" / "UTS01"
    reps = load_repeats(response_path(str(lebel), "UTS01", "wheretheressmoke"))
    signal = np.load(gt / "signal" / "wheretheressmoke.npy")
    implied = ceiling_from_snr(signal.var(0) / np.load(gt / "noise_sd.npy").astype(float) ** 2)
    est = noise_ceiling(reps)
    v = np.flatnonzero(np.load(gt / "snr.npy") > 0)
    assert np.corrcoef(est[v], implied[v])[0, 1] > 0.85
    assert abs(np.mean(est[v] - implied[v])) < 0.05
