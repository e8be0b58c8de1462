"""Legacy integer keys: params/variables used only as keys become uuid; mixed use stays raw."""

from __future__ import annotations

from specql.dsl.model import InsertStep, RawSqlStep, UpdateStep, walk_steps
from tests.reverse.steps_support import map_sql

SCHEMA = """
CREATE TABLE shop.orders (
    order_id serial PRIMARY KEY,
    status text NOT NULL DEFAULT 'draft',
    total numeric(12,2) NOT NULL DEFAULT 0
);
CREATE TABLE shop.order_lines (
    line_id serial PRIMARY KEY,
    order_id integer NOT NULL REFERENCES shop.orders (order_id),
    quantity integer NOT NULL
);
"""


def _map(body: str, args: str = "p_order_id integer", name: str = "f"):
    sql = (
        SCHEMA
        + f"CREATE FUNCTION shop.{name}({args}) RETURNS void LANGUAGE plpgsql AS $$\n"
        + body
        + "\n$$;\n"
    )
    _, mapped = map_sql(sql)
    return mapped[name]


def _params(mapped) -> dict[str, str]:
    return {p.name: p.type.name for p in mapped.action.params}


def test_a_param_used_only_as_the_key_becomes_uuid_with_a_note():
    mapped = _map(
        "BEGIN\n"
        "  UPDATE shop.orders SET status = 'placed' WHERE order_id = p_order_id;\n"
        "  INSERT INTO shop.order_lines (order_id, quantity) VALUES (p_order_id, 1);\n"
        "  IF p_order_id IS NULL THEN RAISE EXCEPTION 'no order'; END IF;\n"
        "END;"
    )
    assert _params(mapped) == {"order_id": "uuid"}
    steps = list(walk_steps(mapped.action.steps))
    assert not any(isinstance(s, RawSqlStep) for s in steps)
    update = next(s for s in steps if isinstance(s, UpdateStep))
    assert update.where == "id = $order_id"
    insert = next(s for s in steps if isinstance(s, InsertStep))
    assert insert.values["order_id"] == "$order_id"  # the ref field of OrderLine
    reasons = [u.reason for u in mapped.unconverted]
    assert "note: param order_id: integer → uuid (legacy key now the entity's UUID id)" in reasons
    assert mapped.statements_converted == mapped.statements_total


def test_a_variable_filled_with_a_new_id_becomes_uuid():
    mapped = _map(
        "DECLARE v_line integer;\nBEGIN\n"
        "  INSERT INTO shop.order_lines (order_id, quantity) VALUES (p_order_id, 1)\n"
        "  RETURNING line_id INTO v_line;\n"
        "  UPDATE shop.order_lines SET quantity = 2 WHERE line_id = v_line;\n"
        "END;"
    )
    reasons = [u.reason for u in mapped.unconverted]
    assert "note: variable line: integer → uuid (legacy key now the entity's UUID id)" in reasons


def test_a_key_param_also_used_as_an_integer_keeps_its_type_and_its_key_uses_go_raw():
    mapped = _map(
        "BEGIN\n"
        "  UPDATE shop.orders SET total = p_order_id * 2 WHERE order_id = p_order_id;\n"
        "  UPDATE shop.orders SET status = 'placed' WHERE order_id = p_order_id;\n"
        "END;"
    )
    assert _params(mapped) == {"order_id": "integer"}
    raws = [s for s in walk_steps(mapped.action.steps) if isinstance(s, RawSqlStep)]
    assert len(raws) == 2
    assert all("param order_id stays integer" in r.reason for r in raws)
    assert all("UUID" in r.reason for r in raws)
    assert not any("→ uuid" in u.reason for u in mapped.unconverted)


def test_an_integer_param_that_is_no_key_is_left_alone():
    mapped = _map(
        "BEGIN\n  UPDATE shop.order_lines SET quantity = p_qty WHERE quantity < p_qty;\nEND;",
        args="p_qty integer",
    )
    assert _params(mapped) == {"qty": "integer"}
    assert not any("uuid" in u.reason for u in mapped.unconverted)


def test_params_compared_with_each_other_share_one_type():
    mapped = _map(
        "BEGIN\n"
        "  IF p_a = p_b THEN RAISE EXCEPTION 'same order'; END IF;\n"
        "  UPDATE shop.order_lines SET order_id = p_b WHERE order_id = p_a;\n"
        "  PERFORM shop.recalculate(p_a);\n"
        "END;",
        args="p_a integer, p_b integer",
    )
    assert _params(mapped) == {"a": "uuid", "b": "uuid"}

    mixed = _map(
        "BEGIN\n"
        "  IF p_a = p_b THEN RAISE EXCEPTION 'same order'; END IF;\n"
        "  UPDATE shop.order_lines SET quantity = p_b WHERE order_id = p_a;\n"
        "END;",
        args="p_a integer, p_b integer",
    )
    assert _params(mixed) == {"a": "integer", "b": "integer"}
    raws = [s for s in walk_steps(mixed.action.steps) if isinstance(s, RawSqlStep)]
    assert len(raws) == 1 and "param a stays integer" in raws[0].reason
