"""Index expressions as target-neutral call trees, and what has no such form."""

from __future__ import annotations

import decimal

import pytest

from specql.errors import SpecqlError
from specql.generators.sqlalchemy.index_expressions import (
    ColumnName,
    Constant,
    FunctionCall,
    parse_index_expression,
)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("lower(email)", FunctionCall("lower", (ColumnName("email"),))),
        ("LOWER( email )", FunctionCall("lower", (ColumnName("email"),))),
        (
            "coalesce(last_name, '')",
            FunctionCall("coalesce", (ColumnName("last_name"), Constant(""))),
        ),
        ("trim(name)", FunctionCall("btrim", (ColumnName("name"),), "pg_catalog")),
        (
            "greatest(score, -1, 2.50)",
            FunctionCall(
                "greatest",
                (ColumnName("score"), Constant(-1), Constant(decimal.Decimal("2.50"))),
            ),
        ),
        ("least(a, b)", FunctionCall("least", (ColumnName("a"), ColumnName("b")))),
        (
            "public.f(a, true, null)",
            FunctionCall("f", (ColumnName("a"), Constant(True), Constant(None)), "public"),
        ),
        (
            "upper(lower(code))",
            FunctionCall("upper", (FunctionCall("lower", (ColumnName("code"),)),)),
        ),
    ],
)
def test_function_calls_over_columns_and_constants_become_trees(text, tree):
    assert parse_index_expression(text, "Contact index i") == tree


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("first_name || last_name", "first_name || last_name"),
        ("lower(email::text)", "CAST(email AS text)"),
        ("count(*)", "count(*)"),
        ("sum(x) OVER ()", "sum(x) OVER ()"),
        ("lower($email)", "$email"),
        ("lower(c.email)", "c.email"),
        ("CASE WHEN a THEN 1 END", "CASE WHEN a THEN 1 END"),
        ("f(B'101')", "b'101'"),
    ],
)
def test_anything_else_is_refused_naming_the_part(text, part):
    with pytest.raises(SpecqlError) as caught:
        parse_index_expression(text, "Contact index contact_name_ci")
    message = str(caught.value)
    assert message.startswith("Contact index contact_name_ci: cannot translate")
    assert repr(part) in message


def test_a_syntax_error_is_a_specql_error():
    with pytest.raises(SpecqlError):
        parse_index_expression("lower(email", "Contact index i")
