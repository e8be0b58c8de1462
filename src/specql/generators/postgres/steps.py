"""One compiler per step kind: ``STEP_COMPILERS[step.kind](step, compiler) -> lines``.

Each compiler returns the PL/pgSQL lines of its step, unindented (nested blocks come back
indented by :meth:`ActionCompiler.block`). The emitted shapes are the ones documented in
docs/generated-postgres.md ("Step compilation"); ``specql reverse`` recognises them, so keep
them regular: one statement per line, fixed keywords, names from :mod:`naming`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pglast
from pglast import ast, enums

from specql.dsl.expressions import deparse, new_node, parse_expression, parse_statement
from specql.dsl.model import (
    AssignStep,
    CallStep,
    DeclareStep,
    DeleteStep,
    FindStep,
    ForeachStep,
    IfStep,
    InsertStep,
    NotifyStep,
    QueryStep,
    RawSqlStep,
    RejectStep,
    ReturnStep,
    Step,
    UpdateStep,
    ValidateStep,
)
from specql.errors import SpecqlError
from specql.generators.postgres.expressions import (
    TENANT_PARAM,
    Binding,
    rangevar,
)
from specql.generators.postgres.naming import column_name, snake, table_name, variable_name
from specql.generators.postgres.types import quote_ident, sql_string

if TYPE_CHECKING:
    from specql.generators.postgres.actions import ActionCompiler

StepCompiler = Callable[[Step, "ActionCompiler"], list[str]]
STEP_COMPILERS: dict[str, StepCompiler] = {}

# Internal variables of every action function (never clash with v_/p_ names).
NEW_ID = "_new_id"
CREATED_ID = "_created_id"

# jsonb_build_object takes at most 100 arguments.
_PAIRS_PER_CALL = 50


def compiles(kind: str):
    def register(fn: StepCompiler) -> StepCompiler:
        STEP_COMPILERS[kind] = fn
        return fn

    return register


def humanize(code: str) -> str:
    """``not_a_lead`` -> ``Not a lead``: the default message of an error code."""
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def into(stmt: ast.SelectStmt, var: str) -> ast.SelectStmt:
    """Give ``SELECT … INTO var`` to the query (the leftmost SELECT of a set operation)."""
    target = stmt
    while target.op != enums.SetOperation.SETOP_NONE:
        target = target.larg
    target.intoClause = new_node(
        ast.IntoClause,
        rel=new_node(ast.RangeVar, relname=var, inh=True, relpersistence="p"),
        onCommit=enums.OnCommitAction.ONCOMMIT_NOOP,
    )
    return stmt


def select_rows(entity, alias: str, where: ast.Node | None) -> ast.SelectStmt:
    """``SELECT * FROM <schema>.tb_<entity> AS alias [WHERE …]`` (not yet rewritten)."""
    return new_node(
        ast.SelectStmt,
        targetList=(new_node(ast.ResTarget, val=new_node(ast.ColumnRef, fields=(ast.A_Star(),))),),
        fromClause=(rangevar(entity.schema, table_name(entity.name), alias),),
        whereClause=where,
        limitOption=enums.LimitOption.LIMIT_OPTION_DEFAULT,
        op=enums.SetOperation.SETOP_NONE,
    )


def _table(entity) -> str:
    return f"{quote_ident(entity.schema)}.{quote_ident(table_name(entity.name))}"


def _user_select(c: ActionCompiler, text: str, pos) -> ast.SelectStmt:
    stmt = parse_statement(text, pos)
    if not isinstance(stmt, ast.SelectStmt) or stmt.intoClause is not None:
        raise SpecqlError("expected a SELECT query without INTO", pos)
    return c.rw.query(stmt, pos)


# --------------------------------------------------------------------------- control flow


@compiles("validate")
def compile_validate(step: ValidateStep, c: ActionCompiler) -> list[str]:
    cond = c.expr(step.condition, step.pos)
    return [
        f"IF NOT COALESCE(({cond}), false) THEN",
        *c.indent([c.fail(step.error, step.message)]),
        "END IF;",
    ]


@compiles("if")
def compile_if(step: IfStep, c: ActionCompiler) -> list[str]:
    lines = [f"IF {c.expr(step.condition, step.pos)} THEN", *c.block(step.then)]
    if step.else_:
        lines += ["ELSE", *c.block(step.else_)]
    return [*lines, "END IF;"]


@compiles("reject")
def compile_reject(step: RejectStep, c: ActionCompiler) -> list[str]:
    return [c.fail(step.error, step.message)]


@compiles("foreach")
def compile_foreach(step: ForeachStep, c: ActionCompiler) -> list[str]:
    query = deparse(_user_select(c, step.query, step.pos))
    return [
        f"FOR {variable_name(step.variable)} IN {query} LOOP",
        *c.block(step.body),
        "END LOOP;",
    ]


@compiles("return")
def compile_return(step: ReturnStep, c: ActionCompiler) -> list[str]:
    if step.expression is None:
        return [c.success()]
    return [c.success(f"to_jsonb({c.expr(step.expression, step.pos)})")]


@compiles("raw_sql")
def compile_raw_sql(step: RawSqlStep, c: ActionCompiler) -> list[str]:
    """As written; a bare ``SELECT`` (no INTO) becomes ``PERFORM`` since PL/pgSQL would reject
    it, and a missing final semicolon is added."""
    text = step.sql.strip()
    if not text:
        raise SpecqlError("raw_sql is empty", step.pos)
    try:
        stmts = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        stmts = None  # PL/pgSQL, not SQL: as written
    if (
        stmts
        and len(stmts) == 1
        and isinstance(stmts[0].stmt, ast.SelectStmt)
        and stmts[0].stmt.intoClause is None
        and text[:6].lower() == "select"
        and (len(text) == 6 or not text[6].isalnum())
    ):
        text = "PERFORM" + text[6:]
    if not text.endswith(";"):
        text += ";"
    return text.splitlines()


# --------------------------------------------------------------------------- variables


@compiles("declare")
def compile_declare(step: DeclareStep, c: ActionCompiler) -> list[str]:
    """Variables live in the function's DECLARE; a default that needs more than params and
    constants is assigned here, where the step stands."""
    lines = []
    for var in step.variables:
        if var.default is not None and var.name not in c.declared_with_default:
            value = c.default_value(var.type, var.default, var.pos or step.pos)
            lines.append(f"{variable_name(var.name)} := {value};")
    return lines


@compiles("assign")
def compile_assign(step: AssignStep, c: ActionCompiler) -> list[str]:
    if step.target not in c.names.variables:
        raise SpecqlError(f"assign: unknown variable {step.target!r}", step.pos)
    return [f"{variable_name(step.target)} := {c.expr(step.expression, step.pos)};"]


@compiles("query")
def compile_query(step: QueryStep, c: ActionCompiler) -> list[str]:
    stmt = _user_select(c, step.sql, step.pos)
    return [f"{deparse(into(stmt, variable_name(step.into)))};"]


@compiles("find")
def compile_find(step: FindStep, c: ActionCompiler) -> list[str]:
    entity = c.tables.named(step.entity, step.pos)
    where = parse_expression(step.where, step.pos) if step.where else None
    stmt = c.rw.query(select_rows(entity, snake(entity.name), where), step.pos)
    lines = [f"{deparse(into(stmt, variable_name(step.into)))};"]
    if step.error:
        message = step.message if getattr(step, "message", None) else None
        lines += ["IF NOT FOUND THEN", *c.indent([c.fail(step.error, message)]), "END IF;"]
    return lines


@compiles("call")
def compile_call(step: CallStep, c: ActionCompiler) -> list[str]:
    node = parse_expression(step.call, step.pos)
    if not isinstance(node, ast.FuncCall):
        raise SpecqlError("call: expected a function call like fn(a, b => c)", step.pos)
    call = deparse(c.rw.rewrite(node, step.pos))
    if step.store:
        return [f"{variable_name(step.store)} := {call};"]
    return [f"PERFORM {call};"]


# --------------------------------------------------------------------------- writes


@compiles("insert")
def compile_insert(step: InsertStep, c: ActionCompiler) -> list[str]:
    entity = c.tables.named(step.entity, step.pos)
    c.names.require_tenant(entity, step.pos)
    values = dict(step.values)
    id_text = values.pop("id", None)
    identifier_text = values.pop("identifier", None)
    columns = ["id"]
    exprs = [NEW_ID]
    if c.tables.is_multi_tenant(entity):
        columns.append("tenant_id")
        exprs.append(TENANT_PARAM)
    columns.append("identifier")
    exprs.append(
        c.expr(identifier_text, step.pos) if identifier_text is not None else f"{NEW_ID}::text"
    )
    for name, text in values.items():
        fld = entity.field_named(name)
        if fld is None:
            raise SpecqlError(f"insert: {entity.name} has no field {name!r}", step.pos)
        columns.append(quote_ident(column_name(fld)))
        exprs.append(c.field_value(entity, name, text, step.pos))
    c.uses_new_id = True
    new_id = c.expr(id_text, step.pos) if id_text is not None else "gen_random_uuid()"
    lines = [
        f"{NEW_ID} := {new_id};",
        f"INSERT INTO {_table(entity)} ({', '.join(columns)})",
        f"VALUES ({', '.join(exprs)});",
    ]
    if step.as_:
        lines.append(f"{variable_name(step.as_)} := {NEW_ID};")
    if entity is c.entity:
        lines.append(f"{CREATED_ID} := {NEW_ID};")
    return lines


@compiles("update")
def compile_update(step: UpdateStep, c: ActionCompiler) -> list[str]:
    entity = c.tables.named(step.entity, step.pos)
    alias = snake(entity.name)
    sets = []
    for name, text in step.assignments.items():
        col = c.tables.column(entity, name)
        if col is None or (entity.field_named(name) is None and name != "identifier"):
            raise SpecqlError(f"update: {entity.name} has no field {name!r}", step.pos)
        value = c.field_value(entity, name, text, step.pos, Binding(alias, entity))
        sets.append(f"{quote_ident(col.name)} = {value}")
    sets.append("updated_at = now()")
    return [
        f"UPDATE {_table(entity)} AS {quote_ident(alias)}",
        f"SET {', '.join(sets)}",
        f"WHERE {c.where(entity, alias, step.where, step.pos)};",
    ]


@compiles("delete")
def compile_delete(step: DeleteStep, c: ActionCompiler) -> list[str]:
    entity = c.tables.named(step.entity, step.pos)
    alias = snake(entity.name)
    if step.hard:
        return [
            f"DELETE FROM {_table(entity)} AS {quote_ident(alias)}",
            f"WHERE {c.where(entity, alias, step.where, step.pos, deleted=False)};",
        ]
    return [
        f"UPDATE {_table(entity)} AS {quote_ident(alias)}",
        "SET deleted_at = now(), updated_at = now()",
        f"WHERE {c.where(entity, alias, step.where, step.pos)};",
    ]


@compiles("notify")
def compile_notify(step: NotifyStep, c: ActionCompiler) -> list[str]:
    pairs = [f"{sql_string(key)}, {c.expr(text, step.pos)}" for key, text in step.payload.items()]
    chunks = [pairs[i : i + _PAIRS_PER_CALL] for i in range(0, len(pairs), _PAIRS_PER_CALL)]
    payload = " || ".join(f"jsonb_build_object({', '.join(ch)})" for ch in chunks) or (
        "jsonb_build_object()"
    )
    if len(chunks) > 1:
        payload = f"({payload})"
    return [f"PERFORM pg_notify({sql_string(step.channel)}, {payload}::text);"]
