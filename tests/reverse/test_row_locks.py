"""SELECT … FOR UPDATE followed by IF NOT FOUND THEN RAISE: a find + error, the lock noted."""

from __future__ import annotations

from specql.dsl.model import FindStep, QueryStep, RawSqlStep, walk_steps
from specql.reverse.confidence import NOTE
from tests.reverse.steps_support import map_sql

SCHEMA = """
CREATE TABLE shop.orders (
    order_id serial PRIMARY KEY,
    status text NOT NULL DEFAULT 'draft'
);
"""


def _map(body: str, name: str = "f"):
    sql = (
        SCHEMA
        + f"CREATE FUNCTION shop.{name}(p_order_id integer) RETURNS void LANGUAGE plpgsql AS $$\n"
        + body
        + "\n$$;\n"
    )
    _, mapped = map_sql(sql)
    return mapped[name]


def test_a_locked_select_of_a_row_then_not_found_raise_is_a_find_with_the_lock_noted():
    mapped = _map(
        "DECLARE v_order shop.orders%ROWTYPE;\nBEGIN\n"
        "  SELECT * INTO v_order FROM shop.orders WHERE order_id = p_order_id FOR UPDATE;\n"
        "  IF NOT FOUND THEN RAISE EXCEPTION 'order % not found', p_order_id; END IF;\n"
        "  UPDATE shop.orders SET status = 'placed' WHERE order_id = p_order_id;\n"
        "END;"
    )
    steps = list(walk_steps(mapped.action.steps))
    assert not any(isinstance(s, RawSqlStep) for s in steps)
    find = next(s for s in steps if isinstance(s, FindStep))
    assert (find.entity, find.where, find.error) == (
        "Order",
        "id = $order_id",
        "order_not_found",
    )
    notes = [u for u in mapped.unconverted if u.reason.startswith(NOTE + "row lock dropped")]
    assert len(notes) == 1 and "FOR UPDATE" in notes[0].reason
    assert mapped.statements_converted == mapped.statements_total


def test_a_locked_select_of_a_column_then_not_found_raise_is_a_find_and_an_assign():
    mapped = _map(
        "DECLARE v_status text;\nBEGIN\n"
        "  SELECT status INTO v_status FROM shop.orders WHERE order_id = p_order_id FOR SHARE;\n"
        "  IF NOT FOUND THEN RAISE EXCEPTION 'order % not found', p_order_id; END IF;\n"
        "  IF v_status <> 'draft' THEN RAISE EXCEPTION 'not a draft'; END IF;\n"
        "END;"
    )
    steps = list(walk_steps(mapped.action.steps))
    assert not any(isinstance(s, RawSqlStep) for s in steps)
    assert next(s for s in steps if isinstance(s, FindStep)).error == "order_not_found"
    assert any("FOR SHARE" in u.reason for u in mapped.unconverted if u.reason.startswith(NOTE))


def test_a_locked_select_without_a_not_found_check_keeps_its_lock_in_a_query():
    mapped = _map(
        "DECLARE v_status text;\nBEGIN\n"
        "  SELECT status INTO v_status FROM shop.orders WHERE order_id = p_order_id FOR UPDATE;\n"
        "  IF v_status <> 'draft' THEN RAISE EXCEPTION 'not a draft'; END IF;\n"
        "END;"
    )
    query = next(s for s in walk_steps(mapped.action.steps) if isinstance(s, QueryStep))
    assert query.sql.endswith("FOR UPDATE")
    assert not any("row lock" in u.reason for u in mapped.unconverted)
