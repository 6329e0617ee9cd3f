"""Features and predicted responses of whole stories from an fMRI encoding model.

For every story of each ``--data_dir`` (``wav.scp`` of 16 kHz mono audio and ``num_trs``, as written by
``espnet_brain.bin.dump_encoding`` under ``dump/<set>/stories``) it writes, in the matching ``--output_dir``:

* ``feats.scp``/``feats.ark``: the frontend's features resampled to the story's stimulus TR grid, (N - 5, D)
  (LeBel timing: the grid starts 10 s before the audio; see ``espnet_brain.voxelwise.timing.stimulus_tr_times``), the
  input of a ridge refit (``espnet_brain.bin.ridge_encoding``);
* ``pred.scp``/``pred.ark``: the model's own predictions on the response rows, (N - 20, V);
* with ``--write_windows``, ``windows.scp`` (n_windows, D) and ``window_ends.scp`` (n_windows, 1): the features of
  every window before resampling and the story time (s) where each ends, for probes at the time of each word.

Without ``--model_file`` the model is built from ``--train_config`` alone: the pretrained speech model with its
frozen weights (the head is untrained, so only ``feats`` is meaningful) -- the features of a ridge baseline.
``--layer`` then picks another hidden layer of it, or several: ``--layer 3 6 9`` runs the speech model once and
writes each layer into its own directory (``{layer}`` in ``--output_dir``). With ``--model_file``, ``--layer`` reads
the trained speech model at layers up to the one its readout reads (features only, for probes of what tuning
changed). ``--frontend logmel`` writes the
spectral baseline's features (log mel energies, ``espnet_brain.fmri.spectral``) on the config's window grid. The
work is done by ``espnet_brain.fmri.inference``.

Example::

    python -m espnet_brain.bin.fmri_encoding_inference --train_config exp/enc/config.yaml \\
        --model_file exp/enc/valid.loss.ave.pth --data_dir dump/test/stories --output_dir exp/enc/infer_test
    python -m espnet_brain.bin.fmri_encoding_inference --train_config conf/train_enc_lora.yaml --layer 3 6 9 \\
        --data_dir dump/train/stories dump/test/stories \\
        --output_dir 'exp/feats_frozen_layer{layer}/train' 'exp/feats_frozen_layer{layer}/test'
"""

import argparse
import logging
import sys
from typing import Dict, List, Optional, Sequence

import yaml

from espnet_brain.fmri.inference import infer


def _key_values(items: List[str], what: str) -> Dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{what}: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_config", required=True)
    parser.add_argument("--model_file", default=None, help="trained weights (none: the pretrained speech model only)")
    parser.add_argument(
        "--data_dir", nargs="+", required=True, help="directories of stories: wav.scp (16 kHz mono) and num_trs"
    )
    parser.add_argument("--output_dir", nargs="+", required=True, help="one per --data_dir")
    parser.add_argument(
        "--layer",
        type=int,
        nargs="+",
        default=None,
        help="hidden layer(s) of the speech model (with --model_file: of the trained one, features only); several: one "
        "pass, {layer} in --output_dir",
    )
    parser.add_argument(
        "--frontend",
        default=None,
        help="another frontend on the config's window grid, e.g. logmel (the spectral baseline; no --model_file)",
    )
    parser.add_argument(
        "--frontend_conf",
        action="append",
        default=[],
        help="KEY=VALUE replacing an entry of the config's frontend_conf (YAML value), e.g. model_name_or_path=DIR",
    )
    parser.add_argument(
        "--write_windows",
        action="store_true",
        help="also write windows.scp (features of every window, before resampling to the TR grid) and "
        "window_ends.scp (their end times, s): the input of word-level probes",
    )
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    model_file = None if args.model_file in (None, "", "none") else args.model_file
    try:
        overrides = _key_values(args.frontend_conf, "--frontend_conf")
        layer = args.layer
        if layer is not None and len(layer) == 1 and not any("{layer}" in d for d in args.output_dir):
            layer = layer[0]
        infer(
            args.train_config,
            args.data_dir,
            args.output_dir,
            model_file,
            layer,
            args.ngpu,
            True,
            overrides,
            args.frontend,
            args.write_windows,
        )
    except ValueError as e:
        print(f"fmri_encoding_inference: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
