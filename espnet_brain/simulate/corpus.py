"""Corpus orchestration: generate the requested parts and write ``MANIFEST.json``."""

import dataclasses
import json
import logging
import os
import shutil
import time
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

from espnet_brain import __version__
from espnet_brain.simulate.io import makedirs, write_json
from espnet_brain.simulate.presets import PARTS, Preset, apply_overrides, get_preset
from espnet_brain.simulate.speech import RenderCache
from espnet_brain.simulate.text import Sentence, generate_sentences, vocabulary

logger = logging.getLogger(__name__)

# Top-level directory written by each part (removed before the part is regenerated).
PART_DIRS = {
    "text": "text",
    "speech": "speech",
    "intracortical": "brain2text24",
    "fmri": "lebel2023",
    "ieeg": "ieeg_bids",
}

# What in each part is ground truth (files that the real corpora do not have).
GROUND_TRUTH = {
    "speech": "speech/*/alignments/*.json: the phoneme and word timings of the eSpeak NG rendering (exact)",
    "intracortical": "brain2text24/ground_truth/: electrode tuning (tuning.npy (39, C) = onehot_tuning + "
    "articulatory features @ feature_tuning), leads, baseline rates, per-day gain/offset (day_gain.npy, "
    "day_offset.npy (days, C)), dead electrodes (dead.npy), and per sentence the file/index, text, block, "
    "phoneme timing in the trial and speech onset/offset bins (sentences.json)",
    "fmri": "lebel2023/derivative/ground_truth/<subject>/: features/<story>.npy X (N-5, F) on the stimulus "
    "grid (column blocks spectral, articulatory, word_rate, semantic: model.json 'blocks'), weights.npy W (4, F, V), "
    "signal/<story>.npy = sum_{d=1..4} X[k-d] @ W[d-1] for k = 10..N-11, snr.npy, noise_sd.npy, "
    "variance_share.npy / unique_variance.npy / space_r2.npy (V, 4 feature spaces), roi.json (voxel kinds "
    "auditory_primary, speech, semantic, mixed_spectral_articulatory, mixed_articulatory_semantic, noise, and the "
    "group auditory), model.json (simulator_version 2)",
    "ieeg": "ieeg_bids/derivatives/ground_truth/: per session the responsive channels, lags, tuning depth, "
    "the true high-gamma envelope at 100 Hz and the phoneme timing of each sentence",
}


def _parse_parts(parts: Union[None, str, Iterable[str]]) -> List[str]:
    if parts is None:
        return list(PARTS)
    if isinstance(parts, str):
        parts = [p for p in parts.split(",") if p.strip()]
    parts = [p.strip() for p in parts]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"unknown corpus part(s) {unknown or parts}; expected a subset of {list(PARTS)}")
    return [p for p in PARTS if p in parts]  # canonical order


def write_text(out_dir: str, splits: Dict[str, List[Sentence]]) -> dict:
    root = makedirs(os.path.join(out_dir, "text"))
    for split, sentences in splits.items():
        with open(os.path.join(root, f"{split}.txt"), "w", encoding="utf-8") as f:
            f.writelines(f"{s.sent_id} {s.text}\n" for s in sentences)
    return {
        "sentences": {k: len(v) for k, v in splits.items()},
        "vocabulary_size": len(vocabulary(splits["train"])),
        "format": "<sent_id> <natural text>; dev/test words all occur in train; splits are disjoint",
    }


def make_corpus(
    out_dir: str,
    preset: Union[str, Preset] = "tiny",
    seed: int = 0,
    parts: Union[None, str, Sequence[str]] = None,
    overrides: Optional[Union[Sequence[str], Mapping[str, Mapping]]] = None,
    progress: bool = False,
) -> dict:
    """Generate the synthetic corpus under ``out_dir`` (see :mod:`espnet_brain.simulate` for the layout).

    Args:
        out_dir: Output directory (created). The directories of the requested parts are replaced.
        preset: ``"tiny"``, ``"small"``, ``"bench"`` or a :class:`~espnet_brain.simulate.presets.Preset`.
        seed: Non-negative corpus seed; the same seed gives byte-identical files.
        parts: Subset of ``text, speech, intracortical, fmri, ieeg`` (list or comma-separated); all if None.
        overrides: Knob overrides, e.g. ``["intracortical.days=3"]`` or ``{"fmri": {"n_voxels": 50}}``.
        progress: Show tqdm progress bars.

    Returns:
        The MANIFEST dict (also written to ``out_dir/MANIFEST.json``).
    """
    if isinstance(preset, str):
        preset = get_preset(preset, overrides)
    elif overrides:
        preset = apply_overrides(preset, overrides)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    parts = _parse_parts(parts)
    makedirs(out_dir)
    t = preset.text
    splits = generate_sentences(seed, t.n_train, t.n_dev, t.n_test, t.vocab_size_per_class, lexicon=t.lexicon)
    cache = RenderCache(seed, preset.speech)
    config = _config_dict(preset)
    manifest = {
        "name": "mini_brain",
        "generator": "espnet_brain.simulate",
        "version": __version__,
        "preset": preset.name,
        "seed": seed,
        "parts": [],
        "config": {},
        "ground_truth": {},
    }
    old = _read_manifest(out_dir)
    if old is not None and _same_corpus(old, preset.name, seed, config):
        # Parts generated earlier with the same seed and knobs stay valid: keep their entries.
        for part in old.get("parts", []):
            if part not in parts and old["config"].get(part) == config[part] and _current_part(old, part):
                manifest["parts"].append(part)
                manifest["config"][part] = config[part]
                for key in (PART_DIRS[part],):
                    if key in old:
                        manifest[key] = old[key]
                if part in old.get("ground_truth", {}):
                    manifest["ground_truth"][part] = old["ground_truth"][part]
    timings = {}
    for part in parts:
        start = time.perf_counter()
        target = os.path.join(out_dir, PART_DIRS[part])
        if os.path.isdir(target):
            shutil.rmtree(target)
        key = PART_DIRS[part]
        if part == "text":
            manifest[key] = write_text(out_dir, splits)
        elif part == "speech":
            from espnet_brain.simulate.speech import write_speech

            manifest[key] = write_speech(out_dir, seed, splits, preset.speech, cache, progress)
        elif part == "intracortical":
            from espnet_brain.simulate.intracortical import write_intracortical

            manifest[key] = write_intracortical(out_dir, seed, splits, preset.intracortical, cache, progress)
        elif part == "fmri":
            from espnet_brain.simulate.fmri import write_fmri

            manifest[key] = write_fmri(out_dir, seed, splits, preset.fmri, cache, progress)
        elif part == "ieeg":
            from espnet_brain.simulate.ieeg import write_ieeg

            manifest[key] = write_ieeg(out_dir, seed, splits, preset.ieeg, cache, progress)
        if part in GROUND_TRUTH:
            manifest["ground_truth"][part] = GROUND_TRUTH[part]
        manifest["config"][part] = config[part]
        manifest["parts"].append(part)
        timings[part] = time.perf_counter() - start
        logger.info("simulate: %s done in %.2f s", part, timings[part])
    manifest["parts"] = [p for p in PARTS if p in manifest["parts"]]
    manifest["config"]["text"] = config["text"]
    manifest["config"]["speech"] = config["speech"]
    write_json(os.path.join(out_dir, "MANIFEST.json"), manifest)
    # Timings are returned, never written: files of the same seed must be byte-identical.
    return dict(manifest, timings_s=timings)


def _read_manifest(out_dir: str) -> Optional[dict]:
    path = os.path.join(out_dir, "MANIFEST.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _same_corpus(manifest: dict, preset_name: str, seed: int, config: dict) -> bool:
    cfg = manifest.get("config", {})
    return (
        manifest.get("version") == __version__
        and manifest.get("preset") == preset_name
        and manifest.get("seed") == seed
        and cfg.get("text") == config["text"]
        and cfg.get("speech") == config["speech"]
    )


def _current_part(manifest: dict, part: str) -> bool:
    """Whether a part listed in ``manifest`` was written by the current generative model of that part."""
    if part == "fmri":
        from espnet_brain.simulate.fmri import SIMULATOR_VERSION

        return manifest.get(PART_DIRS[part], {}).get("simulator_version", 1) == SIMULATOR_VERSION
    return True


def ensure_corpus(
    out_dir: str,
    preset: Union[str, Preset] = "tiny",
    seed: int = 0,
    parts: Union[None, str, Sequence[str]] = None,
    overrides: Optional[Union[Sequence[str], Mapping[str, Mapping]]] = None,
    progress: bool = False,
) -> dict:
    """Generate the corpus unless ``out_dir/MANIFEST.json`` already lists the requested parts with the
    same preset, knobs, seed and package version (a cache for tests and recipes).

    Arguments as in :func:`make_corpus`. Returns the MANIFEST dict.
    """
    if isinstance(preset, str):
        preset = get_preset(preset, overrides)
    elif overrides:
        preset = apply_overrides(preset, overrides)
    wanted = _parse_parts(parts)
    config = _config_dict(preset)
    old = _read_manifest(out_dir)
    if old is not None and _same_corpus(old, preset.name, seed, config):
        missing = [p for p in wanted if p not in old.get("parts", []) or old["config"].get(p) != config[p]]
        missing += [p for p in wanted if p not in missing and not _current_part(old, p)]
        if not missing:
            return old
        wanted = missing
    return make_corpus(out_dir, preset, seed, wanted, progress=progress)


def _config_dict(preset: Preset) -> dict:
    """JSON-normalised knobs of every part (tuples become lists, as in MANIFEST.json)."""
    return json.loads(json.dumps({p: dataclasses.asdict(getattr(preset, p)) for p in PARTS}))
