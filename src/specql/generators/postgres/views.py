"""Read side: one ``<schema>.tv_<entity>`` view per entity (docs/generated-postgres.md).

Columns ``id``, ``tenant_id`` (multi-tenant schemas only) and ``data`` — a JSONB object with
``id``, ``identifier``, every business field in spec order (a ref as the referenced row's
UUID, through a LEFT JOIN), ``created_at`` and ``updated_at``. Soft-deleted rows are left out.
"""

from __future__ import annotations

from specql.dsl.model import Entity
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.naming import column_name, pk_column, view_name
from specql.generators.postgres.tables import INDENT, qualified, ref_target, table_of
from specql.generators.postgres.types import quote_ident, sql_string

BASE_ALIAS = "t"

# jsonb_build_object takes at most 100 arguments (50 key/value pairs): larger objects are built
# in chunks joined with ||.
_PAIRS_PER_CALL = 50


def ref_alias(field_name: str) -> str:
    return quote_ident(f"r_{field_name}")


def view_ddl(entity: Entity, ctx: CompileContext) -> str:
    """``CREATE OR REPLACE VIEW <schema>.tv_<entity>`` for one entity."""
    t = BASE_ALIAS
    pairs: list[tuple[str, str]] = [("id", f"{t}.id"), ("identifier", f"{t}.identifier")]
    joins: list[str] = []
    for f in entity.fields:
        if f.type.kind == "ref":
            target = ref_target(entity, f, ctx)
            alias = ref_alias(f.name)
            pairs.append((f.name, f"{alias}.id"))
            joins.append(
                f"LEFT JOIN {table_of(target)} AS {alias} "
                f"ON {alias}.{quote_ident(pk_column(target.name))} = "
                f"{t}.{quote_ident(column_name(f))}"
            )
        else:
            pairs.append((f.name, f"{t}.{quote_ident(column_name(f))}"))
    pairs += [("created_at", f"{t}.created_at"), ("updated_at", f"{t}.updated_at")]

    chunks = [pairs[i : i + _PAIRS_PER_CALL] for i in range(0, len(pairs), _PAIRS_PER_CALL)]
    calls = []
    for chunk in chunks:
        args = ",\n".join(f"{INDENT * 2}{sql_string(key)}, {expr}" for key, expr in chunk)
        calls.append(f"jsonb_build_object(\n{args}\n{INDENT})")
    data = f"\n{INDENT}|| ".join(calls)

    select = [f"{t}.id"]
    if ctx.is_multi_tenant(entity):
        select.append(f"{t}.tenant_id")
    select.append(f"{data} AS data")
    lines = [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(entity.schema)};",
        "",
        f"CREATE OR REPLACE VIEW {qualified(entity.schema, view_name(entity.name))} AS",
        "SELECT",
        ",\n".join(INDENT + s for s in select),
        f"FROM {table_of(entity)} AS {t}",
        *joins,
        f"WHERE {t}.deleted_at IS NULL;",
    ]
    return "\n".join(lines) + "\n"
