"""Grid and configs of a brain feature extractor (BFE) architecture sweep over the transfer modes.

Fiedler et al. (2025) trained every BFE of a grid (GRU layers x hidden units x FC stack) in three transfer
modes (full fine-tuning of the pretrained transformer, the same model from scratch, a frozen pretrained
transformer) and asked how often full fine-tuning wins on the same BFE. This module writes that grid's
training configs: one per (architecture, mode), the mode's base config with the grid's ``frontend_conf`` keys
(``num_layers``, ``hidden_size``, ``fc_sizes``, ...) replaced, and the list of runs a recipe trains with its
stage script (``egs2/mini_brain/asr1/local/sweep.sh``). :mod:`espnet_brain.asr.sweep.report` compares the
modes once the runs are scored.

A grid (a YAML or JSON file, or the command line) is either a mapping ``key -> list of values`` (their product)
or a list of settings (mappings of overrides). A plain key is a ``frontend_conf`` key of the BFE; the training
schedule is swept with the keys of :data:`TRAINING_KEYS` and ``section.key`` paths into ``optim_conf`` and
``scheduler_conf`` (Fiedler et al.'s open questions of learning-rate schedules against forgetting and of a
curriculum), e.g. ``{"scheduler_conf.freeze_steps": [0, 80], "encoder_lr": [1e-4, 1e-3], "curriculum_epochs":
[0, 3]}``. A "setting" (called an architecture in the tables) is one point of the grid.
"""

import copy
import inspect
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import yaml

# The grid of Fiedler et al. (2025): 3 x 3 x 5 = 45 BFE architectures.
PAPER_GRID: Dict[str, List[Any]] = {
    "num_layers": [1, 3, 5],
    "hidden_size": [256, 512, 1024],
    "fc_sizes": [[], [128], [256], [512], [512, 128]],
}
# Short names of frequent keys in run tags (l5_h512_fcnone); other keys keep their name.
SHORT_NAMES = {
    "num_layers": "l",
    "hidden_size": "h",
    "fc_sizes": "fc",
    "kernel_size": "k",
    "stride": "s",
    "window_projection": "proj",
    "encoder_lr": "elr",
    "optim_conf.lr": "lr",
    "scheduler_conf.freeze_steps": "fz",
    "scheduler_conf.warmup_steps": "wu",
    "curriculum_epochs": "cur",
    "curriculum_start": "curstart",
    "max_epoch": "ep",
}
# encoder_conf.mode that a base config of each usual mode name must have.
ENCODER_MODE = {"full": "finetune", "scratch": "scratch", "frozen": "frozen"}
# frontend_conf keys fixed by the data and the transformer, not by the BFE architecture.
NOT_SWEPT = ("input_size", "output_size", "n_days")
# Top-level training options a grid may set (plain keys that are not frontend_conf keys).
TRAINING_KEYS = ("encoder_lr", "curriculum_epochs", "curriculum_start", "max_epoch")
# Config sections whose keys a grid may set as "section.key".
TRAINING_SECTIONS = ("optim_conf", "scheduler_conf")

Grid = Union[Dict[str, List[Any]], List[Dict[str, Any]]]


@dataclass
class Run:
    """One training run of the sweep."""

    tag: str  # experiment name: <expdir>/asr_<tag>
    mode: str  # transfer mode label (full, scratch, frozen, ...)
    arch_id: str  # e.g. l5_h512_fcnone
    arch: Dict[str, Any]  # frontend_conf and training-key overrides
    config: Path  # the written training config


def parse_fc_sizes(text: str) -> List[int]:
    """``"none"`` or ``""`` -> ``[]``; ``"512,128"`` -> ``[512, 128]``."""
    text = text.strip()
    if text.lower() in ("", "none", "[]"):
        return []
    try:
        sizes = [int(s) for s in text.strip("[]").split(",")]
    except ValueError:
        raise ValueError(f"--fc_sizes: expected 'none' or comma-separated ints such as 512,128, got '{text}'")
    if any(s < 1 for s in sizes):
        raise ValueError(f"--fc_sizes: expected positive sizes, got '{text}'")
    return sizes


def _sweepable_keys() -> List[str]:
    from espnet_brain.asr.frontend.brain_gru import BrainGRUFrontend

    params = inspect.signature(BrainGRUFrontend.__init__).parameters
    return [k for k in params if k != "self" and k not in NOT_SWEPT]


def load_grid(path: Union[str, Path]) -> Grid:
    """Read a grid file (YAML or JSON: JSON is YAML too)."""
    with open(path, encoding="utf-8") as f:
        grid = yaml.safe_load(f)
    if not isinstance(grid, (dict, list)) or not grid:
        raise ValueError(
            f"{path}: expected a mapping 'frontend_conf key -> list of values' or a list of architectures, "
            f"got {type(grid).__name__}"
        )
    return grid


def expand_grid(grid: Grid, source: str = "grid") -> List[Dict[str, Any]]:
    """Settings (``frontend_conf`` and training-key overrides) of a grid, in order.

    Args:
        grid: Mapping ``key -> list of values`` (their product; num_layers varies slowest, then hidden_size,
            fc_sizes, then other keys in the given order) or a list of mappings.
        source: Name of the grid's origin for error messages.

    Returns:
        One dict per architecture.
    """
    if isinstance(grid, dict):
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{source}: '{key}' must be a non-empty list of values, got {values!r}")
        keys = _canonical_order(grid)
        archs = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    elif isinstance(grid, list):
        if not all(isinstance(a, dict) and a for a in grid):
            raise ValueError(f"{source}: a list grid must hold non-empty mappings of overrides")
        archs = [{k: a[k] for k in _canonical_order(a)} for a in grid]
    else:
        raise TypeError(f"{source}: expected a dict or a list, got {type(grid).__name__}")

    allowed = _sweepable_keys()
    for arch in archs:
        unknown = sorted(k for k in arch if k not in allowed and not is_training_key(k))
        if unknown:
            raise ValueError(
                f"{source}: unknown or fixed keys {unknown}; the brain_gru frontend's sweepable keys are {allowed} "
                f"({list(NOT_SWEPT)} come from the data and the transformer), the training keys "
                f"{list(TRAINING_KEYS)} and section.key in {list(TRAINING_SECTIONS)}"
            )
        if "fc_sizes" in arch:
            fc = arch["fc_sizes"]
            arch["fc_sizes"] = parse_fc_sizes(fc) if isinstance(fc, str) else list(fc or [])
    ids = [arch_id(a) for a in archs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{source}: architectures appear more than once: {duplicates}")
    return archs


def is_training_key(key: str) -> bool:
    """True for a grid key of the training schedule (not of the BFE): see :data:`TRAINING_KEYS`."""
    section, dot, name = key.partition(".")
    return key in TRAINING_KEYS or bool(dot and name and section in TRAINING_SECTIONS)


def _config_value(config: Dict[str, Any], key: str) -> Any:
    # frontend_conf for BFE keys, the top level or section.key for training keys
    if not is_training_key(key):
        return (config.get("frontend_conf") or {}).get(key)
    section, dot, name = key.partition(".")
    return (config.get(section) or {}).get(name) if dot else config.get(key)


def _canonical_order(keys) -> List[str]:
    # Layers, hidden units, FC stack first (as in the paper's grid), whatever order a file lists them in.
    return [k for k in SHORT_NAMES if k in keys] + [k for k in keys if k not in SHORT_NAMES]


def _format_value(value: Any) -> str:
    if value is None:  # e.g. window_projection: null (no projection)
        return "none"
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value) if value else "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def arch_id(arch: Dict[str, Any]) -> str:
    """Short name of an architecture for run tags and tables.

    ``{"num_layers": 5, "hidden_size": 512, "fc_sizes": [512, 128]}`` -> ``l5_h512_fc512-128``,
    ``{"kernel_size": 8, "window_projection": None}`` -> ``k8_projnone``; keys without a short name appear as
    ``<key>-<value>`` (``dropout-0.3``).
    """
    parts = []
    for key in _canonical_order(arch):
        value = arch[key]
        name = SHORT_NAMES.get(key, key)
        parts.append(f"{name}{_format_value(value)}" if key in SHORT_NAMES else f"{name}-{_format_value(value)}")
    return "_".join(parts)


def make_config(
    base: Dict[str, Any], arch: Dict[str, Any], source: str = "base config", pretrained: Optional[str] = None
) -> Dict[str, Any]:
    """A copy of a brain_gru training config with the setting's keys replaced (``frontend_conf`` keys, training
    keys and ``section.key`` paths).

    Args:
        base: The mode's training config.
        arch: The setting's overrides.
        source: Name of the base config for error messages.
        pretrained: Pretrained model (hub id or directory) replacing ``encoder_conf.model_name_or_path`` and a
            non-null ``ctc_init`` (a scratch config's random head stays random); None keeps the config's.
    """
    if base.get("frontend") != "brain_gru":
        raise ValueError(
            f"{source}: expected 'frontend: brain_gru' (the BFE being swept), got {base.get('frontend')!r}"
        )
    config = copy.deepcopy(base)
    frontend = {k: copy.deepcopy(v) for k, v in arch.items() if not is_training_key(k)}
    config["frontend_conf"] = {**(config.get("frontend_conf") or {}), **frontend}
    for key, value in arch.items():
        if not is_training_key(key):
            continue
        section, dot, name = key.partition(".")
        if dot:
            if not isinstance(config.get(section), dict):
                raise ValueError(f"{source}: the grid sets {key} but the config has no '{section}' mapping")
            config[section][name] = copy.deepcopy(value)
        else:
            config[key] = copy.deepcopy(value)
    if pretrained is not None:
        if isinstance(config.get("encoder_conf"), dict) and "model_name_or_path" in config["encoder_conf"]:
            config["encoder_conf"]["model_name_or_path"] = pretrained
        if config.get("ctc_init") is not None:
            config["ctc_init"] = pretrained
    return config


def check_mode(base: Dict[str, Any], mode: str, source: str) -> None:
    """A base config labelled full/scratch/frozen must set the matching ``encoder_conf.mode``."""
    if mode not in ENCODER_MODE:
        return
    got = (base.get("encoder_conf") or {}).get("mode", "finetune")
    if got != ENCODER_MODE[mode]:
        raise ValueError(f"{source}: mode '{mode}' expects encoder_conf.mode: {ENCODER_MODE[mode]}, got {got!r}")


def plan_runs(
    base_configs: Dict[str, Union[str, Path]],
    archs: Sequence[Dict[str, Any]],
    conf_dir: Union[str, Path],
    tag_prefix: str = "bfe",
    pretrained: Optional[str] = None,
) -> List[Run]:
    """Write one config per (architecture, mode) into ``conf_dir``.

    Args:
        base_configs: Mode label -> base training YAML (``frontend: brain_gru``).
        archs: Architectures from :func:`expand_grid`.
        conf_dir: Where ``<tag>.yaml`` files go.
        tag_prefix: Run tags are ``<tag_prefix>_<arch_id>_<mode>``.
        pretrained: The pretrained model of every config (:func:`make_config`); None keeps the configs'.

    Returns:
        The runs, architecture-major (every mode of the first architecture first).
    """
    conf_dir = Path(conf_dir)
    conf_dir.mkdir(parents=True, exist_ok=True)
    bases = {}
    for mode, path in base_configs.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", mode):
            raise ValueError(f"--base_config: mode label must be a plain name (letters, digits, _ . -), got '{mode}'")
        with open(path, encoding="utf-8") as f:
            base = yaml.safe_load(f)
        if not isinstance(base, dict):
            raise ValueError(f"{path}: expected a YAML mapping (an ESPnet training config)")
        check_mode(base, mode, str(path))
        bases[mode] = (base, str(path))
    runs = []
    for arch in archs:
        aid = arch_id(arch)
        for mode, (base, source) in bases.items():
            tag = f"{tag_prefix}_{aid}_{mode}"
            config = make_config(base, arch, source, pretrained)
            path = conf_dir / f"{tag}.yaml"
            text = yaml.safe_dump(config, sort_keys=False)
            # Rewrite only on change: an unchanged file keeps its time stamp for make-like tools.
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            runs.append(Run(tag=tag, mode=mode, arch_id=aid, arch=dict(arch), config=path))
    return runs


def build_grid(
    grid_file: Optional[Union[str, Path]] = None,
    num_layers: Optional[List[int]] = None,
    hidden_size: Optional[List[int]] = None,
    fc_sizes: Optional[List[List[int]]] = None,
) -> List[Dict[str, Any]]:
    """Architectures of a grid file and per-key lists (a list replaces the file's values for its key).

    Args:
        grid_file: YAML/JSON grid (default: :data:`PAPER_GRID`, the 45 architectures of Fiedler et al.).
        num_layers: GRU layers to sweep.
        hidden_size: GRU hidden units to sweep.
        fc_sizes: FC stacks to sweep (``[]`` for none).

    Returns:
        One ``frontend_conf`` override dict per architecture.
    """
    lists = {"num_layers": num_layers, "hidden_size": hidden_size, "fc_sizes": fc_sizes}
    cli = {k: v for k, v in lists.items() if v is not None}
    if grid_file is None:
        grid: Grid = {**PAPER_GRID, **cli}
        return expand_grid(grid, "command-line grid" if cli else "paper grid")
    grid = load_grid(grid_file)
    if isinstance(grid, list):
        if cli:
            raise ValueError(f"{grid_file}: a list of architectures cannot be combined with --{', --'.join(cli)}")
        return expand_grid(grid, str(grid_file))
    return expand_grid({**grid, **cli}, str(grid_file))


def check_existing_run(run: Run, expdir: Union[str, Path]) -> None:
    """Refuse to reuse an experiment directory trained with another architecture or mode under the same tag."""
    trained = Path(expdir) / f"asr_{run.tag}" / "config.yaml"
    if not trained.exists():
        return
    with open(trained, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    mismatched = {k: (_config_value(config, k), v) for k, v in run.arch.items() if _config_value(config, k) != v}
    want_mode = ENCODER_MODE.get(run.mode)
    got_mode = (config.get("encoder_conf") or {}).get("mode", "finetune")
    if want_mode is not None and got_mode != want_mode:
        mismatched["encoder_conf.mode"] = (got_mode, want_mode)
    if mismatched:
        detail = ", ".join(f"{k}: trained {a!r}, sweep wants {b!r}" for k, (a, b) in mismatched.items())
        raise ValueError(
            f"{trained}: this experiment was trained with another configuration ({detail}); "
            "remove the directory or choose another --tag_prefix"
        )


def score_path(expdir: Union[str, Path], tag: str, test_set: str) -> Path:
    """Where ``brain_asr.sh``'s scoring stage leaves a run's corpus numbers (``espnet_brain.bin.score``)."""
    return Path(expdir) / f"asr_{tag}" / f"decode_{test_set}" / "score.json"


RUNS_HEADER = "tag\tmode\tarchitecture\tconfig\tfrontend_conf"


def write_runs(runs: Sequence[Run], path: Union[str, Path]) -> None:
    """The sweep's runs, one per line: tag, mode, architecture id, config path and the architecture's
    ``frontend_conf`` overrides as JSON (read by :func:`read_runs`)."""
    rows = [RUNS_HEADER] + [f"{r.tag}\t{r.mode}\t{r.arch_id}\t{r.config}\t{json.dumps(r.arch)}" for r in runs]
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")


def read_runs(path: Union[str, Path]) -> List[Run]:
    """The runs written by :func:`write_runs`."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != RUNS_HEADER:
        raise ValueError(f"{path}: expected a run list starting with {RUNS_HEADER!r}; write it with bfe_sweep_configs")
    runs = []
    for n, line in enumerate(lines[1:], 2):
        parts = line.split("\t")
        if len(parts) != 5:
            raise ValueError(f"{path}:{n}: expected 5 tab-separated fields ({RUNS_HEADER.replace(chr(9), ', ')})")
        tag, mode, aid, config, arch = parts
        runs.append(Run(tag=tag, mode=mode, arch_id=aid, arch=json.loads(arch), config=Path(config)))
    return runs


def write_jobs(runs: Sequence[Run], expdir: Union[str, Path], test_set: str, path: Union[str, Path]) -> List[Run]:
    """The job list of the runs without a score yet: ``<tag> <absolute config path>`` per line.

    Line ``n`` is job ``n`` of the recipe's ``${cuda_cmd} JOB=1:N`` call, so an interrupted sweep resumes where
    it stopped. Experiments trained with another configuration under a run's tag are refused first.

    Returns:
        The runs to train, in job order.
    """
    todo = []
    for run in runs:
        check_existing_run(run, expdir)
        if not score_path(expdir, run.tag, test_set).exists():
            todo.append(run)
    Path(path).write_text("".join(f"{r.tag} {r.config.resolve()}\n" for r in todo), encoding="utf-8")
    return todo
