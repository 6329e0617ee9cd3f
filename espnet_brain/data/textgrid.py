"""Praat TextGrid reading (long and short text formats) and writing.

Why hand-written: the published ds003020 ``wheretheressmoke.TextGrid`` has overlapping intervals in its
phone tier, which ``praatio`` refuses (``TextgridStateError: Two intervals in the same tier overlap``);
this parser keeps them as they are. Besides, the two PyPI parsers are line- and regex-based. ``praatio`` 6.2 (the
version ESPnet's recipe extra allows, ``praatio<7``) reads the header from fixed line numbers, drops the
minus sign of negative times and cannot read exponent notation (``1e-05``); ``textgrid`` 1.6 rounds
every time to a fixed number of digits. Praat itself reads both text formats as one sequence of
numbers, quoted strings and ``<exists>`` flags, ignoring everything else (keys such as ``xmin =``
and bracketed indices such as ``item [1]:``); this module does the same, which makes long, short and
hand-edited files equivalent. Quotes inside a label are doubled (``""``), as in Praat.
"""

import codecs
import re
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

Interval = Tuple[float, float, str]

_TOKEN = re.compile(
    r'"((?:[^"]|"")*)"'  # a quoted string ("" escapes a quote)
    r"|(<exists>|<absent>)"  # flags
    r"|\[[^\]\n]*\]"  # bracketed indices, ignored
    r"|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"  # numbers
)


def _decode(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        return raw.decode("utf-16")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _tokens(text: str) -> List[object]:
    out: List[object] = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            out.append(m.group(2) == "<exists>")
        elif m.group(3) is not None:
            out.append(float(m.group(3)))
    return out


# Hand-written, not praatio: ds003020's wheretheressmoke.TextGrid has overlapping phone intervals praatio refuses.
def parse_textgrid(text: str, source: str = "<string>") -> "OrderedDict[str, List[Interval]]":
    """Parse the content of a TextGrid file (long or short text format).

    Args:
        text: File content.
        source: Name used in error messages.

    Returns:
        Ordered ``{tier_name: [(start, end, label), ...]}``, tiers in file order. Point tiers
        (``TextTier``) give ``(time, time, mark)``. Empty labels are kept.

    Raises:
        ValueError: If the content is not a TextGrid or ends early.
    """
    toks = _tokens(text)
    pos = 0

    def take(kind, what):
        nonlocal pos
        if pos >= len(toks):
            raise ValueError(f"{source}: TextGrid ends early, expected {what}")
        tok = toks[pos]
        if type(tok) is not kind:
            raise ValueError(f"{source}: malformed TextGrid, expected {what}, got {tok!r} (token {pos})")
        pos += 1
        return tok

    # Praat writes "ooTextFile" for both formats; older short files say "ooTextFile short".
    if len(toks) < 2 or not str(toks[0]).startswith("ooTextFile") or toks[1] != "TextGrid":
        raise ValueError(f"{source}: not a Praat TextGrid text file (expected 'ooTextFile'/'TextGrid' header)")
    pos = 2
    take(float, "xmin")
    take(float, "xmax")
    tiers: "OrderedDict[str, List[Interval]]" = OrderedDict()
    if pos < len(toks) and isinstance(toks[pos], bool):
        if not take(bool, "<exists>"):
            return tiers
    n_tiers = int(take(float, "number of tiers"))
    for t in range(n_tiers):
        cls = take(str, f"class of tier {t + 1}")
        name = take(str, f"name of tier {t + 1}")
        take(float, f"xmin of tier {name!r}")
        take(float, f"xmax of tier {name!r}")
        n = int(take(float, f"size of tier {name!r}"))
        entries: List[Interval] = []
        for _ in range(n):
            if cls == "IntervalTier":
                a = take(float, f"interval start in tier {name!r}")
                b = take(float, f"interval end in tier {name!r}")
                entries.append((a, b, take(str, f"interval text in tier {name!r}")))
            elif cls == "TextTier":
                a = take(float, f"point time in tier {name!r}")
                entries.append((a, a, take(str, f"point mark in tier {name!r}")))
            else:
                raise ValueError(f"{source}: unknown tier class {cls!r} (expected IntervalTier or TextTier)")
        key = name
        k = 2
        while key in tiers:  # duplicate tier names are legal in Praat
            key = f"{name}_{k}"
            k += 1
        tiers[key] = entries
    return tiers


def read_textgrid(path: str) -> "OrderedDict[str, List[Interval]]":
    """Read a TextGrid file (UTF-8, UTF-16 with BOM or Latin-1); see :func:`parse_textgrid`."""
    with open(path, "rb") as f:
        raw = f.read()
    return parse_textgrid(_decode(raw), source=str(path))


def _fmt(x: float) -> str:
    return repr(round(float(x), 6))


def _quote(label: str) -> str:
    return '"' + label.replace('"', '""') + '"'


def write_textgrid(
    path: str, tiers: Dict[str, Sequence[Interval]], xmin: float, xmax: float, short: bool = False
) -> None:
    """Write interval tiers as a Praat TextGrid text file.

    Args:
        path: Output file (UTF-8).
        tiers: Ordered ``{name: [(start, end, label), ...]}``; intervals must tile ``[xmin, xmax]``.
        xmin, xmax: Time domain in seconds.
        short: Write Praat's short text format instead of the long one.

    Raises:
        ValueError: If a tier's intervals do not tile ``[xmin, xmax]``.
    """
    for name, entries in tiers.items():
        prev = xmin
        for a, b, _ in entries:
            if abs(a - prev) > 1e-9 or b < a:
                raise ValueError(f"write_textgrid: tier {name!r} does not tile [{xmin}, {xmax}] near t={a}")
            prev = b
        if abs(prev - xmax) > 1e-9:
            raise ValueError(f"write_textgrid: tier {name!r} ends at {prev}, expected {xmax}")
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', ""]
    if short:
        lines += [_fmt(xmin), _fmt(xmax), "<exists>", str(len(tiers))]
        for name, entries in tiers.items():
            lines += ['"IntervalTier"', _quote(name), _fmt(xmin), _fmt(xmax), str(len(entries))]
            for a, b, lab in entries:
                lines += [_fmt(a), _fmt(b), _quote(lab)]
    else:
        lines += [
            f"xmin = {_fmt(xmin)} ",
            f"xmax = {_fmt(xmax)} ",
            "tiers? <exists> ",
            f"size = {len(tiers)} ",
            "item []: ",
        ]
        for i, (name, entries) in enumerate(tiers.items(), 1):
            lines += [
                f"    item [{i}]:",
                '        class = "IntervalTier" ',
                f"        name = {_quote(name)} ",
                f"        xmin = {_fmt(xmin)} ",
                f"        xmax = {_fmt(xmax)} ",
                f"        intervals: size = {len(entries)} ",
            ]
            for j, (a, b, lab) in enumerate(entries, 1):
                lines += [
                    f"        intervals [{j}]:",
                    f"            xmin = {_fmt(a)} ",
                    f"            xmax = {_fmt(b)} ",
                    f"            text = {_quote(lab)} ",
                ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
