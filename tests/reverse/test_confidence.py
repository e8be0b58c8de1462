"""The confidence formula (specql.reverse.confidence's docstring), on measured inputs and on
mapped functions."""

from __future__ import annotations

import pytest

from specql.dsl.model import Action, RawSqlStep, ValidateStep
from specql.errors import SourcePos
from specql.reverse.confidence import (
    RAW_SQL_CAP,
    UNKNOWN_TYPE,
    ConfidenceInputs,
    effective_parse_path,
    function_confidence,
    score,
)
from specql.reverse.source import FunctionInfo, MappedFunction, Unconverted


def test_a_fully_converted_function_parsed_as_written_scores_one():
    assert score(ConfidenceInputs(10, 10)) == 1.0
    assert score(ConfidenceInputs(0, 0)) == 1.0


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (ConfidenceInputs(10, 9, raw_steps=1), 0.9),
        (ConfidenceInputs(10, 9, parse_path="rewritten", raw_steps=1), 0.81),
        (ConfidenceInputs(10, 0, parse_path="raw", raw_steps=10), 0.0),
        (ConfidenceInputs(10, 10, unknown_types=1), 0.95),
        (ConfidenceInputs(10, 10, unknown_types=2), 0.9),
        (ConfidenceInputs(10, 10, heuristic_agreement=0.0), 0.9),
        (ConfidenceInputs(10, 10, heuristic_agreement=0.5), 0.95),
        (ConfidenceInputs(4, 3, raw_steps=1, heuristic_agreement=1.0), 0.75),
    ],
)
def test_formula(inputs, expected):
    assert score(inputs) == pytest.approx(expected)


def test_any_raw_sql_step_keeps_a_function_below_auto_accept():
    # 99 of 100 statements: the formula gives 0.99, the raw step caps it
    assert score(ConfidenceInputs(100, 99, raw_steps=1)) == RAW_SQL_CAP
    assert RAW_SQL_CAP < 0.95


def test_inputs_are_clamped():
    assert score(ConfidenceInputs(5, 7)) == 1.0
    assert score(ConfidenceInputs(5, -1, raw_steps=1)) == 0.0
    assert score(ConfidenceInputs(5, 5, heuristic_agreement=3)) == 1.0


def _fn(**kwargs) -> FunctionInfo:
    return FunctionInfo(schema="s", name="f", **kwargs)


def test_header_only_rewrites_count_as_parsed_as_written():
    fn = _fn(parse_path="rewritten", body_line=12, rewrites=["line 10: app.t -> t"])
    assert effective_parse_path(fn) == "ast"
    fn = _fn(parse_path="rewritten", body_line=12, rewrites=["line 14: x%ROWTYPE -> record"])
    assert effective_parse_path(fn) == "rewritten"
    fn = _fn(parse_path="rewritten", body_line=12, rewrites=["something else"])
    assert effective_parse_path(fn) == "rewritten"


def test_function_confidence_reads_the_mapped_function():
    raw = RawSqlStep(sql="EXECUTE x", reason="dynamic SQL")
    ok = ValidateStep(condition="true", error="e")
    pos = SourcePos("f.sql", 3, 0)
    mapped = MappedFunction(
        function=_fn(),
        action=Action(name="f", steps=[ok, raw]),
        statements_total=2,
        statements_converted=1,
        unconverted=[
            Unconverted(pos, "EXECUTE x", "dynamic SQL"),
            Unconverted(pos, "p x", f"{UNKNOWN_TYPE}: param p is 'hstore'; written as text"),
        ],
    )
    assert function_confidence(mapped) == 0.47  # 0.5 * 0.95, rounded down
    assert function_confidence(mapped, heuristic_agreement=0.0) == 0.42
