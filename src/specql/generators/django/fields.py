"""SpecQL types -> Django model fields and the CHECK constraints they carry (mapping tables).

Each field maps the column the PostgreSQL target creates (:mod:`specql.generators.postgres.types`)
to the Django field whose PostgreSQL column type is the same, so ``makemigrations`` describes
that table: ``text`` is a ``TextField`` (TEXT, not a ``varchar``), ``email`` too (its rule is
the CHECK, not a ``max_length``), ``ip_address`` a ``GenericIPAddressField`` (INET). Rich
scalars keep their regex/range CHECK as a ``CheckConstraint`` exactly where the PostgreSQL
target writes one (not for the natively typed ``ip_address``/``mac_address``), built from the
same data (:data:`specql.dsl.types.RICH_TYPES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from specql.dsl.model import Entity, Field, TypeRef
from specql.dsl.types import RICH_TYPES, rich_type
from specql.generators.django.names import choices_class
from specql.generators.django.render import Call, ModuleNeeds, call, py_regex
from specql.generators.postgres.types import RICH_NATIVE_SQL


@dataclass(frozen=True, slots=True)
class FieldType:
    """A Django field class and the keyword arguments a SpecQL type fixes.

    ``cls`` is ``models.<Class>`` or the name of a helper class of the module
    (:mod:`specql.generators.django.helpers`); ``kwargs`` are rendered Python source.
    """

    cls: str
    kwargs: tuple[tuple[str, str], ...] = ()

    def render(self, needs: ModuleNeeds, extra: list[tuple[str, str]] = ()) -> Call:
        prefix, _, name = self.cls.rpartition(".")
        func = f"{needs.need(prefix)}.{name}" if prefix else needs.helper(name)
        return call(func, (), [*self.kwargs, *extra])


def decimal_field(precision: int, scale: int = 0) -> FieldType:
    """``numeric(p,s)`` -> ``DecimalField(max_digits=p, decimal_places=s)``; ``numeric(p)``
    has scale 0, as in PostgreSQL."""
    return FieldType(
        "models.DecimalField",
        (("max_digits", str(precision)), ("decimal_places", str(scale))),
    )


# basic type name -> field (``numeric`` without arguments; with them see decimal_field).
BASIC_FIELDS: dict[str, FieldType] = {
    "text": FieldType("models.TextField"),
    "integer": FieldType("models.IntegerField"),
    "bigint": FieldType("models.BigIntegerField"),
    "smallint": FieldType("models.SmallIntegerField"),
    "numeric": FieldType("NumericField"),
    "float": FieldType("models.FloatField"),
    "boolean": FieldType("models.BooleanField"),
    "date": FieldType("models.DateField"),
    "datetime": FieldType("models.DateTimeField"),
    "time": FieldType("models.TimeField"),
    "duration": FieldType("models.DurationField"),
    "uuid": FieldType("models.UUIDField"),
    "json": FieldType("models.JSONField"),
}

# Rich scalars stored in a native PostgreSQL type (RICH_NATIVE_SQL) need that type's field.
RICH_NATIVE_FIELDS: dict[str, FieldType] = {
    "ip_address": FieldType("models.GenericIPAddressField"),
    "mac_address": FieldType("MacAddressField"),
}


def _basic_field(t: TypeRef) -> FieldType:
    if t.name == "numeric" and t.args:
        return decimal_field(*t.args)
    return BASIC_FIELDS[t.name]


# rich type name -> field: the native one, else the field of its base type.
RICH_FIELDS: dict[str, FieldType] = {
    name: RICH_NATIVE_FIELDS.get(name) or _basic_field(rich.base_type)
    for name, rich in RICH_TYPES.items()
}


def scalar_field(t: TypeRef) -> FieldType:
    """The field of a basic or rich type."""
    return RICH_FIELDS[t.name] if t.kind == "rich" else _basic_field(t)


def field_source(
    entity: Entity, field: Field, t: TypeRef, needs: ModuleNeeds, extra: list[tuple[str, str]]
) -> Call:
    """``models.X(...)`` for a non-ref type ``t`` of ``field`` (``t`` is the field's type or,
    inside a list, its item type); ``extra`` are the field's own kwargs (null, default, ...)."""
    if t.kind == "list":
        item = field_source(entity, field, t.item, needs, [])
        return call(needs.need("ArrayField"), [str(item)], extra)
    if t.kind == "enum":
        return FieldType("models.TextField").render(
            needs, [("choices", f"{choices_class(entity, field)}.choices"), *extra]
        )
    return scalar_field(t).render(needs, extra)


def _number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def check_condition(
    entity: Entity, field: Field, attribute: str, needs: ModuleNeeds
) -> Call | None:
    """``models.Q(...)`` of the CHECK the PostgreSQL target puts on this field, or None.

    enum: ``status__in=<Choices>.values``; list of enum: ``tags__contained_by=...``; rich with
    a pattern: ``__regex``; with a bounds: ``__range`` / ``__gte`` / ``__lte`` (NULL passes,
    in the database and in Django's constraint validation alike).
    """
    t = field.type
    if t.kind == "enum":
        lookups = [(f"{attribute}__in", f"{choices_class(entity, field)}.values")]
    elif t.kind == "list" and t.item.kind == "enum":
        lookups = [(f"{attribute}__contained_by", f"{choices_class(entity, field)}.values")]
    else:
        rich = rich_type(t)
        if rich is None or rich.name in RICH_NATIVE_SQL:
            return None
        lookups = []
        if rich.pattern is not None:
            lookups.append((f"{attribute}__regex", py_regex(rich.pattern)))
        if rich.minimum is not None and rich.maximum is not None:
            bounds = f"({_number(rich.minimum)}, {_number(rich.maximum)})"
            lookups.append((f"{attribute}__range", bounds))
        elif rich.minimum is not None:
            lookups.append((f"{attribute}__gte", _number(rich.minimum)))
        elif rich.maximum is not None:
            lookups.append((f"{attribute}__lte", _number(rich.maximum)))
        if not lookups:
            return None
    return call(f"{needs.need('models')}.Q", (), lookups)


def enum_of(field: Field) -> TypeRef | None:
    """The enum type of an enum field or of a list (of lists...) of enum: what needs a
    ``TextChoices`` class."""
    t = field.type
    while t.kind == "list":
        t = t.item
    return t if t.kind == "enum" else None
