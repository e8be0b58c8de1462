"""Write side: one ``<schema>.tb_<entity>`` table per entity (docs/generated-postgres.md).

Column order: Trinity (``pk_``, ``id``, ``identifier``), ``tenant_id`` in multi-tenant schemas,
business fields in spec order (a ``ref`` as ``fk_<field>``), audit fields. Every constraint is
named the way PostgreSQL itself would name it (``tb_x_pkey``, ``tb_x_<col>_key``,
``tb_x_<col>_check``, ``tb_x_<col>_fkey``) so a re-generation or a reverse run sees the same
names. Foreign keys that would close a reference cycle (self-references included) are left out
of ``CREATE TABLE`` and added by :func:`deferred_fk_ddl` once every table exists.

Indexes follow the table: ``tenant_id``'s (multi-tenant schemas), one per ref column, then the
spec's ``indexes:`` in order, each ``CREATE [UNIQUE] INDEX <name> ON <table> (<columns>)``, or
``((<expression>))`` with the expression's field names turned into columns on its parsed tree (a
ref field is its ``fk_`` column).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pglast import ast

from specql.dsl.expressions import (
    PARAM_PREFIX,
    NodeRewriter,
    colref_parts,
    deparse,
    parse_expression,
)
from specql.dsl.model import Entity, Field, Index
from specql.dsl.validator import INDEXABLE_COLUMNS
from specql.errors import SourcePos, SpecqlError
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.expressions import colref
from specql.generators.postgres.naming import (
    check_constraint,
    column_name,
    fk_constraint,
    index_name,
    pk_column,
    pk_constraint,
    spec_index_name,
    table_name,
    unique_constraint,
)
from specql.generators.postgres.types import check_expression, quote_ident, sql_string, sql_type

INDENT = "    "

TRINITY_COLUMNS = ("pk", "id", "identifier")
AUDIT_COLUMNS = (
    "created_at TIMESTAMPTZ NOT NULL DEFAULT now()",
    "updated_at TIMESTAMPTZ NOT NULL DEFAULT now()",
    "deleted_at TIMESTAMPTZ",
)


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def table_of(entity: Entity) -> str:
    """``crm.tb_contact``, quoted where needed."""
    return qualified(entity.schema, table_name(entity.name))


def ref_target(entity: Entity, field: Field, ctx: CompileContext) -> Entity:
    """The entity a ``ref`` field points at; SpecqlError at the field when there is none."""
    t = field.type
    name = f"{t.target_schema}.{t.target}" if t.target_schema else (t.target or "")
    target = ctx.entity(name)
    if target is None:
        known = ", ".join(sorted(e.qualified_name for e in ctx.entities.values())) or "none"
        raise SpecqlError(
            f"{entity.name}.{field.name}: {t} refers to no entity of the spec set (known: {known})",
            field.pos,
        )
    return target


def ref_fields(entity: Entity) -> list[Field]:
    return [f for f in entity.fields if f.type.kind == "ref"]


def table_order(
    entities: Iterable[Entity], ctx: CompileContext
) -> tuple[list[Entity], dict[str, list[str]]]:
    """Tables in the order they can be created, and per entity the ref fields whose foreign key
    must wait until all tables exist (they close a cycle, or point at their own table).

    Depth-first over refs, starting from each entity in the given order (the caller passes them
    sorted by code), so the result is deterministic: a referenced table comes before the tables
    that reference it; an edge back to a table still being visited is deferred.
    """
    ordered_in = list(entities)
    members = {e.name for e in ordered_in}
    state: dict[str, int] = {}  # 1: being visited, 2: done
    order: list[Entity] = []
    deferred: dict[str, list[str]] = {}

    def visit(entity: Entity) -> None:
        state[entity.name] = 1
        for f in ref_fields(entity):
            target = ref_target(entity, f, ctx)
            if target.name not in members:
                continue
            seen = state.get(target.name)
            if seen == 1:
                deferred.setdefault(entity.name, []).append(f.name)
            elif seen is None:
                visit(target)
        state[entity.name] = 2
        order.append(entity)

    for entity in ordered_in:
        if entity.name not in state:
            visit(entity)
    return order, deferred


def _default_sql(entity: Entity, field: Field) -> str | None:
    if field.default is None:
        return None
    default = field.default.strip()
    t = field.type
    if t.kind == "ref":
        raise SpecqlError(
            f"{entity.name}.{field.name}: a ref field cannot have a default "
            "(set it in an action instead)",
            field.pos,
        )
    if t.kind == "enum" and default in t.values:
        return sql_string(default)  # `status: enum(lead, won) = lead`: a bare label
    return default


def _field_column(entity: Entity, field: Field) -> str:
    col = column_name(field)
    parts = [quote_ident(col), sql_type(field.type)]
    if not field.nullable:
        parts.append("NOT NULL")
    default = _default_sql(entity, field)
    if default is not None:
        parts.append(f"DEFAULT {default}")
    return " ".join(parts)


def fk_clause(entity: Entity, field: Field, ctx: CompileContext) -> str:
    """``CONSTRAINT tb_x_fk_y_fkey FOREIGN KEY (fk_y) REFERENCES s.tb_y (pk_y)``."""
    target = ref_target(entity, field, ctx)
    col = column_name(field)
    return (
        f"CONSTRAINT {quote_ident(fk_constraint(entity.name, col))} "
        f"FOREIGN KEY ({quote_ident(col)}) "
        f"REFERENCES {table_of(target)} ({quote_ident(pk_column(target.name))})"
    )


def table_ddl(entity: Entity, ctx: CompileContext, deferred_fields: Iterable[str] = ()) -> str:
    """``CREATE SCHEMA``/``CREATE TABLE``/indexes/comments for one entity. The foreign keys of
    ``deferred_fields`` are left out (see :func:`deferred_fk_ddl`); their indexes are not."""
    deferred = set(deferred_fields)
    tb = table_name(entity.name)
    pk = pk_column(entity.name)
    columns = [
        f"{quote_ident(pk)} INTEGER GENERATED ALWAYS AS IDENTITY "
        f"CONSTRAINT {quote_ident(pk_constraint(entity.name))} PRIMARY KEY",
        "id UUID NOT NULL DEFAULT gen_random_uuid() "
        f"CONSTRAINT {quote_ident(unique_constraint(entity.name, 'id'))} UNIQUE",
        "identifier TEXT NOT NULL "
        f"CONSTRAINT {quote_ident(unique_constraint(entity.name, 'identifier'))} UNIQUE",
    ]
    multi_tenant = ctx.is_multi_tenant(entity)
    if multi_tenant:
        columns.append("tenant_id UUID NOT NULL")
    constraints: list[str] = []
    indexes: list[str] = []
    if multi_tenant:
        indexes.append(_index(entity, "tenant_id"))
    for f in entity.fields:
        columns.append(_field_column(entity, f))
        col = column_name(f)
        if f.type.kind == "ref":
            if f.name not in deferred:
                constraints.append(fk_clause(entity, f, ctx))
            indexes.append(_index(entity, col))
            continue
        check = check_expression(col, f.type)
        if check is not None:
            constraints.append(
                f"CONSTRAINT {quote_ident(check_constraint(entity.name, col))} CHECK ({check})"
            )
    columns.extend(AUDIT_COLUMNS)
    indexes.extend(_spec_indexes(entity, ctx))

    body = ",\n".join(INDENT + item for item in columns + constraints)
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(entity.schema)};",
        "",
        f"CREATE TABLE {qualified(entity.schema, tb)} (\n{body}\n);",
    ]
    if indexes:
        out.append("")
        out.extend(indexes)
    comments = []
    if entity.description:
        comments.append(f"COMMENT ON TABLE {table_of(entity)} IS {sql_string(entity.description)};")
    for f in entity.fields:
        if f.description:
            comments.append(
                f"COMMENT ON COLUMN {table_of(entity)}.{quote_ident(column_name(f))} "
                f"IS {sql_string(f.description)};"
            )
    if comments:
        out.append("")
        out.extend(comments)
    return "\n".join(out) + "\n"


def _index(entity: Entity, column: str) -> str:
    return _create_index(entity, index_name(entity.name, column), quote_ident(column))


def _create_index(entity: Entity, name: str, keys: str, unique: bool = False) -> str:
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return f"CREATE {kind} {quote_ident(name)} ON {table_of(entity)} ({keys});"


def _spec_indexes(entity: Entity, ctx: CompileContext) -> list[str]:
    """The spec's ``indexes:``; a name another index of the table has is an error."""
    taken = {index_name(entity.name, column_name(f)) for f in entity.fields if f.type.kind == "ref"}
    if ctx.is_multi_tenant(entity):
        taken.add(index_name(entity.name, "tenant_id"))
    out = []
    for index in entity.indexes:
        name = spec_index_name(entity.name, index)
        if name in taken:
            raise SpecqlError(
                f"index {name!r} of {entity.name} has the name of another index of its table: "
                "give it a 'name'",
                index.pos,
            )
        taken.add(name)
        out.append(_create_index(entity, name, _index_keys(entity, index, ctx), index.unique))
    return out


def _index_keys(entity: Entity, index: Index, ctx: CompileContext) -> str:
    """What goes between the parentheses: the columns, or the expression in its own."""

    def column(name: str) -> str:
        f = entity.field_named(name)
        if f is not None:
            return column_name(f)
        if name in INDEXABLE_COLUMNS and (name != "tenant_id" or ctx.is_multi_tenant(entity)):
            return name
        raise SpecqlError(f"index of {entity.name}: no field {name!r}", index.pos)

    if index.expression is None:
        return ", ".join(quote_ident(column(name)) for name in index.fields)
    node = parse_expression(index.expression, index.pos)
    return f"({deparse(_IndexColumns(column, index.pos).rewrite(node))})"


class _IndexColumns(NodeRewriter):
    """An index expression's field names -> its table's columns, on the AST."""

    def __init__(self, column: Callable[[str], str], pos: SourcePos) -> None:
        self.column = column
        self.pos = pos

    def rewrite(self, node: ast.Node) -> ast.Node:
        try:
            return self._node(node, None)
        except RecursionError:
            raise SpecqlError("index expression nested too deeply", self.pos) from None

    def _rw_ColumnRef(self, node: ast.ColumnRef, scopes) -> ast.Node:
        parts = colref_parts(node)
        if len(parts) != 1 or parts[0] == "*" or parts[0].startswith(PARAM_PREFIX):
            raise SpecqlError(f"index expression: {'.'.join(parts)!r} is not a field", self.pos)
        return colref(self.column(parts[0]))


def deferred_fk_ddl(entity: Entity, field_names: Iterable[str], ctx: CompileContext) -> str:
    """``ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY`` for the refs left out of the table."""
    lines = []
    for name in field_names:
        f = entity.field_named(name)
        if f is None or f.type.kind != "ref":
            raise ValueError(f"{entity.name}.{name} is not a ref field")
        lines.append(f"ALTER TABLE {table_of(entity)}\n{INDENT}ADD {fk_clause(entity, f, ctx)};")
    return "\n\n".join(lines) + "\n"
