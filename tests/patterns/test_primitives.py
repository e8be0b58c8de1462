"""Every Tier-1 primitive seed file is well formed, and each example compiles in every language
to code that contains its expected text and parses (docs/pattern-library.md, "Parsing proof")."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pglast
import pytest
import yaml

from specql.patterns.params import check_schema, validate_params
from specql.patterns.render import render_template

PRIMITIVES = Path(__file__).resolve().parents[2] / "src/specql/patterns/seed/primitives"
FILES = sorted(PRIMITIVES.glob("*.yaml"))
LANGUAGES = ("postgresql", "django", "sqlalchemy")
FRAGMENTS = {
    "postgresql": {"declaration", "statement", "ddl"},
    "django": {"statement", "module"},
    "sqlalchemy": {"statement", "module"},
}
TOP_KEYS = {"name", "category", "description", "parameters", "implementations", "examples"}
EXAMPLE_KEYS = {"params", "variables", "expect"}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


CASES = [
    pytest.param(path, language, index, id=f"{path.stem}-{language}-{index}")
    for path in FILES
    for language in LANGUAGES
    for index in range(len(_load(path).get("examples") or []))
]


def test_there_are_enough_primitives_with_unique_names():
    names = [_load(path)["name"] for path in FILES]
    assert len(names) >= 25
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_file_is_well_formed(path: Path):
    pattern = _load(path)
    assert set(pattern) == TOP_KEYS
    assert pattern["name"] == path.stem
    assert pattern["category"] and pattern["description"]
    check_schema(pattern["parameters"], what=f"pattern {path.stem}")
    implementations = pattern["implementations"]
    assert set(implementations) == set(LANGUAGES)
    for language, implementation in implementations.items():
        assert set(implementation) == {"fragment", "template"}
        assert implementation["fragment"] in FRAGMENTS[language]
        assert isinstance(implementation["template"], str) and implementation["template"]
    assert pattern["examples"], "every primitive has an example"
    for example in pattern["examples"]:
        assert set(example) <= EXAMPLE_KEYS and "params" in example
        assert set(example.get("expect") or {}) == set(LANGUAGES), "expect text per language"


def _variables_sql(variables: dict) -> str:
    return "".join(f"{name} {sql_type}; " for name, sql_type in (variables or {}).items())


def _assert_plpgsql_parses(fragment: str, kind: str, variables: dict) -> None:
    declare, body = _variables_sql(variables), fragment
    if kind == "declaration":
        declare, body = declare + fragment, "NULL;"
    function = (
        "CREATE FUNCTION t() RETURNS void LANGUAGE plpgsql AS $specql_t$\n"
        f"DECLARE {declare}\nBEGIN\n{body}\nEND\n$specql_t$"
    )
    pglast.parse_plpgsql(function)


def _assert_python_parses(fragment: str, kind: str) -> None:
    if kind == "statement":
        fragment = "def _f():\n" + textwrap.indent(fragment, "    ", lambda line: True)
    ast.parse(fragment)


@pytest.mark.parametrize(("path", "language", "index"), CASES)
def test_example_compiles_and_parses(path: Path, language: str, index: int):
    pattern = _load(path)
    example = pattern["examples"][index]
    what = f"pattern {pattern['name']}"
    params = validate_params(pattern["parameters"], example["params"], what=what)
    implementation = pattern["implementations"][language]
    code = render_template(implementation["template"], params, what=f"{what}, {language} template")
    assert example["expect"][language] in code
    kind = implementation["fragment"]
    if language == "postgresql" and kind == "ddl":
        pglast.parse_sql(code)
    elif language == "postgresql":
        _assert_plpgsql_parses(code, kind, example.get("variables"))
    else:
        _assert_python_parses(code, kind)
