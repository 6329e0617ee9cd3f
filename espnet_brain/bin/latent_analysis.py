"""Latent analysis: do brain features land where the audio model's features are?

For test sentences that exist both as neural recordings and as speech, this program takes
(a) the brain feature extractor's output against the audio model's CNN features, and (b) the
transformer's last hidden states for brain input against audio input, embeds the frames of both
modalities jointly in 2-D with t-SNE, and saves one PNG per comparison. A brain decoder that
reuses the pretrained transformer well should map neural activity near the speech manifold.

Example::

    python -m espnet_brain.bin.latent_analysis --brain_exp exp/asr_brain_full --audio_exp exp/asr_audio \\
        --brain_data dump/neural/brain_test --audio_data dump/raw/audio_test --out_dir exp/latent_analysis
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.asr.latent_analysis import analyse


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brain_exp", type=Path, required=True)
    parser.add_argument("--audio_exp", type=Path, required=True)
    parser.add_argument("--brain_data", type=Path, required=True, help="dump dir with feats.scp, text, utt2day")
    parser.add_argument("--audio_data", type=Path, required=True, help="dump dir with wav.scp and text")
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument("--checkpoint", default="valid.loss.ave.pth")
    parser.add_argument("--max_sentences", type=int, default=20)
    parser.add_argument("--max_frames", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    analyse(**vars(args))


if __name__ == "__main__":
    main(sys.argv[1:])
