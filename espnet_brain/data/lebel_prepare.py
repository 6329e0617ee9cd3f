"""Kaldi-style story-level data directories from the LeBel et al. (2023) corpus (OpenNeuro ds003020).

:func:`prepare` reads the dataset as published, or the synthetic corpus in the same layout (the stimuli, TextGrids,
``respdict.json`` and the subject's preprocessed ``.hf5`` responses, described in :mod:`espnet_brain.data.lebel`), and
writes one data directory per set (train, dev, test) with ``wav.scp``, ``resp.scp`` (``.hf5`` or 4-D NIfTI),
``textgrid.scp``, ``num_trs``, ``utt2spk``/``spk2utt`` and, for the test set, ``repeats.scp``. Every story is checked
before anything is written: its files exist, its TextGrid parses, its response rows are ``N - 20`` and its audio
length fits N TRs (:func:`check_timing`).

NIfTI responses are 4-D runs inside a 3-D brain mask, found with a template (``{root}``, ``{subject}``, ``{story}``,
glob wildcards allowed; default :data:`BIDS_TEMPLATE`). A story with several runs gets
``<dst>/<set>/responses/<story>.hf5`` in the layout of the published files (:func:`write_mean_of_runs`).

Shapes: ``N`` TRs acquired, ``V`` voxels, ``R`` repeats.
"""

import json
import logging
import os
import shutil
from typing import Dict, List, Optional, Sequence

import soundfile

from espnet_brain.data.lebel import TEST_STORY, load_mask, load_nifti_responses, load_respdict
from espnet_brain.data.textgrid import read_textgrid
from espnet_brain.voxelwise.timing import GRID_PAD, SOUND_START_S, TR, TRIM_END, TRIM_START

logger = logging.getLogger(__name__)

DOWNLOAD_HINT = (
    "LeBel et al. 2023 is OpenNeuro dataset ds003020 (https://openneuro.org/datasets/ds003020); fetch at least "
    "stimuli/, derivative/TextGrids/, derivative/respdict.json and derivative/preprocessed_data/<subject>/, e.g. "
    "`aws s3 sync --no-sign-request s3://openneuro.org/ds003020 DIR` or `datalad install "
    "https://github.com/OpenNeuroDatasets/ds003020.git` then `datalad get`, and set LEBEL2023=DIR in db.sh"
)


class CorpusError(ValueError):
    """The corpus directory is missing or incomplete."""


def check_corpus(root: str, subject: str) -> None:
    """Raise CorpusError naming what is missing (and where to get it) when ``root`` is not a ds003020 copy."""
    if not root:
        raise CorpusError(f"the corpus path is empty (LEBEL2023 is not set). {DOWNLOAD_HINT}")
    needed = [
        ("directory", root),
        ("file", os.path.join(root, "derivative", "respdict.json")),
        ("directory", os.path.join(root, "stimuli")),
        ("directory", os.path.join(root, "derivative", "TextGrids")),
        ("directory", os.path.join(root, "derivative", "preprocessed_data", subject)),
    ]
    missing = [
        f"{kind} {path}"
        for kind, path in needed
        if not (os.path.isdir if kind == "directory" else os.path.isfile)(path)
    ]
    if missing:
        raise CorpusError(f"incomplete LeBel corpus at {root!r}: missing {'; '.join(missing)}. {DOWNLOAD_HINT}")


def hf5_rows(path: str) -> int:
    """Rows of the "data" (N - 20, V) dataset of a response ``.hf5`` file; ValueError naming the file if unreadable."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise ValueError(f"{path}: no dataset 'data'; found {sorted(f.keys())}")
            return int(f["data"].shape[0])
    except OSError as e:
        raise ValueError(f"{path}: cannot read as HDF5 ({e})") from e


def hf5_has_repeats(path: str) -> bool:
    """Whether a response ``.hf5`` file holds "individual_repeats" (R, N - 20, V)."""
    import h5py

    with h5py.File(path, "r") as f:
        return "individual_repeats" in f


def nifti_shape(path: str, ndim: int = 4) -> tuple:
    """Shape of a NIfTI file from its header; ValueError unless it is readable and ``ndim``-D."""
    import nibabel

    try:
        shape = tuple(int(d) for d in nibabel.load(path).shape)
    except Exception as e:  # nibabel raises several types for unreadable files
        raise ValueError(f"{path}: cannot read as NIfTI ({type(e).__name__}: {e})") from e
    if len(shape) != ndim:
        what = "4-D NIfTI (x, y, z, volumes)" if ndim == 4 else f"{ndim}-D NIfTI"
        raise ValueError(f"{path}: expected a {what}, got shape {shape}")
    return shape


def check_timing(story: str, n_acquired: int, duration: float, tolerance_s: float) -> None:
    """The TR count must fit the audio: the grid (N - 5 TRs from scanner time 0, audio from 10 s) covers the audio,
    and the response rows (grid rows 10 .. N - 11) lie within it (both up to ``tolerance_s``)."""
    grid_end = (n_acquired - GRID_PAD) * TR - SOUND_START_S  # audio time where the grid ends
    rows_end = (n_acquired - GRID_PAD - TRIM_END) * TR - SOUND_START_S
    if duration > grid_end + tolerance_s or duration < rows_end - tolerance_s:
        raise ValueError(
            f"story {story}: {n_acquired} TRs in respdict.json do not match its audio of {duration:.2f} s: with TR "
            f"{TR} s and the audio starting {SOUND_START_S} s into the scan, the response rows end at {rows_end:.1f} s "
            f"and the stimulus grid at {grid_end:.1f} s of audio (tolerance {tolerance_s} s; see --tolerance_s)"
        )


def check_textgrid(path: str, duration: float) -> None:
    """ValueError naming the TextGrid unless it parses with a tier; a warning if it ends > 1 s off the audio's end."""
    try:
        tiers = read_textgrid(path)
    except (ValueError, UnicodeError) as e:
        raise ValueError(f"TextGrid {path} does not parse: {e}") from e
    if not tiers:
        raise ValueError(f"TextGrid {path} has no tier")
    end = max((b for entries in tiers.values() for _, b, _ in entries), default=0.0)
    if abs(end - duration) > 1.0:
        logger.warning(f"{path}: ends at {end:.2f} s but the audio lasts {duration:.2f} s")


#: ds003020's own BIDS layout: every session and run of a story (``--nifti_template`` default).
BIDS_TEMPLATE = "{root}/sub-{subject}/ses-*/func/sub-{subject}_ses-*_task-{story}_*bold.nii.gz"


def hf5_source(root: str, subject: str, story: str) -> str:
    """The published ``.hf5`` responses of a story for a subject."""
    return os.path.join(root, "derivative", "preprocessed_data", subject, f"{story}.hf5")


def response_pattern(root: str, subject: str, story: str, responses: str, nifti_template: Optional[str]) -> str:
    """The path (hf5) or glob pattern (nifti) searched for a story's responses, as shown in messages."""
    if responses == "hf5":
        return hf5_source(root, subject, story)
    return _fill(nifti_template, root=root, subject=subject, story=story)


def response_files(root: str, subject: str, story: str, responses: str, nifti_template: Optional[str]) -> List[str]:
    """Sorted response files of a story: the .hf5 file, or every NIfTI run ``--nifti_template`` matches ([] if none)."""
    if responses == "hf5":
        path = hf5_source(root, subject, story)
        return [path] if os.path.isfile(path) else []
    import glob

    # the values are escaped: only the template's own wildcards match several files
    pattern = _fill(nifti_template, root=glob.escape(root), subject=glob.escape(subject), story=glob.escape(story))
    return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))


def _fill(template: str, **values: str) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(
            f"--nifti_template {template!r}: only the fields {{root}}, {{subject}}, {{story}} can be filled in ({e!r})"
        ) from e


def find_stories(
    root: str, subject: str, respdict: Dict[str, int], responses: str, nifti_template: Optional[str]
) -> Dict[str, List[str]]:
    """{story: response files} of the stories of ``respdict`` with responses for ``subject`` (a warning lists the
    others, with where they were looked for)."""
    found, skipped = {}, []
    for story in sorted(respdict):
        files = response_files(root, subject, story, responses, nifti_template)
        if files:
            found[story] = files
        else:
            skipped.append(story)
    if skipped:
        logger.warning(
            f"{len(skipped)} stories of respdict.json have no responses for {subject}: {', '.join(skipped)} "
            f"(looked for {_tried(root, subject, skipped, responses, nifti_template)})"
        )
    return found


def _tried(root: str, subject: str, stories: Sequence[str], responses: str, nifti_template: Optional[str]) -> str:
    """Where the responses of ``stories`` were looked for, for error messages."""
    where = response_pattern(root, subject, "<story>", responses, nifti_template)
    if responses == "nifti":
        where = f"--nifti_template {nifti_template!r}, i.e. {where}"
    examples = "; ".join(response_pattern(root, subject, s, responses, nifti_template) for s in stories[:2])
    return f"{where}; e.g. {examples}"


def check_runs(story: str, runs: Sequence[str], n: int, mask_shape: Optional[tuple]) -> None:
    """Every NIfTI run of a story has N or N - 20 volumes and the brain mask's volume shape."""
    for path in runs:
        shape = nifti_shape(path)
        if shape[3] not in (n, n - 20):
            raise ValueError(
                f"{path}: {shape[3]} volumes, expected N = {n} (then trimmed to [10:-10]) or N - 20 for story {story}"
            )
        if mask_shape is not None and shape[:3] != mask_shape:
            raise ValueError(
                f"{path}: volume shape {shape[:3]} differs from the --brain_mask's {mask_shape}; give a mask in the "
                "space of the runs"
            )


def write_mean_of_runs(path: str, runs: Sequence[str], mask, n: int) -> None:
    """Write the runs of a story and their mean in the layout of the published ``.hf5`` files.

    Args:
        path: output ``.hf5``: "data" (N - 20, V) float32, the mean of the runs, and "individual_repeats"
            (R, N - 20, V) float32; its "runs" attribute lists the source files (JSON).
        runs: R 4-D NIfTI files of (x, y, z, N or N - 20) volumes.
        mask: (x, y, z) bool brain mask; its V voxels, in C order, are the columns.
        n: N, the TRs acquired (respdict.json); runs of N volumes are trimmed to ``[10:-10]``.
    """
    import h5py
    import numpy as np

    reps = np.stack([load_nifti_responses(run, mask, n) for run in runs])  # (R, N - 20, V)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        f["data"] = reps.mean(axis=0, dtype=np.float64).astype(np.float32)
        f["individual_repeats"] = reps
        f.attrs["runs"] = json.dumps([os.path.abspath(r) for r in runs])


def write_set(out_dir: str, subject: str, entries: Dict[str, Dict[str, str]]) -> None:
    """Write the data directory of a set from {story: {"wav", "resp", "textgrid", "num_trs"[, "repeats"]: value}}."""
    os.makedirs(out_dir, exist_ok=True)
    stories = sorted(entries)
    files = {"wav.scp": "wav", "resp.scp": "resp", "textgrid.scp": "textgrid", "num_trs": "num_trs"}
    if any("repeats" in entries[s] for s in stories):
        files["repeats.scp"] = "repeats"
    for name, key in files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.writelines(f"{s} {entries[s][key]}\n" for s in stories if key in entries[s])
    with open(os.path.join(out_dir, "utt2spk"), "w", encoding="utf-8") as f:
        f.writelines(f"{s} {subject}\n" for s in stories)
    with open(os.path.join(out_dir, "spk2utt"), "w", encoding="utf-8") as f:
        f.write(f"{subject} {' '.join(stories)}\n")


def prepare(
    corpus: str,
    subject: str,
    dst: str,
    test_stories: Sequence[str] = (TEST_STORY,),
    dev_stories: Sequence[str] = (),
    n_dev: int = 1,
    stories: Optional[Sequence[str]] = None,
    responses: str = "hf5",
    nifti_template: Optional[str] = None,
    repeats_template: Optional[str] = None,
    brain_mask: Optional[str] = None,
    roi_file: Optional[str] = None,
    tolerance_s: float = 2 * TR,
) -> Dict[str, List[str]]:
    """Check the corpus and write ``dst/{train,dev,test}``.

    Args:
        corpus: ds003020 root (the directory holding ``stimuli/``, ``derivative/``).
        subject: e.g. "UTS01".
        dst: writes ``dst/train``, ``dst/dev``, ``dst/test`` (and ``dst/rois.json``, ``dst/brain_mask``).
        test_stories: held-out stories.
        dev_stories: validation stories (default: the last ``n_dev`` training stories, sorted).
        n_dev: number of validation stories when ``dev_stories`` is empty.
        stories: use only these stories (default: every story with responses).
        responses: "hf5" (the preprocessed files) or "nifti" (4-D runs inside ``brain_mask``).
        nifti_template: path of a story's NIfTI run(s) with ``{root}``, ``{subject}``, ``{story}`` and glob
            wildcards (default :data:`BIDS_TEMPLATE`).
        repeats_template: glob of the test story's repeated NIfTI runs, when ``nifti_template`` matches one file.
        brain_mask: 3-D NIfTI whose non-zero voxels are the V voxels (nifti).
        roi_file: JSON {roi: [voxel indices]}, copied to ``dst/rois.json``.
        tolerance_s: tolerance of the audio length against the TR count, in seconds.

    Returns:
        {set: stories}.
    """
    if responses not in ("hf5", "nifti"):
        raise ValueError(f"--responses: expected hf5 or nifti, got {responses!r}")
    if responses == "hf5":
        check_corpus(corpus, subject)
    else:
        check_corpus_nifti(corpus)
    mask = None
    if responses == "nifti":
        nifti_template = nifti_template or BIDS_TEMPLATE
        if "{story}" not in nifti_template:
            raise ValueError(f"--nifti_template {nifti_template!r}: must contain {{story}}")
        if not brain_mask:
            raise ValueError("--responses nifti needs --brain_mask (a 3-D NIfTI whose non-zero voxels are the voxels)")
        if not os.path.isfile(brain_mask):
            raise ValueError(f"--brain_mask: {brain_mask} does not exist")
        nifti_shape(brain_mask, ndim=3)
        mask = load_mask(brain_mask)
    respdict = load_respdict(corpus)
    found = find_stories(corpus, subject, respdict, responses, nifti_template)
    available = list(found)
    if stories:
        unknown = [s for s in stories if s not in available]
        if unknown:
            raise ValueError(
                f"--stories: {unknown} have no responses for {subject} (looked for "
                f"{_tried(corpus, subject, unknown, responses, nifti_template)}; available: {available})"
            )
        available = [s for s in available if s in stories]
    test = [s for s in test_stories if s]
    missing_test = [s for s in test if s not in available]
    if missing_test:
        raise ValueError(
            f"--test_stories: {missing_test} have no responses for {subject} in {corpus} (looked for "
            f"{_tried(corpus, subject, missing_test, responses, nifti_template)})"
        )
    rest = [s for s in available if s not in test]
    dev = list(dev_stories) if dev_stories else rest[len(rest) - n_dev :] if n_dev > 0 else []
    bad_dev = [s for s in dev if s not in rest]
    if bad_dev:
        raise ValueError(f"--dev_stories: {bad_dev} are not training stories with responses ({rest})")
    train = [s for s in rest if s not in dev]
    if not train:
        raise ValueError(f"no training story left for {subject} (test {test}, dev {dev})")

    sets = {"train": train, "dev": dev, "test": test}
    entries: Dict[str, Dict[str, Dict[str, str]]] = {k: {} for k in sets}
    averages: Dict[str, tuple] = {}  # .hf5 to write -> (runs, N)
    for name, names in sets.items():
        for story in names:
            wav = os.path.join(corpus, "stimuli", f"{story}.wav")
            grid = os.path.join(corpus, "derivative", "TextGrids", f"{story}.TextGrid")
            for path in (wav, grid):
                if not os.path.isfile(path):
                    raise ValueError(f"story {story}: {path} does not exist")
            try:
                duration = soundfile.info(wav).duration
            except RuntimeError as e:
                raise ValueError(f"story {story}: {wav} is not a readable audio file ({e})") from e
            check_textgrid(grid, duration)
            n = respdict[story]
            check_timing(story, n, duration, tolerance_s)
            runs = found[story]
            if responses == "hf5":
                resp = runs[0]
                rows = hf5_rows(resp)
                if rows != n - TRIM_START - 2 * TRIM_END:
                    raise ValueError(
                        f"{resp}: {rows} response rows, expected N - 20 = {n - 20} (N = {n} in respdict.json)"
                    )
            else:
                check_runs(story, runs, n, mask.shape)
                if len(runs) == 1:
                    resp = runs[0]
                else:
                    resp = os.path.abspath(os.path.join(dst, name, "responses", f"{story}.hf5"))
                    averages[resp] = (runs, n)
                    logger.info(f"story {story}: mean of {len(runs)} runs ({', '.join(runs)}) -> {resp}")
            entry = {"wav": wav, "resp": resp, "textgrid": grid, "num_trs": str(n)}
            if name == "test":
                if responses == "hf5" and hf5_has_repeats(resp):
                    entry["repeats"] = resp
                elif responses == "nifti" and len(runs) >= 2:
                    entry["repeats"] = resp  # its "individual_repeats", as in the published .hf5 files
                elif responses == "nifti" and repeats_template:
                    reps = sorted(p for p in _glob(repeats_template.format(root=corpus, subject=subject, story=story)))
                    if len(reps) >= 2:
                        entry["repeats"] = " ".join(reps)
                if "repeats" not in entry:
                    logger.warning(f"test story {story}: no repeated presentations; no noise ceiling will be computed")
            entries[name][story] = entry
    for path, (runs, n) in averages.items():
        write_mean_of_runs(path, runs, mask, n)
    for name in sets:
        write_set(os.path.join(dst, name), subject, entries[name])
    if roi_file is not None:
        if not os.path.isfile(roi_file):
            raise ValueError(f"--roi_file: {roi_file} does not exist")
        with open(roi_file, encoding="utf-8") as f:
            rois = json.load(f)
        if not isinstance(rois, dict) or not all(isinstance(v, list) for v in rois.values()):
            raise ValueError(f"--roi_file: {roi_file} must hold a JSON object {{roi name: [voxel indices]}}")
        shutil.copyfile(roi_file, os.path.join(dst, "rois.json"))
    if brain_mask is not None:
        with open(os.path.join(dst, "brain_mask"), "w", encoding="utf-8") as f:
            f.write(os.path.abspath(brain_mask) + "\n")
    for name, names in sets.items():
        logger.info(f"{dst}/{name}: {len(names)} stories ({', '.join(names) if len(names) < 8 else '...'})")
    return sets


def check_corpus_nifti(root: str) -> None:
    """Raise CorpusError naming what is missing when ``root`` lacks what NIfTI responses need besides the runs."""
    for path in (os.path.join(root, "derivative", "respdict.json"), os.path.join(root, "stimuli")):
        if not os.path.exists(path):
            raise CorpusError(f"incomplete LeBel corpus at {root!r}: missing {path}. {DOWNLOAD_HINT}")


def _glob(pattern: str) -> List[str]:
    import glob

    return glob.glob(pattern)
