"""Operators and a few functions, spelled in each template language (the ``op`` filter).

One row per construct; the library seeds the three template languages of this table into
``expression_patterns`` (:func:`seed_rows`). What a spelling is depends on the language:

- ``postgresql``: the SQL operator or function name (``=``, ``IS NULL``, ``coalesce``);
- ``sqlalchemy``: the SQLAlchemy 2.0 column-expression spelling (``==``, ``in_``, ``and_``,
  ``func.count``);
- ``django``: the Django ORM field lookup (``gte`` in ``amount__gte=``), ``Q`` combinator
  (``&``) or database function (``Coalesce``).

``python`` is not a template language but both Python targets write plain Python for logic on
values inside a function (``if total > 100:``), so templates may ask for it too: it is never
seeded. A construct a language has no spelling for is missing from its row (Django has no
``<>`` lookup: a template excludes instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from specql.errors import SpecqlError

TEMPLATE_LANGUAGES = ("postgresql", "django", "sqlalchemy")
"""The languages seeded into ``expression_patterns``."""

PLAIN_PYTHON = "python"
"""Plain Python on values, for the Python targets' in-function logic; never seeded."""


@dataclass(frozen=True, slots=True)
class ExpressionPattern:
    name: str
    category: str  # comparison | null_test | logic | function | aggregate
    spellings: dict[str, str]  # language -> spelling; a missing language has none


def _row(name: str, category: str, pg: str, dj: str, sa: str, py: str) -> ExpressionPattern:
    spellings = {"postgresql": pg, "django": dj, "sqlalchemy": sa, PLAIN_PYTHON: py}
    return ExpressionPattern(name, category, {k: v for k, v in spellings.items() if v})


# name, category, postgresql, django, sqlalchemy, plain python ("" = no spelling)
EXPRESSION_PATTERNS: dict[str, ExpressionPattern] = {
    row.name: row
    for row in (
        _row("eq", "comparison", "=", "exact", "==", "=="),
        _row("ne", "comparison", "<>", "", "!=", "!="),
        _row("lt", "comparison", "<", "lt", "<", "<"),
        _row("le", "comparison", "<=", "lte", "<=", "<="),
        _row("gt", "comparison", ">", "gt", ">", ">"),
        _row("ge", "comparison", ">=", "gte", ">=", ">="),
        _row("in", "comparison", "IN", "in", "in_", "in"),
        _row("not_in", "comparison", "NOT IN", "", "not_in", "not in"),
        _row("like", "comparison", "LIKE", "", "like", ""),
        _row("ilike", "comparison", "ILIKE", "", "ilike", ""),
        _row("contains", "comparison", "", "contains", "contains", ""),
        _row("startswith", "comparison", "^@", "startswith", "startswith", ""),
        _row("is_null", "null_test", "IS NULL", "isnull", "is_(None)", "is None"),
        _row("is_not_null", "null_test", "IS NOT NULL", "", "is_not(None)", "is not None"),
        _row("and", "logic", "AND", "&", "and_", "and"),
        _row("or", "logic", "OR", "|", "or_", "or"),
        _row("not", "logic", "NOT", "~", "not_", "not"),
        _row("coalesce", "function", "coalesce", "Coalesce", "func.coalesce", ""),
        _row("concat", "function", "||", "Concat", "func.concat", "+"),
        _row("now", "function", "now()", "Now()", "func.now()", ""),
        _row("lower", "function", "lower", "Lower", "func.lower", ""),
        _row("upper", "function", "upper", "Upper", "func.upper", ""),
        _row("length", "function", "length", "Length", "func.length", "len"),
        _row("count", "aggregate", "count", "Count", "func.count", "len"),
        _row("sum", "aggregate", "sum", "Sum", "func.sum", "sum"),
        _row("avg", "aggregate", "avg", "Avg", "func.avg", ""),
        _row("min", "aggregate", "min", "Min", "func.min", "min"),
        _row("max", "aggregate", "max", "Max", "func.max", "max"),
    )
}


def spelling(name: str, language: str) -> str:
    """How ``language`` writes the construct ``name``; SpecqlError when it has no spelling."""
    row = EXPRESSION_PATTERNS.get(name) if isinstance(name, str) else None
    if row is None:
        raise SpecqlError(f"unknown operator {name!r} (known: {', '.join(EXPRESSION_PATTERNS)})")
    if language not in (*TEMPLATE_LANGUAGES, PLAIN_PYTHON):
        raise SpecqlError(
            f"unknown language {language!r} for op "
            f"(known: {', '.join((*TEMPLATE_LANGUAGES, PLAIN_PYTHON))})"
        )
    text = row.spellings.get(language)
    if text is None:
        raise SpecqlError(f"operator {name!r} has no {language} spelling")
    return text


def seed_rows() -> list[tuple[str, str, str]]:
    """``(name, language, spelling)`` rows for ``expression_patterns``, template languages only."""
    return [
        (row.name, language, text)
        for row in EXPRESSION_PATTERNS.values()
        for language, text in row.spellings.items()
        if language in TEMPLATE_LANGUAGES
    ]
