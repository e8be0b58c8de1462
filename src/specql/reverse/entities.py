"""Entities stage: a parsed table (:class:`~specql.reverse.source.TableInfo`) -> a SpecQL
:class:`~specql.dsl.model.Entity`, with what was recognised, dropped and approximated.

Names:

- the entity name is :func:`specql.reverse.naming.entity_name_for_table` (shared with the steps
  stage, so a table has one name everywhere): ``tb_order_line`` -> ``OrderLine`` exactly (our
  own prefix, never singularised), legacy names lose ``tbl_``/``t_`` and their last word is
  singularised (``order_lines`` -> ``OrderLine``);
- the schema is the table's (``public`` when the SQL did not qualify it);
- a field keeps its column's name; names a spec cannot use are changed and noted: a reserved
  SQL word gets ``_value`` (``order`` -> ``order_value``), other names are snake-cased.

Columns that are not business fields (each listed in ``EntityResult.dropped`` with the reason,
and mapped in ``column_fields`` to the framework name they stand for, or None):

- Trinity: ``pk_<x>`` (the integer key), ``id`` (UUID), ``identifier`` (text);
- a legacy **surrogate** primary key: one integer/bigint/uuid column that is an identity,
  has a sequence or UUID default, or is named ``id``/``<x>_id``. The framework's ``pk_``/``id``
  replace it (the steps stage reads it as ``id``). Any other primary key is **natural**
  (``code char(2)``): it stays a NOT NULL field, with a note;
- ``tenant_id`` (sets the tier to multi-tenant); audit columns ``created_at``, ``updated_at``,
  ``deleted_at`` and their usual legacy spellings when they hold a date/time (``last_update``,
  ``modified_on``, ``created``...) -> the framework's audit column they stand for;
- generated (``GENERATED ALWAYS AS``) columns: the spec has no computed fields.

A boolean ``deleted``/``is_deleted`` column stays a field but is reported as the soft-delete
column, like ``deleted_at``.

Types (column type as the parse stage normalised it -> SpecQL):

- :func:`specql.reverse.sqltypes.type_from_sql` for the basic families (``integer``,
  ``numeric(12,2)`` kept exactly, ``character varying(n)`` -> ``text``, ``timestamp[tz]`` ->
  ``datetime``, ``interval`` -> ``duration``, ``jsonb`` -> ``json``, ``inet`` ->
  ``ip_address``, ``macaddr`` -> ``mac_address``, arrays -> ``list(x)``);
- the generator's own CHECKs come back as their type: ``IN (...)``/``= ANY (ARRAY[...])`` ->
  ``enum(...)`` (``<@ ARRAY[...]`` on an array -> ``list(enum(...))``), a rich type's regex
  or range -> that rich type (``email``, ``percentage``, ``port``...); ``numeric(19,4)`` ->
  ``money`` (the generator's column for money; there is no CHECK to tell them apart);
- foreign keys -> ``ref(Entity)``, ``ref(schema.Entity)`` across schemas; the field is named
  after the column without ``fk_``/``id_``/``_id`` (``fk_company``, ``company_id`` ->
  ``company``);
- user types from the parsed ``CREATE TYPE``/``CREATE DOMAIN``: enums -> ``enum(...)``,
  domains -> their base type (and their NOT NULL/CHECKs), composites -> ``json``.

Indexes (``CREATE [UNIQUE] INDEX`` on the table) become ``indexes:`` entries on the fields their
columns are (a ref field for its key column, ``created_at``... for the audit columns), an
expression with its columns renamed the same way. Left out without a word: the indexes the
generated table has anyway (one column that is a ref's key, unless unique; ``id``,
``identifier``, ``tenant_id`` alone) and those on exactly the columns of the primary key or of a
UNIQUE constraint. A name equal to the one the generator would give is dropped, so the index
comes back the same. An index a spec cannot say (partial, ``USING gin``, ``INCLUDE``, ``DESC``,
an operator class, a column that is no field...) is a warning note, and not kept.

Nothing becomes ``text`` silently. Lossy mappings append ``legacy type: <sql type>`` to the
field's description and add a note: ``info`` for lengths (``character varying(120)``),
``warning`` for the closest type of a type SpecQL has no form for (``bytea`` -> ``text``,
``hstore`` -> ``json``, a composite -> ``json``), ``error`` for a type nothing is known about
(an undeclared domain): it is emitted as ``text`` so the spec still loads, and listed in
``unknown_types`` for the report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from specql.dsl.model import RESERVED_FIELD_NAMES, Entity, Field, Index, TypeRef
from specql.dsl.types import RICH_TYPES, parse_type
from specql.dsl.validator import (
    ALWAYS_INDEXED,
    MAX_NAME_LENGTH,
    RESERVED_PREFIXES,
    SQL_RESERVED,
)
from specql.errors import SourcePos, SpecqlError
from specql.generators.postgres.naming import spec_index_name
from specql.reverse.naming import entity_name_for_table, snake
from specql.reverse.source import ColumnInfo, IndexInfo, TableInfo, TypeInfo
from specql.reverse.sqlmap import Untranslatable, spec_expression
from specql.reverse.sqltypes import type_from_sql

__all__ = ["EntityNote", "EntityResult", "table_to_entity", "tables_to_entities"]

FRAMEWORK_SCHEMAS = frozenset({"common", "app", "core"})

AUDIT_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "created_at",
            "created",
            "created_on",
            "create_date",
            "created_date",
            "creation_date",
            "date_created",
            "inserted_at",
        ),
        "created_at",
    ),
    **dict.fromkeys(
        (
            "updated_at",
            "updated",
            "updated_on",
            "update_date",
            "updated_date",
            "modified",
            "modified_at",
            "modified_on",
            "date_modified",
            "last_update",
            "last_updated",
            "last_modified",
            "changed_at",
        ),
        "updated_at",
    ),
    **dict.fromkeys(("deleted_at", "deleted_on"), "deleted_at"),
}
SOFT_DELETE_FLAGS = frozenset({"deleted", "is_deleted"})

_INTEGER_KEYS = frozenset({"integer", "bigint", "smallint", "uuid"})
_SURROGATE_DEFAULT = re.compile(r"^(nextval\(|gen_random_uuid\(|uuid_generate_v[14]\()", re.I)
_ENUM_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LOWER_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")
_DATETIME_TYPES = ("timestamp", "date")

# Types SpecQL has no form for, and the closest one (a warning says so).
_CLOSEST: dict[str, str] = {
    "bytea": "text",
    "xml": "text",
    "tsvector": "text",
    "tsquery": "text",
    "hstore": "json",
    "bit": "text",
    "bit varying": "text",
    "macaddr8": "text",
    "oid": "bigint",
    "xid": "bigint",
    "tid": "text",
    "regclass": "text",
    "regproc": "text",
    "regtype": "text",
    '"char"': "text",
    "point": "text",
    "line": "text",
    "lseg": "text",
    "box": "text",
    "path": "text",
    "polygon": "text",
    "circle": "text",
    "int4range": "text",
    "int8range": "text",
    "numrange": "text",
    "tsrange": "text",
    "tstzrange": "text",
    "daterange": "text",
    "ltree": "text",
    "geometry": "text",
    "geography": "text",
}


@dataclass(slots=True)
class EntityNote:
    level: str  # info | warning | error
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"{self.column}: " if self.column else ""
        return f"{self.level}: {where}{self.message}"


@dataclass(slots=True)
class EntityResult:
    entity: Entity
    table: TableInfo
    tier: str  # multi_tenant | shared | framework
    trinity: bool  # pk_<entity>, id UUID and identifier TEXT all present
    tenant_column: str | None = None  # 'tenant_id' when the table has one
    audit_columns: dict[str, str] = field(default_factory=dict)  # column -> framework column
    soft_delete_column: str | None = None  # deleted_at, or a boolean deleted/is_deleted
    surrogate_key: str | None = None  # the key column the framework's pk_/id replace
    # every column -> the field it became; framework columns -> their framework name
    # ('pk', 'id', 'identifier', 'tenant_id', 'created_at'...); None when it has no spec form
    column_fields: dict[str, str | None] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a field
    notes: list[EntityNote] = field(default_factory=list)
    unknown_types: dict[str, str] = field(default_factory=dict)  # column -> SQL type

    @property
    def errors(self) -> list[EntityNote]:
        return [n for n in self.notes if n.level == "error"]

    def note(self, level: str, message: str, column: str | None = None) -> None:
        self.notes.append(EntityNote(level, message, column))


# --------------------------------------------------------------------------- lookups


class _Tables:
    def __init__(self, tables: Iterable[TableInfo]) -> None:
        self.exact: dict[tuple[str | None, str], TableInfo] = {}
        self.by_name: dict[str, list[TableInfo]] = {}
        self.entity_schemas: dict[str, set[str]] = {}  # entity name -> schemas that have it
        for t in tables:
            self.exact[(t.schema, t.name)] = t
            self.by_name.setdefault(t.name, []).append(t)
            name = entity_name_for_table(t.schema, t.name)
            self.entity_schemas.setdefault(name, set()).add(t.schema or "public")

    def find(self, schema: str | None, name: str, near: str | None) -> TableInfo | None:
        if schema is not None:
            found = self.exact.get((schema, name))
            if found is None and schema == "public":
                found = self.exact.get((None, name))
            return found
        for key in (near, None, "public"):
            if (key, name) in self.exact:
                return self.exact[(key, name)]
        same = self.by_name.get(name, [])
        return same[0] if len(same) == 1 else None


_LAST_INDEXES: list = []  # [all_tables, types, sizes, indexes] of the previous call
_SIZED = (Mapping, list, tuple)


def _indexes(all_tables, types) -> tuple[_Tables, dict]:
    """Lookups over the run's tables and types, built once when a run calls
    :func:`table_to_entity` table by table with the same collections (not O(tables^2))."""
    cacheable = isinstance(all_tables, _SIZED) and (types is None or isinstance(types, _SIZED))
    sizes = (len(all_tables), len(types or ())) if cacheable else None
    if cacheable and _LAST_INDEXES:
        last_tables, last_types, last_sizes, indexes = _LAST_INDEXES
        if last_tables is all_tables and last_types is types and last_sizes == sizes:
            return indexes
    tables = _Tables(all_tables.values() if isinstance(all_tables, Mapping) else all_tables)
    indexes = (tables, _type_index(types))
    if cacheable:
        _LAST_INDEXES[:] = [all_tables, types, sizes, indexes]
    return indexes


def _type_index(types) -> dict[tuple[str | None, str], TypeInfo]:
    items = types.values() if isinstance(types, Mapping) else (types or ())
    return {(t.schema, t.name): t for t in items}


def _find_type(index, sql_type: str, near: str | None) -> TypeInfo | None:
    schema, _, name = sql_type.rpartition(".")
    name = name.strip('"')
    if schema:
        return index.get((schema.strip('"'), name))
    for key in (near, None, "public"):
        if (key, name) in index:
            return index[(key, name)]
    same = [t for (s, n), t in index.items() if n == name]
    return same[0] if len(same) == 1 else None


# --------------------------------------------------------------------------- types


def _base_name(sql_type: str) -> str:
    return re.sub(r"\(.*?\)", "", sql_type).replace("[]", "").strip()


def _args(sql_type: str) -> str | None:
    m = re.search(r"\(([^()]*)\)", sql_type)
    return m.group(1) if m else None


def _rich_for(col: ColumnInfo, base: TypeRef | None) -> TypeRef | None:
    """The rich type whose generated CHECK (and column type) the column has."""
    if base is None:
        return None
    for rich in RICH_TYPES.values():
        if rich.pattern is None and rich.minimum is None and rich.maximum is None:
            continue
        if (rich.pattern or None) != col.check_regex:
            continue
        if rich.minimum != col.check_min or rich.maximum != col.check_max:
            continue
        if rich.base_type == base:
            return TypeRef("rich", rich.name)
    return None


@dataclass(slots=True)
class _Mapped:
    type: TypeRef
    legacy: str | None = None  # appended to the description when the mapping lost something
    not_null: bool = False  # a domain's NOT NULL
    checks_used: bool = False  # the column's structured CHECK became the type


def _map_type(
    col: ColumnInfo, sql_type: str, result: EntityResult, types, near: str | None, depth: int = 0
) -> _Mapped:
    name = col.name
    array = sql_type.endswith("[]")
    base_name = _base_name(sql_type)
    if col.check_values and array:
        item = _enum_type(col.check_values, result, name)
        if item is not None:
            return _Mapped(TypeRef("list", "list", item=item), checks_used=True)
    if col.check_values and not array:
        enum = _enum_type(col.check_values, result, name)
        if enum is not None:
            return _Mapped(enum, checks_used=True)
    spec = type_from_sql(sql_type)
    if (
        spec is not None
        and not array
        and (col.check_regex or col.check_min is not None or col.check_max is not None)
    ):
        rich = _rich_for(col, spec)
        if rich is not None:
            return _Mapped(rich, checks_used=True)
    if spec is not None:
        mapped = _Mapped(spec)
        if spec == parse_type("numeric(19,4)"):
            mapped.type = TypeRef("rich", "money")
            result.note("info", "numeric(19,4) read as money (the generator's money column)", name)
        elif base_name in ("character varying", "character", "citext", "name", "bpchar"):
            if _args(sql_type) or base_name != "character varying":
                mapped.legacy = sql_type
                result.note("info", f"{sql_type} is text in SpecQL (length not kept)", name)
        elif base_name == "cidr" or base_name == "money":
            mapped.legacy = sql_type
            result.note("warning", f"{sql_type} read as {spec} (closest SpecQL type)", name)
        elif base_name in ("timestamp without time zone", "time with time zone"):
            result.note("info", f"{sql_type} read as {spec}", name)
        return mapped
    if array:
        item_col = ColumnInfo(name, sql_type[:-2])
        item = _map_type(item_col, sql_type[:-2], result, types, near, depth + 1)
        if item.type.kind not in ("list", "ref"):
            return _Mapped(TypeRef("list", "list", item=item.type), legacy=item.legacy)
    closest = _CLOSEST.get(base_name)
    if closest is not None:
        result.note("warning", f"{sql_type} has no SpecQL type: read as {closest} (closest)", name)
        return _Mapped(parse_type(closest), legacy=sql_type)
    user = _find_type(types, base_name, near) if depth < 5 else None
    if user is not None:
        return _user_type(col, user, result, types, near, depth)
    result.unknown_types[name] = sql_type
    result.note(
        "error",
        f"unknown type {sql_type}: no CREATE TYPE/DOMAIN for it was parsed; emitted as text",
        name,
    )
    return _Mapped(parse_type("text"), legacy=sql_type)


def _user_type(col, user: TypeInfo, result, types, near, depth) -> _Mapped:
    name = col.name
    if user.kind == "enum":
        enum = _enum_type(user.values, result, name)
        if enum is not None:
            result.note("info", f"enum type {user.qualified_name} read as {enum}", name)
            return _Mapped(enum)
        return _Mapped(parse_type("text"), legacy=user.qualified_name)
    if user.kind == "domain" and user.base is not None:
        base = user.base
        mapped = _map_type(base, base.sql_type, result, types, user.schema or near, depth + 1)
        mapped.not_null = base.not_null
        mapped.legacy = mapped.legacy or user.qualified_name
        result.note("info", f"domain {user.qualified_name} read as {mapped.type}", name)
        for check in user.checks:
            result.note(
                "warning", f"CHECK ({check}) of domain {user.qualified_name} not kept", name
            )
        return mapped
    result.note(
        "warning",
        f"composite type {user.qualified_name} has no SpecQL type: read as json (closest)",
        name,
    )
    return _Mapped(parse_type("json"), legacy=user.qualified_name)


def _enum_type(values: tuple[str, ...], result: EntityResult, column: str) -> TypeRef | None:
    labels = tuple(dict.fromkeys(values))
    if labels and all(_ENUM_LABEL.match(v) for v in labels):
        return TypeRef("enum", "enum", values=labels)
    shown = ", ".join(repr(v) for v in values)
    result.note(
        "warning",
        f"CHECK values {shown} are not identifiers, which enum labels must be: kept the "
        "column's own type",
        column,
    )
    return None


# --------------------------------------------------------------------------- names


def _field_name(column: str, taken: set[str], result: EntityResult) -> str:
    name = column
    if not _LOWER_IDENT.match(name):
        name = snake(name) or "value"
        if name[0].isdigit():
            name = f"f_{name}"
    if name in SQL_RESERVED or name in RESERVED_FIELD_NAMES or name.startswith(RESERVED_PREFIXES):
        name = f"{name.removeprefix('pk_').removeprefix('fk_')}_value"
    if len(name) > MAX_NAME_LENGTH:
        name = name[:MAX_NAME_LENGTH]
    base, n = name, 2
    while name in taken:
        name = f"{base[: MAX_NAME_LENGTH - 3]}_{n}"
        n += 1
    if name != column:
        result.note("info", f"column {column!r} is the field {name!r}", column)
    return name


def _ref_field_name(column: str) -> str:
    for prefix in ("fk_", "id_"):
        if column.startswith(prefix) and len(column) > len(prefix):
            return column[len(prefix) :]
    if column.endswith("_id") and len(column) > 3:
        return column[:-3]
    return column


# --------------------------------------------------------------------------- the stage


def _is_surrogate(table: TableInfo, col: ColumnInfo) -> bool:
    if _base_name(col.sql_type) not in _INTEGER_KEYS or col.sql_type.endswith("[]"):
        return False
    if col.is_identity or (col.default and _SURROGATE_DEFAULT.match(col.default)):
        return True
    return col.name in ("id", f"{table.name}_id") or col.name.endswith("_id")


def _drop(result: EntityResult, column: str, why: str, as_: str | None = None) -> None:
    result.dropped[column] = why
    result.column_fields[column] = as_


def table_to_entity(
    table: TableInfo,
    all_tables: Mapping[str, TableInfo] | Iterable[TableInfo] = (),
    types: Mapping[str, TypeInfo] | Iterable[TypeInfo] | None = None,
) -> EntityResult:
    """The entity of one table. ``all_tables`` (any mapping or list of the run's tables)
    resolves references; ``types`` (the run's ``SqlModule.types``) resolves user types."""
    tables, type_index = _indexes(all_tables, types)
    schema = table.schema or "public"
    entity_schema = schema if _LOWER_IDENT.match(schema) else snake(schema)
    entity = Entity(
        name=entity_name_for_table(table.schema, table.name),
        schema=entity_schema,
        description=table.comment,
        pos=table.pos,
    )
    columns = {c.name for c in table.columns}
    trinity_pk = f"pk_{snake(entity.name)}"
    pk_cols = table.primary_key or tuple(c.name for c in table.columns if c.primary_key)
    has_id = (c := table.column("id")) is not None and c.sql_type == "uuid"
    has_identifier = (c := table.column("identifier")) is not None and c.sql_type == "text"
    trinity = trinity_pk in columns and has_id and has_identifier
    result = EntityResult(entity, table, tier="shared", trinity=trinity)
    if entity_schema != schema:
        result.note("warning", f"schema {schema!r} is the spec schema {entity_schema!r}")
    if "tenant_id" in columns:
        result.tenant_column = "tenant_id"
        result.tier = "multi_tenant"
    elif schema in FRAMEWORK_SCHEMAS:
        result.tier = "framework"

    surrogate = None
    if len(pk_cols) == 1:
        key = table.column(pk_cols[0])
        if key is not None and (key.name.startswith("pk_") or _is_surrogate(table, key)):
            surrogate = key.name
    elif len(pk_cols) > 1:
        result.note(
            "warning",
            f"composite primary key ({', '.join(pk_cols)}) has no SpecQL form: "
            "its columns are NOT NULL fields",
        )
    result.surrogate_key = surrogate

    taken: set[str] = set()
    refs = _single_column_refs(table)
    for col in table.columns:
        name = col.name
        if name == surrogate:
            why = (
                "Trinity primary key"
                if name == trinity_pk
                else "surrogate primary key: the framework's pk_/id replace it"
            )
            _drop(result, name, why, "pk" if name.startswith("pk_") else "id")
            continue
        if name.startswith("pk_") and name == trinity_pk:
            _drop(result, name, "Trinity key column", "pk")
            continue
        if name == "id":
            why = "Trinity id" if col.sql_type == "uuid" else "reserved name: the framework's id"
            _drop(result, name, why, "id")
            if col.sql_type != "uuid":
                result.note("warning", f"column id ({col.sql_type}) is not a UUID: dropped", name)
            continue
        if name == "identifier":
            _drop(result, name, "Trinity identifier", "identifier")
            if col.sql_type != "text":
                result.note("warning", f"column identifier is {col.sql_type}, not text", name)
            continue
        if name == "tenant_id":
            _drop(result, name, "tenant column: the schema's tier decides it", "tenant_id")
            continue
        audit = AUDIT_ALIASES.get(name)
        if audit is not None and _base_name(col.sql_type).startswith(_DATETIME_TYPES):
            result.audit_columns[name] = audit
            why = "audit column" if name == audit else f"audit column, read as {audit}"
            _drop(result, name, why, audit)
            if audit == "deleted_at":
                result.soft_delete_column = name
            continue
        if col.generated is not None:
            _drop(result, name, f"generated column ({col.generated})")
            result.note("warning", f"GENERATED ALWAYS AS ({col.generated}) not kept", name)
            continue
        if name in SOFT_DELETE_FLAGS and col.sql_type == "boolean":
            result.soft_delete_column = name
            result.note("info", "boolean soft-delete flag (the framework uses deleted_at)", name)
        fld = _field(table, col, refs.get(name), tables, type_index, result, taken)
        taken.add(fld.name)
        result.column_fields[name] = fld.name
        entity.fields.append(fld)

    for check in table.checks:
        result.note("warning", f"CHECK ({check}) has no SpecQL form: not kept")
    for key in table.unique_keys:
        if len(key) > 1 or (key[0] not in result.dropped and key[0] != surrogate):
            result.note("info", f"UNIQUE ({', '.join(key)}) has no SpecQL form: not kept")
    for info in table.indexes:
        _add_index(result, info)
    for note in table.notes:
        result.note("warning", note)
    return result


def _add_index(result: EntityResult, info: IndexInfo) -> None:
    """``info`` as an ``indexes:`` entry of the entity (see the module docstring)."""
    entity, table = result.entity, result.table
    label = f"index {info.name or '(unnamed)'}"
    if info.unsupported is not None:
        result.note("warning", f"{label}: {info.unsupported} has no SpecQL form: not kept")
        return
    spec_names = {c: f for c, f in result.column_fields.items() if f not in (None, "pk")}
    if info.expression is None:
        if info.columns in {table.primary_key, *table.unique_keys}:
            return  # the constraint's own index says it all
        fields = [spec_names.get(c) for c in info.columns]
        if None in fields:
            others = [c for c, f in zip(info.columns, fields, strict=True) if f is None]
            result.note(
                "warning", f"{label} is on {', '.join(others)}, which is no field: not kept"
            )
            return
        if len(fields) == 1 and _indexed_anyway(entity, fields[0], info.unique):
            return
        index = Index(fields=fields, unique=info.unique, pos=info.pos)
    else:
        try:
            expression = spec_expression(info.expression, spec_names)
        except Untranslatable as exc:
            result.note("warning", f"{label} ({info.expression}): {exc.reason}: not kept")
            return
        index = Index(expression=expression, unique=info.unique, pos=info.pos)
    if info.name is not None and info.name != spec_index_name(entity.name, index):
        if _LOWER_IDENT.match(info.name):
            index.name = info.name
        else:
            result.note("info", f"{label}: the name is no lower-case identifier: not kept")
    entity.indexes.append(index)


def _indexed_anyway(entity: Entity, name: str, unique: bool) -> bool:
    """The generated table indexes this one field (or framework column) anyway."""
    field = entity.field_named(name)
    return name in ALWAYS_INDEXED or (field is not None and field.type.kind == "ref" and not unique)


def _single_column_refs(table: TableInfo) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    refs = {}
    for fk in table.foreign_keys:
        if len(fk.columns) == 1:
            refs[fk.columns[0]] = (fk.ref_schema, fk.ref_table, fk.ref_columns)
    for col in table.columns:
        if col.references is not None and col.name not in refs:
            schema, name, column = col.references
            refs[col.name] = (schema, name, (column,) if column else ())
    return refs


def _field(table, col, ref, tables, types, result, taken) -> Field:
    name = col.name
    description = col.comment
    nullable = not col.not_null
    default = col.default
    type_ = _ref_type(table, col, ref, tables, result) if ref is not None else None
    if type_ is not None:
        fld_name = _ref_field_name(name)
        if (
            fld_name in taken
            or not _LOWER_IDENT.match(fld_name)
            or fld_name in SQL_RESERVED
            or fld_name in RESERVED_FIELD_NAMES
            or fld_name.startswith(RESERVED_PREFIXES)
        ):
            fld_name = name  # user_id stays user_id: 'user' is a reserved word
        fld_name = _field_name(fld_name, taken, result)
        if fld_name != name and not name.startswith("fk_"):
            result.note("info", f"foreign key {name} is the ref field {fld_name}", name)
        if default is not None:
            result.note("warning", f"default {default} of a ref dropped (refs have none)", name)
            default = None
        return Field(fld_name, type_, nullable, None, description, pos=table.pos)
    mapped = _map_type(col, col.sql_type, result, types, table.schema)
    if mapped.not_null:
        nullable = False
    if mapped.legacy:
        suffix = f"legacy type: {mapped.legacy}"
        description = f"{description} ({suffix})" if description else suffix
    if not mapped.checks_used:
        _unused_checks(col, result)
    default = _field_default(col, default, mapped.type, result)
    if col.is_identity:
        result.note("warning", "identity column: its generated values are not kept", name)
    if col.primary_key:
        result.note("info", "natural primary key kept as a NOT NULL field", name)
        nullable = False
    fld_name = _field_name(name, taken, result)
    return Field(fld_name, mapped.type, nullable, default, description, pos=table.pos)


def _unused_checks(col: ColumnInfo, result: EntityResult) -> None:
    if col.check_regex is not None:
        result.note("warning", f"CHECK ({col.name} ~ '{col.check_regex}') not kept", col.name)
    if col.check_min is not None or col.check_max is not None:
        lo = "" if col.check_min is None else f"{col.check_min} <= "
        hi = "" if col.check_max is None else f" <= {col.check_max}"
        result.note("warning", f"CHECK ({lo}{col.name}{hi}) not kept", col.name)


def _field_default(col: ColumnInfo, default: str | None, t: TypeRef, result) -> str | None:
    if default is None:
        return None
    if default.lower().startswith("nextval("):
        result.note("warning", f"sequence default {default} dropped", col.name)
        return None
    labels = t.values if t.kind == "enum" else ()
    if labels and default.startswith("'") and default.endswith("'"):
        label = default[1:-1].replace("''", "'")
        if label in labels:
            return label
    if labels and default not in labels:
        result.note(
            "warning", f"default {default} is not one of the enum labels: dropped", col.name
        )
        return None
    return default


def _ref_type(table: TableInfo, col: ColumnInfo, ref, tables: _Tables, result) -> TypeRef | None:
    """``ref(Entity)`` (qualified when the target is in another schema or its entity name is
    in several schemas), or None when the referenced table was not parsed."""
    ref_schema, ref_table, ref_columns = ref
    target = tables.find(ref_schema, ref_table, table.schema)
    if target is None:
        result.note(
            "warning",
            f"references {'.'.join(p for p in (ref_schema, ref_table) if p)}, which is not "
            "among the parsed tables: kept as a plain field",
            col.name,
        )
        return None
    target_schema = target.schema or "public"
    target_name = entity_name_for_table(target.schema, target.name)
    if ref_columns and target.primary_key and tuple(ref_columns) != tuple(target.primary_key):
        result.note(
            "warning",
            f"references {ref_table}({', '.join(ref_columns)}), not its primary key: "
            "read as a ref to the row",
            col.name,
        )
    if _base_name(col.sql_type) not in ("integer", "bigint", "smallint"):
        result.note(
            "info", f"foreign key of type {col.sql_type} becomes a ref (an integer key)", col.name
        )
    own_schema = table.schema or "public"
    ambiguous = len(tables.entity_schemas.get(target_name, ())) > 1
    qualifier = target_schema if target_schema != own_schema or ambiguous else None
    return TypeRef("ref", "ref", target=target_name, target_schema=qualifier)


def tables_to_entities(
    tables: Iterable[TableInfo], types: Iterable[TypeInfo] | None = None
) -> list[EntityResult]:
    """:func:`table_to_entity` for every table of a run (each resolves refs among all)."""
    tables = list(tables)
    return [table_to_entity(t, tables, types) for t in tables]


def entity_error(result: EntityResult) -> SpecqlError | None:
    """The first error note as a positioned SpecqlError (for reports), None without one."""
    errors = result.errors
    if not errors:
        return None
    first = errors[0]
    pos = result.table.pos or SourcePos()
    return SpecqlError(f"{result.table.qualified_name}.{first.column}: {first.message}", pos)
