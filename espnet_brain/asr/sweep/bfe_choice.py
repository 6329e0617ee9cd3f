"""The brain feature extractor's (BFE) window and projection chosen on the dev set (``bfe_choice.sh``, the
Brain-to-text and iEEG recipes' ``run.sh --bfe_grid``).

The reference BFE (Fiedler et al. 2025) reads 640 ms windows (32 bins of 20 ms) with no projection: 32 x C values
per GRU step (8,192 for 256 features), a shape set on 8.8k training sentences. On a few hundred sentences, as most
SEEG/ECoG and many intracortical corpora have, a BFE that large can memorise, and shorter windows or a linear map
of each window to a few hundred values first (``frontend_conf.window_projection``) may do far better. So the recipes
can choose the BFE's shape on the user's own dev set: :func:`plan_choice` writes one config per point of a grid over
the BFE-only control's config (``train_brain_bfe.yaml``: the same BFE and CTC head, no transformer, so a point costs
little), the recipe trains each for a few epochs, and :func:`choose_setting` takes the point with the lowest best dev
CTC loss (ESPnet's reporter state, :func:`espnet_brain.asr.sweep.lr_search.best_valid_loss`). The CTC loss is the
negative log-likelihood of each sentence, so it compares BFEs whose frame counts differ.

A run that did not finish (no ``bfe_choice.done`` in its directory, which the recipe writes once the training
succeeded) or whose dev loss is never finite is reported and never chosen. :func:`write_choice` writes the table
(``choice.md``), ``choice.json`` and ``frontend_args``: the trainer arguments (``--frontend_conf key=value ...``)
that every transfer mode then trains with.
"""

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from espnet_brain.asr.sweep.grid import Run, expand_grid, is_training_key, load_grid, plan_runs, read_runs, write_runs
from espnet_brain.asr.sweep.lr_search import best_valid_loss, yaml_float

# Written by the recipe into a run's directory once its training succeeded (holding the run's settings).
DONE_FILE = "bfe_choice.done"
RUNS_FILE = "runs.tsv"
MODE = "bfe"  # the mode label of the written configs (the BFE-only control)


def run_dir(out_dir: Union[str, Path], run: Run) -> Path:
    """The experiment directory of a run: ``brain_asr.sh --expdir <out_dir> --asr_tag <setting>``."""
    return Path(out_dir) / f"asr_{run.arch_id}"


def plan_choice(grid_file: Union[str, Path], base_config: Union[str, Path], out_dir: Union[str, Path]) -> List[Run]:
    """Write one training config per point of the grid (``<out_dir>/conf``) and the run list (``runs.tsv``).

    Args:
        grid_file: YAML grid of ``frontend_conf`` keys (:func:`espnet_brain.asr.sweep.grid.load_grid`), e.g.
            ``{"kernel_size": [4, 8, 16, 32], "window_projection": [None, 256]}``; ``null`` is a value like any
            other (no projection).
        base_config: The BFE-only control's training YAML (``frontend: brain_gru``).
        out_dir: The choice's directory.

    Returns:
        The runs, in grid order.

    Raises:
        ValueError: the grid sets a training key (learning rates are chosen with ``brain_asr.sh --lr_grid``), or
            the base config is not a brain_gru config (the message names the file).
    """
    archs = expand_grid(load_grid(grid_file), str(grid_file))
    training = sorted({key for arch in archs for key in arch if is_training_key(key)})
    if training:
        raise ValueError(
            f"{grid_file}: the BFE choice sweeps frontend_conf keys only (e.g. kernel_size, window_projection), got "
            f"the training keys {training}; choose learning rates with brain_asr.sh --lr_grid"
        )
    runs = plan_runs({MODE: base_config}, archs, Path(out_dir) / "conf", tag_prefix="choice")
    write_runs(runs, Path(out_dir) / RUNS_FILE)
    return runs


def format_value(value: Any) -> str:
    """A ``frontend_conf`` value as ESPnet's ``--frontend_conf key=VALUE`` reads it (YAML, no spaces).

    ``None`` -> ``null``, ``True`` -> ``true``, ``1e-05`` -> ``1.0e-05`` (a YAML float), ``[512, 128]`` ->
    ``[512,128]``.
    """
    if isinstance(value, float):
        return yaml_float(value)
    text = json.dumps(value, separators=(",", ":"))
    if any(c.isspace() for c in text):
        raise ValueError(f"cannot pass {value!r} as one trainer argument: it holds white space")
    return text


def frontend_args(arch: Dict[str, Any]) -> str:
    """The trainer arguments that set a grid point's ``frontend_conf`` keys, on one line."""
    return " ".join(f"--frontend_conf {key}={format_value(value)}" for key, value in arch.items())


def choose_setting(
    runs: Sequence[Run], out_dir: Union[str, Path], criterion: str = "loss"
) -> Tuple[List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """Each run's best dev loss, and the finished run with the lowest (the first in grid order on a tie).

    Args:
        runs: The runs of :func:`plan_choice`.
        out_dir: The choice's directory (the runs' experiments are ``<out_dir>/asr_<setting>``).
        criterion: The dev statistic to minimise (ESPnet's reporter key).

    Returns:
        One row per run (``setting``, ``frontend_conf``, ``run``, ``valid_loss``, and ``best_epoch`` and ``epochs``,
        or ``error``), and the chosen row; None when no run finished with a finite dev loss.
    """
    rows: List[Dict[str, Any]] = []
    for run in runs:
        path = run_dir(out_dir, run)
        row: Dict[str, Any] = dict(setting=run.arch_id, frontend_conf=dict(run.arch), run=str(path))
        row["valid_loss"] = float("nan")
        if not (path / DONE_FILE).is_file():
            row["error"] = f"failed: the training did not finish (see {path}/train.log)"
            rows.append(row)
            continue
        try:
            loss, epoch, n_epochs = best_valid_loss(str(path), criterion)
        except ValueError as err:
            row["error"] = f"failed: {err}"
            rows.append(row)
            continue
        row.update(valid_loss=loss, best_epoch=epoch, epochs=n_epochs)
        if not math.isfinite(loss):
            row["error"] = f"diverged: no finite dev {criterion} in {n_epochs} epochs"
        rows.append(row)
    usable = [row for row in rows if "error" not in row]
    best = min(usable, key=lambda row: row["valid_loss"]) if usable else None
    return rows, best


def _cell(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "[]"
    return str(value)


def choice_table(rows: Sequence[Dict[str, Any]], best: Optional[Dict[str, Any]], criterion: str = "loss") -> str:
    """The markdown table of ``choice.md``: one line per grid point, its keys, best dev loss and epoch."""
    keys: List[str] = []
    for row in rows:
        keys += [k for k in row["frontend_conf"] if k not in keys]
    head = ["setting"] + keys + [f"best dev {criterion}", "at epoch", "epochs", "note"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 2) + "|---|"]
    for row in rows:
        loss = f"{row['valid_loss']:.4f}" if math.isfinite(row["valid_loss"]) else "-"
        note = "**chosen**" if row is best else row.get("error", "")
        cells = [row["setting"]] + [_cell(row["frontend_conf"].get(k, "")) for k in keys]
        cells += [loss, str(row.get("best_epoch", "-")), str(row.get("epochs", "-")), note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_choice(
    rows: List[Dict[str, Any]],
    best: Optional[Dict[str, Any]],
    out_dir: Union[str, Path],
    criterion: str = "loss",
    title: str = "BFE window and projection chosen on the dev set",
) -> Optional[str]:
    """Write ``choice.md`` and ``choice.json``, and ``frontend_args`` when a run was chosen (removed otherwise, so
    that no stale choice is trained with).

    Returns:
        The chosen trainer arguments (the line of ``frontend_args``), or None.
    """
    out_dir = Path(out_dir)
    args = frontend_args(best["frontend_conf"]) if best is not None else None
    with open(out_dir / "choice.json", "w", encoding="utf-8") as f:
        json.dump({"criterion": f"valid/{criterion}", "runs": rows, "chosen": best, "frontend_args": args}, f, indent=2)
    if best is not None:
        summary = f"Chosen: `{best['setting']}`, trained with `{args}`."
    else:
        summary = f"No run finished with a finite dev {criterion}: nothing chosen."
    with open(out_dir / "choice.md", "w", encoding="utf-8") as f:
        f.write(f"# {title}\n\n{summary}\n\n{choice_table(rows, best, criterion)}")
    args_file = out_dir / "frontend_args"
    if args is None:
        args_file.unlink(missing_ok=True)
    else:
        args_file.write_text(args + "\n", encoding="utf-8")
    return args


def read_choice_runs(out_dir: Union[str, Path]) -> List[Run]:
    """The runs that :func:`plan_choice` listed in ``<out_dir>/runs.tsv``."""
    path = Path(out_dir) / RUNS_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no run list; plan the choice first (choose_bfe --plan)")
    return read_runs(path)
