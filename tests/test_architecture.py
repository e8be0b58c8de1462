"""The layer rule of DESIGN §5: imports point down only, and packages on one layer do not
import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "specql"

# Higher number = higher layer. ``specql`` itself (the lazy API package) and ``api`` sit on top.
LAYERS = {
    "errors": 0,
    "sqltext": 0,
    "files": 0,  # writing a file atomically: the store, llm settings, reports and the CLI  # SQL as search words: shared by patterns, reverse and retrieval
    "dsl": 1,
    "generators": 2,
    "llm": 2,
    "store": 2,
    "reverse": 3,
    "patterns": 3,
    "retrieval": 3,
    "review": 4,
    "triage": 4,
    "discovery": 4,
    "api": 5,
    "cli": 6,
    "web": 6,
}


def _unit(module_path: Path) -> str:
    rel = module_path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported_units(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module + "." + a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "specql" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules():
    return sorted(p for p in SRC.rglob("*.py") if p.parent != SRC or p.name not in {"__init__.py"})


@pytest.mark.parametrize("module_path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(module_path: Path) -> None:
    unit = _unit(module_path)
    assert unit in LAYERS, f"{unit} is not placed on a layer in this test"
    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    for target in _imported_units(tree):
        if target == unit or target not in LAYERS:
            continue
        assert LAYERS[target] < LAYERS[unit], (
            f"{module_path.relative_to(SRC)} (layer {LAYERS[unit]}) imports specql.{target} "
            f"(layer {LAYERS[target]}): imports must point to lower layers only"
        )


def test_every_package_is_placed_on_a_layer() -> None:
    units = {_unit(p) for p in SRC.rglob("*.py") if p.parent != SRC or p.name != "__init__.py"}
    assert units <= set(LAYERS), units - set(LAYERS)


def test_rule_catches_an_upward_import(tmp_path: Path) -> None:
    tree = ast.parse("from specql.cli.main import main\nimport specql.reverse.parse\n")
    assert _imported_units(tree) == {"cli", "reverse"}


# DESIGN §5: in reverse engineering, parsing is one stage. pglast is imported by the modules
# that parse SQL (parse, parse_queries) and the one that rewrites parsed SQL (sqlmap); the
# other stages work on the plain data those produce.
PGLAST_IN_REVERSE = {"parse.py", "parse_queries.py", "sqlmap.py"}


def test_pglast_stays_in_the_parse_stage_of_reverse() -> None:
    importers = set()
    for path in (SRC / "reverse").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "pglast" or n.startswith("pglast.") for n in names):
                importers.add(path.name)
    assert importers <= PGLAST_IN_REVERSE, importers - PGLAST_IN_REVERSE
