import codecs

import pytest

from espnet_brain.data.textgrid import parse_textgrid, read_textgrid, write_textgrid

LONG = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phone"
        xmin = 0
        xmax = 2.5
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 1e-1
            text = ""
        intervals [2]:
            xmin = 0.1
            xmax = 1.25
            text = "AH0"
        intervals [3]:
            xmin = 1.25
            xmax = 2.5
            text = "sp"
    item [2]:
        class = "TextTier"
        name = "marks"
        xmin = 0
        xmax = 2.5
        points: size = 1
        points [1]:
            number = 0.7
            mark = "say ""hi"" [1]"
"""

SHORT = """File type = "ooTextFile short"
"TextGrid"

0
2.5
<exists>
2
"IntervalTier"
"phone"
0
2.5
3
0
0.1
""
0.1
1.25
"AH0"
1.25
2.5
"sp"
"TextTier"
"marks"
0
2.5
1
0.7
"say ""hi"" [1]"
"""


def test_long_and_short_formats_agree():
    a, b = parse_textgrid(LONG), parse_textgrid(SHORT)
    assert a == b
    assert list(a) == ["phone", "marks"]
    assert a["phone"] == [(0.0, 0.1, ""), (0.1, 1.25, "AH0"), (1.25, 2.5, "sp")]
    assert a["marks"] == [(0.7, 0.7, 'say "hi" [1]')]


def test_negative_times_and_utf16(tmp_path):
    text = LONG.replace(
        "xmin = 0\n        xmax = 2.5\n        intervals", "xmin = -0.5\n        xmax = 2.5\n        intervals"
    )
    p = tmp_path / "u16.TextGrid"
    p.write_bytes(codecs.BOM_UTF16_LE + text.replace('"AH0"', '"\u0259"').encode("utf-16-le"))
    tiers = read_textgrid(str(p))
    assert tiers["phone"][1][2] == "\u0259"


@pytest.mark.parametrize("short", [False, True])
def test_write_read_round_trip(tmp_path, short):
    tiers = {"phone": [(0.0, 0.5, ""), (0.5, 1.0, "IY1")], "word": [(0.0, 0.5, "sp"), (0.5, 1.0, 'a "b"')]}
    p = tmp_path / "x.TextGrid"
    write_textgrid(str(p), tiers, 0.0, 1.0, short=short)
    assert dict(read_textgrid(str(p))) == tiers
    assert ("item [" in p.read_text()) != short


def test_write_rejects_gaps(tmp_path):
    with pytest.raises(ValueError, match="tile"):
        write_textgrid(str(tmp_path / "x"), {"w": [(0.0, 0.4, "a"), (0.5, 1.0, "b")]}, 0.0, 1.0)


def test_errors():
    with pytest.raises(ValueError, match="not a Praat TextGrid"):
        parse_textgrid("hello")
    with pytest.raises(ValueError, match="ends early"):
        parse_textgrid(LONG[: LONG.index("intervals [3]")])


OVERLAPPING_PHONES = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 1
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phone"
        xmin = 0
        xmax = 1
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = "DH"
        intervals [2]:
            xmin = 0.4
            xmax = 0.7
            text = "AH0"
        intervals [3]:
            xmin = 0.7
            xmax = 1
            text = "sp"
    item [2]:
        class = "IntervalTier"
        name = "word"
        xmin = 0
        xmax = 1
        intervals: size = 2
        intervals [1]:
            xmin = 0
            xmax = 0.7
            text = "the"
        intervals [2]:
            xmin = 0.7
            xmax = 1
            text = ""
"""


def test_overlapping_phone_intervals_are_read_as_they_are(tmp_path):
    # as in the phone tier of ds003020's wheretheressmoke.TextGrid, which praatio refuses to open
    p = tmp_path / "wheretheressmoke.TextGrid"
    p.write_text(OVERLAPPING_PHONES, encoding="utf-8")
    tiers = read_textgrid(str(p))
    assert tiers["phone"] == [(0.0, 0.5, "DH"), (0.4, 0.7, "AH0"), (0.7, 1.0, "sp")]
    assert tiers["word"] == [(0.0, 0.7, "the"), (0.7, 1.0, "")]
