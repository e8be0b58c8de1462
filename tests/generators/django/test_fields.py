"""Type mapping: every SpecQL type has a Django field whose column is the PostgreSQL target's,
and the CHECKs the PostgreSQL target writes come back as CheckConstraint conditions."""

from __future__ import annotations

import ast

import pytest

from specql.dsl.model import Entity, Field
from specql.dsl.types import BASIC_TYPES, RICH_TYPES, parse_type
from specql.generators.django.fields import (
    BASIC_FIELDS,
    RICH_FIELDS,
    RICH_NATIVE_FIELDS,
    check_condition,
    enum_of,
    field_source,
)
from specql.generators.django.render import ModuleNeeds
from specql.generators.postgres.types import RICH_NATIVE_SQL, check_expression

ENTITY = Entity("Sample", "catalog")


def source(type_text: str, extra=()) -> tuple[str, ModuleNeeds]:
    needs = ModuleNeeds()
    f = Field("value", parse_type(type_text))
    return str(field_source(ENTITY, f, f.type, needs, list(extra))), needs


def condition(type_text: str) -> str | None:
    found = check_condition(ENTITY, Field("value", parse_type(type_text)), "value", ModuleNeeds())
    return None if found is None else str(found)


def test_every_basic_and_rich_type_has_a_field():
    assert set(BASIC_FIELDS) == set(BASIC_TYPES)
    assert set(RICH_FIELDS) == set(RICH_TYPES)
    assert set(RICH_NATIVE_FIELDS) == set(RICH_NATIVE_SQL)


@pytest.mark.parametrize(
    ("type_text", "expected"),
    [
        ("text", "models.TextField()"),
        ("integer", "models.IntegerField()"),
        ("bigint", "models.BigIntegerField()"),
        ("smallint", "models.SmallIntegerField()"),
        ("numeric(12,2)", "models.DecimalField(max_digits=12, decimal_places=2)"),
        ("numeric(7)", "models.DecimalField(max_digits=7, decimal_places=0)"),
        ("numeric", "NumericField()"),
        ("float", "models.FloatField()"),
        ("boolean", "models.BooleanField()"),
        ("date", "models.DateField()"),
        ("datetime", "models.DateTimeField()"),
        ("time", "models.TimeField()"),
        ("duration", "models.DurationField()"),
        ("uuid", "models.UUIDField()"),
        ("json", "models.JSONField()"),
        # rich types: their base type's field (a TEXT column, not a varchar), or a native one
        ("email", "models.TextField()"),
        ("money", "models.DecimalField(max_digits=19, decimal_places=4)"),
        ("port", "models.IntegerField()"),
        ("ip_address", "models.GenericIPAddressField()"),
        ("mac_address", "MacAddressField()"),
        # composite
        ("enum(a, b)", "models.TextField(choices=SampleValue.choices)"),
        ("list(text)", "ArrayField(models.TextField())"),
        ("list(money)", "ArrayField(models.DecimalField(max_digits=19, decimal_places=4))"),
        ("list(list(integer))", "ArrayField(ArrayField(models.IntegerField()))"),
        ("list(enum(a, b))", "ArrayField(models.TextField(choices=SampleValue.choices))"),
    ],
)
def test_field_of_type(type_text, expected):
    assert source(type_text)[0] == expected


def test_field_kwargs_follow_the_types_own():
    text, _ = source("numeric(5,2)", [("null", "True")])
    assert text == "models.DecimalField(max_digits=5, decimal_places=2, null=True)"
    text, _ = source("list(text)", [("null", "True")])
    assert text == "ArrayField(models.TextField(), null=True)"


def test_helpers_and_imports_are_recorded():
    _, needs = source("numeric")
    assert needs.helpers == {"NumericField"}
    _, needs = source("list(mac_address)")
    assert needs.helpers == {"MacAddressField"}
    assert "from django.contrib.postgres.fields import ArrayField" in needs.render_imports()


def test_enum_of_finds_the_enum_inside_lists():
    assert enum_of(Field("v", parse_type("enum(a, b)"))).values == ("a", "b")
    assert enum_of(Field("v", parse_type("list(list(enum(x)))"))).values == ("x",)
    assert enum_of(Field("v", parse_type("list(text)"))) is None


@pytest.mark.parametrize(
    ("type_text", "expected"),
    [
        ("enum(a, b)", "models.Q(value__in=SampleValue.values)"),
        ("list(enum(a, b))", "models.Q(value__contained_by=SampleValue.values)"),
        ("country_code", 'models.Q(value__regex=r"^[A-Z]{2}$")'),
        ("percentage", "models.Q(value__range=(0, 100))"),
        ("latitude", "models.Q(value__range=(-90, 90))"),
        ("port", "models.Q(value__range=(1, 65535))"),
    ],
)
def test_check_condition(type_text, expected):
    assert condition(type_text) == expected


@pytest.mark.parametrize("name", sorted(RICH_TYPES))
def test_rich_type_checked_exactly_where_postgres_checks_it(name):
    """Same presence as the PostgreSQL target's CHECK, and the regex is the rich type's own
    pattern, character for character, once Python reads the generated literal."""
    found = condition(name)
    assert (found is None) == (check_expression("value", parse_type(name)) is None)
    pattern = RICH_TYPES[name].pattern
    if found is not None and pattern is not None:
        call = ast.parse(found, mode="eval").body
        regex = next(k.value for k in call.keywords if k.arg == "value__regex")
        assert ast.literal_eval(regex) == pattern


@pytest.mark.parametrize("type_text", ["text", "list(text)", "markdown", "ip_address", "json"])
def test_no_check_where_postgres_has_none(type_text):
    assert condition(type_text) is None
    assert check_expression("value", parse_type(type_text)) is None
