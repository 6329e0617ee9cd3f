import pytest

from espnet_brain.data.text import normalize_transcript


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I don't know.", "I DON'T KNOW"),
        ("Yesterday, she sang -- twice!", "YESTERDAY SHE SANG TWICE"),
        ("The red-brick house?", "THE RED BRICK HOUSE"),
        ("\u2018Quoted\u2019 caf\u00e9", "QUOTED CAFE"),
        ("It\u2019s fine", "IT'S FINE"),
        ("   ", ""),
    ],
)
def test_normalize(text, expected):
    assert normalize_transcript(text) == expected


def test_type_error():
    with pytest.raises(TypeError):
        normalize_transcript(None)
