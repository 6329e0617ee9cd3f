"""Kaldi-style data directories for an audio ASR baseline from folders of 16 kHz wavs.

Each input folder holds ``<utt_id>.wav`` files and a ``text`` file (``utt_id transcript``), as
the synthetic corpus writes them. The output directory gets ``wav.scp``, ``text`` (normalised
to the character set of the decoders), ``utt2spk`` and ``spk2utt``.

Example::

    python -m espnet_brain.bin.prepare_speech --src downloads/mini_brain/speech/train --dst data/audio_train
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.data.datadir import read_2columns, write_2columns, write_spk2utt
from espnet_brain.data.text import normalize_transcript


def prepare(src: Path, dst: Path) -> int:
    """Write the data directory; returns the number of utterances kept."""
    text_file = src / "text"
    if not text_file.is_file():
        raise FileNotFoundError(f"{text_file}: no transcript file (expected 'utt_id transcript' lines)")
    dst.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], 0
    for key, transcript in read_2columns(text_file).items():
        wav = src / f"{key}.wav"
        if not wav.is_file():
            raise FileNotFoundError(f"{text_file}: utterance '{key}' has no audio file {wav}")
        norm = normalize_transcript(transcript)
        if not norm:
            skipped += 1
            continue
        rows.append((key, str(wav.resolve()), norm))
    if skipped:
        logging.warning(f"{text_file}: skipped {skipped} utterances with an empty transcript")
    rows.sort()
    # The speaker (voice) from the source's utt2spk; without one, each utterance is its own speaker.
    utt2spk = read_2columns(src / "utt2spk") if (src / "utt2spk").is_file() else {}
    speakers = {key: utt2spk.get(key, key).strip() for key, _, _ in rows}
    write_2columns(dst / "wav.scp", ((key, wav) for key, wav, _ in rows))
    write_2columns(dst / "text", ((key, norm) for key, _, norm in rows))
    write_2columns(dst / "utt2spk", speakers.items())
    write_spk2utt(speakers, dst / "spk2utt")
    return len(rows)


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, type=Path)
    parser.add_argument("--dst", required=True, type=Path)
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    n = prepare(args.src, args.dst)
    logging.info(f"{args.dst}: {n} utterances")


if __name__ == "__main__":
    main(sys.argv[1:])
