"""SpecQL types -> SQLAlchemy column types and Python annotations (type-mapping tables).

Each type maps to the same PostgreSQL column type as the SQL target
(:mod:`specql.generators.postgres.types`), so the models fit the tables it creates and
``create_all`` creates the same ones. Rich scalars take their base type's mapping unless
PostgreSQL has a native type for them; their CHECK is the SQL target's own text.
"""

from __future__ import annotations

from dataclasses import dataclass

from specql.dsl.model import TypeRef
from specql.dsl.types import RICH_TYPES, parse_type


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A column type as source text: ``sqlalchemy`` builds the SQLAlchemy type, ``python`` is
    the ``Mapped[...]`` annotation of its values; ``modules`` are the module aliases both use
    (``sa``, ``pg``, ``decimal``...)."""

    sqlalchemy: str
    python: str
    modules: frozenset[str]


def _mapping(sqlalchemy: str, python: str) -> ColumnType:
    """A table entry; its modules are the aliases its dotted names start with."""
    modules = {text.split(".", 1)[0] for text in (sqlalchemy, python) if "." in text}
    return ColumnType(sqlalchemy, python, frozenset(modules))


# Basic type name -> mapping; ``{args}`` takes the type's numeric arguments (numeric(p,s)).
BASIC_TYPES: dict[str, ColumnType] = {
    "text": _mapping("sa.Text({args})", "str"),
    "integer": _mapping("sa.Integer({args})", "int"),
    "bigint": _mapping("sa.BigInteger({args})", "int"),
    "smallint": _mapping("sa.SmallInteger({args})", "int"),
    "numeric": _mapping("sa.Numeric({args})", "decimal.Decimal"),
    "float": _mapping("sa.Double({args})", "float"),
    "boolean": _mapping("sa.Boolean({args})", "bool"),
    "date": _mapping("sa.Date({args})", "datetime.date"),
    "datetime": _mapping("sa.DateTime(timezone=True)", "datetime.datetime"),
    "time": _mapping("sa.Time({args})", "datetime.time"),
    "duration": _mapping("sa.Interval({args})", "datetime.timedelta"),
    "uuid": _mapping("sa.Uuid({args})", "uuid.UUID"),
    "json": _mapping("pg.JSONB({args})", "typing.Any"),
}

# Rich scalars with a native PostgreSQL type (the SQL target gives them no regex CHECK).
# SQLAlchemy with psycopg 3 reads INET as ipaddress objects (it takes text too), MACADDR as text.
RICH_NATIVE_TYPES: dict[str, ColumnType] = {
    "ip_address": _mapping("pg.INET()", "ipaddress.IPv4Address | ipaddress.IPv6Address"),
    "mac_address": _mapping("pg.MACADDR()", "str"),
}

# Enums are TEXT with a CHECK (plus a StrEnum of the labels); a ref is the fk_ INTEGER column.
KIND_TYPES: dict[str, ColumnType] = {
    "enum": _mapping("sa.Text()", "str"),
    "ref": _mapping("sa.Integer()", "int"),
}


def column_type(t: TypeRef) -> ColumnType:
    """The mapping of a field type. A list is one ``pg.ARRAY`` of its innermost item type with
    as many dimensions as it nests (SQLAlchemy does not nest ARRAY types)."""
    if t.kind == "list":
        item, dimensions = t, 0
        while item.kind == "list" and item.item is not None:
            item, dimensions = item.item, dimensions + 1
        inner = column_type(item)
        dims = f", dimensions={dimensions}" if dimensions > 1 else ""
        python = inner.python
        for _ in range(dimensions):
            python = f"list[{python}]"
        return ColumnType(f"pg.ARRAY({inner.sqlalchemy}{dims})", python, inner.modules | {"pg"})
    if t.kind in KIND_TYPES:
        return KIND_TYPES[t.kind]
    if t.kind == "rich":
        return RICH_NATIVE_TYPES.get(t.name) or column_type(parse_type(RICH_TYPES[t.name].base))
    base = BASIC_TYPES[t.name]
    args = ", ".join(str(a) for a in t.args)
    return ColumnType(base.sqlalchemy.format(args=args), base.python, base.modules)
