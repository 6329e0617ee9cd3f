"""Features and predicted responses of whole stories from an fMRI encoding model.

For every story of each ``--data_dir`` (``wav.scp`` of 16 kHz mono audio and ``num_trs``, as written by
``espnet_brain.bin.dump_encoding`` under ``dump/<set>/stories``) it writes, in the matching ``--output_dir``:

* ``feats.scp``/``feats.ark``: the frontend's features resampled to the story's stimulus TR grid, (N - 5, D)
  (LeBel timing: the grid starts 10 s before the audio; see ``espnet_brain.voxelwise.timing.stimulus_tr_times``), the
  input of a ridge refit (``espnet_brain.bin.ridge_encoding``);
* ``pred.scp``/``pred.ark``: the model's own predictions on the response rows, (N - 20, V).

Without ``--model_file`` the model is built from ``--train_config`` alone: the pretrained speech model with its
frozen weights (the head is untrained, so only ``feats`` is meaningful) -- the features of a ridge baseline.
``--layer`` then picks another hidden layer of it.

Example::

    python -m espnet_brain.bin.fmri_encoding_inference --train_config exp/enc/config.yaml \\
        --model_file exp/enc/valid.loss.ave.pth --data_dir dump/test/stories --output_dir exp/enc/infer_test
"""

import argparse
import logging
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import kaldiio
import numpy as np
import soundfile
import torch
import yaml
from espnet2.fileio.read_text import read_2columns_text

from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask
from espnet_brain.voxelwise.timing import stimulus_tr_times, trim_to_responses

logger = logging.getLogger("fmri_encoding_inference")


def build_model(
    train_config: str,
    model_file: Optional[str],
    device: str = "cpu",
    layer: Optional[int] = None,
    frontend_conf: Optional[Dict] = None,
) -> torch.nn.Module:
    """The model of a training config, with trained weights when ``model_file`` is given.

    Args:
        train_config: the ``config.yaml`` of a training run (or a training YAML with ``n_voxels`` given to it).
        model_file: a ``*.pth`` of that run, or None for the pretrained speech model and an untrained head.
        device: "cpu" or "cuda".
        layer: another hidden layer of the speech model (only without ``model_file``).
        frontend_conf: entries replacing those of the config's ``frontend_conf`` (e.g. a moved
            ``model_name_or_path``).
    """
    with open(train_config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    if frontend_conf:
        conf["frontend_conf"] = {**(conf.get("frontend_conf") or {}), **frontend_conf}
    if layer is not None:
        if model_file is not None:
            raise ValueError(
                "--layer: only for the pretrained model (without --model_file); a trained model keeps its layer"
            )
        conf.setdefault("frontend_conf", {})["layer"] = layer
    if model_file is None:
        # Features only: the untrained head and the loss's voxel selection play no part.
        conf["n_voxels"] = conf.get("n_voxels") or 1
        model_conf = dict(conf.get("model_conf") or {})
        for key in ("voxel_mask_file", "roi_file", "loss_rois"):
            model_conf.pop(key, None)
        conf["model_conf"] = model_conf
    args = FMRIEncodingTask.get_parser().parse_args([])  # every default, as ESPnet's build_model_from_file
    for key, value in conf.items():
        setattr(args, key, value)
    model = FMRIEncodingTask.build_model(args)
    if model_file is not None:
        state = torch.load(model_file, map_location=device)
        model.load_state_dict(state)
    else:
        logger.info("no --model_file: pretrained speech model, untrained head (features only)")
    return model.to(device).eval()


def infer(
    train_config: str,
    data_dirs: Sequence[str],
    output_dirs: Sequence[str],
    model_file: Optional[str] = None,
    layer: Optional[int] = None,
    ngpu: int = 0,
    write_predictions: bool = True,
    frontend_conf: Optional[Dict] = None,
) -> None:
    """Write ``feats.scp`` (and ``pred.scp``) for every story of each data directory into its output directory."""
    if len(data_dirs) != len(output_dirs) or not data_dirs:
        raise ValueError(
            f"--data_dir and --output_dir: expected as many of each, got {len(data_dirs)} and {len(output_dirs)}"
        )
    device = "cuda" if ngpu > 0 else "cpu"
    model = build_model(train_config, model_file, device, layer, frontend_conf)
    for data_dir, output_dir in zip(data_dirs, output_dirs):
        infer_dir(model, data_dir, output_dir, write_predictions and model_file is not None)


def infer_dir(model: torch.nn.Module, data_dir: str, output_dir: str, write_predictions: bool) -> None:
    """Features (and predictions) of the stories of one data directory."""
    wavs = read_2columns_text(os.path.join(data_dir, "wav.scp"))
    n_trs = {k: int(v) for k, v in read_2columns_text(os.path.join(data_dir, "num_trs")).items()}
    os.makedirs(output_dir, exist_ok=True)
    sr = model.geometry.sample_rate
    start = time.perf_counter()
    feats_writer = kaldiio.WriteHelper(f"ark,scp:{output_dir}/feats.ark,{output_dir}/feats.scp")
    pred_writer = (
        kaldiio.WriteHelper(f"ark,scp:{output_dir}/pred.ark,{output_dir}/pred.scp") if write_predictions else None
    )
    try:
        for story in sorted(wavs):
            if story not in n_trs:
                raise ValueError(f"{data_dir}/num_trs: no entry for story {story}")
            wav, rate = soundfile.read(wavs[story], dtype="float32")
            if rate != sr or wav.ndim != 1:
                raise ValueError(
                    f"{wavs[story]}: expected mono audio at {sr} Hz (the dumped stories), got {rate} Hz, "
                    f"shape {wav.shape}"
                )
            grid = stimulus_tr_times(n_trs[story], tr=model.geometry.tr)
            feats, pred = model.story_outputs(wav, grid)  # (N - 5, D), (N - 5, V)
            feats_writer(story, feats.astype(np.float32))
            if pred_writer is not None:
                pred_writer(story, trim_to_responses(pred).astype(np.float32))
            logger.info(f"{story}: {len(wav) / sr:.1f} s of audio -> features {feats.shape}")
    finally:
        feats_writer.close()
        if pred_writer is not None:
            pred_writer.close()
    logger.info(f"{len(wavs)} stories in {time.perf_counter() - start:.1f} s -> {output_dir}")


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
        "--layer", type=int, default=None, help="hidden layer of the pretrained model (no --model_file)"
    )
    parser.add_argument(
        "--frontend_conf",
        action="append",
        default=[],
        help="KEY=VALUE replacing an entry of the config's frontend_conf (YAML value), e.g. model_name_or_path=DIR",
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
        infer(args.train_config, args.data_dir, args.output_dir, model_file, args.layer, args.ngpu, True, overrides)
    except ValueError as e:
        print(f"fmri_encoding_inference: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
