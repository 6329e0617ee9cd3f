import pytest

from espnet_brain.simulate.presets import PRESETS, apply_overrides, get_preset


def test_override_strings_and_dicts():
    p = get_preset("tiny", ["intracortical.days=3", "fmri.snr_range=0.5,2", "intracortical.train_per_day=7"])
    assert p.intracortical.days == 3 and p.fmri.snr_range == (0.5, 2.0) and p.intracortical.train_per_day == 7
    q = apply_overrides(PRESETS["tiny"], {"fmri": {"n_voxels": 12}})
    assert q.fmri.n_voxels == 12 and PRESETS["tiny"].fmri.n_voxels != 12


@pytest.mark.parametrize(
    "bad, match",
    [("fmri.nvox=3", "unknown knob fmri.nvox"), ("brain.days=2", "unknown part"), ("days=2", "<part>.<knob>"),
     ("intracortical.days=two", "integer"), ("fmri.snr_range=1", "2 comma-separated")],
)  # fmt: skip
def test_bad_overrides(bad, match):
    with pytest.raises(ValueError, match=match):
        get_preset("tiny", [bad])


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")


def test_sizes_grow():
    t, s, b = PRESETS["tiny"], PRESETS["small"], PRESETS["bench"]
    assert t.text.n_train < s.text.n_train < b.text.n_train
    assert t.fmri.n_voxels < s.fmri.n_voxels < b.fmri.n_voxels
