"""Features and predicted responses of whole stories from an fMRI encoding model.

:func:`build_model` rebuilds the model of a training config (with trained weights, or the pretrained speech model
and an untrained head for frozen features); :func:`infer` writes, for every story of a data directory (``wav.scp``
of 16 kHz mono audio and ``num_trs``, as :mod:`espnet_brain.fmri.dump` writes under ``dump/<set>/stories``):

* ``feats.scp``/``feats.ark``: the frontend's features resampled to the story's stimulus TR grid, (N - 5, D)
  (LeBel timing: the grid starts 10 s before the audio; see :func:`espnet_brain.voxelwise.timing.stimulus_tr_times`);
* ``pred.scp``/``pred.ark``: the model's own predictions on the response rows, (N - 20, V).

Shapes: ``N`` TRs acquired, ``D`` features, ``V`` voxels.
"""

import logging
import os
import time
from typing import Dict, Optional, Sequence

import kaldiio
import numpy as np
import soundfile
import torch
import yaml
from espnet2.fileio.read_text import read_2columns_text

from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask
from espnet_brain.voxelwise.timing import stimulus_tr_times, trim_to_responses

logger = logging.getLogger(__name__)


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
    """Write ``feats.scp`` (and ``pred.scp``) for every story of each data directory into its output directory.

    Args:
        train_config: the ``config.yaml`` of a training run (see :func:`build_model`).
        data_dirs: directories of stories (``wav.scp``, ``num_trs``).
        output_dirs: one per data directory.
        model_file: trained weights, or None for frozen features only (no ``pred.scp``).
        layer: another hidden layer of the pretrained speech model (only without ``model_file``).
        ngpu: 0 for the CPU, otherwise the first GPU.
        write_predictions: also write ``pred.scp`` (only with ``model_file``).
        frontend_conf: entries replacing those of the config's ``frontend_conf``.
    """
    if len(data_dirs) != len(output_dirs) or not data_dirs:
        raise ValueError(
            f"--data_dir and --output_dir: expected as many of each, got {len(data_dirs)} and {len(output_dirs)}"
        )
    device = "cuda" if ngpu > 0 else "cpu"
    model = build_model(train_config, model_file, device, layer, frontend_conf)
    for data_dir, output_dir in zip(data_dirs, output_dirs):
        infer_dir(model, data_dir, output_dir, write_predictions and model_file is not None)


def infer_dir(model: torch.nn.Module, data_dir: str, output_dir: str, write_predictions: bool) -> None:
    """Features (N - 5, D) (and predictions (N - 20, V)) of the stories of one data directory, as Kaldi arks."""
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
