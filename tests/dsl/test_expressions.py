"""specql.dsl.expressions: $params through PostgreSQL's parser and back."""

from __future__ import annotations

import pytest

from specql.dsl.expressions import (
    MAX_EXPRESSION_CHARS,
    Relation,
    deparse,
    deparse_spec,
    parse_expression,
    parse_statement,
    query_shape,
    quote_params,
    references,
    unquote_params,
)
from specql.errors import SourcePos, SpecqlError


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("$id", '"$id"'),
        ("a = $x AND b = '$y'", "a = \"$x\" AND b = '$y'"),
        ("$1 + $x_2", '$1 + "$x_2"'),
        ("'it''s $x' || $y", "'it''s $x' || \"$y\""),
        ("$body$ text $body$", "$body$ text $body$"),
        ("x -- $c\n+ $d", 'x -- $c\n+ "$d"'),
        ("/* $c */ $d", '/* $c */ "$d"'),
    ],
)
def test_quote_and_unquote_are_inverse(text: str, quoted: str) -> None:
    assert quote_params(text) == quoted
    assert unquote_params(quoted) == text


def test_unquote_leaves_other_quoted_identifiers_and_strings() -> None:
    assert unquote_params('"Order".total + "$"') == '"Order".total + "$"'
    assert unquote_params("'\"$x\"'") == "'\"$x\"'"
    assert unquote_params('"$1"') == '"$1"'
    assert unquote_params('"$a b"') == '"$a b"'


def test_deparse_spec_round_trips_params() -> None:
    node = parse_expression("lower($name) = name AND $id IS NOT NULL")
    assert deparse(node) == 'lower("$name") = name AND "$id" IS NOT NULL'
    assert deparse_spec(node) == "lower($name) = name AND $id IS NOT NULL"


def test_references_of_a_query() -> None:
    refs = references(
        parse_statement("SELECT count(*) FROM OrderLine l WHERE l.order_ref = $id AND qty > 0")
    )
    assert refs.params == {"id"}
    assert refs.columns == {("l", "order_ref"), ("qty",)}
    assert refs.tables == {"orderline"}
    assert refs.aliases == {"l"}
    assert refs.functions == {"count"}


def test_errors_carry_the_position_of_the_problem() -> None:
    with pytest.raises(SpecqlError) as err:
        parse_expression("a = = 1", SourcePos("f.yaml", 3, 10))
    assert err.value.pos == SourcePos("f.yaml", 3, 14)


def test_overlong_text_is_refused_before_parsing() -> None:
    with pytest.raises(SpecqlError, match=f"longer than {MAX_EXPRESSION_CHARS}"):
        parse_expression("+".join(["a"] * MAX_EXPRESSION_CHARS))


def test_too_deep_to_deparse_is_a_specql_error() -> None:
    node = parse_expression("+".join(["a"] * 3000))
    with pytest.raises(SpecqlError, match="nested too deeply"):
        deparse(node)


def test_query_shape_maps_aliases_and_marks_what_cannot_be_known() -> None:
    shape = query_shape(
        parse_statement(
            "WITH x AS (SELECT 1 AS one) SELECT a.b AS c, count(*), d, e::int, 1 "
            "FROM crm.T AS a JOIN x ON true, LATERAL (SELECT 1) s, generate_series(1, 2) g"
        )
    )
    assert shape.relations == [Relation("crm", "t", "a")]  # the CTE reference is not a table
    assert shape.ctes == {"x"}
    assert shape.opaque and shape.opaque_aliases == {"x", "s", "g"}
    assert shape.output_names == {"c", "one"}
    assert shape.outputs == ["c", "count", "d", "e", None]


def test_query_shape_of_a_star_select_has_unknown_outputs() -> None:
    shape = query_shape(parse_statement("SELECT n.* FROM Note n"))
    assert shape.outputs is None and not shape.opaque
