"""Write the configs and the job list of a brain feature extractor (BFE) architecture sweep.

One training config per (architecture, transfer mode): the mode's base config with the grid's ``frontend_conf``
keys replaced (:mod:`espnet_brain.asr.sweep.grid`). Writes, under ``--out_dir``:

- ``conf/<tag>.yaml`` for every run (tags are ``<tag_prefix>_<architecture>_<mode>``, e.g. ``bfe_l5_h512_fcnone_full``),
- ``runs.tsv``: every run (read by ``espnet_brain.bin.bfe_sweep_report``),
- ``jobs.txt``: ``<tag> <config>`` of the runs without a score yet; line ``n`` is job ``n`` of the recipe's
  ``${cuda_cmd} JOB=1:N`` call (``egs2/mini_brain/asr1/local/sweep.sh``), so an interrupted sweep resumes.

Without a grid, the 45 architectures of Fiedler et al. (2025) are used. Example::

    python -m espnet_brain.bin.bfe_sweep_configs --out_dir exp/bfe_sweep --test_set brain_test \\
        --base_config full=conf/train_brain_full.yaml --base_config scratch=conf/train_brain_scratch.yaml \\
        --base_config frozen=conf/train_brain_frozen.yaml \\
        --num_layers 1 3 5 --hidden_size 256 512 1024 --fc_sizes none 128 256 512 512,128
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.asr.sweep.grid import build_grid, parse_fc_sizes, plan_runs, write_jobs, write_runs


def _mode_path(value: str):
    mode, sep, path = value.partition("=")
    if not sep or not mode or not path:
        raise argparse.ArgumentTypeError(f"expected mode=path (e.g. full=conf/train_brain_full.yaml), got '{value}'")
    return mode, path


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--base_config",
        type=_mode_path,
        action="append",
        required=True,
        help="mode=path of a brain_gru training YAML; once per mode (full, scratch, frozen, ...)",
    )
    parser.add_argument("--grid", default=None, help="YAML/JSON grid file (default: the 45-architecture paper grid)")
    parser.add_argument("--num_layers", type=int, nargs="+", default=None, help="GRU layers to sweep")
    parser.add_argument("--hidden_size", type=int, nargs="+", default=None, help="GRU hidden units to sweep")
    parser.add_argument(
        "--fc_sizes", type=parse_fc_sizes, nargs="+", default=None, help="FC stacks to sweep: none, 128, 512,128 ..."
    )
    parser.add_argument("--out_dir", default="exp/bfe_sweep", help="Where conf/, runs.tsv and jobs.txt go")
    parser.add_argument(
        "--pretrained_model",
        default=None,
        help="Pretrained model (hub id or directory) of every config: replaces encoder_conf.model_name_or_path and "
        "a non-null ctc_init (default: each base config's own)",
    )
    parser.add_argument("--tag_prefix", default="bfe", help="Run tags are <prefix>_<architecture>_<mode>")
    parser.add_argument("--expdir", default="exp", help="Experiment directory of the recipe")
    parser.add_argument("--test_set", default="test", help="Test set whose score.json marks a run as finished")
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    base_configs = dict(args.base_config)
    if len(base_configs) != len(args.base_config):
        raise ValueError("--base_config: each mode may be given once")
    archs = build_grid(args.grid, args.num_layers, args.hidden_size, args.fc_sizes)
    out_dir = Path(args.out_dir)
    runs = plan_runs(base_configs, archs, out_dir / "conf", args.tag_prefix, args.pretrained_model)
    write_runs(runs, out_dir / "runs.tsv")
    todo = write_jobs(runs, args.expdir, args.test_set, out_dir / "jobs.txt")
    logging.info(
        f"{len(archs)} architectures x {len(base_configs)} modes: {len(runs)} configs in {out_dir / 'conf'}; "
        f"{len(runs) - len(todo)} already scored, {len(todo)} to run ({out_dir / 'jobs.txt'})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
