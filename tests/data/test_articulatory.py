import numpy as np
import pytest

from espnet_brain.data.articulatory import (
    ARTICULATORY_FEATURES,
    MANNERS,
    PHONE_FEATURES,
    PLACES,
    articulatory_features,
    articulatory_matrix,
    normalize_phone,
)

VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}


def test_de_heer_22_features_and_a_well_formed_table():
    assert len(ARTICULATORY_FEATURES) == 22 == len(set(ARTICULATORY_FEATURES))
    assert len(PHONE_FEATURES) == 39
    for phone, feats in PHONE_FEATURES.items():
        assert set(feats) <= set(ARTICULATORY_FEATURES) and len(set(feats)) == len(feats), phone
        assert ("voiced" in feats) != ("unvoiced" in feats), phone  # exactly one voicing
        if phone in VOWELS:
            assert not set(feats) & (set(PLACES) | set(MANNERS)), phone
            assert {"high", "mid", "low"} & set(feats) and {"front", "central", "back"} & set(feats), phone
        else:
            assert set(feats) & set(PLACES) and set(feats) & set(MANNERS), phone
    m = articulatory_matrix(["S", "Z", "AH0", "ey1"])
    names = np.array(ARTICULATORY_FEATURES)
    assert set(names[m[0] > 0]) == {"alveolar", "fricative", "unvoiced"}
    assert set(names[m[1] > 0]) == {"alveolar", "fricative", "voiced"}
    assert set(names[m[3] > 0]) == {"voiced", "mid", "high", "front"}


def test_labels_with_stress_case_and_silences():
    assert normalize_phone("AH0") == "AH" and normalize_phone("ey1") == "EY" and normalize_phone("NG") == "NG"
    assert all(normalize_phone(x) is None for x in ("", "sp", "SIL", "{NS}", "{BR}", "spn", "<pause>"))
    with pytest.raises(ValueError, match="'XX'"):
        articulatory_matrix(["XX"])


def test_features_are_the_fraction_of_each_tr_during_which_they_are_active():
    tr, names = 2.0, list(ARTICULATORY_FEATURES)
    phones = [(0.5, 1.5, "AH0"), (1.5, 2.5, "sp"), (2.5, 5.0, "S"), (5.0, 5.5, "{NS}")]
    # TR k covers [k * 2 - 1, k * 2 + 1): AH0 half in TR 0, half in TR 1; S 0.5 s in TR 1, 2 s in TR 2
    x = articulatory_features(phones, 4, tr, start=-1.0)
    assert x.shape == (4, 22)
    np.testing.assert_allclose(x[:, names.index("voiced")], [0.25, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(x[:, names.index("unvoiced")], [0.0, 0.25, 1.0, 0.0])
    np.testing.assert_allclose(x[:, names.index("alveolar")], [0.0, 0.25, 1.0, 0.0])
    np.testing.assert_allclose(x[:, names.index("central")], [0.25, 0.25, 0.0, 0.0])
    # phones beyond the grid are cut; voicing sums to the speech time of each TR
    rng = np.random.default_rng(0)
    edges = np.cumsum(rng.uniform(0.03, 0.2, 400))
    labels = rng.choice(sorted(PHONE_FEATURES), len(edges) - 1).tolist()
    tier = [(a, b, lab) for a, b, lab in zip(edges[:-1], edges[1:], labels)]
    x = articulatory_features(tier, 20, tr, start=edges[0] - 1.0)
    speech = np.clip(np.minimum(edges[-1], edges[0] - 1.0 + tr * np.arange(1, 21)) - np.maximum(
        edges[0], edges[0] - 1.0 + tr * np.arange(20)), 0, tr) / tr  # fmt: skip
    np.testing.assert_allclose(x[:, names.index("voiced")] + x[:, names.index("unvoiced")], speech, atol=1e-9)


def test_unknown_labels_raise_or_are_skipped():
    phones = [(0.0, 1.0, "AH0"), (1.0, 2.0, "??")]
    with pytest.raises(ValueError, match="'\\?\\?'.*unknown='ignore'"):
        articulatory_features(phones, 2, 1.0)
    x = articulatory_features(phones, 2, 1.0, unknown="ignore")
    assert x[1].sum() == 0 and x[0].sum() == 3
    with pytest.raises(ValueError, match="tr > 0"):
        articulatory_features(phones, 2, 0.0)
