"""Spec defaults -> ``default`` (Python) and ``db_default`` (the column's DEFAULT)."""

from __future__ import annotations

import pytest

from specql.dsl.model import Entity, Field
from specql.dsl.types import parse_type
from specql.errors import SpecqlError
from specql.generators.django.defaults import default_kwargs
from specql.generators.django.render import ModuleNeeds

ENTITY = Entity("Deal", "crm")


def kwargs(type_text: str, default: str | None) -> dict[str, str]:
    f = Field("stage", parse_type(type_text), default=default)
    return dict(default_kwargs(ENTITY, f, ModuleNeeds()))


@pytest.mark.parametrize(
    ("type_text", "default", "expected"),
    [
        ("text", None, {}),
        ("text", "'EUR'", {"default": '"EUR"', "db_default": '"EUR"'}),
        ("text", "'it''s'", {"default": '"it\'s"', "db_default": '"it\'s"'}),
        ("currency_code", "'EUR'", {"default": '"EUR"', "db_default": '"EUR"'}),
        ("integer", "0", {"default": "0", "db_default": "0"}),
        ("bigint", "-5", {"default": "-5", "db_default": "-5"}),
        ("numeric(12,2)", "1.50", {"default": 'Decimal("1.50")', "db_default": 'Decimal("1.50")'}),
        ("percentage", "10", {"default": 'Decimal("10")', "db_default": 'Decimal("10")'}),
        ("float", "0.5", {"default": "0.5", "db_default": "0.5"}),
        ("float", "2", {"default": "2.0", "db_default": "2.0"}),
        ("boolean", "true", {"default": "True", "db_default": "True"}),
        ("boolean", "FALSE", {"default": "False", "db_default": "False"}),
        # enum labels, bare or quoted, are the choices' members
        ("enum(open, won)", "open", {"default": "DealStage.OPEN", "db_default": '"open"'}),
        ("enum(open, won)", "'won'", {"default": "DealStage.WON", "db_default": '"won"'}),
        # anything else is computed by the database
        ("datetime", "now()", {"db_default": 'RawSQL("now()", [])'}),
        ("json", "'{}'::jsonb", {"db_default": "RawSQL(\"'{}'::jsonb\", [])"}),
        ("list(text)", "'{}'", {"db_default": "RawSQL(\"'{}'\", [])"}),
        ("integer", "'1'", {"db_default": "RawSQL(\"'1'\", [])"}),  # a string for a number
        ("date", "current_date + 7", {"db_default": 'RawSQL("current_date + 7", [])'}),
        ("text", "NULL", {"db_default": 'RawSQL("NULL", [])'}),
    ],
)
def test_default(type_text, default, expected):
    assert kwargs(type_text, default) == expected


def test_decimal_and_rawsql_are_imported():
    needs = ModuleNeeds()
    default_kwargs(ENTITY, Field("a", parse_type("money"), default="1"), needs)
    default_kwargs(ENTITY, Field("b", parse_type("date"), default="current_date"), needs)
    imports = needs.render_imports()
    assert "from decimal import Decimal" in imports
    assert "from django.db.models.expressions import RawSQL" in imports


def test_ref_default_is_an_error():
    with pytest.raises(SpecqlError, match=r"Deal\.stage: a ref field cannot have a default"):
        kwargs("ref(Contact)", "1")
