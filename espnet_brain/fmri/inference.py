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
from typing import Dict, Optional, Sequence, Union

import kaldiio
import numpy as np
import soundfile
import torch
import yaml
from espnet2.fileio.read_text import read_2columns_text

from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask
from espnet_brain.voxelwise.timing import stimulus_tr_times, trim_to_responses

logger = logging.getLogger(__name__)

# frontend_conf entries that fix the window grid, shared by any frontend put in place of the config's
GRID_KEYS = ("window_s", "stride_s", "sample_rate")


def build_model(
    train_config: str,
    model_file: Optional[str],
    device: str = "cpu",
    layer: Union[int, Sequence[int], None] = None,
    frontend_conf: Optional[Dict] = None,
    frontend: Optional[str] = None,
) -> torch.nn.Module:
    """The model of a training config, with trained weights when ``model_file`` is given.

    Args:
        train_config: the ``config.yaml`` of a training run (or a training YAML with ``n_voxels`` given to it).
        model_file: a ``*.pth`` of that run, or None for the pretrained speech model and an untrained head.
        device: "cpu" or "cuda".
        layer: another hidden layer of the speech model, or a list of layers whose features are concatenated
            (one forward pass for all); with ``model_file``, layers of the trained speech model up to the one its
            readout reads (features only: the readout fits that layer alone).
        frontend_conf: entries replacing those of the config's ``frontend_conf`` (e.g. a moved
            ``model_name_or_path``).
        frontend: another frontend of the task (e.g. "logmel", the spectral baseline) on the config's window
            grid (``window_s``, ``stride_s``, ``sample_rate``); its other settings come from ``frontend_conf``.
    """
    with open(train_config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    if frontend is not None and frontend != conf.get("frontend", "ssl_windows"):
        if model_file is not None:
            raise ValueError(f"--frontend {frontend}: only without --model_file (a trained model keeps its frontend)")
        if layer is not None:
            raise ValueError(f"--layer: only for the speech model, not with --frontend {frontend}")
        grid = {k: v for k, v in (conf.get("frontend_conf") or {}).items() if k in GRID_KEYS}
        conf["frontend"], conf["frontend_conf"] = frontend, grid
    if frontend_conf:
        conf["frontend_conf"] = {**(conf.get("frontend_conf") or {}), **frontend_conf}
    if layer is not None and model_file is None:
        conf.setdefault("frontend_conf", {})["layer"] = layer if isinstance(layer, int) else list(layer)
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
        if layer is not None:
            # Features of the trained speech model at other layers (its readout fits its own layer only).
            if not hasattr(model.frontend, "ssl"):
                raise ValueError(f"--layer: the frontend of {train_config} has no speech model")
            try:
                model.frontend.ssl.read_layers([layer] if isinstance(layer, int) else list(layer))
            except ValueError as err:
                raise ValueError(f"--layer with --model_file {model_file}: {err}") from err
    else:
        logger.info("no --model_file: pretrained speech model, untrained head (features only)")
    return model.to(device).eval()


def layer_output_dirs(output_dir: str, layers: Optional[Sequence[int]]) -> Dict[Optional[int], str]:
    """Where the features of each layer go: ``output_dir`` with ``{layer}`` replaced (required for several layers).

    Returns:
        {layer: directory}, or {None: output_dir} without a list of layers.
    """
    if layers is None or isinstance(layers, int):
        return {None: output_dir}
    if len(layers) > 1 and "{layer}" not in output_dir:
        raise ValueError(
            f"--output_dir {output_dir}: with several layers ({list(layers)}) each needs its own directory; "
            "put {layer} in the path, e.g. exp/feats_layer{layer}/train"
        )
    return {layer: output_dir.replace("{layer}", str(layer)) for layer in layers}


def infer(
    train_config: str,
    data_dirs: Sequence[str],
    output_dirs: Sequence[str],
    model_file: Optional[str] = None,
    layer: Union[int, Sequence[int], None] = None,
    ngpu: int = 0,
    write_predictions: bool = True,
    frontend_conf: Optional[Dict] = None,
    frontend: Optional[str] = None,
    write_windows: bool = False,
) -> None:
    """Write ``feats.scp`` (and ``pred.scp``) for every story of each data directory into its output directory.

    Args:
        train_config: the ``config.yaml`` of a training run (see :func:`build_model`).
        data_dirs: directories of stories (``wav.scp``, ``num_trs``).
        output_dirs: one per data directory; with a list of layers, paths holding ``{layer}`` (one directory
            per layer, all written from one forward pass of the speech model).
        model_file: trained weights, or None for frozen features only (no ``pred.scp``).
        layer: another hidden layer of the speech model, or a list of them; with ``model_file`` the trained
            model's, up to the layer it reads, and no predictions are written.
        ngpu: 0 for the CPU, otherwise the first GPU.
        write_predictions: also write ``pred.scp`` (only with ``model_file``).
        frontend_conf: entries replacing those of the config's ``frontend_conf``.
        frontend: another frontend on the same window grid (e.g. "logmel"; see :func:`build_model`).
        write_windows: also write the features of every window before resampling (see :func:`infer_dir`).
    """
    if len(data_dirs) != len(output_dirs) or not data_dirs:
        raise ValueError(
            f"--data_dir and --output_dir: expected as many of each, got {len(data_dirs)} and {len(output_dirs)}"
        )
    layers = None if layer is None or isinstance(layer, int) else list(layer)
    targets = [layer_output_dirs(d, layers) for d in output_dirs]  # checked before the model is loaded
    device = "cuda" if ngpu > 0 else "cpu"
    model = build_model(train_config, model_file, device, layer, frontend_conf, frontend)
    for data_dir, dirs in zip(data_dirs, targets):
        infer_dir(model, data_dir, dirs, write_predictions and model_file is not None and layer is None, write_windows)


def infer_dir(
    model: torch.nn.Module,
    data_dir: str,
    output_dir: Union[str, Dict[Optional[int], str]],
    write_predictions: bool,
    write_windows: bool = False,
) -> None:
    """Features (N - 5, D) (and predictions (N - 20, V)) of the stories of one data directory, as Kaldi arks.

    Args:
        model: from :func:`build_model`.
        data_dir: directory of stories (``wav.scp``, ``num_trs``).
        output_dir: the output directory, or {layer: directory} (:func:`layer_output_dirs`): the model's features
            are then the concatenation of those layers, split here into one (N - 5, D) array per layer.
        write_predictions: also write ``pred.scp`` (into the first directory).
        write_windows: also write ``windows.scp`` (N, D), the features of every window before resampling to the TR
            grid, and ``window_ends.scp`` (N, 1), the story time (s) at which each window ends: the input of
            word-level probes (``espnet_brain.bin.probe_features --words``).
    """
    dirs = output_dir if isinstance(output_dir, dict) else {None: output_dir}
    wavs = read_2columns_text(os.path.join(data_dir, "wav.scp"))
    n_trs = {k: int(v) for k, v in read_2columns_text(os.path.join(data_dir, "num_trs")).items()}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    first_dir = next(iter(dirs.values()))
    sr = model.geometry.sample_rate
    start = time.perf_counter()
    audio_s = 0.0
    feats_writers = [kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") for d in dirs.values()]
    pred_writer = (
        kaldiio.WriteHelper(f"ark,scp:{first_dir}/pred.ark,{first_dir}/pred.scp") if write_predictions else None
    )
    window_writers = []
    if write_windows:
        window_writers = [
            (
                kaldiio.WriteHelper(f"ark,scp:{d}/windows.ark,{d}/windows.scp"),
                kaldiio.WriteHelper(f"ark,scp:{d}/window_ends.ark,{d}/window_ends.scp"),
            )
            for d in dirs.values()
        ]
    try:
        for i, story in enumerate(sorted(wavs)):
            if story not in n_trs:
                raise ValueError(f"{data_dir}/num_trs: no entry for story {story}")
            wav, rate = soundfile.read(wavs[story], dtype="float32")
            if rate != sr or wav.ndim != 1:
                raise ValueError(
                    f"{wavs[story]}: expected mono audio at {sr} Hz (the dumped stories), got {rate} Hz, "
                    f"shape {wav.shape}"
                )
            grid = stimulus_tr_times(n_trs[story], tr=model.geometry.tr)
            t0 = time.perf_counter()
            # (N - 5, L * D), (N - 5, V) and, with write_windows, (n_windows, L * D), (n_windows,)
            feats, pred, *windows = model.story_outputs(
                wav, grid, predict=pred_writer is not None, windows=write_windows
            )
            # Lanczos resampling acts on each column alone: splitting after it equals resampling each layer
            for writer, part in zip(feats_writers, np.split(feats, len(feats_writers), axis=1)):
                writer(story, part.astype(np.float32))
            if windows:
                win_feats, ends = windows
                for (win_writer, end_writer), part in zip(window_writers, np.split(win_feats, len(window_writers), 1)):
                    win_writer(story, part.astype(np.float32))
                    end_writer(story, ends[:, None])
            if pred_writer is not None:
                pred_writer(story, trim_to_responses(pred).astype(np.float32))
            audio_s += len(wav) / sr
            logger.info(
                f"[{i + 1}/{len(wavs)}] {story}: {len(wav) / sr:.1f} s of audio -> features {feats.shape} "
                f"({len(wav) / sr / max(time.perf_counter() - t0, 1e-9):.2f} audio s/s)"
            )
    finally:
        for writer in feats_writers + [w for pair in window_writers for w in pair]:
            writer.close()
        if pred_writer is not None:
            pred_writer.close()
    elapsed = time.perf_counter() - start
    logger.info(
        f"{len(wavs)} stories ({audio_s:.1f} s of audio) in {elapsed:.1f} s ({audio_s / max(elapsed, 1e-9):.2f} audio "
        f"s/s) -> {', '.join(dirs.values())}"
    )
