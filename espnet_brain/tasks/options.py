"""A few options of a training run, read as ESPnet's trainer reads them, without building its parser.

``BrainASRTask.get_parser()`` imports ESPnet's ASR task and every component it can build (torchaudio,
transformers, ...: ~20 s). A program that needs only a couple of a run's options (the frontend for the CTC
feasibility check, the schedule for the learning-rate search) reads them here: the ``--config`` YAML's values are
the defaults, the command line's come after them (the last one wins), and ``*_conf`` options are merged into the
config's mapping with ESPnet's own ``NestedDictAction`` (``--frontend_conf stride=2`` changes one key).
"""

import argparse
from typing import Any, Callable, Dict, Sequence, Tuple

import yaml

Option = Tuple[Callable[[str], Any], Any]  # (type of a command-line value, default when neither gives it)


def trainer_options(train_args: Sequence[str], options: Dict[str, Option]) -> Dict[str, Any]:
    """The values of ``options`` for a trainer called with ``train_args``.

    Args:
        train_args: The trainer's arguments (``--config`` among them, or not), in order; others are ignored.
        options: option name (without ``--``) -> (type of its command-line value, default); names ending in
            ``_conf`` are mappings (their type is not used).

    Returns:
        option name -> value.

    Raises:
        ValueError: The config is not a mapping (the message names the file).
    """
    from espnet2.utils.nested_dict_action import NestedDictAction

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(list(train_args))
    conf: Dict[str, Any] = {}
    if known.config is not None:
        with open(known.config, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
        if not isinstance(conf, dict):
            raise ValueError(f"{known.config}: expected a mapping of trainer options, got {type(conf).__name__}")
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name, (kind, default) in options.items():
        value = conf.get(name, default)
        if name.endswith("_conf"):
            parser.add_argument(f"--{name}", action=NestedDictAction, default=dict(value or {}))
        else:
            parser.add_argument(f"--{name}", type=kind, default=value)
    known, _ = parser.parse_known_args(list(train_args))
    return vars(known)
