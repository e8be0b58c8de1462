"""The mapped attributes of one model: Trinity, ``tenant_id``, one column per field (a ``ref``
as its ``fk_`` column plus a relationship), and the CHECK constraints of its fields.

Columns come in the SQL target's order (docs/generated-postgres.md); the audit columns come
from the mixin in ``base.py``. Constraint and index names come from the MetaData's naming
convention, which gives the SQL target's names, except CHECKs: those carry the SQL target's
name and text explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from specql.dsl.model import Entity, Field
from specql.errors import SpecqlError
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.naming import (
    check_constraint,
    column_name,
    pk_column,
    table_name,
)
from specql.generators.postgres.tables import ref_target
from specql.generators.postgres.types import check_expression, sql_string
from specql.generators.sqlalchemy.names import attribute_name
from specql.generators.sqlalchemy.source import INDENT, Imports, call, py_str, statement
from specql.generators.sqlalchemy.types import ColumnType, column_type


@dataclass(frozen=True, slots=True)
class SpecSet:
    """What rendering one model needs to know about the others: entities and tenancy (the
    SQL target's context), the module of each entity, and the refs whose foreign key the SQL
    target adds after all tables because they close a reference cycle."""

    ctx: CompileContext
    module_of: dict[str, str]  # entity name -> schema module
    deferred: frozenset[tuple[str, str]]  # (entity name, ref field name)


def _mapped(attr: str, annotation: str, func: str, args: list[str]) -> list[str]:
    return statement(f"{attr}: Mapped[{annotation}] = ", func, args, INDENT)


def _column(
    entity: Entity,
    name: str,
    ctype: ColumnType,
    imports: Imports,
    nullable: bool,
    positional: list[str],
    keywords: list[str],
) -> list[str]:
    """``attr: Mapped[T] = mapped_column(...)``; the column name is passed only when the
    attribute had to be renamed."""
    imports.modules |= ctype.modules
    attr = attribute_name(entity, name)
    args = [py_str(name)] if attr != name else []
    args += [ctype.sqlalchemy, *positional, f"nullable={nullable}", *keywords]
    annotation = ctype.python
    if nullable and annotation != "typing.Any":
        annotation += " | None"
    return _mapped(attr, annotation, "mapped_column", args)


def trinity_columns(entity: Entity, multi_tenant: bool, imports: Imports) -> list[str]:
    """``pk_<entity>`` (identity, as the SQL target: GENERATED ALWAYS), ``id``,
    ``identifier`` and, in multi-tenant schemas, ``tenant_id``."""
    imports.modules |= {"sa", "uuid"}
    lines = _mapped(
        pk_column(entity.name),
        "int",
        "mapped_column",
        ["sa.Integer()", "sa.Identity(always=True)", "primary_key=True"],
    )
    lines += _mapped(
        "id",
        "uuid.UUID",
        "mapped_column",
        [
            "sa.Uuid()",
            "unique=True",
            "nullable=False",
            'server_default=sa.text("gen_random_uuid()")',
        ],
    )
    lines += _mapped(
        "identifier", "str", "mapped_column", ["sa.Text()", "unique=True", "nullable=False"]
    )
    if multi_tenant:
        lines += _mapped(
            "tenant_id", "uuid.UUID", "mapped_column", ["sa.Uuid()", "nullable=False", "index=True"]
        )
    return lines


def _server_default(entity: Entity, field: Field) -> list[str]:
    """``server_default=sa.text(...)`` with the SQL target's DEFAULT: the spec's SQL, a bare
    enum label quoted."""
    if field.default is None:
        return []
    default = field.default.strip()
    if field.type.kind == "enum" and default in field.type.values:
        default = sql_string(default)
    return [f"server_default=sa.text({py_str(default)})"]


def _comment(field: Field) -> list[str]:
    return [f"comment={py_str(field.description)}"] if field.description else []


def field_columns(entity: Entity, field: Field, specs: SpecSet, imports: Imports) -> list[str]:
    """The column of a field; a ref's ``fk_`` column is followed by its relationship."""
    ctype = column_type(field.type)
    if field.type.kind != "ref":
        keywords = _server_default(entity, field) + _comment(field)
        return _column(entity, field.name, ctype, imports, field.nullable, [], keywords)
    if field.default is not None:
        raise SpecqlError(
            f"{entity.name}.{field.name}: a ref field cannot have a default "
            "(set it in an action instead)",
            field.pos,
        )
    target = ref_target(entity, field, specs.ctx)
    deferred = (entity.name, field.name) in specs.deferred
    key = f"{target.schema}.{table_name(target.name)}.{pk_column(target.name)}"
    # A foreign key that closes a cycle is added after the tables (use_alter), as the SQL
    # target adds it; the ORM then sets a nullable one by a second UPDATE (post_update), so
    # rows that refer to each other can be flushed together.
    fk = call("sa.ForeignKey", [py_str(key), *(["use_alter=True"] if deferred else [])])
    fk_name = column_name(field)
    keywords = ["index=True", *_comment(field)]
    lines = _column(entity, fk_name, ctype, imports, field.nullable, [fk], keywords)
    imports.orm.add("relationship")
    annotation = target.name + (" | None" if field.nullable else "")
    if specs.module_of[target.name] != specs.module_of[entity.name]:
        imports.type_checking.setdefault(specs.module_of[target.name], set()).add(target.name)
    args = [f"foreign_keys=[{attribute_name(entity, fk_name)}]"]
    if deferred and field.nullable:
        args.append("post_update=True")
    return lines + _mapped(attribute_name(entity, field.name), annotation, "relationship", args)


def check_constraints(entity: Entity) -> list[tuple[str, list[str]]]:
    """``sa.CheckConstraint`` and its arguments (the SQL target's CHECK and name) per field
    that has a CHECK."""
    checks = []
    for field in entity.fields:
        col = column_name(field)
        sql = check_expression(col, field.type)
        if sql is not None:
            name = check_constraint(entity.name, col)
            checks.append(("sa.CheckConstraint", [py_str(sql), f"name={py_str(name)}"]))
    return checks
