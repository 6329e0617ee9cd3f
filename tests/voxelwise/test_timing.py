import numpy as np
import pytest

from espnet_brain.voxelwise.timing import stimulus_tr_times, trim_to_responses


def test_grid_starts_ten_seconds_before_the_audio_and_trims_to_the_response_rows():
    n = 40  # TRs acquired
    t = stimulus_tr_times(n)
    assert len(t) == n - 5 and t[0] == -10.0 + 1.0 and np.allclose(np.diff(t), 2.0)
    starts = stimulus_tr_times(n, midpoint=False)
    rows = trim_to_responses(starts, n)
    assert len(rows) == n - 20 and rows[0] == 10 * 2.0 - 10.0
    x = np.arange(2 * (n - 5)).reshape(n - 5, 2)  # (N - 5, D) -> (N - 20, D), a view
    assert np.shares_memory(trim_to_responses(x), x) and trim_to_responses(x).shape == (n - 20, 2)


def test_errors_name_the_expected_rows():
    with pytest.raises(ValueError, match="N - 5"):
        trim_to_responses(np.zeros(30), 40)
    with pytest.raises(ValueError, match="more than 15 rows"):
        trim_to_responses(np.zeros(15))
    with pytest.raises(ValueError, match="n_acquired"):
        stimulus_tr_times(20)
