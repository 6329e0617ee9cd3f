"""Kaldi-style story-level data directories from the LeBel et al. (2023) corpus (OpenNeuro ds003020).

Reads the dataset as published (or the synthetic corpus in the same layout)::

    <corpus>/stimuli/<story>.wav
    <corpus>/derivative/TextGrids/<story>.TextGrid
    <corpus>/derivative/respdict.json                           {story: N TRs acquired}
    <corpus>/derivative/preprocessed_data/<subject>/<story>.hf5 "data" (N - 20, V); the test story also holds
                                                                "individual_repeats" (R, N - 20, V)

and writes, per set, ``<dst>/<set>/``: ``wav.scp`` (story -> wav), ``resp.scp`` (story -> response file: ``.hf5``
or a 4-D NIfTI), ``textgrid.scp``, ``num_trs`` (story -> N), ``utt2spk``/``spk2utt`` (story -> subject) and, for
the test set, ``repeats.scp`` (story -> file(s) of the repeated presentations). Every story is checked before
anything is written: files exist, the TextGrid parses (an error names the file), the response rows match
``N - 20`` and the audio length matches N (the grid of N - 5 TRs from 10 s before the audio must cover it).

Example::

    python -m espnet_brain.bin.prepare_lebel --corpus /data/ds003020 --subject UTS01 --dst data \\
        --test_stories wheretheressmoke --n_dev 2
"""

import argparse
import json
import logging
import os
import shutil
import sys
from typing import Dict, List, Optional, Sequence

import soundfile

from espnet_brain.data.lebel import GRID_PAD, SOUND_START_S, TEST_STORY, TR, TRIM_END, TRIM_START, load_respdict
from espnet_brain.data.textgrid import read_textgrid

logger = logging.getLogger("prepare_lebel")

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
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise ValueError(f"{path}: no dataset 'data'; found {sorted(f.keys())}")
            return int(f["data"].shape[0])
    except OSError as e:
        raise ValueError(f"{path}: cannot read as HDF5 ({e})") from e


def hf5_has_repeats(path: str) -> bool:
    import h5py

    with h5py.File(path, "r") as f:
        return "individual_repeats" in f


def nifti_volumes(path: str) -> int:
    import nibabel

    try:
        shape = nibabel.load(path).shape
    except Exception as e:  # nibabel raises several types for unreadable files
        raise ValueError(f"{path}: cannot read as NIfTI ({type(e).__name__}: {e})") from e
    if len(shape) != 4:
        raise ValueError(f"{path}: expected a 4-D NIfTI (x, y, z, volumes), got shape {shape}")
    return int(shape[3])


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
    try:
        tiers = read_textgrid(path)
    except (ValueError, UnicodeError) as e:
        raise ValueError(f"TextGrid {path} does not parse: {e}") from e
    if not tiers:
        raise ValueError(f"TextGrid {path} has no tier")
    end = max((b for entries in tiers.values() for _, b, _ in entries), default=0.0)
    if abs(end - duration) > 1.0:
        logger.warning(f"{path}: ends at {end:.2f} s but the audio lasts {duration:.2f} s")


def find_stories(root: str, subject: str, respdict: Dict[str, int], responses: str, nifti_template: Optional[str]):
    """Stories of ``respdict`` with responses for ``subject`` (others are listed in a warning)."""
    found, skipped = [], []
    for story in sorted(respdict):
        path = response_source(root, subject, story, responses, nifti_template)
        (found if os.path.isfile(path) else skipped).append(story)
    if skipped:
        logger.warning(f"{len(skipped)} stories of respdict.json have no responses for {subject}: {', '.join(skipped)}")
    return found


def response_source(root: str, subject: str, story: str, responses: str, nifti_template: Optional[str]) -> str:
    if responses == "hf5":
        return os.path.join(root, "derivative", "preprocessed_data", subject, f"{story}.hf5")
    return nifti_template.format(root=root, subject=subject, story=story)


def write_set(out_dir: str, subject: str, entries: Dict[str, Dict[str, str]]) -> None:
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
    """Check the corpus and write ``dst/{train,dev,test}``; returns {set: stories}."""
    if responses not in ("hf5", "nifti"):
        raise ValueError(f"--responses: expected hf5 or nifti, got {responses!r}")
    if responses == "hf5":
        check_corpus(corpus, subject)
    else:
        check_corpus_nifti(corpus)
    if responses == "nifti":
        if not nifti_template or not brain_mask:
            raise ValueError("--responses nifti needs --nifti_template (with {story}, {subject}) and --brain_mask")
        if not os.path.isfile(brain_mask):
            raise ValueError(f"--brain_mask: {brain_mask} does not exist")
    respdict = load_respdict(corpus)
    available = find_stories(corpus, subject, respdict, responses, nifti_template)
    if stories:
        unknown = [s for s in stories if s not in available]
        if unknown:
            raise ValueError(f"--stories: {unknown} have no responses for {subject} (available: {available})")
        available = [s for s in available if s in stories]
    test = [s for s in test_stories if s]
    missing_test = [s for s in test if s not in available]
    if missing_test:
        raise ValueError(f"--test_stories: {missing_test} have no responses for {subject} in {corpus}")
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
            resp = response_source(corpus, subject, story, responses, nifti_template)
            if responses == "hf5":
                rows = hf5_rows(resp)
                if rows != n - TRIM_START - 2 * TRIM_END:
                    raise ValueError(
                        f"{resp}: {rows} response rows, expected N - 20 = {n - 20} (N = {n} in respdict.json)"
                    )
            else:
                vols = nifti_volumes(resp)
                if vols not in (n, n - 20):
                    raise ValueError(f"{resp}: {vols} volumes, expected N = {n} (then trimmed to [10:-10]) or N - 20")
            entry = {"wav": wav, "resp": resp, "textgrid": grid, "num_trs": str(n)}
            if name == "test":
                if responses == "hf5" and hf5_has_repeats(resp):
                    entry["repeats"] = resp
                elif responses == "nifti" and repeats_template:
                    reps = sorted(p for p in _glob(repeats_template.format(root=corpus, subject=subject, story=story)))
                    if len(reps) >= 2:
                        entry["repeats"] = " ".join(reps)
                if "repeats" not in entry:
                    logger.warning(f"test story {story}: no repeated presentations; no noise ceiling will be computed")
            entries[name][story] = entry
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
    for path in (os.path.join(root, "derivative", "respdict.json"), os.path.join(root, "stimuli")):
        if not os.path.exists(path):
            raise CorpusError(f"incomplete LeBel corpus at {root!r}: missing {path}. {DOWNLOAD_HINT}")


def _glob(pattern: str) -> List[str]:
    import glob

    return glob.glob(pattern)


def _names(value: str) -> List[str]:
    return [s for s in value.replace(",", " ").split() if s]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="ds003020 root (the directory holding stimuli/, derivative/)")
    parser.add_argument("--subject", default="UTS01")
    parser.add_argument("--dst", required=True, help="writes DST/train, DST/dev, DST/test")
    parser.add_argument("--test_stories", type=_names, default=[TEST_STORY])
    parser.add_argument("--dev_stories", type=_names, default=[], help="validation stories (default: --n_dev)")
    parser.add_argument("--n_dev", type=int, default=1, help="the last N training stories (sorted) validate")
    parser.add_argument("--stories", type=_names, default=None, help="use only these stories (default: all)")
    parser.add_argument("--responses", choices=["hf5", "nifti"], default="hf5")
    parser.add_argument(
        "--nifti_template",
        default=None,
        help="path of a story's 4-D NIfTI with {root}, {subject}, {story}, "
        "e.g. '{root}/nifti/{subject}/{story}.nii.gz'",
    )
    parser.add_argument("--repeats_template", default=None, help="glob of the test story's repeated NIfTI runs")
    parser.add_argument("--brain_mask", default=None, help="3-D NIfTI; its non-zero voxels are the voxels (nifti)")
    parser.add_argument("--roi_file", default=None, help="JSON {roi: [voxel indices]}, copied to DST/rois.json")
    parser.add_argument("--tolerance_s", type=float, default=2 * TR, help="audio length vs TR count tolerance (s)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        prepare(**vars(args))
    except ValueError as e:
        print(f"prepare_lebel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
