"""The programs of espnet_brain/bin are argument parsing and calls into the package: no program imports another
(shared code belongs in the package, see ARCHITECTURE.md)."""

import ast
from pathlib import Path

import espnet_brain.bin

BIN = Path(espnet_brain.bin.__file__).parent


def _imported_modules(path: Path):
    """Every module that a file imports (at any depth: top level, functions, conditionals)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from .x import y
                yield "espnet_brain.bin" + ("." + node.module if node.module else "")
            else:
                yield node.module or ""
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_program_imports_another_program():
    programs = sorted(p for p in BIN.glob("*.py") if p.name != "__init__.py")
    assert len(programs) > 10
    offenders = {
        p.name: sorted(
            {m for m in _imported_modules(p) if m == "espnet_brain.bin" or m.startswith("espnet_brain.bin.")}
        )
        for p in programs
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}
