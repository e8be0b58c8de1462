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
        # dollar-quoted strings are literals, whatever they contain
        ("$$Ref $x$$ || $y", '$$Ref $x$$ || "$y"'),
        ("$body$ $a $body$ + $b", '$body$ $a $body$ + "$b"'),
        # '$' inside an identifier is part of it
        ("a$b + $c", 'a$b + "$c"'),
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


# --------------------------------------------------------------------------- parse cache, walks

WALKED_SQL = [
    "SELECT a, b.c, count(*) FROM t AS x JOIN u ON x.id = u.id WHERE a IN (1, 2, 3) "
    "AND EXISTS (SELECT 1 FROM v) ORDER BY 1 LIMIT 3",
    "SELECT * FROM ROWS FROM (generate_series(10, 11), get_users())",  # tuples of tuples
    "VALUES (1, 2), (3, 4)",
    "WITH q AS (SELECT 1) SELECT * FROM q UNION SELECT 2",
    "UPDATE t SET a = 1, b = b + 1 WHERE c = 'x'",
    "SELECT CASE WHEN a THEN 1 ELSE 2 END::int, (ARRAY[1, 2])[1], x.y[2:3]",
]


def _chains(root) -> list:
    """Each node's ancestors chain as (node identity or tuple length, member) pairs."""
    from pglast import ast

    out: list = []
    todo = [root]
    while todo:
        value = todo.pop()
        if isinstance(value, ast.Node):
            chain, link = [], value.ancestors
            while link is not None:
                where = ("tuple", len(link.node)) if isinstance(link.node, tuple) else id(link.node)
                chain.append((where, link.member))
                link = link.parent
            out.append((id(value), chain))
            todo.extend(getattr(value, m) for m in value)
        elif isinstance(value, tuple):
            todo.extend(value)
    return out


@pytest.mark.parametrize("sql", WALKED_SQL)
def test_walk_visits_in_pglast_visitor_order(sql: str) -> None:
    from pglast.visitors import Visitor

    from specql.dsl.expressions import _walk

    stmt = parse_statement(sql)
    seen: list = []

    class Recorder(Visitor):
        def visit(self, ancestors, node):
            seen.append(node)

    Recorder()(stmt)
    assert [n for n, _ in _walk(stmt)] == seen


def _with_a_shared_node(sql: str):
    """The statement of ``sql``, plus (for a plain SELECT) one node in two places."""
    from pglast import ast, enums

    stmt = parse_statement(sql)
    if isinstance(stmt, ast.SelectStmt) and stmt.targetList and stmt.whereClause is None:
        shared = ast.ColumnRef(fields=(ast.String(sval="shared"),))
        stmt.targetList = (*stmt.targetList, ast.ResTarget(val=shared))
        stmt.whereClause = ast.A_Expr(
            kind=enums.A_Expr_Kind.AEXPR_OP,
            name=(ast.String(sval="="),),
            lexpr=shared,
            rexpr=shared,
        )
    return stmt


@pytest.mark.parametrize("sql", [*WALKED_SQL, "SELECT a, b FROM t"])
def test_deparse_sets_the_ancestors_pglast_would(sql: str) -> None:
    from pglast.stream import RawStream
    from pglast.visitors import populate_ancestors

    stmt = _with_a_shared_node(sql)
    expected_text = RawStream()(stmt)  # pglast's own: populate_ancestors, then print
    populate_ancestors((stmt,))
    expected = _chains(stmt)
    assert deparse(stmt) == expected_text
    assert _chains(stmt) == expected


def test_parses_are_the_callers_own() -> None:
    import pglast

    first = parse_statement("SELECT a FROM t WHERE b = $x")
    first.whereClause = None
    first.targetList[0].val.fields[0].sval = "changed"
    again = parse_statement("SELECT a FROM t WHERE b = $x")
    assert again == pglast.parse_sql('SELECT a FROM t WHERE b = "$x"')[0].stmt
    assert again is not first and again.whereClause is not None
    assert deparse(again) == 'SELECT a FROM t WHERE b = "$x"'


def test_read_forms_share_the_kept_tree() -> None:
    from specql.dsl.expressions import read_expression, read_statement

    assert read_expression("a + $b") is read_expression("a + $b")
    assert read_expression("a + $b") == parse_expression("a + $b")
    assert read_expression("a + $b") is not parse_expression("a + $b")
    assert read_statement("SET a = 1", prefix="UPDATE t ") == parse_statement(
        "SET a = 1", prefix="UPDATE t "
    )
    with pytest.raises(SpecqlError) as err:
        read_expression("a = = 1", SourcePos("f.yaml", 3, 10))
    assert err.value.pos == SourcePos("f.yaml", 3, 14)


def test_expressions_deeper_than_a_copy_recurses_still_parse() -> None:
    node = parse_expression("+".join(["a"] * 3000))
    assert references(node).columns == {("a",)}


def test_new_node_builds_what_the_ast_class_builds() -> None:
    from pglast import ast, enums

    from specql.dsl.expressions import new_node

    fields = {
        "schemaname": "crm",
        "relname": "tb_contact",
        "inh": True,
        "relpersistence": "p",
        "alias": ast.Alias(aliasname="c"),
    }
    built = new_node(ast.RangeVar, **fields)
    assert built == ast.RangeVar(**fields)
    assert [getattr(built, a) for a in built] == [getattr(ast.RangeVar(**fields), a) for a in built]
    expr = new_node(
        ast.A_Expr,
        kind=enums.A_Expr_Kind.AEXPR_OP,
        name=(ast.String(sval="="),),
        lexpr=ast.ColumnRef(fields=(ast.String(sval="a"),)),
        rexpr=ast.A_Const(val=ast.Integer(ival=1)),
    )
    assert deparse(expr) == "a = 1"
    with pytest.raises(TypeError, match="no attribute nme"):
        new_node(ast.Alias, nme="x")
