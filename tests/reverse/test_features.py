"""Retrieval features: plain-English phrases for what a function's statements do, made from the
facts the map stage extracts, independent of the pattern detectors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from specql.reverse import features as features_module
from specql.reverse import heuristics
from specql.reverse.facts import extract_facts
from specql.reverse.features import MAX_FEATURES, retrieval_features
from specql.reverse.parse import link_modules, parse_sql_text

AUDIT = """\
CREATE TABLE shop.orders (order_id serial PRIMARY KEY, status text);
CREATE TABLE shop.order_history (order_id int, operation char(1), old_status text,
                                 new_status text);
CREATE FUNCTION shop.trg_orders_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shop.order_history (order_id, operation, new_status)
        VALUES (NEW.order_id, 'I', NEW.status);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.status IS DISTINCT FROM OLD.status THEN
            INSERT INTO shop.order_history (order_id, operation, old_status, new_status)
            VALUES (NEW.order_id, 'U', OLD.status, NEW.status);
        END IF;
        RETURN NEW;
    ELSE
        INSERT INTO shop.order_history (order_id, operation, old_status)
        VALUES (OLD.order_id, 'D', OLD.status);
        RETURN OLD;
    END IF;
END;
$$;
CREATE TRIGGER orders_log AFTER INSERT OR UPDATE OR DELETE ON shop.orders
    FOR EACH ROW EXECUTE FUNCTION shop.trg_orders_log();
"""

TOUCH = """\
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER t BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
"""


def features_of(sql: str) -> list[str]:
    module = parse_sql_text(sql, source="test.sql")
    link_modules([module])
    (fn,) = module.functions
    return retrieval_features(extract_facts(fn), fn.triggers)


def plpgsql(body: str, args: str = "p_id integer", returns: str = "void") -> str:
    return f"CREATE FUNCTION f({args}) RETURNS {returns} LANGUAGE plpgsql AS $$\n{body}\n$$;\n"


def test_an_audit_style_trigger_is_described_by_its_statements() -> None:
    found = features_of(AUDIT)
    assert found[:3] == [
        "after row trigger",
        "runs on insert, update and delete",
        "does something different for each operation",
    ]
    for phrase in (
        "compares old and new values of status",
        "inserts into order history",
        "copies new row values into order history",
        "copies old row values into order history",
        "returns the new row",
        "returns the old row",
    ):
        assert phrase in found


def test_a_before_trigger_setting_a_column_of_the_new_row() -> None:
    assert features_of(TOUCH) == [
        "before row trigger",
        "runs on update",
        "sets updated at of the new row",
        "returns the new row",
    ]


def test_a_statement_trigger() -> None:
    sql = TOUCH.replace("NEW.updated_at := now();\n    RETURN NEW;", "RETURN NULL;").replace(
        "FOR EACH ROW", "FOR EACH STATEMENT"
    )
    assert features_of(sql)[0] == "before statement trigger"


STATEMENTS = [
    (
        "BEGIN UPDATE tb_product SET stock = stock + 1 WHERE id = p_id; END;",
        ["updates product", "updates product adding to stock"],
    ),
    (
        "BEGIN UPDATE accounts SET balance = balance - 5, touched_at = now(), "
        "archived = true, note = NULL, who = current_user WHERE id = p_id; END;",
        [
            "updates accounts subtracting from balance",
            "sets touched at to the current time",
            "sets the flag archived to true",
            "clears note",
            "records the current user in who",
        ],
    ),
    (
        "DECLARE t numeric; n int; BEGIN SELECT sum(amount), count(*) INTO t, n FROM lines; END;",
        ["aggregates with sum/count", "only reads lines"],
    ),
    (
        "BEGIN PERFORM 1 FROM (WITH RECURSIVE up AS (SELECT id, parent_id FROM nodes "
        "WHERE id = p_id UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up "
        "ON n.id = up.parent_id) SELECT * FROM up) s; END;",
        ["recursive query"],
    ),
    ("BEGIN PERFORM pg_notify('jobs', p_id::text); END;", ["sends a notification"]),
    ("BEGIN NOTIFY jobs; END;", ["sends a notification"]),
    (
        "BEGIN INSERT INTO stock (id, qty) VALUES (p_id, 1) "
        "ON CONFLICT (id) DO UPDATE SET qty = stock.qty + 1; END;",
        ["inserts into stock", "insert on conflict update"],
    ),
    (
        "BEGIN INSERT INTO seen (id) VALUES (p_id) ON CONFLICT DO NOTHING; END;",
        ["insert on conflict do nothing"],
    ),
    (
        "DECLARE r record; BEGIN FOR r IN SELECT id FROM jobs LOOP "
        "DELETE FROM queue WHERE job = r.id; END LOOP; END;",
        ["loops over a query", "deletes from queue", "writes rows inside a loop"],
    ),
    (
        "DECLARE i int; BEGIN FOR i IN 1..p_id LOOP PERFORM pg_sleep(0); END LOOP; END;",
        ["loops over a range of numbers"],
    ),
    (
        "DECLARE x int; BEGIN FOREACH x IN ARRAY ARRAY[1,2] LOOP PERFORM x; END LOOP; END;",
        ["loops over an array"],
    ),
    (
        "BEGIN WHILE p_id > 0 LOOP p_id := p_id - 1; END LOOP; END;",
        ["repeats while a condition holds"],
    ),
    (
        "BEGIN IF p_id < 0 THEN RAISE EXCEPTION 'negative'; END IF; RAISE NOTICE 'ok'; END;",
        ["raises an error when a check fails", "logs a notice"],
    ),
    ("BEGIN RAISE EXCEPTION 'always'; END;", ["raises an error"]),
    (
        "BEGIN PERFORM 1 FROM users WHERE id = p_id; IF NOT FOUND THEN RAISE EXCEPTION 'x'; "
        "END IF; END;",
        ["checks whether the previous query found a row"],
    ),
    (
        "BEGIN IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_id) THEN RETURN; END IF; END;",
        ["checks whether a matching row exists"],
    ),
    (
        "BEGIN EXECUTE format('DELETE FROM %I', 't' || p_id); END;",
        ["runs dynamic sql"],
    ),
    (
        "BEGIN INSERT INTO t (id) VALUES (p_id); EXCEPTION WHEN unique_violation THEN "
        "RAISE EXCEPTION 'dup'; END;",
        ["catches errors: unique violation", "raises an error from an error handler"],
    ),
    (
        "DECLARE n int; BEGIN DELETE FROM t WHERE id = p_id; GET DIAGNOSTICS n = ROW_COUNT; END;",
        ["counts the rows a statement changed"],
    ),
]


@pytest.mark.parametrize(("body", "expected"), STATEMENTS, ids=lambda v: str(v)[:40])
def test_statement_shapes(body: str, expected: list[str]) -> None:
    found = features_of(plpgsql(body))
    assert set(expected) <= set(found), found


def test_a_set_returning_function() -> None:
    sql = plpgsql("BEGIN RETURN QUERY SELECT id FROM jobs; END;", returns="SETOF integer")
    assert "returns a set of rows" in features_of(sql)


def test_a_sql_language_function_has_features_too() -> None:
    sql = "CREATE FUNCTION g(p int) RETURNS void LANGUAGE sql AS $$ DELETE FROM t WHERE id = p $$;"
    assert features_of(sql) == ["deletes from t"]
    reader = "CREATE FUNCTION h() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM a.b $$;"
    assert features_of(reader) == ["aggregates with count", "only reads b"]


def test_a_function_that_does_nothing_has_none() -> None:
    assert features_of(plpgsql("BEGIN RETURN; END;")) == []


def test_phrases_are_unique_and_capped() -> None:
    tables = [f"t_{'x' * n}" for n in range(1, 40)]
    body = "BEGIN\n" + "".join(f"UPDATE {t} SET c = c + 1;\n" for t in tables) + "END;"
    found = features_of(plpgsql(body))
    assert len(found) == MAX_FEATURES == len(set(found))
    assert found[:2] == ["updates t x", "updates t x adding to c"]


def test_features_are_not_the_detectors_verdicts(monkeypatch) -> None:
    """Retrieval must be an independent signal: no pattern names, and the phrases do not
    change when the detectors are gone."""
    with_detectors = features_of(AUDIT)
    monkeypatch.setattr(heuristics, "DETECTORS", {})
    assert features_of(AUDIT) == with_detectors
    names = {p.replace("_", " ") for p in heuristics.PATTERNS} | set(heuristics.PATTERNS)
    text = " ".join(with_detectors)
    assert not [n for n in names if n in text]
    tree = ast.parse(Path(features_module.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "specql.reverse.heuristics" not in imported
