"""Transcribe a Kaldi data set's speech with a pretrained Whisper, zero-shot (its own decoder, greedy, English).

Writes ``<utt> <TEXT>`` lines normalised to the character CTC corpus's alphabet (upper case letters, apostrophe,
space), to be scored like any system's hypotheses with ``espnet_brain.bin.score``; the raw transcriptions go beside
them (``<output>.raw``). E.g.::

    python -m espnet_brain.bin.whisper_zero_shot --model whisper-tiny.en --wav_scp data/audio_test/wav.scp \\
        --output exp/whisper_zero_shot/decode_audio_test/text
"""

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from espnet_brain.asr.whisper_zero_shot import (
    CORPUS_CHARSET,
    load_whisper_generator,
    normalize_text,
    read_wav_scp,
    read_waveform,
    transcribe,
)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Whisper: hub id, directory, CTranslate2 directory or short id")
    parser.add_argument("--wav_scp", required=True, help="Kaldi wav.scp of 16 kHz audio files")
    parser.add_argument("--output", required=True, help="hypotheses, '<utt> <TEXT>' per line")
    parser.add_argument("--charset", default=CORPUS_CHARSET, help="characters kept (default: %(default)r)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_new_tokens", type=int, default=128)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    try:
        entries = read_wav_scp(args.wav_scp)
        waveforms = [read_waveform(path) for _, path in entries]
        model, extractor, tokenizer = load_whisper_generator(args.model, "--model")
        raw = transcribe(model, extractor, tokenizer, waveforms, args.batch_size, args.max_new_tokens)
    except (OSError, ValueError) as err:
        print(f"whisper_zero_shot: {err}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as out, open(args.output + ".raw", "w", encoding="utf-8") as out_raw:
        for (utt, _), text in zip(entries, raw):
            out.write(f"{utt} {normalize_text(text, args.charset)}\n")
            out_raw.write(f"{utt} {text}\n")
    logging.info(f"{len(entries)} utterances transcribed by {args.model}: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
