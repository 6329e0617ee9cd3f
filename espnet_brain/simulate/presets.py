"""Presets (sizes and knobs) of the synthetic corpus.

``tiny`` is for tests (all parts in seconds), ``small`` for the default ``mini_brain`` recipe and
``bench`` for timing. Any knob can be overridden with ``"<part>.<knob>=<value>"`` strings (CLI
``--set``) or a nested dict (:func:`espnet_brain.simulate.make_corpus`).
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional, Tuple, Union

from espnet_brain.simulate.espeak import VOICES


@dataclass(frozen=True)
class TextConfig:
    """Sentence counts per split and the size of the closed vocabulary."""

    n_train: int = 400
    n_dev: int = 40
    n_test: int = 40
    vocab_size_per_class: int = 100
    lexicon: str = "basic"  # basic (~125 words, the paper's closed vocabulary) or large (~1,200)


@dataclass(frozen=True)
class SpeechConfig:
    """eSpeak NG renderings of every sentence (one voice/rate/pitch drawn per sentence)."""

    sample_rate: int = 16000
    voices: Tuple[str, ...] = VOICES  # drawn uniformly per sentence
    rate_range: Tuple[int, int] = (140, 200)  # words per minute
    pitch_range: Tuple[int, int] = (35, 65)


@dataclass(frozen=True)
class IntracorticalConfig:
    """Willett-style multi-electrode array recordings of attempted speech."""

    days: int = 4
    train_per_day: Optional[int] = None  # None: the train split is shared out evenly over the days
    block_size: int = 20  # sentences per recording block
    holdout_per_day: int = 5
    channels: int = 256  # electrodes; the first half is area 6v, the second half area 44
    noise: float = 1.0  # scales trial-to-trial variability and spike-band power noise
    dead_fraction: float = 0.05  # electrodes that are (or become) dead
    lead_range_s: Tuple[float, float] = (0.10, 0.20)  # neural activity leads the sound by this much
    go_cue_range_s: Tuple[float, float] = (0.5, 0.9)  # go cue -> speech onset
    tail_range_s: Tuple[float, float] = (0.3, 0.6)  # speech offset -> end of trial


@dataclass(frozen=True)
class FMRIConfig:
    """LeBel-style fMRI responses to stories built from the sentences."""

    subjects: int = 2
    n_train_stories: int = 5
    story_seconds: float = 240.0
    test_story_seconds: float = 240.0
    n_repeats: int = 5
    n_voxels: int = 400
    n_bands: int = 8  # acoustic band envelopes
    embedding_dim: int = 8  # seeded word embedding
    snr_range: Tuple[float, float] = (0.1, 3.0)  # signal/noise variance ratio, log-uniform
    # voxel kinds (espnet_brain.simulate.fmri): auditory_primary, speech, semantic, mixed_spectral_articulatory,
    # mixed_articulatory_semantic, noise
    roi_fractions: Tuple[float, float, float, float, float, float] = (0.15, 0.20, 0.20, 0.075, 0.075, 0.30)
    speech_spectral_share: float = 0.0  # share of the speech voxels' signal variance from the band envelopes
    semantic_word_rate_share: float = 0.1  # share of the semantic voxels' signal variance from the word rate
    mixed_share_range: Tuple[float, float] = (0.25, 0.75)  # mixed voxels: share of the first space, uniform
    tr: float = 2.0
    sound_start_s: float = 10.0  # scanner time at which the story audio starts


@dataclass(frozen=True)
class IEEGConfig:
    """SEEG/ECoG sessions of read-aloud sentences, written as iEEG-BIDS (BrainVision)."""

    subjects: int = 2
    sessions: int = 2
    sentences_per_session: int = 30
    channels: int = 16
    sfreq: float = 500.0
    bad_channels: int = 1
    responsive_fraction: float = 0.6
    iti_range_s: Tuple[float, float] = (1.0, 1.6)


@dataclass(frozen=True)
class Preset:
    name: str
    text: TextConfig = field(default_factory=TextConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    intracortical: IntracorticalConfig = field(default_factory=IntracorticalConfig)
    fmri: FMRIConfig = field(default_factory=FMRIConfig)
    ieeg: IEEGConfig = field(default_factory=IEEGConfig)


PRESETS: Dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        text=TextConfig(n_train=40, n_dev=6, n_test=6, vocab_size_per_class=4),
        intracortical=IntracorticalConfig(days=2, block_size=10, holdout_per_day=2),
        fmri=FMRIConfig(
            subjects=2,  # the cross-subject transfer stage needs a second listener
            n_train_stories=3,
            story_seconds=150.0,
            test_story_seconds=120.0,
            n_repeats=4,
            n_voxels=60,
            embedding_dim=4,
            n_bands=6,
        ),
        ieeg=IEEGConfig(subjects=1, sessions=2, sentences_per_session=8, channels=8),
    ),
    "small": Preset(name="small"),
    # Fiedler et al.'s open question: a vocabulary ten times theirs (>= 1,000 words in the training sentences).
    "large_vocab": Preset(
        name="large_vocab",
        text=TextConfig(n_train=3000, n_dev=150, n_test=150, vocab_size_per_class=1000, lexicon="large"),
        intracortical=IntracorticalConfig(days=6),
    ),
    "bench": Preset(
        name="bench",
        text=TextConfig(n_train=2000, n_dev=200, n_test=200),
        intracortical=IntracorticalConfig(days=10, holdout_per_day=10),
        fmri=FMRIConfig(
            subjects=3, n_train_stories=12, story_seconds=420.0, test_story_seconds=420.0, n_repeats=10, n_voxels=4000
        ),
        ieeg=IEEGConfig(subjects=3, sessions=3, sentences_per_session=60, channels=64, sfreq=1000.0),
    ),
}

PARTS = ("text", "speech", "intracortical", "fmri", "ieeg")


def _convert(value: str, current, key: str):
    if value.lower() == "none":
        return None
    if isinstance(current, bool):
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"override {key}: expected true/false, got {value!r}")
        return value.lower() in ("true", "1")
    if isinstance(current, int) or current is None:
        try:
            return int(value)
        except ValueError:
            if current is None:
                return float(value)
            raise ValueError(f"override {key}: expected an integer, got {value!r}") from None
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        items = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if len(items) != len(current):
            raise ValueError(f"override {key}: expected {len(current)} comma-separated values, got {value!r}")
        return tuple(type(c)(v) for c, v in zip(current, items))
    return value


def apply_overrides(preset: Preset, overrides: Union[None, Iterable[str], Mapping[str, Mapping]]) -> Preset:
    """Return ``preset`` with knobs replaced.

    Args:
        preset: Base preset.
        overrides: ``["fmri.n_voxels=100", ...]`` or ``{"fmri": {"n_voxels": 100}}``.

    Raises:
        ValueError: For an unknown part or knob, naming it and the valid ones.
    """
    if not overrides:
        return preset
    nested: Dict[str, Dict[str, object]] = {}
    if isinstance(overrides, Mapping):
        for part, knobs in overrides.items():
            if not isinstance(knobs, Mapping):
                raise TypeError(f"overrides[{part!r}] must be a dict of knob -> value, got {type(knobs).__name__}")
            nested.setdefault(part, {}).update(knobs)
    else:
        for item in overrides:
            if "=" not in item or "." not in item.split("=", 1)[0]:
                raise ValueError(f"override {item!r}: expected '<part>.<knob>=<value>'")
            key, value = item.split("=", 1)
            part, knob = key.split(".", 1)
            nested.setdefault(part.strip(), {})[knob.strip()] = value.strip()
    changes = {}
    for part, knobs in nested.items():
        if part not in {f.name for f in dataclasses.fields(preset)} - {"name"}:
            raise ValueError(f"override: unknown part {part!r}; expected one of {list(PARTS)}")
        cfg = getattr(preset, part)
        valid = {f.name for f in dataclasses.fields(cfg)}
        values = {}
        for knob, value in knobs.items():
            if knob not in valid:
                raise ValueError(f"override: unknown knob {part}.{knob}; valid knobs: {sorted(valid)}")
            current = getattr(cfg, knob)
            values[knob] = _convert(value, current, f"{part}.{knob}") if isinstance(value, str) else value
        changes[part] = dataclasses.replace(cfg, **values)
    return dataclasses.replace(preset, **changes)


def get_preset(name: str, overrides=None) -> Preset:
    """The preset ``name`` (``tiny``, ``small``, ``bench``) with optional overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return apply_overrides(PRESETS[name], overrides)
