"""Names in reverse engineering: tables -> entities, functions -> actions, prefixes."""

from __future__ import annotations

import pytest

from specql.generators.postgres.naming import table_name
from specql.reverse.naming import (
    NameMap,
    action_name_for_function,
    entity_name_for_table,
    is_plain_name,
    singular,
    strip_prefix,
)


@pytest.mark.parametrize(
    ("schema", "table", "entity"),
    [
        ("crm", "tb_contact", "Contact"),
        ("catalog", "tb_price_list", "PriceList"),
        ("projects", "tb_time_entry", "TimeEntry"),
        ("crm", "tb_news", "News"),  # our own tb_ names are never singularised
        ("public", "customers", "Customer"),
        ("billing", "order_lines", "OrderLine"),
        ("public", "categories", "Category"),
        ("public", "addresses", "Address"),
        ("public", "statuses", "Status"),
        ("public", "status", "Status"),
        ("public", "business", "Business"),
        ("public", "people", "Person"),
        ("public", "tbl_invoices", "Invoice"),
        ("public", "t_users", "User"),
        ("public", "film_actor", "FilmActor"),
        (None, "boxes", "Box"),
        ("public", "Orders", "Order"),
    ],
)
def test_entity_name_for_table(schema, table, entity):
    assert entity_name_for_table(schema, table) == entity


@pytest.mark.parametrize(
    "entity", ["Contact", "OrderLine", "PriceList", "TimeEntry", "News", "Status"]
)
def test_generated_table_names_map_back_to_their_entity(entity):
    assert entity_name_for_table("any", table_name(entity)) == entity


@pytest.mark.parametrize(
    ("word", "single"),
    [
        ("orders", "order"),
        ("ties", "ty"),
        ("boxes", "box"),
        ("bus", "bus"),
        ("data", "data"),
        ("analysis", "analysis"),
        ("gas", "gas"),
        ("photos", "photo"),
    ],
)
def test_singular(word, single):
    assert singular(word) == single


@pytest.mark.parametrize(
    ("schema", "function", "action"),
    [
        ("crm", "fn_crm_qualify_lead", "qualify_lead"),
        ("crm", "fn_close_order", "close_order"),
        ("public", "CloseOrder", "close_order"),
        ("public", "get_customer_balance", "get_customer_balance"),
        (None, "fn_x", "x"),
    ],
)
def test_action_name_for_function(schema, function, action):
    assert action_name_for_function(schema, function) == action


def test_strip_prefix():
    assert strip_prefix("p_total", ("p_", "in_", "_")) == "total"
    assert strip_prefix("in_total", ("p_", "in_", "_")) == "total"
    assert strip_prefix("_total", ("p_", "in_", "_")) == "total"
    assert strip_prefix("total", ("p_",)) is None
    assert strip_prefix("p_", ("p_",)) is None
    assert strip_prefix("p_1x", ("p_",)) is None
    assert strip_prefix("p_select", ("p_",)) is None  # a reserved word cannot stand bare
    assert is_plain_name("total") and not is_plain_name("order") and not is_plain_name("Total")


def test_name_map_strips_one_prefix_when_unambiguous():
    names = NameMap(columns={"status", "id"})
    for p in ("p_customer", "p_id", "p_tenant_id", "in_amount", "$1"):
        names.add_param(p, "arg1" if p == "$1" else None)
    for v in ("v_total", "v_status", "l_count", "v_amount", "_customer"):
        names.add_variable(v)
    names.resolve()
    assert names.params == {
        "p_customer": "customer",
        "p_id": "p_id",  # id is the framework's
        "p_tenant_id": "p_tenant_id",
        "in_amount": "amount",
        "$1": "arg1",
    }
    assert names.variables == {
        "v_total": "total",
        "v_status": "v_status",  # a column of that name would capture it inside queries
        "l_count": "count",
        "v_amount": "amount",  # params and variables are spelled apart ($amount vs amount)
        "_customer": "customer",
    }


def test_name_map_never_gives_two_variables_one_name():
    names = NameMap()
    for v in ("v_x", "l_x", "x"):
        names.add_variable(v)
    names.resolve()
    assert len(set(names.variables.values())) == 3
    assert names.variables["x"] == "x" or names.variables["v_x"] == "x"
