"""Helpers for the steps-stage tests: SQL text -> mapped functions, golden files.

Functions are mapped against the entities the entities stage makes of the tables (as the
pipeline does). ``entities_for`` is a minimal stand-in for that stage (kept for measuring the
steps stage alone, e.g. on a corpus): every table is an entity named by
:func:`specql.reverse.naming.entity_name_for_table`; columns become fields of the SQL type's
SpecQL type (unknown types: text), a single-column foreign key ``x_id``/``fk_x``/``x`` becomes
``x: ref(Target)``, the primary key and the framework columns are left out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from specql.dsl.dumper import to_data
from specql.dsl.model import RESERVED_FIELD_NAMES, Entity, Field, TypeRef
from specql.reverse.confidence import function_confidence
from specql.reverse.entities import tables_to_entities
from specql.reverse.naming import SQL_RESERVED_WORDS, entity_name_for_table
from specql.reverse.parse import parse_sql_text
from specql.reverse.sqltypes import type_from_sql
from specql.reverse.steps import entity_tables, map_function

_TEXT = TypeRef("basic", "text")


def _field_name(column: str) -> str:
    name = column
    if column.startswith("fk_"):
        name = column[3:]
    elif column.endswith("_id") and len(column) > 3:
        name = column[:-3]
    return column if name in SQL_RESERVED_WORDS else name


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


def real_entities(tables, types):
    """The entities stage's results for the tables (what the pipeline maps against)."""
    return tables_to_entities(tables, types)


def map_sql(text: str, source: str = "fixture.sql"):
    """(module, {function name: MappedFunction}) for SQL text."""
    module = parse_sql_text(text, source)
    known = entity_tables(module.tables, real_entities(module.tables, module.types), module.types)
    mapped = {fn.name: map_function(fn, module.tables, known) for fn in module.functions}
    return module, mapped


# --------------------------------------------------------------------------- golden files

FIXTURES = Path(__file__).parent / "fixtures" / "steps"
SCHEMA = FIXTURES / "schema.sql"


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.sql") if p.name != SCHEMA.name)


def map_fixture(name: str):
    """(entities by table, EntityTables, [MappedFunction]) of ``fixtures/steps/<name>.sql``
    over the shared ``schema.sql``."""
    schema = parse_sql_text(SCHEMA.read_text(encoding="utf-8"), f"steps/{SCHEMA.name}")
    path = FIXTURES / f"{name}.sql"
    module = parse_sql_text(path.read_text(encoding="utf-8"), f"steps/{path.name}")
    tables = [*schema.tables, *module.tables]
    types = [*schema.types, *module.types]
    results = real_entities(tables, types)
    entities = {r.table.qualified_name: r.entity for r in results}
    known = entity_tables(tables, results, types)
    mapped = [map_function(fn, tables, known) for fn in module.functions]
    return entities, known, mapped


def golden_data(name: str) -> list[dict]:
    """What the golden file of a fixture holds: per function, what the steps stage found."""
    _, known, mapped = map_fixture(name)
    out = []
    for m in mapped:
        host = known.by_qualified(m.entity_hint) if m.entity_hint else None
        entity = host.entity if host is not None else Entity(name="Unplaced", schema="billing")
        action = to_data(dataclasses.replace(entity, fields=[], actions=[m.action]))["actions"][0]
        out.append(
            {
                "function": m.function.qualified_name,
                "entity": entity.name,
                "statements": {
                    "total": m.statements_total,
                    "converted": m.statements_converted,
                },
                "confidence": function_confidence(m),
                "unconverted": [{"line": u.pos.line, "reason": u.reason} for u in m.unconverted],
                "action": action,
            }
        )
    return out


def golden_text(name: str) -> str:
    header = (
        f"# Generated by tests/reverse/regen_golden.py from fixtures/steps/{name}.sql "
        "(+ schema.sql): do not edit.\n"
    )
    body = yaml.dump(
        golden_data(name),
        Dumper=_GoldenDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return header + body


class _GoldenDumper(yaml.SafeDumper):
    """Multi-line text (raw SQL) as ``|`` blocks, so golden files read like the SQL."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_GoldenDumper.add_representer(str, _str)


def golden_path(name: str) -> Path:
    return FIXTURES / f"{name}.expected.yaml"
