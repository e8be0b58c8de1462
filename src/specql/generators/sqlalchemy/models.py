"""One schema module: per entity (in code order) a ``StrEnum`` per enum field, the mapped class,
then the code domain patterns attach for this target (``Entity.extensions``), verbatim."""

from __future__ import annotations

import keyword

from specql.dsl.model import Entity, Field, TypeRef
from specql.errors import SpecqlError
from specql.generators.postgres.naming import column_name, table_name
from specql.generators.sqlalchemy.columns import (
    SpecSet,
    check_constraints,
    field_columns,
    trinity_columns,
)
from specql.generators.sqlalchemy.indexes import index_items
from specql.generators.sqlalchemy.names import (
    AUDIT_MIXIN,
    BASE_CLASS,
    BASE_MODULE,
    MODULE_NAMES,
    attribute_name,
    enum_class_name,
    enum_member_name,
)
from specql.generators.sqlalchemy.source import INDENT, Imports, docstring, py_str, statement

TARGET = "sqlalchemy"


def _enum_labels(t: TypeRef) -> tuple[str, ...]:
    """The labels of an enum field, also of a list of enum (at any depth); () for others."""
    while t.kind == "list" and t.item is not None:
        t = t.item
    return t.values if t.kind == "enum" else ()


def enum_class(entity: Entity, field: Field, imports: Imports) -> list[str]:
    """``class ContactStatus(enum.StrEnum)`` with one member per label, in spec order."""
    imports.modules.add("enum")
    members: dict[str, str] = {}
    for label in _enum_labels(field.type):
        member = enum_member_name(entity, field, label)
        if member in members:
            raise SpecqlError(
                f"{entity.name}.{field.name}: enum labels {members[member]!r} and {label!r} "
                f"would both be the Python member {member}",
                field.pos,
            )
        members[member] = label
    column = f"{entity.schema}.{table_name(entity.name)}.{field.name}"
    return [
        f"class {enum_class_name(entity, field)}(enum.StrEnum):",
        *docstring(f"The values of {column}: the labels its CHECK allows.", INDENT),
        "",
        *(f"{INDENT}{member} = {py_str(label)}" for member, label in members.items()),
    ]


def _table_args(entity: Entity, multi_tenant: bool, imports: Imports) -> list[str]:
    """``__table_args__``: CHECKs, the spec's indexes, then schema and table comment."""
    options = [f'"schema": {py_str(entity.schema)}']
    if entity.description:
        options.append(f'"comment": {py_str(entity.description)}')
    items = [*check_constraints(entity), *index_items(entity, multi_tenant, imports)]
    inner = INDENT * 2
    if not items:  # a one-item tuple keeps to one line where it fits
        one_line = statement("__table_args__ = (", "", options, INDENT, "{}", ",)")
        if len(one_line) == 1:
            return one_line
    lines = [f"{INDENT}__table_args__ = ("]
    for func, args in items:
        lines += statement("", func, args, inner, suffix=",")
    lines += statement("", "", options, inner, "{}", ",")
    return [*lines, f"{INDENT})"]


def _check_attributes(entity: Entity) -> None:
    """Two fields may not end up as one class attribute (``pass`` is ``pass_``, so a field
    ``pass_`` beside it would clash)."""
    owners: dict[str, str] = {}
    for field in entity.fields:
        names = {column_name(field), field.name}  # a ref: its fk_ column and relationship
        for attr in {attribute_name(entity, name) for name in names}:
            if attr in owners:
                raise SpecqlError(
                    f"{entity.name}: fields {owners[attr]!r} and {field.name!r} would both be "
                    f"the class attribute {attr}; rename one of them",
                    field.pos,
                )
            owners[attr] = field.name


def model_class(entity: Entity, specs: SpecSet, imports: Imports) -> list[str]:
    """The mapped class of ``entity``."""
    _check_attributes(entity)
    imports.modules.add("sa")
    imports.orm |= {"Mapped", "mapped_column"}
    imports.siblings.setdefault(BASE_MODULE, set()).update({AUDIT_MIXIN, BASE_CLASS})
    lines = [f"class {entity.name}({AUDIT_MIXIN}, {BASE_CLASS}):"]
    if entity.description:
        lines += [*docstring(entity.description, INDENT), ""]
    lines += [f"{INDENT}__tablename__ = {py_str(table_name(entity.name))}", ""]
    multi_tenant = specs.ctx.is_multi_tenant(entity)
    lines += trinity_columns(entity, multi_tenant, imports)
    for field in entity.fields:
        lines += field_columns(entity, field, specs, imports)
    return [*lines, "", *_table_args(entity, multi_tenant, imports)]


def extensions(entity: Entity) -> list[str]:
    """The pattern code for this target attached to ``entity``, each block as it is."""
    return [x.content.rstrip("\n") for x in entity.extensions if x.target == TARGET]


def schema_module(schema: str, entities: list[Entity], specs: SpecSet) -> str:
    """The source of the module holding ``entities`` (one schema's, in code order)."""
    imports = Imports()
    blocks: list[list[str]] = []
    classes: list[str] = []
    for entity in entities:
        for field in entity.fields:
            if _enum_labels(field.type):
                blocks.append(enum_class(entity, field, imports))
                classes.append(enum_class_name(entity, field))
        blocks.append(model_class(entity, specs, imports))
        classes.append(entity.name)
        blocks += [[text] for text in extensions(entity)]
    _check_module_names(schema, classes, imports)
    lines = [
        *docstring(
            f"SQLAlchemy models of the {schema} schema, generated by specql: change the specs, "
            "not this file.",
            "",
        ),
        "",
        *imports.render(),
    ]
    for block in blocks:
        lines += ["", *block, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _check_module_names(schema: str, classes: list[str], imports: Imports) -> None:
    """No two classes, nor a class and an imported name, may share a module-level name."""
    bound: dict[str, str] = {name: "an imported name" for name in MODULE_NAMES}
    for names in imports.type_checking.values():
        bound.update({name: "an entity of another schema" for name in names})
    for name in classes:
        if keyword.iskeyword(name) or name in bound:
            what = "a Python keyword" if keyword.iskeyword(name) else bound[name]
            raise SpecqlError(
                f"class {name} of the {schema} models would clash with {what}; "
                "rename the entity or the field"
            )
        bound[name] = "another class"
