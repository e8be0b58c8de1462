"""Fixture-driven checks (see fixtures/README.md for the layout and the .errors format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.dsl.loader import load_file, load_paths
from specql.dsl.validator import validate
from specql.errors import SpecqlError

FIXTURES = Path(__file__).parent / "fixtures"
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def _expected(path: Path) -> list[tuple[str, str]]:
    out = []
    for raw in path.with_suffix(".errors").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        position, _, text = line.partition(": ")
        out.append((position, text))
    return out


def _problems(path: Path) -> list[SpecqlError]:
    try:
        entity = load_file(path)
    except SpecqlError as err:
        return list(getattr(err, "errors", [err]))
    everything = validate([*load_paths(VALID), entity])
    return [p for p in everything if p.pos.file == str(path)]


def test_there_are_fixtures_of_both_kinds() -> None:
    assert len(VALID) >= 4 and len(INVALID) >= 6
    for path in INVALID:
        assert path.with_suffix(".errors").exists(), f"{path.name} has no .errors file"


def test_valid_fixtures_have_no_problem_at_all() -> None:
    assert [str(p) for p in validate(load_paths(VALID))] == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_reports_exactly_the_expected_problems(path: Path) -> None:
    expected = _expected(path)
    actual = [str(p).removeprefix(f"{path}:") for p in _problems(path)]
    assert len(actual) == len(expected), "\n".join(actual)
    for got, (position, text) in zip(actual, expected, strict=True):
        assert got.startswith(f"{position}: "), f"{got!r} should be at {position}"
        assert text in got, f"{got!r} should contain {text!r}"
        assert "\n" not in got
