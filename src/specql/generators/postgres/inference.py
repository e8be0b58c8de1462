"""Types of variables a spec introduces without declaring them (``query … into``, ``call …
store``), inferred from the parsed expression.

Only what is certain is inferred: casts, literals, fields, params, variables, comparisons, a
table of well-known functions (``count`` -> BIGINT, ``sum``/``avg`` -> NUMERIC, ...) and the
framework's and generated actions' functions. Anything else is an error asking for a
``declare``: a guessed type would fail at run time instead.
"""

from __future__ import annotations

from pglast import ast, enums

from specql.dsl.expressions import PARAM_PREFIX, deparse
from specql.generators.postgres.expressions import (
    BUILTIN_PARAMS,
    RECORD,
    ActionNames,
    Binding,
    colref_parts,
)
from specql.generators.postgres.types import param_sql_type

# Functions whose result type does not depend on their arguments.
FUNCTION_TYPES: dict[str, str] = {
    "count": "BIGINT",
    "sum": "NUMERIC",
    "avg": "NUMERIC",
    "now": "TIMESTAMPTZ",
    "clock_timestamp": "TIMESTAMPTZ",
    "statement_timestamp": "TIMESTAMPTZ",
    "transaction_timestamp": "TIMESTAMPTZ",
    "gen_random_uuid": "UUID",
    "lower": "TEXT",
    "upper": "TEXT",
    "btrim": "TEXT",
    "trim": "TEXT",
    "concat": "TEXT",
    "concat_ws": "TEXT",
    "format": "TEXT",
    "replace": "TEXT",
    "substr": "TEXT",
    "substring": "TEXT",
    "string_agg": "TEXT",
    "length": "INTEGER",
    "char_length": "INTEGER",
    "bool_and": "BOOLEAN",
    "bool_or": "BOOLEAN",
    "every": "BOOLEAN",
    "jsonb_build_object": "JSONB",
    "jsonb_build_array": "JSONB",
    "jsonb_agg": "JSONB",
    "jsonb_object_agg": "JSONB",
    "to_jsonb": "JSONB",
    "row_to_json": "JSON",
    "pg_notify": "VOID",
    "log_event": "UUID",  # app.log_event
}

# Functions returning the type of their first argument.
_SAME_AS_ARGUMENT = {"min", "max", "abs", "round", "greatest", "least", "coalesce"}

_BOOLEAN_OPS = {"=", "<>", "!=", "<", ">", "<=", ">=", "~", "~*", "!~", "!~*", "@>", "<@", "&&"}

_ARITHMETIC_OPS = {"+", "-", "*", "/", "%"}
_NUMERIC_TYPES = ("SMALLINT", "INTEGER", "BIGINT", "NUMERIC", "DOUBLE PRECISION", "REAL")


def _is_numeric(sql_type: str) -> bool:
    return sql_type.startswith(_NUMERIC_TYPES)


_SQL_VALUE_TYPES = {
    enums.SQLValueFunctionOp.SVFOP_CURRENT_DATE: "DATE",
    enums.SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP: "TIMESTAMPTZ",
    enums.SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP: "TIMESTAMP",
    enums.SQLValueFunctionOp.SVFOP_CURRENT_TIME: "TIMETZ",
    enums.SQLValueFunctionOp.SVFOP_LOCALTIME: "TIME",
}


class TypeInference:
    def __init__(self, names: ActionNames) -> None:
        self.names = names
        self.tables = names.tables
        # Generated actions return the framework's result type; a RECORD variable holds it.
        self.action_functions = names.tables.ctx.action_functions

    def expression(self, node, bindings: list[Binding] = ()) -> str | None:
        handler = getattr(self, f"_t_{type(node).__name__}", None)
        return handler(node, list(bindings)) if handler else None

    def query(self, stmt: ast.SelectStmt) -> tuple[str | None, object]:
        """(type, entity) of what ``SELECT … INTO v`` stores: one column's type, or RECORD
        (with the entity when the query is ``SELECT * FROM <one entity>``)."""
        while stmt.op != enums.SetOperation.SETOP_NONE:
            stmt = stmt.larg
        bindings = self.bindings(stmt.fromClause or ())
        targets = stmt.targetList or ()
        if (
            len(targets) == 1
            and isinstance(targets[0].val, ast.ColumnRef)
            and colref_parts(targets[0].val)[-1] == "*"
        ):
            entities = [b.entity for b in bindings]
            return RECORD, entities[0] if len(entities) == 1 else None
        if len(targets) != 1:
            return RECORD, None
        return self.expression(targets[0].val, bindings), None

    def bindings(self, from_items) -> list[Binding]:
        found: list[Binding] = []
        for item in from_items:
            if isinstance(item, ast.RangeVar):
                entity = self.tables.relation(item.schemaname, item.relname)
                alias = item.alias.aliasname if item.alias else item.relname
                found.append(Binding(alias, entity))
            elif isinstance(item, ast.JoinExpr):
                found.extend(self.bindings((item.larg, item.rarg)))
        return found

    # ---- node kinds

    def _t_TypeCast(self, node, bindings):
        return deparse(node.typeName).upper()

    def _t_A_Const(self, node, bindings):
        if node.isnull:
            return None
        return {
            ast.Integer: "INTEGER",
            ast.Float: "NUMERIC",
            ast.String: "TEXT",
            ast.Boolean: "BOOLEAN",
        }.get(type(node.val))

    def _t_BoolExpr(self, node, bindings):
        return "BOOLEAN"

    _t_NullTest = _t_BooleanTest = _t_BoolExpr

    def _t_A_Expr(self, node, bindings):
        name = node.name[-1].sval if node.name else ""
        if node.kind != enums.A_Expr_Kind.AEXPR_OP or name in _BOOLEAN_OPS:
            return "BOOLEAN"
        if name == "||":
            return "TEXT"
        if name not in _ARITHMETIC_OPS:
            return None
        sides = [self.expression(s, bindings) for s in (node.lexpr, node.rexpr) if s is not None]
        if not sides or any(t is None or not _is_numeric(t) for t in sides):
            return None  # date - date is an integer, timestamp + interval a timestamp, ...
        if len(set(sides)) == 1:
            return sides[0]
        if any(t == "DOUBLE PRECISION" for t in sides):
            return "DOUBLE PRECISION"
        if any(t.startswith("NUMERIC") for t in sides):
            return "NUMERIC"
        return "BIGINT"

    def _t_SubLink(self, node, bindings):
        if node.subLinkType == enums.SubLinkType.EXPR_SUBLINK:
            kind, _ = self.query(node.subselect)
            return None if kind == RECORD else kind
        return "BOOLEAN"

    def _t_CoalesceExpr(self, node, bindings):
        return self._first(node.args, bindings)

    def _t_MinMaxExpr(self, node, bindings):
        return self._first(node.args, bindings)

    def _t_CaseExpr(self, node, bindings):
        results = [w.result for w in node.args] + ([node.defresult] if node.defresult else [])
        return self._first(results, bindings)

    def _t_SQLValueFunction(self, node, bindings):
        return _SQL_VALUE_TYPES.get(node.op)

    def _t_FuncCall(self, node, bindings):
        parts = [n.sval for n in node.funcname]
        name = parts[-1].lower()
        if len(parts) == 2 and (parts[0], name) in self.action_functions:
            return RECORD
        if name in FUNCTION_TYPES:
            return FUNCTION_TYPES[name]
        if name in _SAME_AS_ARGUMENT and node.args:
            return self._first(node.args, bindings)
        return None

    def _t_ColumnRef(self, node, bindings):
        parts = colref_parts(node)
        names = self.names
        if len(parts) == 1:
            name = parts[0]
            if name.startswith(PARAM_PREFIX):
                bare = name[1:]
                if bare in BUILTIN_PARAMS:
                    return "UUID"
                param = names.params.get(bare)
                return param_sql_type(param.type) if param else None
            for b in bindings:
                if b.entity is not None:
                    col = self.tables.column(b.entity, name)
                    if col is not None:
                        return col.sql_type
            if name in names.variables:
                return names.variables[name].sql_type
            col = self.tables.column(names.entity, name)
            return col.sql_type if col else None
        if len(parts) == 2:
            qualifier, name = parts
            entity = next((b.entity for b in bindings if b.alias == qualifier), None)
            var = names.variables.get(qualifier)
            if entity is None and var is not None:
                entity = var.entity
            if entity is not None:
                col = self.tables.column(entity, name)
                return col.sql_type if col else None
        return None

    def _first(self, nodes, bindings):
        for n in nodes:
            found = self.expression(n, bindings)
            if found is not None:
                return found
        return None
