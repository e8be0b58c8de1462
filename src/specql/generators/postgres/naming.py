"""Names of generated PostgreSQL objects (DESIGN §4): one place, so generators and
reverse engineering agree on them."""

from __future__ import annotations

import re

from specql.dsl.model import Entity, Field

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


def index_name(entity_name: str, column: str) -> str:
    return f"idx_{table_name(entity_name)}_{column}"


def function_name(schema: str, action_name: str) -> str:
    return f"fn_{schema}_{action_name}"


def qualified_table(entity: Entity) -> str:
    return f"{entity.schema}.{table_name(entity.name)}"


def param_name(name: str) -> str:
    return f"p_{name}"


def variable_name(name: str) -> str:
    return f"v_{name}"
