"""Kaldi-style data directories of neural recordings: what every corpus preparer writes and the stages read.

A set ``data/<set>/`` holds, one utterance per line, sorted by utterance id:

- ``neural.scp``: ``utt_id <recording file> <trial key>`` (features are read by ``espnet_brain.bin.dump_neural``),
- ``text``: normalised transcript (unlabelled sets have none),
- ``utt2spk`` / ``spk2utt``: the recording day (session) is the speaker,
- ``utt2day``: integer day id, and ``days`` (``<id> <day name>`` lines) naming every id. All sets of a corpus
  share one ``days`` list, so a day keeps its id (and its input layer) across train, dev and test.

Two-column files (``text``, ``wav.scp``, ``utt2spk``, ``utt2day``) are read with ESPnet's
``espnet2.fileio.read_text.read_2columns_text``, the reader its data loader uses.
"""

from pathlib import Path
from typing import Dict, Iterable, List, Mapping, NamedTuple, Sequence, Tuple, Union

from espnet2.fileio.read_text import read_2columns_text

PathLike = Union[str, Path]


class Row(NamedTuple):
    """One utterance of a neural data directory."""

    utt_id: str
    path: str  # absolute path of the recording file (.mat day file, .hdf5 session file, features .hdf5)
    key: Union[int, str]  # trial index (.mat) or trial group name (.hdf5) inside the file
    day: str  # recording day or session name; also the speaker
    text: str  # normalised transcript ("" in unlabelled sets)


def read_2columns(path: PathLike) -> Dict[str, str]:
    """``key value`` lines as a dict (an utterance without a value maps to ``""``).

    Args:
        path: A Kaldi-style two-column file (``text``, ``wav.scp``, ``utt2spk``, ``utt2day`` ...).

    Returns:
        Key -> the rest of its line.

    Raises:
        ValueError: On a key that appears twice or an empty line, naming the file.
    """
    try:
        return read_2columns_text(path)
    except RuntimeError as err:  # ESPnet's reader raises RuntimeError("<key> is duplicated (<path>:<line>)")
        raise ValueError(f"{err}: each utterance may appear once in {path}") from err
    except ValueError as err:  # an empty line leaves nothing to unpack
        raise ValueError(f"{path}: every line must start with a key; remove empty lines ({err})") from err


def read_neural_scp(path: PathLike) -> List[Tuple[str, str, str]]:
    """Rows ``(utt_id, file, key)`` of a ``neural.scp``, in file order.

    Read here, not with :func:`read_2columns`: three columns, and each bad line is reported with its number.

    Raises:
        ValueError: On a line without exactly three fields, naming the file and line.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise ValueError(f"{path}:{n}: expected 'utt_id <file> <key>', got {line.strip()!r}")
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def write_2columns(path: PathLike, items: Iterable[Tuple[str, object]]) -> None:
    """Write ``key value`` lines (``key`` alone when the value is empty) in the given order."""
    with open(path, "w", encoding="utf-8") as f:
        for key, value in items:
            value = str(value)
            f.write(f"{key} {value}\n" if value else f"{key}\n")


def write_spk2utt(utt2spk: Mapping[str, str], path: PathLike) -> None:
    """``spk2utt`` from ``utt2spk``: speakers sorted, each speaker's utterances in ``utt2spk``'s order."""
    spk2utt: Dict[str, List[str]] = {}
    for utt, spk in utt2spk.items():
        spk2utt.setdefault(spk, []).append(utt)
    write_2columns(path, ((spk, " ".join(spk2utt[spk])) for spk in sorted(spk2utt)))


def write_set(rows: Sequence[Row], days: Sequence[str], dst: PathLike, with_text: bool) -> None:
    """Write one neural data directory.

    Args:
        rows: The set's utterances (:class:`Row` or plain 5-tuples in its field order), in any order.
        days: Every day name of the corpus, in id order (the same list for all its sets).
        dst: The data directory to write (created if needed).
        with_text: Write ``text`` (False for unlabelled sets such as a competition holdout).
    """
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    day_id = {d: i for i, d in enumerate(days)}
    rows = [Row(*r) for r in sorted(rows)]
    unknown = sorted({r.day for r in rows} - set(day_id))
    if unknown:
        raise ValueError(f"{dst}: days {unknown} are not in the corpus's day list {list(days)}")
    write_2columns(dst / "neural.scp", ((r.utt_id, f"{r.path} {r.key}") for r in rows))
    write_2columns(dst / "utt2spk", ((r.utt_id, r.day) for r in rows))
    write_2columns(dst / "utt2day", ((r.utt_id, day_id[r.day]) for r in rows))
    if with_text:
        write_2columns(dst / "text", ((r.utt_id, r.text) for r in rows))
    write_spk2utt({r.utt_id: r.day for r in rows}, dst / "spk2utt")
    write_2columns(dst / "days", enumerate(days))
