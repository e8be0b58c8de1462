"""SpecQL types -> PostgreSQL column types and CHECK constraints (type-mapping tables).

The rich-scalar constraints come from :data:`specql.dsl.types.RICH_TYPES`, so the generated
CHECK and the other targets' validators enforce the same rule.
"""

from __future__ import annotations

from specql.dsl.expressions import quote_ident
from specql.dsl.model import TypeRef
from specql.dsl.types import RICH_TYPES, parse_type

# basic type name -> SQL type (numeric arguments are appended when present).
BASIC_SQL: dict[str, str] = {
    "text": "TEXT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "numeric": "NUMERIC",
    "float": "DOUBLE PRECISION",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "time": "TIME",
    "duration": "INTERVAL",
    "uuid": "UUID",
    "json": "JSONB",
}

# Rich scalars PostgreSQL has a native type for: the native type validates the value, so
# these get no regex CHECK (``inet ~ text`` would not even type-check).
RICH_NATIVE_SQL: dict[str, str] = {
    "ip_address": "INET",
    "mac_address": "MACADDR",
}

# Column type of the non-scalar kinds. A ref is stored as the referenced row's pk_ (INTEGER).
KIND_SQL: dict[str, str] = {
    "enum": "TEXT",
    "ref": "INTEGER",
}

# Function parameters carry refs as the referenced row's public UUID ``id``.
PARAM_KIND_SQL: dict[str, str] = {**KIND_SQL, "ref": "UUID"}


def sql_type(t: TypeRef) -> str:
    """Column type of a SpecQL type (a ref is the ``fk_`` INTEGER column)."""
    return _sql_type(t, KIND_SQL)


def param_sql_type(t: TypeRef) -> str:
    """Type of a function parameter or variable: like :func:`sql_type` but a ref is a UUID."""
    return _sql_type(t, PARAM_KIND_SQL)


def _sql_type(t: TypeRef, kinds: dict[str, str]) -> str:
    if t.kind == "list":
        return f"{_sql_type(t.item, kinds)}[]"
    if t.kind in kinds:
        return kinds[t.kind]
    if t.kind == "rich":
        native = RICH_NATIVE_SQL.get(t.name)
        return native or _sql_type(parse_type(RICH_TYPES[t.name].base), kinds)
    base = BASIC_SQL[t.name]
    if t.args:
        return f"{base}({','.join(str(a) for a in t.args)})"
    return base


def sql_string(value: str) -> str:
    """A SQL string literal: single quotes doubled (standard_conforming_strings is on by
    default since PostgreSQL 9.1, so backslashes need no escaping)."""
    return "'" + value.replace("'", "''") + "'"


def _number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _range_check(col: str, minimum, maximum) -> str | None:
    if minimum is not None and maximum is not None:
        return f"{col} BETWEEN {_number(minimum)} AND {_number(maximum)}"
    if minimum is not None:
        return f"{col} >= {_number(minimum)}"
    if maximum is not None:
        return f"{col} <= {_number(maximum)}"
    return None


def check_expression(column: str, t: TypeRef) -> str | None:
    """Body of the CHECK constraint a column of type ``t`` needs, or None.

    enum: ``col IN ('a', 'b')``; rich with a pattern: ``col ~ '<regex>'``; rich with a range:
    ``col BETWEEN min AND max``; list of enum: ``col <@ ARRAY['a', 'b']::TEXT[]``. Other lists
    get no CHECK (a CHECK cannot loop over elements without a helper function). NULL passes
    every CHECK, as SQL does, so nullable columns need no special case.
    """
    col = quote_ident(column)
    if t.kind == "enum":
        return f"{col} IN ({', '.join(sql_string(v) for v in t.values)})"
    if t.kind == "list" and t.item is not None and t.item.kind == "enum":
        labels = ", ".join(sql_string(v) for v in t.item.values)
        return f"{col} <@ ARRAY[{labels}]::TEXT[]"
    if t.kind != "rich" or t.name in RICH_NATIVE_SQL:
        return None
    rich = RICH_TYPES[t.name]
    parts = []
    if rich.pattern is not None:
        parts.append(f"{col} ~ {sql_string(rich.pattern)}")
    range_check = _range_check(col, rich.minimum, rich.maximum)
    if range_check is not None:
        parts.append(range_check)
    return " AND ".join(parts) or None
