"""Entity tables as the steps stage sees them: which table is which entity, and which column is
which field.

A column of an entity table reads in a spec as:

- a plain field: the column of the same name;
- a ``ref`` field: its key column, ``fk_<field>`` (generated tables) or a legacy foreign key
  column (``customer_id`` referencing the target's table, or named ``<field>_id``/``<field>``);
  the spec reads the referenced row's UUID where the legacy SQL read the integer key (the
  Trinity migration turns keys into UUIDs);
- the framework columns as they are (``id``, ``identifier``, ``tenant_id``, ``created_at``,
  ``updated_at``, ``deleted_at``); a legacy single-column primary key (``customer_id``) reads as
  ``id`` for the same reason a foreign key reads as the ref.

Any other column has no spec name: SQL using it cannot be converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from specql.dsl.model import Entity, Field
from specql.dsl.types import parse_type
from specql.reverse.naming import entity_name_for_table, snake
from specql.reverse.source import TableInfo, TypeInfo

FRAMEWORK_COLUMNS = frozenset(
    {"id", "identifier", "tenant_id", "created_at", "updated_at", "deleted_at"}
)
_CHECK_TYPE = parse_type("text")
_CHECK_DEFAULT = "NULL"


@dataclass(eq=False)
class EntityTable:
    schema: str | None
    table: str
    entity: Entity
    spec_name: str = ""  # how steps and FROM clauses name it: Contact, or crm.Contact
    columns: set[str] = field(default_factory=set)  # every physical column
    field_by_column: dict[str, str] = field(default_factory=dict)
    ref_columns: dict[str, str] = field(default_factory=dict)  # fk column -> ref field
    ref_targets: dict[str, str] = field(default_factory=dict)  # ref field -> target entity name
    pk: str | None = None  # the integer key column (pk_<entity> or the legacy primary key)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def default_alias(self) -> str:
        """The alias the generator gives the table when a spec names it without one."""
        return snake(self.entity.name)

    def spec_column(self, column: str) -> str | None:
        """The spec name of a column (a field, ``id``...), None when it has none."""
        return self.field_by_column.get(column)

    def column_for(self, field_name: str) -> str | None:
        for column, name in self.field_by_column.items():
            if (name == field_name and column not in FRAMEWORK_COLUMNS) or (
                name == field_name and column == field_name
            ):
                return column
        return None

    def has_field(self, name: str) -> bool:
        return self.entity.field_named(name) is not None


class EntityTables:
    """The entity tables of one reverse run, looked up the way SQL names them."""

    def __init__(
        self,
        tables: Iterable[EntityTable],
        infos: Mapping[str, TableInfo] | None = None,
        types: Iterable[TypeInfo] | None = None,
    ) -> None:
        self.all = list(tables)
        self.infos: dict[str, TableInfo] = dict(infos or {})  # every table, entity or not
        self._types: dict[str, TypeInfo] = {}
        for t in types or ():
            self._types.setdefault(t.qualified_name.lower(), t)
            self._types.setdefault(t.name.lower(), t)
        self._by_qualified = {t.qualified: t for t in self.all}
        self._by_table: dict[str, list[EntityTable]] = {}
        self._by_entity: dict[str, list[EntityTable]] = {}
        self._names_of_table: dict[str, frozenset[str]] = {}
        self._info_names: frozenset[str] | None = None
        self._step_checks: dict[EntityTable, Entity] = {}
        for t in self.all:
            self._by_table.setdefault(t.table, []).append(t)
            self._by_entity.setdefault(t.entity.name, []).append(t)
        for t in self.all:
            same = self._by_entity[t.entity.name]
            t.spec_name = f"{t.entity.schema}.{t.entity.name}" if len(same) > 1 else t.entity.name

    def lookup(self, schema: str | None, table: str) -> EntityTable | None:
        """The entity table ``schema.table`` (``schema`` None: the only table of that name)."""
        if schema is not None:
            return self._by_qualified.get(f"{schema}.{table}")
        found = self._by_table.get(table, [])
        if len(found) == 1:
            return found[0]
        public = [t for t in found if t.schema in (None, "public")]
        return public[0] if len(public) == 1 else None

    def user_type(self, name: str) -> TypeInfo | None:
        """A user type (enum, domain, composite) by ``schema.name`` or bare name."""
        return self._types.get(name.lower()) or self._types.get(name.lower().rpartition(".")[2])

    def names_of_table(self, table: str) -> frozenset[str]:
        """Every column and field name of the entity tables called ``table`` (any schema)."""
        cached = self._names_of_table.get(table)
        if cached is None:
            names: set[str] = set()
            for t in self._by_table.get(table, ()):
                names |= t.columns
                names |= set(t.field_by_column.values())
            cached = self._names_of_table[table] = frozenset(names)
        return cached

    def info_names(self) -> frozenset[str]:
        """The bare names of every table of the run (entity tables or not)."""
        if self._info_names is None:
            self._info_names = frozenset(i.name for i in self.infos.values())
        return self._info_names

    def step_check(self, t: EntityTable) -> Entity:
        """``t``'s entity as the steps stage validates actions against it: what the checks of
        steps read (name, schema, each field's name, nullability and whether it has a
        default) and nothing else. Field types and defaults are checked once, by assembly:
        here a ``ref`` to an entity outside the action's few would be an error ignored after
        the cost of a "did you mean" search over every entity name, for each function."""
        found = self._step_checks.get(t)
        if found is None:
            e = t.entity
            fields = [
                Field(
                    name=f.name,
                    type=_CHECK_TYPE,
                    nullable=f.nullable,
                    default=None if f.default is None else _CHECK_DEFAULT,
                )
                for f in e.fields
            ]
            found = Entity(name=e.name, schema=e.schema, fields=fields, pos=e.pos)
            self._step_checks[t] = found
        return found

    def by_entity(self, name: str) -> EntityTable | None:
        found = self._by_entity.get(name, [])
        return found[0] if len(found) == 1 else None

    def by_qualified(self, qualified: str) -> EntityTable | None:
        return self._by_qualified.get(qualified)

    @classmethod
    def build(
        cls,
        tables: Mapping[str, TableInfo] | Iterable[TableInfo] | None,
        entities: Mapping[str, Entity] | Iterable[Entity] | None,
        types: Iterable[TypeInfo] | None = None,
    ) -> EntityTables:
        """Match entities to tables.

        ``entities`` maps a qualified table name (``crm.tb_contact``) to its entity, or is a
        plain list of entities (matched to ``tables`` by :func:`entity_name_for_table` and
        schema, else to ``<schema>.tb_<snake name>``). Instead of an Entity, an item may be the
        entities stage's result (anything with ``entity``, ``table`` and ``column_fields``): its
        column -> field map is then used as it is (renamed fields, legacy audit columns).
        ``tables`` gives the physical columns; without it the columns are those the generator
        would create.
        """
        infos: dict[str, TableInfo] = {}
        if tables is not None:
            items = tables.values() if isinstance(tables, Mapping) else tables
            for info in items:
                infos[info.qualified_name] = info
        pairs: list[tuple[str, Entity]] = []
        column_maps: dict[str, dict[str, str | None]] = {}
        items = list(entities.items()) if isinstance(entities, Mapping) else None
        if items is None and entities is not None:
            by_name = {
                (i.schema, entity_name_for_table(i.schema, i.name)): q for q, i in infos.items()
            }
            items = []
            for e in entities:
                if hasattr(e, "column_fields") and hasattr(e, "table"):
                    items.append((e.table.qualified_name, e))
                    continue
                q = by_name.get((e.schema, e.name)) or f"{e.schema}.tb_{snake(e.name)}"
                items.append((q, e))
        for q, e in items or ():
            if hasattr(e, "column_fields") and hasattr(e, "entity"):
                column_maps[q] = dict(e.column_fields)
                infos.setdefault(q, e.table)
                e = e.entity
            pairs.append((q, e))
        entity_by_name = {e.name: e for _, e in pairs}
        built = [
            _entity_table(q, e, infos.get(q), infos, entity_by_name, column_maps.get(q))
            for q, e in pairs
        ]
        return cls(built, infos, types)


def _entity_table(
    qualified: str,
    entity: Entity,
    info: TableInfo | None,
    infos: Mapping[str, TableInfo],
    entity_by_name: Mapping[str, Entity],
    column_fields: Mapping[str, str | None] | None = None,
) -> EntityTable:
    schema, _, table = qualified.rpartition(".")
    et = EntityTable(schema or None, table, entity)
    if column_fields is not None and info is not None:
        return _from_column_fields(et, entity, info, column_fields)
    pk_name = f"pk_{snake(entity.name)}"
    if info is None:  # the generator's own columns
        columns = {pk_name, *FRAMEWORK_COLUMNS}
        for f in entity.fields:
            columns.add(f"fk_{f.name}" if f.type.kind == "ref" else f.name)
        et.columns = columns
        et.pk = pk_name
    else:
        et.columns = {c.name for c in info.columns}
        pks = [c.name for c in info.columns if c.primary_key]
        et.pk = pk_name if pk_name in et.columns else (pks[0] if len(pks) == 1 else None)
    for column in FRAMEWORK_COLUMNS & et.columns:
        et.field_by_column[column] = column
    if et.pk is not None and et.pk != pk_name and "id" not in et.columns:
        et.field_by_column[et.pk] = "id"  # a legacy key reads as the row's id
    for f in entity.fields:
        if f.type.kind != "ref":
            if f.name in et.columns:
                et.field_by_column[f.name] = f.name
            continue
        et.ref_targets[f.name] = f.type.target or ""
        column = _ref_column(f.name, f.type.target, f.type.target_schema, et, info, infos)
        if column is not None:
            et.field_by_column[column] = f.name
            et.ref_columns[column] = f.name
    return et


def _from_column_fields(
    et: EntityTable, entity: Entity, info: TableInfo, column_fields: Mapping[str, str | None]
) -> EntityTable:
    """The entities stage said which column is which field (or framework column)."""
    et.columns = {c.name for c in info.columns}
    for column, name in column_fields.items():
        if name is None:
            continue
        if name == "pk":
            et.pk = column
            if column == f"pk_{snake(entity.name)}":
                et.field_by_column[column] = column
            continue
        if name == "id" and column != "id":
            et.pk = et.pk or column  # a legacy surrogate key: other tables' keys point at it
        et.field_by_column[column] = name
        fld = entity.field_named(name)
        if fld is not None and fld.type.kind == "ref":
            et.ref_columns[column] = name
            et.ref_targets[name] = fld.type.target or ""
    return et


def _ref_column(
    name: str,
    target: str | None,
    target_schema: str | None,
    et: EntityTable,
    info: TableInfo | None,
    infos: Mapping[str, TableInfo],
) -> str | None:
    for candidate in (f"fk_{name}", f"{name}_id", f"id_{name}", name):
        if candidate in et.columns and candidate not in et.field_by_column:
            return candidate
    if info is None or target is None:
        return None
    for column in info.columns:
        ref = column.references
        if ref is None or column.name in et.field_by_column:
            continue
        ref_schema, ref_table, _ = ref
        if entity_name_for_table(ref_schema, ref_table) == target and (
            target_schema is None or ref_schema in (None, target_schema)
        ):
            return column.name
    return None


__all__ = ["FRAMEWORK_COLUMNS", "EntityTable", "EntityTables"]
