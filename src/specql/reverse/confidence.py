"""Confidence of a reverse-engineered function: how much of it the spec says for sure.

This is the one place the score is defined. It is computed only from what the steps stage
measured (a :class:`~specql.reverse.source.MappedFunction`) and, optionally, from how well the
pattern heuristics agreed with each other; nothing is guessed.

Formula::

    coverage   = converted / total              statements that became non-raw steps
                                                (1.0 for a function without statements)
    parse      = 1.00  parse_path 'ast'         parsed as written (also 'rewritten' when every
                                                rewrite was in the header, before the body:
                                                e.g. a RETURNS type of another schema)
                 0.90  parse_path 'rewritten'   parsed after the fallback rewrote the body's
                                                declarations
                 0.50  parse_path 'raw'         not parsed: every statement is raw_sql
    types      = 0.95 ** unknown_types          each param/variable whose type has no SpecQL
                                                form (it was written as text) costs 5 %
    heuristics = 0.90 + 0.10 * agreement        agreement in [0, 1] from the heuristics stage
                 1.00 when not given            (0 = the detected patterns contradict each
                                                other, 1 = they agree)

    score = coverage * parse * types * heuristics,  rounded down to 2 decimals

    capped at 0.94 when the action has any raw_sql step: a function with raw SQL is never
    reported at 100 % and never reaches the default auto-accept threshold (0.95) — raw SQL
    always gets a human look.

Examples: a generated function reversed without loss scores 1.00; 9 of 10 statements converted
on the AST path scores 0.90; the same after the fallback rewrite 0.81; one unknown type on an
otherwise perfect function 0.95.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from specql.dsl.model import RawSqlStep, walk_steps

PARSE_FACTORS = {"ast": 1.0, "rewritten": 0.9, "raw": 0.5}
UNKNOWN_TYPE_FACTOR = 0.95
HEURISTICS_FLOOR = 0.9
RAW_SQL_CAP = 0.94

# Unconverted entries whose reason starts with this are unknown types, not statements.
UNKNOWN_TYPE = "type has no SpecQL form"
# Unconverted entries whose reason starts with this are notes: what the mapping changed on the
# way (a legacy key param retyped to uuid, a row lock dropped), not statements left raw.
NOTE = "note: "

_REWRITE_LINE = re.compile(r"line (\d+)\b")


@dataclass(frozen=True, slots=True)
class ConfidenceInputs:
    statements_total: int
    statements_converted: int
    parse_path: str = "ast"
    unknown_types: int = 0
    raw_steps: int = 0
    heuristic_agreement: float | None = None


def score(inputs: ConfidenceInputs) -> float:
    """The confidence in [0, 1] of the formula in the module docstring."""
    total = max(inputs.statements_total, 0)
    converted = min(max(inputs.statements_converted, 0), total)
    coverage = converted / total if total else 1.0
    parse = PARSE_FACTORS.get(inputs.parse_path, PARSE_FACTORS["raw"])
    types = UNKNOWN_TYPE_FACTOR ** max(inputs.unknown_types, 0)
    agreement = inputs.heuristic_agreement
    heuristics = (
        1.0
        if agreement is None
        else HEURISTICS_FLOOR + (1 - HEURISTICS_FLOOR) * min(max(agreement, 0.0), 1.0)
    )
    value = coverage * parse * types * heuristics
    if inputs.raw_steps > 0:
        value = min(value, RAW_SQL_CAP)
    return math.floor(value * 100 + 1e-9) / 100


def inputs_of(mapped, heuristic_agreement: float | None = None) -> ConfidenceInputs:
    """The measured inputs of a :class:`~specql.reverse.source.MappedFunction`."""
    steps = getattr(mapped.action, "steps", None) or []
    raw = sum(1 for s in walk_steps(steps) if isinstance(s, RawSqlStep))
    unknown = sum(1 for u in mapped.unconverted if u.reason.startswith(UNKNOWN_TYPE))
    return ConfidenceInputs(
        statements_total=mapped.statements_total,
        statements_converted=mapped.statements_converted,
        parse_path=effective_parse_path(mapped.function),
        unknown_types=unknown,
        raw_steps=raw,
        heuristic_agreement=heuristic_agreement,
    )


def effective_parse_path(fn) -> str:
    """``fn.parse_path``, except that a rewrite confined to the header (every rewrite on a
    line before the body) counts as ``'ast'``: the body was parsed as written."""
    if fn.parse_path != "rewritten" or not fn.body_line or not fn.rewrites:
        return fn.parse_path
    for rewrite in fn.rewrites:
        m = _REWRITE_LINE.search(rewrite)
        if m is None or int(m.group(1)) >= fn.body_line:
            return fn.parse_path
    return "ast"


def function_confidence(mapped, heuristic_agreement: float | None = None) -> float:
    """Confidence of one mapped function (see the module docstring)."""
    return score(inputs_of(mapped, heuristic_agreement))


__all__ = [
    "HEURISTICS_FLOOR",
    "NOTE",
    "PARSE_FACTORS",
    "RAW_SQL_CAP",
    "UNKNOWN_TYPE",
    "UNKNOWN_TYPE_FACTOR",
    "ConfidenceInputs",
    "effective_parse_path",
    "function_confidence",
    "inputs_of",
    "score",
]
