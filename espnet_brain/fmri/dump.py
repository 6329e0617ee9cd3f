"""The dump the fMRI encoding model trains and is scored on, from story-level data directories.

Input: the sets of :mod:`espnet_brain.data.lebel_prepare` (``<data_root>/<set>/``: ``wav.scp``, ``resp.scp``,
``num_trs`` and optionally ``repeats.scp``; ``<data_root>/rois.json`` and ``<data_root>/brain_mask``).

Output, for every set, ``<out>/<set>/stories/``: the whole stories, ``wav.scp`` (16 kHz mono FLAC; other sample
rates are resampled and stereo is mixed down, both logged), ``response.scp`` (Kaldi ark of (N - 20, V) float32
responses, z-scored per story), ``num_trs`` (N acquired) and, for a test story with repeats, ``repeats.scp``
(``.npy`` of (R, N - 20, V)). For the sets that are chunked (training and validation), ``<out>/<set>/`` also holds
the training examples: chunks of consecutive TRs with the audio their predictions need
(:mod:`espnet_brain.fmri.chunking`): ``wav.scp`` (chunk audio), ``response.scp`` ((T, V)), ``tr_start`` (chunk time
of the first TR), ``utt2story``.

Voxels with NaN in any story are set to 0 and masked: ``<out>/voxel_mask.npy`` ((V,) bool, False for them) is what
the training loss and the scoring use, and ``<out>/nan_voxels.txt`` lists them (a warning gives their count).
``<out>/n_voxels`` gives V; ``<out>/rois.json`` is the ROI table of the data directories, checked against V.

Shapes: ``N`` TRs acquired, ``T`` TRs of a chunk, ``V`` voxels, ``R`` repeats.
"""

import inspect
import json
import logging
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import kaldiio
import numpy as np
import soundfile
import yaml
from espnet2.fileio.read_text import read_2columns_text

from espnet_brain.data.lebel import load_mask, load_nifti_responses, load_repeats, load_responses, load_story_wav
from espnet_brain.fmri.chunking import ChunkGeometry, cut_audio, split_rows
from espnet_brain.voxelwise.timing import TR, stimulus_tr_times

logger = logging.getLogger(__name__)


def _signature_default(cls, name: str):
    return inspect.signature(cls.__init__).parameters[name].default


def geometry_from_config(
    train_config: Optional[str],
    window_s: Optional[float] = None,
    stride_s: Optional[float] = None,
    delays: Optional[Sequence[int]] = None,
    lanczos_window: Optional[int] = None,
    tr: Optional[float] = None,
    sample_rate: Optional[int] = None,
) -> ChunkGeometry:
    """The chunk geometry of a training config (class defaults where the config is silent); arguments override.

    Args:
        train_config: training YAML; read are ``frontend_conf.window_s``, ``stride_s``, ``sample_rate``,
            ``head_conf.delays``, ``model_conf.lanczos_window`` and ``model_conf.tr``. None: class defaults only.
        window_s, stride_s, delays, lanczos_window, tr, sample_rate: values that replace the config's.

    Returns:
        ChunkGeometry: the audio context a chunk of TRs needs.
    """
    from espnet_brain.fmri.espnet_model import ESPnetFMRIEncodingModel
    from espnet_brain.fmri.frontend import SSLWindowFrontend
    from espnet_brain.fmri.readout import FIRLinearHead

    conf: dict = {}
    if train_config is not None:
        with open(train_config, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
    fe = conf.get("frontend_conf") or {}
    head = conf.get("head_conf") or {}
    model = conf.get("model_conf") or {}

    def pick(value, section, key, cls):
        return value if value is not None else section.get(key, _signature_default(cls, key))

    return ChunkGeometry(
        tr=float(pick(tr, model, "tr", ESPnetFMRIEncodingModel)),
        delays=tuple(pick(delays, head, "delays", FIRLinearHead)),
        lanczos_window=int(pick(lanczos_window, model, "lanczos_window", ESPnetFMRIEncodingModel)),
        window_s=float(pick(window_s, fe, "window_s", SSLWindowFrontend)),
        stride_s=float(pick(stride_s, fe, "stride_s", SSLWindowFrontend)),
        sample_rate=int(pick(sample_rate, fe, "sample_rate", SSLWindowFrontend)),
    )


def zscore_story(y: np.ndarray) -> np.ndarray:
    """Per-voxel z-score over the story's TRs, ignoring NaN; NaN and constant voxels become 0.

    Args:
        y: (N - 20, V) responses of one story, possibly with NaN.

    Returns:
        (N - 20, V) float32, finite.
    """
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN voxels: handled below
        mean = np.nanmean(y, axis=0)
        std = np.nanstd(y, axis=0)
        z = (y - mean) / np.where(std > 0, std, 1.0)
    z[:, ~(std > 0)] = 0.0
    return np.nan_to_num(z, nan=0.0).astype(np.float32)


class Dumper:
    """Writes the dump of several sets, tracking the voxel count and the voxels with NaN across all of them.

    Args:
        out: dump directory.
        geometry: audio context of the training chunks.
        chunk_trs: TRs per training chunk.
        zscore: z-score each story's responses per voxel (:func:`zscore_story`).
        brain_mask: 3-D NIfTI mask of the voxels, needed for NIfTI responses.
    """

    def __init__(self, out: str, geometry: ChunkGeometry, chunk_trs: int, zscore: bool, brain_mask: Optional[str]):
        self.out, self.geometry, self.chunk_trs, self.zscore = out, geometry, chunk_trs, zscore
        self.mask = load_mask(brain_mask) if brain_mask else None
        self.n_voxels: Optional[int] = None
        self.nan_any: Optional[np.ndarray] = None
        self.nan_stories: Dict[str, int] = {}
        self.constant_stories: Dict[str, int] = {}

    def responses(self, story: str, spec: str, n_acquired: int) -> np.ndarray:
        """(N - 20, V) responses of a story from its ``resp.scp`` entry (``.hf5`` or NIfTI), NaN kept."""
        if spec.endswith((".nii", ".nii.gz")):
            if self.mask is None:
                raise ValueError(f"story {story}: {spec} is a NIfTI file; give --brain_mask")
            y = load_nifti_responses(spec, self.mask, n_acquired)
        else:
            y = load_responses(spec)
        if y.ndim != 2 or y.shape[0] != n_acquired - 20:
            raise ValueError(f"{spec}: responses of shape {y.shape}, expected ({n_acquired - 20}, V)")
        self._track(story, spec, y)
        return y

    def _track(self, story: str, spec: str, y: np.ndarray) -> None:
        if self.n_voxels is None:
            self.n_voxels = y.shape[1]
            self.nan_any = np.zeros(self.n_voxels, dtype=bool)
        elif y.shape[-1] != self.n_voxels:
            raise ValueError(f"{spec}: {y.shape[-1]} voxels, but earlier stories have {self.n_voxels}")
        nan = np.isnan(y).reshape(-1, y.shape[-1]).any(axis=0)
        if nan.any():
            self.nan_stories[story] = int(nan.sum())
        self.nan_any |= nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN voxels are counted above
            constant = ~(np.nanstd(y.reshape(-1, y.shape[-1]), axis=0) > 0) & ~nan
        if constant.any():
            self.constant_stories[story] = int(constant.sum())

    def dump_set(self, data_dir: str, name: str, chunk: bool) -> Tuple[int, int]:
        """Dump the set ``data_dir`` into ``<out>/<name>`` (cut into chunks if ``chunk``); returns (stories, chunks)."""
        wavs = read_2columns_text(os.path.join(data_dir, "wav.scp"))
        resps = read_2columns_text(os.path.join(data_dir, "resp.scp"))
        n_trs = {k: int(v) for k, v in read_2columns_text(os.path.join(data_dir, "num_trs")).items()}
        repeats_path = os.path.join(data_dir, "repeats.scp")
        repeats = read_2columns_text(repeats_path) if os.path.isfile(repeats_path) else {}
        missing = [s for s in wavs if s not in resps or s not in n_trs]
        if missing:
            raise ValueError(f"{data_dir}: stories {missing} lack a resp.scp or num_trs entry")
        g = self.geometry
        set_dir = os.path.join(self.out, name)
        story_dir = os.path.join(set_dir, "stories")
        os.makedirs(os.path.join(story_dir, "audio"), exist_ok=True)
        if chunk:
            os.makedirs(os.path.join(set_dir, "audio"), exist_ok=True)
        n_chunks = 0
        story_wav, story_rep, chunk_wav, chunk_tr, chunk_story = [], [], [], [], []
        with (
            kaldiio.WriteHelper(f"ark,scp:{story_dir}/response.ark,{story_dir}/response.scp") as story_resp,
            (
                kaldiio.WriteHelper(f"ark,scp:{set_dir}/response.ark,{set_dir}/response.scp")
                if chunk
                else _NullWriter()
            ) as chunk_resp,
        ):
            for story in sorted(wavs):
                n = n_trs[story]
                y = self.responses(story, resps[story], n)
                y = zscore_story(y) if self.zscore else np.nan_to_num(y, nan=0.0).astype(np.float32)
                audio = load_story_wav(wavs[story], g.sample_rate)  # logs resampling / mixing down
                path = os.path.abspath(os.path.join(story_dir, "audio", f"{story}.flac"))
                soundfile.write(path, np.clip(audio, -1.0, 1.0), g.sample_rate, subtype="PCM_16")
                story_wav.append(f"{story} {path}\n")
                story_resp(story, y)
                if story in repeats:
                    story_rep.append(f"{story} {self._dump_repeats(story, repeats[story], n, story_dir)}\n")
                if not chunk:
                    continue
                times = stimulus_tr_times(n, tr=g.tr)[10:-5]  # audio times of the response rows
                for r0, r1 in split_rows(len(y), self.chunk_trs):
                    start, end = g.audio_span(times[r0], times[r1 - 1])
                    key = f"{story}-{r0:04d}"
                    tr_start = times[r0] - start / g.sample_rate
                    g.check_coverage(end - start, tr_start, r1 - r0, name=key)
                    path = os.path.abspath(os.path.join(set_dir, "audio", f"{key}.flac"))
                    soundfile.write(
                        path, np.clip(cut_audio(audio, start, end), -1.0, 1.0), g.sample_rate, subtype="PCM_16"
                    )
                    chunk_wav.append(f"{key} {path}\n")
                    chunk_resp(key, y[r0:r1])
                    chunk_tr.append(f"{key} {tr_start:.6f}\n")
                    chunk_story.append(f"{key} {story}\n")
                    n_chunks += 1
        _write_lines(os.path.join(story_dir, "wav.scp"), story_wav)
        _write_lines(os.path.join(story_dir, "num_trs"), [f"{s} {n_trs[s]}\n" for s in sorted(wavs)])
        if story_rep:
            _write_lines(os.path.join(story_dir, "repeats.scp"), story_rep)
        if chunk:
            _write_lines(os.path.join(set_dir, "wav.scp"), chunk_wav)
            _write_lines(os.path.join(set_dir, "tr_start"), chunk_tr)
            _write_lines(os.path.join(set_dir, "utt2story"), chunk_story)
        logger.info(f"{set_dir}: {len(wavs)} stories, {n_chunks} chunks")
        return len(wavs), n_chunks

    def _dump_repeats(self, story: str, spec: str, n: int, story_dir: str) -> str:
        files = spec.split()
        if len(files) == 1 and not files[0].endswith((".nii", ".nii.gz")):
            reps = load_repeats(files[0])  # (R, T, V)
        else:
            reps = np.stack([self.responses(story, f, n) for f in files])
        if reps.ndim != 3 or reps.shape[1] != n - 20:
            raise ValueError(f"{spec}: repeats of shape {reps.shape}, expected (R, {n - 20}, V)")
        self._track(story, spec, reps)
        path = os.path.abspath(os.path.join(story_dir, f"{story}.repeats.npy"))
        np.save(path, np.nan_to_num(reps, nan=0.0).astype(np.float32))
        return path

    def finish(self, roi_file: Optional[str]) -> np.ndarray:
        """Write n_voxels, voxel_mask.npy, nan_voxels.txt and rois.json; returns the mask."""
        if self.n_voxels is None:
            raise ValueError("no story was dumped")
        valid = ~self.nan_any
        np.save(os.path.join(self.out, "voxel_mask.npy"), valid)
        _write_lines(os.path.join(self.out, "n_voxels"), [f"{self.n_voxels}\n"])
        _write_lines(os.path.join(self.out, "nan_voxels.txt"), [f"{i}\n" for i in np.flatnonzero(~valid)])
        if self.nan_stories:
            worst = ", ".join(f"{s}: {k}" for s, k in sorted(self.nan_stories.items(), key=lambda x: -x[1])[:5])
            logger.warning(
                f"{int((~valid).sum())} of {self.n_voxels} voxels have NaN in at least one story (voxels per story: "
                f"{worst}); they are set to 0 and masked from training and scoring "
                f"({self.out}/voxel_mask.npy, listed in {self.out}/nan_voxels.txt)"
            )
        if self.constant_stories:
            logger.warning(f"voxels constant over a whole story (set to 0 there): {self.constant_stories}")
        if roi_file is not None:
            with open(roi_file, encoding="utf-8") as f:
                rois = json.load(f)
            for name, idx in rois.items():
                idx = np.asarray(idx, dtype=np.int64)
                if idx.size and (idx.min() < 0 or idx.max() >= self.n_voxels):
                    raise ValueError(f"{roi_file}: ROI {name!r} has voxel indices outside [0, {self.n_voxels})")
            with open(os.path.join(self.out, "rois.json"), "w", encoding="utf-8") as f:
                json.dump(rois, f)
        logger.info(f"{self.out}: {self.n_voxels} voxels, {int(valid.sum())} without NaN")
        return valid


class _NullWriter:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, key, value):
        raise RuntimeError("no chunk writer")


def _write_lines(path: str, lines: List[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


def dump(
    data_root: str,
    sets: Sequence[str],
    out: str,
    chunk_sets: Sequence[str] = ("train", "dev"),
    chunk_trs: int = 10,
    train_config: Optional[str] = None,
    window_s: Optional[float] = None,
    stride_s: Optional[float] = None,
    delays: Optional[Sequence[int]] = None,
    lanczos_window: Optional[int] = None,
    tr: Optional[float] = None,
    sample_rate: Optional[int] = None,
    zscore: bool = True,
    brain_mask: Optional[str] = None,
) -> np.ndarray:
    """Dump ``data_root/<set>`` for each set into ``out/<set>``.

    Args:
        data_root: directory of the sets written by :func:`espnet_brain.data.lebel_prepare.prepare`.
        sets: names of the sets to dump.
        out: dump directory.
        chunk_sets: sets also cut into training chunks (a subset of ``sets``).
        chunk_trs: TRs per training chunk.
        train_config, window_s, stride_s, delays, lanczos_window, tr, sample_rate: the audio context of the
            chunks (:func:`geometry_from_config`); ``tr`` must be the corpus's.
        zscore: z-score each story's responses per voxel.
        brain_mask: 3-D NIfTI mask for NIfTI responses (default: the one named in ``data_root/brain_mask``).

    Returns:
        (V,) bool mask of the voxels without NaN in any story.
    """
    geometry = geometry_from_config(train_config, window_s, stride_s, delays, lanczos_window, tr, sample_rate)
    if abs(geometry.tr - TR) > 1e-9:
        raise ValueError(f"model_conf.tr={geometry.tr} but the LeBel corpus is read on its TR grid of {TR} s")
    unknown = [s for s in chunk_sets if s not in sets]
    if unknown:
        raise ValueError(f"--chunk_sets: {unknown} are not among --sets {list(sets)}")
    if brain_mask is None and os.path.isfile(os.path.join(data_root, "brain_mask")):
        with open(os.path.join(data_root, "brain_mask"), encoding="utf-8") as f:
            brain_mask = f.read().strip()
    os.makedirs(out, exist_ok=True)
    dumper = Dumper(out, geometry, chunk_trs, zscore, brain_mask)
    logger.info(f"chunks of {chunk_trs} TRs with the audio context of {geometry}")
    for name in sets:
        data_dir = os.path.join(data_root, name)
        if not os.path.isdir(data_dir):
            raise ValueError(f"{data_dir} does not exist; run the data preparation (stage 1) first")
        dumper.dump_set(data_dir, name, name in chunk_sets)
    roi_file = os.path.join(data_root, "rois.json")
    return dumper.finish(roi_file if os.path.isfile(roi_file) else None)
