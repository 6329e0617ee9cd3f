"""Print one value of a YAML config, addressed by a dotted key (for recipe scripts).

Example::

    python -m espnet_brain.bin.config_value conf/train.yaml frontend_conf.model_name_or_path
"""

import argparse
import sys
from typing import Optional, Sequence

import yaml


def config_value(path: str, key: str):
    """The value at ``key`` (``a.b.c``) of the YAML file ``path``; ValueError naming the file and key if absent."""
    with open(path, encoding="utf-8") as f:
        node = yaml.safe_load(f)
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(key.split(".")[:i]) or "the top level"
            found = sorted(node) if isinstance(node, dict) else type(node).__name__
            raise ValueError(f"{path}: no key {key!r} ({part!r} is not in {where}, which has {found})")
        node = node[part]
    return node


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="YAML file")
    parser.add_argument("key", help="dotted key, e.g. frontend_conf.model_name_or_path")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    try:
        value = config_value(args.config, args.key)
    except (OSError, ValueError) as e:
        print(f"config_value: {e}", file=sys.stderr)
        return 1
    print(value if isinstance(value, (str, int, float, bool)) else yaml.safe_dump(value).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
