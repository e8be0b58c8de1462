"""The type-mapping tables: every SpecQL type maps to a SQLAlchemy type that PostgreSQL knows
as the SQL target's column type, with a matching Python annotation."""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import typing
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from specql.dsl.types import BASIC_TYPES, RICH_TYPES, parse_type
from specql.generators.postgres.types import sql_type
from specql.generators.sqlalchemy.types import column_type

# Modules the mapping texts may name, as the generated modules import them.
NAMESPACE = {
    "sa": sa,
    "pg": pg,
    "datetime": datetime,
    "decimal": decimal,
    "ipaddress": ipaddress,
    "typing": typing,
    "uuid": uuid,
}
# SQLAlchemy spells a few PostgreSQL types the long way (and NUMERIC(p, s) with a space); the
# SQL target the short one. The same types for PostgreSQL: test_on_postgres compares catalogs.
SPELLINGS = {
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIME WITHOUT TIME ZONE": "TIME",
    ", ": ",",
}

TYPE_TEXTS = [
    *(name for name in BASIC_TYPES if name != "numeric"),
    "numeric",
    "numeric(8)",
    "numeric(12,2)",
    *RICH_TYPES,
    "enum(a, b)",
    "list(text)",
    "list(money)",
    "list(enum(a, b))",
    "list(list(integer))",
]


def _compiled(text: str) -> tuple[sa.types.TypeEngine, str]:
    mapping = column_type(parse_type(text))
    sa_type = eval(mapping.sqlalchemy, NAMESPACE)  # the generated code's own expression
    ddl = sa_type.compile(dialect=pg.dialect())
    for long, short in SPELLINGS.items():
        ddl = ddl.replace(long, short)
    return sa_type, ddl


@pytest.mark.parametrize("text", TYPE_TEXTS)
def test_every_type_maps_to_the_sql_targets_column_type(text):
    _, ddl = _compiled(text)
    assert ddl == sql_type(parse_type(text))


@pytest.mark.parametrize("text", TYPE_TEXTS)
def test_the_annotation_names_what_the_column_holds(text):
    mapping = column_type(parse_type(text))
    sa_type, _ = _compiled(text)
    annotation = eval(mapping.python, NAMESPACE)
    if sa_type.python_type is object:  # JSONB, INET: typed by the annotation alone
        assert text in ("json", "ip_address", "mac_address")
        return
    origin = typing.get_origin(annotation) or annotation
    assert origin is sa_type.python_type
    for module in mapping.modules:
        assert module in NAMESPACE


def test_every_rich_type_has_a_mapping():
    for name in RICH_TYPES:
        mapping = column_type(parse_type(name))
        assert mapping.sqlalchemy and mapping.python, name


def test_money_keeps_precision_and_scale():
    mapping = column_type(parse_type("money"))
    assert (mapping.sqlalchemy, mapping.python) == ("sa.Numeric(19, 4)", "decimal.Decimal")
    assert mapping.modules == {"sa", "decimal"}


def test_a_nested_list_is_one_array_with_dimensions():
    mapping = column_type(parse_type("list(list(integer))"))
    assert mapping.sqlalchemy == "pg.ARRAY(sa.Integer(), dimensions=2)"
    assert mapping.python == "list[list[int]]"
    assert mapping.modules == {"sa", "pg"}


def test_a_list_of_enum_is_an_array_of_text():
    mapping = column_type(parse_type("list(enum(vip, partner))"))
    assert (mapping.sqlalchemy, mapping.python) == ("pg.ARRAY(sa.Text())", "list[str]")


def test_inet_is_typed_as_the_ip_address_objects_psycopg_returns():
    mapping = column_type(parse_type("ip_address"))
    assert mapping.sqlalchemy == "pg.INET()"
    assert mapping.modules == {"pg", "ipaddress"}
