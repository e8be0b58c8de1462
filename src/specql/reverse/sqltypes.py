"""PostgreSQL type text -> SpecQL :class:`~specql.dsl.model.TypeRef` (the reverse of the
generator's type tables), for params, variables and columns.

Accepts what the parse stage and pglast's PL/pgSQL AST give: SQL spellings (``character
varying(20)``, ``timestamp with time zone``, ``NUMERIC(12,2)``, ``text[]``) and catalogue names
(``int4``, ``bool``, ``_text`` for ``text[]``, ``bpchar``). Returns None for a type SpecQL has no
form for (``hstore``, ``tsvector``, composite and row types...): the caller reports it, it is
never silently turned into ``text``.

Lossy on purpose where SpecQL has one type for several SQL ones: every string type is ``text``,
``timestamp`` with or without time zone is ``datetime``, ``real``/``double precision`` are
``float``. Rich scalars whose column type is ``TEXT`` (``email``, ``slug``...) cannot be told
from ``text`` by the type alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

from specql.dsl.model import TypeRef
from specql.dsl.types import parse_type
from specql.errors import SpecqlError

_SQL_TO_SPEC: dict[str, str] = {
    "text": "text",
    "varchar": "text",
    "character varying": "text",
    "char": "text",
    "character": "text",
    "bpchar": "text",
    "citext": "text",
    "name": "text",
    "int": "integer",
    "integer": "integer",
    "int4": "integer",
    "serial": "integer",
    "serial4": "integer",
    "bigint": "bigint",
    "int8": "bigint",
    "bigserial": "bigint",
    "serial8": "bigint",
    "smallint": "smallint",
    "int2": "smallint",
    "smallserial": "smallint",
    "serial2": "smallint",
    "numeric": "numeric",
    "decimal": "numeric",
    "real": "float",
    "float4": "float",
    "float8": "float",
    "float": "float",
    "double precision": "float",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "timestamp": "datetime",
    "timestamptz": "datetime",
    "timestamp with time zone": "datetime",
    "timestamp without time zone": "datetime",
    "time": "time",
    "timetz": "time",
    "time with time zone": "time",
    "time without time zone": "time",
    "interval": "duration",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "json",
    "inet": "ip_address",
    "cidr": "ip_address",
    "macaddr": "mac_address",
    "money": "money",
    "oid": "bigint",  # an unsigned 32-bit number
}

_ARGS = re.compile(r"^(?P<name>[a-z][a-z0-9_ ]*?)\s*\((?P<args>[^()]*)\)(?P<rest>.*)$")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=4096)
def type_from_sql(text: str | None) -> TypeRef | None:
    """The SpecQL type of a PostgreSQL type text, or None when SpecQL has no form for it."""
    if not text:
        return None
    t = _SPACES.sub(" ", text.strip().lower()).replace('"', "")
    if t.startswith("pg_catalog."):
        t = t[len("pg_catalog.") :]
    if t.endswith("[]"):
        item = type_from_sql(t[:-2])
        return _list_of(item)
    if t.startswith("_") and t[1:] in _SQL_TO_SPEC:  # catalogue name of an array type
        return _list_of(type_from_sql(t[1:]))
    if " array" in t and t.endswith(" array"):
        return _list_of(type_from_sql(t[: -len(" array")]))
    args: tuple[int, ...] = ()
    m = _ARGS.match(t)
    if m is not None:
        rest = m.group("rest").strip()
        t = (m.group("name").strip() + (" " + rest if rest else "")).strip()
        try:
            args = tuple(int(a) for a in m.group("args").split(",") if a.strip())
        except ValueError:
            return None
    spec = _SQL_TO_SPEC.get(t)
    if spec is None:
        return None
    if spec == "numeric" and args:
        spec = f"numeric({','.join(str(a) for a in args)})"
    try:
        return parse_type(spec)
    except SpecqlError:  # e.g. numeric(2000)
        return parse_type("numeric")


def _list_of(item: TypeRef | None) -> TypeRef | None:
    if item is None or item.kind in ("list", "ref"):
        return None
    try:
        return parse_type(f"list({item})")
    except SpecqlError:
        return None


__all__ = ["type_from_sql"]
