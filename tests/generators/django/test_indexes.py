"""Indexes and unique constraints: key indexes, ``Entity.indexes`` (fields or a functional
expression), names within Django's 30 characters, and a clear error for what Django cannot
express."""

from __future__ import annotations

import pytest

from specql.dsl.model import Entity, Field, Index
from specql.dsl.types import parse_type
from specql.errors import SourcePos, SpecqlError
from specql.generators.django.indexes import IndexTarget, key_indexes, spec_index
from specql.generators.django.render import ModuleNeeds

CONTACT = Entity(
    "Contact",
    "crm",
    fields=[
        Field("email", parse_type("email")),
        Field("first_name", parse_type("text")),
        Field("company", parse_type("ref(Company)")),
        Field("score", parse_type("integer")),
    ],
)
TARGET = IndexTarget(
    {n: n for n in ["email", "first_name", "company", "score", "identifier", "created_at"]}
)


def render(index: Index, needs: ModuleNeeds | None = None) -> str:
    return str(spec_index(CONTACT, index, TARGET, needs or ModuleNeeds()))


def test_key_indexes_carry_the_postgres_targets_names():
    rendered = [str(c) for c in key_indexes(CONTACT, True, ModuleNeeds())]
    assert rendered == [
        'models.Index(fields=["tenant_id"], name="idx_tb_contact_tenant_id")',
        'models.Index(fields=["company"], name="idx_tb_contact_fk_company")',
    ]
    assert [str(c) for c in key_indexes(CONTACT, False, ModuleNeeds())] == [
        'models.Index(fields=["company"], name="idx_tb_contact_fk_company")'
    ]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (
            Index(fields=["score", "email"]),
            'models.Index(fields=["score", "email"], name="idx_tb_contact_score_email")',
        ),
        (
            Index(fields=["company", "created_at"], unique=True, name="contact_company_day"),
            'models.UniqueConstraint(fields=["company", "created_at"], name="contact_company_day")',
        ),
        (
            Index(expression="lower(email)"),
            'models.Index(Lower("email"), name="idx_tb_contact_lower_email")',
        ),
        (
            Index(expression="LOWER( email )", unique=True),
            'models.UniqueConstraint(Lower("email"), name="idx_tb_contact_lower_email")',
        ),
        (
            Index(expression="upper(trim(first_name))", name="contact_name_ci"),
            'models.Index(Upper(Trim("first_name")), name="contact_name_ci")',
        ),
        (
            Index(expression="coalesce(score, 0)", name="contact_score"),
            'models.Index(Coalesce("score", models.Value(0)), name="contact_score")',
        ),
        (
            Index(expression="greatest(score, 10)", name="contact_score_floor"),
            'models.Index(Greatest("score", models.Value(10)), name="contact_score_floor")',
        ),
        (
            Index(expression="left(identifier, 3)", name="contact_prefix"),
            'models.Index(Left("identifier", models.Value(3)), name="contact_prefix")',
        ),
        (
            Index(expression="score", name="contact_score_x"),
            'models.Index(models.F("score"), name="contact_score_x")',
        ),
    ],
)
def test_spec_index(index, expected):
    assert render(index) == expected


def test_functions_are_imported():
    needs = ModuleNeeds()
    render(Index(expression="coalesce(lower(email), upper(first_name))", name="x_y"), needs)
    assert needs.render_imports().endswith(
        "from django.db.models.functions import Coalesce, Lower, Upper"
    )


def test_long_names_are_cut_to_30_characters_deterministically():
    default = render(Index(fields=["first_name", "score", "created_at", "identifier"]))
    # idx_tb_contact_first_name_score_created_at_identifier: 21 characters + _ + 8 of a hash
    assert 'name="idx_tb_contact_first__' in default
    name = default.split('name="')[1].split('"')[0]
    assert len(name) == 30
    assert render(Index(fields=["first_name", "score", "created_at", "identifier"])) == default
    given = render(Index(fields=["score"], name="contact_score_for_the_weekly_report"))
    assert 'name="contact_score_for_the_a11e490c"' in given


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        (Index(expression="email || first_name"), "A_Expr has no Django translation"),
        (Index(expression="date_trunc('day', created_at)"), "function date_trunc() has no"),
        (Index(expression="lower(email, 'x')"), "lower() with 2 argument(s)"),
        (Index(expression="lower(nickname)"), "'nickname' is no field of the entity"),
        (Index(expression="lower($email)"), "$email is not a field name"),
        (Index(expression="lower(c.email)"), "c.email is not a field name"),
        (Index(fields=["nickname"]), "'nickname' is no field of the entity"),
        (Index(expression="email::citext", name="contact_email"), "TypeCast has no"),
    ],
)
def test_untranslatable_index_is_a_clear_error(index, reason):
    index.pos = SourcePos("contact.yaml", 12, 5)
    with pytest.raises(SpecqlError) as caught:
        render(index)
    message = str(caught.value)
    assert message.startswith("contact.yaml:12:5: Contact: index ")
    assert "cannot be generated for the django target" in message
    assert reason in message
    assert "\n" not in message
