"""An index expression (``lower(email)``) as a small tree of function calls, column names and
constants, for targets whose ORM builds functional indexes from calls, not SQL text.

Pure and target-neutral: SQLAlchemy renders the tree as ``sa.func.lower(email)``, Django could
render the same tree as ``Lower("email")``. What is no function call over columns and constants
(operators, casts, CASE, COLLATE, subqueries, aggregates) is refused with a reason, so no
generator guesses at it.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass

from pglast import ast
from pglast.enums import MinMaxOp

from specql.dsl.expressions import deparse_spec, parse_expression
from specql.errors import SourcePos, SpecqlError


@dataclass(frozen=True, slots=True)
class ColumnName:
    name: str


@dataclass(frozen=True, slots=True)
class Constant:
    value: str | int | decimal.Decimal | bool | None


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    args: tuple[IndexExpression, ...] = ()
    schema: str | None = None  # pg_catalog for SQL-syntax calls like trim(x)


IndexExpression = ColumnName | Constant | FunctionCall

# Expressions PostgreSQL parses into nodes of their own that are function calls all the same.
_MIN_MAX_FUNCTIONS = {MinMaxOp.IS_GREATEST: "greatest", MinMaxOp.IS_LEAST: "least"}

# Constant node -> its Python value. A SQL number with a point is exact, so a Decimal, not a
# float; bit strings have no plain Python value and are refused.
_CONSTANT_VALUES = {
    ast.String: lambda v: v.sval,
    ast.Integer: lambda v: v.ival,
    ast.Float: lambda v: decimal.Decimal(v.fval),
    ast.Boolean: lambda v: v.boolval,
}


def parse_index_expression(text: str, what: str, pos: SourcePos | None = None) -> IndexExpression:
    """The call tree of ``text``; SpecqlError ``"<what>: cannot translate ..."`` naming the
    part that is not a plain function call, column name or constant."""
    return _convert(parse_expression(text, pos), what, pos)


def _convert(node: ast.Node, what: str, pos: SourcePos | None) -> IndexExpression:
    if isinstance(node, ast.ColumnRef):
        parts = [getattr(f, "sval", "*") for f in node.fields]
        if len(parts) == 1 and not parts[0].startswith("$") and parts[0] != "*":
            return ColumnName(parts[0])
        return _refuse(node, "a bare column name", what, pos)
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return Constant(None)
        if type(node.val) in _CONSTANT_VALUES:
            return Constant(_CONSTANT_VALUES[type(node.val)](node.val))
        return _refuse(node, "a string, number or boolean constant", what, pos)
    if isinstance(node, ast.FuncCall):
        plain = not (
            node.agg_star
            or node.agg_distinct
            or node.agg_order
            or node.agg_filter
            or node.over
            or node.func_variadic
            or node.agg_within_group
        )
        if not plain:
            return _refuse(node, "a plain function call", what, pos)
        *schema, name = (part.sval for part in node.funcname)
        args = tuple(_convert(a, what, pos) for a in node.args or ())
        return FunctionCall(name, args, ".".join(schema) or None)
    if isinstance(node, ast.CoalesceExpr):
        return FunctionCall("coalesce", tuple(_convert(a, what, pos) for a in node.args))
    if isinstance(node, ast.MinMaxExpr):
        name = _MIN_MAX_FUNCTIONS[MinMaxOp(node.op)]
        return FunctionCall(name, tuple(_convert(a, what, pos) for a in node.args))
    return _refuse(node, "a function call, column name or constant", what, pos)


def _refuse(node: ast.Node, expected: str, what: str, pos: SourcePos | None):
    raise SpecqlError(
        f"{what}: cannot translate {deparse_spec(node)!r} (expected {expected}); an ORM index "
        "takes function calls over columns and constants only",
        pos,
    )
