"""Names in the generated Django code."""

from __future__ import annotations

import pytest

from specql.dsl.model import Entity, Field
from specql.dsl.types import parse_type
from specql.errors import SpecqlError
from specql.generators.django.names import (
    MAX_INDEX_NAME,
    app_config_class,
    choices_class,
    db_table,
    field_attribute,
    pascal,
    short_name,
)

CONTACT = Entity("Contact", "crm")


def test_short_name_keeps_short_names_and_cuts_long_ones():
    assert short_name("idx_tb_contact_fk_company") == "idx_tb_contact_fk_company"
    assert short_name("x" * MAX_INDEX_NAME) == "x" * MAX_INDEX_NAME
    long_a = "idx_tb_time_entry_first_name_last_name"
    long_b = "idx_tb_time_entry_first_name_last_seen"
    assert len(short_name(long_a)) == MAX_INDEX_NAME
    assert short_name(long_a) == short_name(long_a)
    assert short_name(long_a) != short_name(long_b)  # same head, different hash
    assert short_name(long_a).startswith("idx_tb_time_entry_fir_")


def test_class_and_table_names():
    assert pascal("price_list") == "PriceList"
    assert pascal("PriceList") == "PriceList"
    assert app_config_class("crm") == "CrmConfig"
    assert choices_class(CONTACT, Field("lead_status", parse_type("enum(a)"))) == (
        "ContactLeadStatus"
    )
    assert db_table(Entity("OrderLine", "sales")) == 'sales"."tb_order_line'


def test_ordinary_field_names_are_kept():
    for name in ("email", "timezone", "uuid", "models", "date", "float"):
        assert field_attribute(CONTACT, Field(name, parse_type("text"))) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("class", "is a Python keyword"),
        ("from", "is a Python keyword"),
        ("total_", "ends with '_' or contains '__'"),
        ("a__b", "ends with '_' or contains '__'"),
        ("objects", "is already an attribute of every generated Django model"),
        ("all_objects", "is already an attribute"),
        ("save", "is already an attribute"),
        ("pk_contact", "is already an attribute"),
    ],
)
def test_field_names_django_cannot_take_are_refused(name, reason):
    with pytest.raises(SpecqlError, match=f"Contact.{name}: field name '{name}' .*{reason}"):
        field_attribute(CONTACT, Field(name, parse_type("text")))
