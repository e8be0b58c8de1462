"""One Django model per entity, and the ``models.py`` of a schema's app.

A model maps the table the PostgreSQL target creates (docs/generated-postgres.md) column for
column, under the same names, and keeps Django's default ``managed = True`` so its migrations
can create that table too:

- Trinity: ``pk_<entity>`` (``AutoField``, the primary key), ``id`` (UUID, unique, a new
  ``uuid4`` in Python and ``gen_random_uuid()`` in the database), ``identifier`` (unique text).
  ``id`` is an ordinary field here: Django reserves the name only for a primary key it adds
  itself, and every model declares its own.
- ``tenant_id`` in multi-tenant schemas; business fields in spec order
  (:mod:`~specql.generators.django.fields`, :mod:`~specql.generators.django.defaults`); a
  ``ref`` is a ``ForeignKey`` named like the field on the ``fk_<field>`` column, ``PROTECT``ed
  and without reverse accessor; audit fields ``created_at``, ``updated_at``, ``deleted_at``.
- Soft delete: ``objects`` (the default manager) hides rows with a ``deleted_at``,
  ``all_objects`` sees every row; Django's own lookups through foreign keys use neither and see
  all rows, as the PostgreSQL target's views show a soft-deleted row's UUID.
- ``Meta``: ``db_table`` schema-qualified, the indexes and constraints of
  :mod:`~specql.generators.django.indexes` and the CHECKs of the fields (named like the
  PostgreSQL target's, ``tb_<entity>_<column>_check``), the description as table comment.

Enum fields get a ``TextChoices`` class ``<Entity><Field>`` just before their model, and the
entity's ``django`` extensions (module-level code a pattern rendered) come right after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from specql.dsl.model import Entity, Field
from specql.dsl.validator import INDEXABLE_COLUMNS
from specql.errors import SpecqlError
from specql.generators.django.defaults import default_kwargs
from specql.generators.django.fields import check_condition, enum_of, field_source
from specql.generators.django.helpers import render_helpers
from specql.generators.django.indexes import IndexTarget, key_indexes, spec_index
from specql.generators.django.names import (
    MANAGER_ATTRIBUTES,
    choice_member,
    choices_class,
    db_table,
    field_attribute,
    pk_attribute,
)
from specql.generators.django.render import (
    INDENT,
    Call,
    ModuleNeeds,
    call,
    docstring,
    py_str,
    wrap_list,
)
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.naming import check_constraint, column_name, table_name
from specql.generators.postgres.tables import ref_target

TARGET = "django"
MEMBER = INDENT * 2


@dataclass(frozen=True, slots=True)
class Attribute:
    """One class attribute: ``name = <call>``."""

    name: str
    value: Call

    def render(self) -> str:
        return self.value.render(INDENT, f"{self.name} = ")


@dataclass(frozen=True, slots=True)
class ClassBlock:
    """A module-level class: its name and source."""

    name: str
    source: str


class ModelWriter:
    """Renders the models of one schema into one module."""

    def __init__(self, ctx: CompileContext, multi_tenant: bool, entities: list[Entity]) -> None:
        self.ctx = ctx
        self.multi_tenant = multi_tenant
        self.entities = entities
        self.needs = ModuleNeeds(shadowed=frozenset(f.name for e in entities for f in e.fields))

    # ------------------------------------------------------------------ fields

    @staticmethod
    def _nullable(field: Field) -> list[tuple[str, str]]:
        return [("null", "True"), ("blank", "True")] if field.nullable else []

    @staticmethod
    def _texts(field: Field) -> list[tuple[str, str]]:
        """The description as form help and as column comment (the PostgreSQL target's
        ``COMMENT ON COLUMN``)."""
        if not field.description:
            return []
        text = py_str(field.description)
        return [("help_text", text), ("db_comment", text)]

    def _ref(self, entity: Entity, field: Field) -> Call:
        target = ref_target(entity, field, self.ctx)
        models = self.needs.need("models")
        kwargs = [
            ("on_delete", f"{models}.PROTECT"),
            ("db_column", py_str(column_name(field))),
            ("db_index", "False"),  # Meta has the index, under the PostgreSQL target's name
            ("related_name", py_str("+")),
            *self._nullable(field),
            *self._texts(field),
        ]
        return call(f"{models}.ForeignKey", [py_str(f"{target.schema}.{target.name}")], kwargs)

    def _field(self, entity: Entity, field: Field) -> Attribute:
        attribute = field_attribute(entity, field)
        defaults = default_kwargs(entity, field, self.needs)  # a ref's default is an error
        if field.type.kind == "ref":
            return Attribute(attribute, self._ref(entity, field))
        extra = self._nullable(field) + defaults + self._texts(field)
        return Attribute(attribute, field_source(entity, field, field.type, self.needs, extra))

    def _framework_fields(self, entity: Entity) -> tuple[list[Attribute], list[Attribute]]:
        """(Trinity and tenant_id, audit fields)."""
        models = self.needs.need("models")
        uuid4 = f"{self.needs.need('uuid')}.uuid4"
        gen_uuid = str(call(self.needs.need("RawSQL"), [py_str("gen_random_uuid()"), "[]"]))
        now = str(call(self.needs.need("RawSQL"), [py_str("now()"), "[]"]))
        tz_now = f"{self.needs.need('timezone')}.now"
        pk = pk_attribute(entity)

        def field(name: str, cls: str, **kwargs: str) -> Attribute:
            return Attribute(name, call(f"{models}.{cls}", (), kwargs.items()))

        head = [
            field(pk, "AutoField", primary_key="True", db_column=py_str(pk)),
            field(
                "id",
                "UUIDField",
                unique="True",
                default=uuid4,
                editable="False",
                db_default=gen_uuid,
            ),
            field("identifier", "TextField", unique="True"),
        ]
        if self.multi_tenant:
            head.append(field("tenant_id", "UUIDField"))
        audit = [
            field("created_at", "DateTimeField", default=tz_now, db_default=now),
            field("updated_at", "DateTimeField", auto_now="True", db_default=now),
            field("deleted_at", "DateTimeField", null="True", blank="True"),
        ]
        return head, audit

    # ------------------------------------------------------------------ meta

    def _index_target(self, entity: Entity) -> IndexTarget:
        names = sorted(n for n in INDEXABLE_COLUMNS if n != "tenant_id" or self.multi_tenant)
        return IndexTarget({**{n: n for n in names}, **{f.name: f.name for f in entity.fields}})

    def _meta(self, entity: Entity) -> list[str]:
        models = self.needs.need("models")
        indent = MEMBER
        lines = [f"{INDENT}class Meta:", f"{indent}db_table = {py_str(db_table(entity))}"]
        if entity.description:
            lines.append(f"{indent}db_table_comment = {py_str(entity.description)}")
        target = self._index_target(entity)
        indexes = key_indexes(entity, self.multi_tenant, self.needs)
        constraints = []
        for f in entity.fields:
            condition = check_condition(entity, f, f.name, self.needs)
            if condition is not None:
                name = py_str(check_constraint(entity.name, column_name(f)))
                kwargs = [("condition", str(condition)), ("name", name)]
                constraints.append(call(f"{models}.CheckConstraint", (), kwargs))
        for index in entity.indexes:
            rendered = spec_index(entity, index, target, self.needs)
            (constraints if index.unique else indexes).append(rendered)
        for attribute, items in (("indexes", indexes), ("constraints", constraints)):
            if items:
                rows = [item.render(indent + INDENT) for item in items]
                lines.append(wrap_list(f"{attribute} = ", rows, indent))
        return lines

    # ------------------------------------------------------------------ classes

    def choices(self, entity: Entity) -> list[ClassBlock]:
        """The ``TextChoices`` classes of the entity's enum fields."""
        out = []
        for f in entity.fields:
            enum = enum_of(f)
            if enum is None:
                continue
            members = [choice_member(label) for label in enum.values]
            if len(set(members)) != len(members) or any(m.startswith("_") for m in members):
                raise SpecqlError(
                    f"{entity.name}.{f.name}: enum labels {', '.join(enum.values)} do not make "
                    "distinct TextChoices members (upper-cased, not starting with '_') for the "
                    "django target",
                    f.pos,
                )
            body = [
                f"{INDENT}{member} = {py_str(label)}"
                for member, label in zip(members, enum.values, strict=True)
            ]
            name = choices_class(entity, f)
            models = self.needs.need("models")
            out.append(ClassBlock(name, f"class {name}({models}.TextChoices):\n" + "\n".join(body)))
        return out

    def model(self, entity: Entity) -> ClassBlock:
        """The model class of one entity."""
        models = self.needs.need("models")
        head, audit = self._framework_fields(entity)
        fields = [self._field(entity, f) for f in entity.fields]
        attributes = [line.name for line in head + fields + audit] + list(MANAGER_ATTRIBUTES)
        duplicates = sorted({a for a in attributes if attributes.count(a) > 1})
        if duplicates:
            raise SpecqlError(
                f"{entity.name}: {', '.join(duplicates)} would be defined twice on the Django "
                "model; rename the field",
                entity.pos,
            )
        description = entity.description or f"The table {entity.schema}.{table_name(entity.name)}."
        parts = [
            f"class {entity.name}({models}.Model):",
            docstring(description, INDENT),
            "",
            *(attribute.render() for attribute in head + fields + audit),
            "",
            f"{INDENT}objects = {self.needs.helper('ActiveManager')}()",
            f"{INDENT}all_objects = {models}.Manager()",
            "",
            *self._meta(entity),
            "",
            f"{INDENT}def __str__(self):",
            f"{MEMBER}return self.identifier",
        ]
        return ClassBlock(entity.name, "\n".join(parts))

    def module(self, schema: str) -> str:
        """``models.py`` of ``schema``: imports, helpers, then per entity (in the given order)
        its choices, its model and its django extensions."""
        blocks: list[str] = []
        class_names: list[str] = []
        for entity in self.entities:
            for block in [*self.choices(entity), self.model(entity)]:
                blocks.append(block.source)
                class_names.append(block.name)
            blocks += [e.content.rstrip("\n") for e in entity.extensions if e.target == TARGET]
        taken = self.needs.defined()
        clashes = sorted({n for n in class_names if class_names.count(n) > 1 or n in taken})
        if clashes:
            raise SpecqlError(
                f"schema {schema}: the Django models module would define {', '.join(clashes)} "
                "twice (an entity named like another's enum choices or like a name the module "
                "imports); rename the entity or the field"
            )
        header = docstring(
            f"Django models of the {schema} schema, generated by specql: regenerate, don't edit.",
            "",
        )
        helpers = render_helpers(self.needs.helpers, self.needs.need("models"))
        parts = [self.needs.render_imports(), *(h.rstrip("\n") for h in helpers), *blocks]
        return f"{header}\n\n" + "\n\n\n".join(parts) + "\n"
