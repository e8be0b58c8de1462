"""Helpers for the steps-stage tests: SQL text -> mapped functions.

``entities_for`` is a minimal stand-in for the entities stage (TableInfo -> Entity) so the
steps tests do not depend on it: every table is an entity named by
:func:`specql.reverse.naming.entity_name_for_table`; columns become fields of the SQL type's
SpecQL type (unknown types: text), a single-column foreign key ``x_id``/``fk_x``/``x`` becomes
``x: ref(Target)``, the primary key and the framework columns are left out.
"""

from __future__ import annotations

from specql.dsl.model import RESERVED_FIELD_NAMES, Entity, Field, TypeRef
from specql.reverse.naming import entity_name_for_table
from specql.reverse.parse import parse_sql_text
from specql.reverse.sqltypes import type_from_sql
from specql.reverse.steps import entity_tables, map_function

_TEXT = TypeRef("basic", "text")


def _field_name(column: str) -> str:
    for prefix in ("fk_",):
        if column.startswith(prefix):
            return column[len(prefix) :]
    for suffix in ("_id",):
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)]
    return column


def entities_for(tables) -> dict[str, Entity]:
    out: dict[str, Entity] = {}
    for t in tables:
        name = entity_name_for_table(t.schema, t.name)
        pk = {c.name for c in t.columns if c.primary_key} | set(getattr(t, "primary_key", ()))
        fields = []
        for c in t.columns:
            if c.name in pk or c.name in RESERVED_FIELD_NAMES or c.name.startswith("pk_"):
                continue
            if c.references is not None:
                ref_schema, ref_table, _ = c.references
                target = entity_name_for_table(ref_schema, ref_table)
                t_ref = TypeRef("ref", "ref", target=target)
                fields.append(Field(_field_name(c.name), t_ref, nullable=not c.not_null))
                continue
            typ = type_from_sql(c.sql_type) or _TEXT
            default = c.default if c.default and "nextval" not in c.default else None
            fields.append(Field(c.name, typ, nullable=not c.not_null, default=default))
        out[t.qualified_name] = Entity(name=name, schema=(t.schema or "public"), fields=fields)
    return out


def map_sql(text: str, source: str = "fixture.sql"):
    """(module, {function name: MappedFunction}) for SQL text."""
    module = parse_sql_text(text, source)
    known = entity_tables(module.tables, entities_for(module.tables))
    mapped = {fn.name: map_function(fn, module.tables, known) for fn in module.functions}
    return module, mapped
