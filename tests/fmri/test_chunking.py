import numpy as np
import pytest

from espnet_brain.fmri.chunking import ChunkGeometry, cut_audio, split_rows


def test_span_holds_every_window_with_a_lanczos_weight_and_ends_on_the_stride_grid():
    g = ChunkGeometry(tr=2.0, delays=(1, 2, 3, 4), lanczos_window=3, window_s=4.0, stride_s=0.25, sample_rate=100)
    start, end = g.audio_span(first_tr_time=31.0, last_tr_time=49.0)
    # earliest grid row: 31 - 4 TRs = 23 s, Lanczos reach 6 s -> window ends from 17 s; windows start 4 s earlier
    assert start == (17.0 - 4.0) * 100 and end == (49.0 + 6.0) * 100
    ends = g.window_ends(end - start) + start / 100  # story time
    assert ends[0] == 17.0 and ends[-1] == 55.0 and np.allclose(np.diff(ends), 0.25)
    tr_start = 31.0 - start / 100
    g.check_coverage(end - start, tr_start, 10)  # does not raise
    with pytest.raises(ValueError, match="need window ends"):
        g.check_coverage(end - start - 200, tr_start, 10)  # 2 s short at the end
    with pytest.raises(ValueError, match="need window ends"):
        g.check_coverage(end - start, tr_start - 2.0, 10)  # the first grid rows would lack windows


def test_negative_delays_extend_the_grid_after_the_last_tr():
    g = ChunkGeometry(delays=(-1, 0, 2))
    assert (g.pre, g.post) == (2, 1)
    times = g.grid_times(10.0, 3)
    np.testing.assert_allclose(times, 10.0 + 2.0 * np.arange(-2, 4))


def test_span_is_aligned_to_the_stride_in_story_time_for_any_tr_time():
    g = ChunkGeometry(window_s=2.0, stride_s=0.25, sample_rate=16000)
    for t in (1.0, 11.37, 20.0):
        start, end = g.audio_span(t, t + 18.0)
        assert (start + g.window_samples) % g.stride_samples == 0 and end % g.stride_samples == 0


def test_cut_audio_pads_with_silence_outside_the_story():
    wav = np.arange(1, 11, dtype=np.float32)
    out = cut_audio(wav, -3, 13)
    assert out.tolist() == [0, 0, 0] + list(range(1, 11)) + [0, 0, 0]
    assert cut_audio(wav, 2, 5).tolist() == [3, 4, 5]
    with pytest.raises(ValueError):
        cut_audio(wav, 5, 5)


def test_split_rows_merges_a_short_remainder():
    assert split_rows(25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert split_rows(21, 10) == [(0, 10), (10, 21)]
    assert split_rows(7, 10) == [(0, 7)]
    with pytest.raises(ValueError):
        split_rows(10, 0)


def test_bad_geometry_is_rejected():
    with pytest.raises(ValueError, match="stride_s"):
        ChunkGeometry(window_s=1.0, stride_s=2.0)
    with pytest.raises(ValueError, match="delays"):
        ChunkGeometry(delays=())
