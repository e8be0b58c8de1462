"""Names of generated PostgreSQL objects (DESIGN §4): one place, so generators and
reverse engineering agree on them."""

from __future__ import annotations

import hashlib
import re

from specql.dsl.expressions import deparse_spec, parse_expression
from specql.dsl.model import Entity, Field, Index

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """``OrderLine`` -> ``order_line``; already snake names stay as they are."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def table_name(entity_name: str) -> str:
    return f"tb_{snake(entity_name)}"


def view_name(entity_name: str) -> str:
    return f"tv_{snake(entity_name)}"


def pk_column(entity_name: str) -> str:
    return f"pk_{snake(entity_name)}"


def fk_column(field_name: str) -> str:
    return f"fk_{field_name}"


def column_name(field: Field) -> str:
    """A ref field ``company: ref(Company)`` is stored as ``fk_company``."""
    return fk_column(field.name) if field.type.kind == "ref" else field.name


def index_name(entity_name: str, *keys: str) -> str:
    """``idx_tb_<entity>_<keys joined by _>`` (63 bytes at most, see :func:`pg_identifier`)."""
    return pg_identifier(f"idx_{table_name(entity_name)}_{'_'.join(keys)}")


_EXPRESSION_WORD = re.compile(r"[a-z0-9]+")


def spec_index_name(entity_name: str, index: Index) -> str:
    """The name of an ``indexes:`` entry: its own, else ``idx_tb_<entity>_<field names>``, or
    for an expression ``idx_tb_<entity>_<its words>``: the runs of letters and digits of its
    canonical text, so the spelling does not matter (``LOWER( email )`` and ``lower(email)``
    are both ``..._lower_email``)."""
    if index.name is not None:
        return index.name
    if index.expression is None:
        return index_name(entity_name, *index.fields)
    canonical = deparse_spec(parse_expression(index.expression, index.pos))
    return index_name(entity_name, *_EXPRESSION_WORD.findall(canonical.lower()))


def function_name(schema: str, action_name: str) -> str:
    return f"fn_{schema}_{action_name}"


def qualified_table(entity: Entity) -> str:
    return f"{entity.schema}.{table_name(entity.name)}"


def param_name(name: str) -> str:
    return f"p_{name}"


def variable_name(name: str) -> str:
    return f"v_{name}"


# PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1), which could make two long
# constraint names collide silently: longer names are cut and end in a short stable hash.
MAX_IDENTIFIER_BYTES = 63


def pg_identifier(name: str) -> str:
    """``name`` if PostgreSQL keeps it whole, else a deterministic 63-byte form of it."""
    if len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    head = name.encode("utf-8")[: MAX_IDENTIFIER_BYTES - 9].decode("utf-8", "ignore")
    return f"{head}_{digest}"


def pk_constraint(entity_name: str) -> str:
    """``tb_contact_pkey``: the names PostgreSQL itself would choose, spelled out."""
    return pg_identifier(f"{table_name(entity_name)}_pkey")


def unique_constraint(entity_name: str, column: str) -> str:
    return pg_identifier(f"{table_name(entity_name)}_{column}_key")


def check_constraint(entity_name: str, column: str) -> str:
    return pg_identifier(f"{table_name(entity_name)}_{column}_check")


def fk_constraint(entity_name: str, column: str) -> str:
    return pg_identifier(f"{table_name(entity_name)}_{column}_fkey")
