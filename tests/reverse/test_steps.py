"""The steps stage on legacy PL/pgSQL: golden files, and the bar every mapped action must pass
(it validates on its entity, loads back from its YAML and compiles to PostgreSQL again).

Golden files (``fixtures/steps/<name>.expected.yaml``) are written by
``tests/reverse/regen_golden.py`` and reviewed, never edited by hand.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from specql.dsl import dump, load_text, validate
from specql.dsl.model import Entity, RawSqlStep, walk_steps
from specql.errors import ErrorLevel, SourcePos
from specql.generators.postgres.actions import compile_action
from specql.generators.postgres.context import CompileContext
from specql.reverse.confidence import NOTE, UNKNOWN_TYPE, function_confidence
from specql.reverse.entity_tables import EntityTables
from specql.reverse.parse import parse_sql_text
from specql.reverse.source import FunctionInfo
from specql.reverse.sqlmap import Names, Translator, Untranslatable
from specql.reverse.statements import error_code, negate, split_assignment
from specql.reverse.steps import map_function
from tests.reverse.steps_support import (
    FIXTURES,
    fixture_names,
    golden_path,
    golden_text,
    map_fixture,
    map_sql,
)

SCHEMA_SQL = (FIXTURES / "schema.sql").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- golden files


@pytest.mark.parametrize("name", fixture_names())
def test_golden(name):
    path = golden_path(name)
    assert path.exists(), f"run tests/reverse/regen_golden.py {name}"
    assert golden_text(name) == path.read_text(encoding="utf-8"), (
        f"{path.name} is out of date: run tests/reverse/regen_golden.py {name} and review"
    )


def test_every_fixture_has_a_golden_file_and_no_golden_is_orphaned():
    goldens = {p.name.removesuffix(".expected.yaml") for p in FIXTURES.glob("*.expected.yaml")}
    assert goldens == set(fixture_names())


# --------------------------------------------------------------------------- the bar


def _placed(name):
    """Fixture entities with every mapped action placed on its entity hint's entity."""
    entities, known, mapped = map_fixture(name)
    by_name = {e.name: dataclasses.replace(e, actions=[]) for e in entities.values()}
    placed = []
    for m in mapped:
        host = known.by_qualified(m.entity_hint) if m.entity_hint else None
        entity = by_name.setdefault(
            host.entity.name if host else "Unplaced", Entity(name="Unplaced", schema="billing")
        )
        entity.actions.append(m.action)
        placed.append((entity, m))
    return list(by_name.values()), placed


@pytest.mark.parametrize("name", fixture_names())
def test_mapped_actions_validate_load_back_and_generate(name):
    entities, placed = _placed(name)
    errors = [p for p in validate(entities) if p.level is ErrorLevel.ERROR]
    assert errors == []
    ctx = CompileContext.of(entities)
    for entity, m in placed:
        sql = compile_action(entity, m.action, ctx)
        assert f"fn_{entity.schema}_{m.action.name}" in sql
    for entity in entities:
        assert load_text(dump(entity), f"{entity.name}.yaml") == entity


@pytest.mark.parametrize("name", fixture_names())
def test_nothing_is_dropped_silently(name):
    """Every unconverted statement is a raw_sql step with a reason, at the statement's line in
    the fixture file, and the counts add up."""
    _, _, mapped = map_fixture(name)
    lines = (FIXTURES / f"{name}.sql").read_text(encoding="utf-8").splitlines()
    for m in mapped:
        raws = [s for s in walk_steps(m.action.steps) if isinstance(s, RawSqlStep)]
        statements = [u for u in m.unconverted if not u.reason.startswith((UNKNOWN_TYPE, NOTE))]
        assert len(statements) == len(raws)
        for u, raw in zip(statements, raws, strict=True):
            assert u.reason and raw.reason == u.reason and raw.sql == u.sql
            first_word = raw.sql.split()[0]
            assert first_word in lines[u.pos.line - 1], (u.pos.line, raw.sql)
            assert u.pos.file.endswith(f"{name}.sql")
        assert m.statements_converted <= m.statements_total
        if raws:
            assert m.statements_converted < m.statements_total
            assert function_confidence(m) < 1.0


def test_fixtures_cover_the_shapes_the_issue_lists():
    kinds = set()
    reasons = []
    for name in fixture_names():
        _, _, mapped = map_fixture(name)
        for m in mapped:
            kinds |= {s.kind for s in walk_steps(m.action.steps)}
            reasons += [u.reason for u in m.unconverted]
    assert kinds >= {
        "validate",
        "if",
        "insert",
        "update",
        "delete",
        "find",
        "query",
        "declare",
        "assign",
        "call",
        "notify",
        "foreach",
        "return",
        "raw_sql",
        "reject",
    }
    text = " ".join(reasons)
    for needle in (
        "EXECUTE",
        "cursor",
        "exception handler",
        "RETURN QUERY",
        "TG_OP",
        "ON CONFLICT",
    ):
        assert needle in text


# --------------------------------------------------------------------------- behaviours


def _one(sql: str, name: str | None = None):
    _, mapped = map_sql(SCHEMA_SQL + "\n" + sql)
    return mapped[name] if name else next(iter(mapped.values()))


def _fn(body: str, args: str = "", returns: str = "void", name: str = "f") -> str:
    return (
        f"CREATE FUNCTION billing.{name}({args}) RETURNS {returns} LANGUAGE plpgsql AS $$\n"
        f"{body}\n$$;\n"
    )


def test_raise_guards_become_validate_with_the_condition_negated():
    m = _one(
        _fn(
            "BEGIN\n"
            "  IF p_amount IS NULL THEN RAISE EXCEPTION 'amount_required'; END IF;\n"
            "  IF p_amount <> 10 THEN RAISE EXCEPTION 'Amount must be ten'; END IF;\n"
            "  IF p_amount < 1 OR p_amount >= 100 THEN RAISE EXCEPTION 'out of range'; END IF;\n"
            "END;",
            "p_amount integer",
        )
    )
    steps = [(s.kind, s.condition, s.error, s.message) for s in m.action.steps]
    assert steps == [
        ("validate", "$amount IS NOT NULL", "amount_required", None),
        ("validate", "$amount = 10", "amount_must_be_ten", "Amount must be ten"),
        ("validate", "$amount >= 1 AND $amount < 100", "out_of_range", "out of range"),
    ]


def test_a_legacy_statement_the_validator_rejects_becomes_raw_with_its_message():
    # customers.name is NOT NULL without default: an insert without it is not valid SpecQL
    m = _one(_fn("BEGIN\n  INSERT INTO billing.customers (email) VALUES ('a@b.c');\nEND;"))
    (step,) = m.action.steps
    assert isinstance(step, RawSqlStep)
    assert step.reason.startswith("not valid SpecQL") and "name" in step.reason
    assert m.unconverted[0].pos.line > 0


def test_positional_args_read_as_named_params():
    m = _one(
        _fn(
            "BEGIN\n  UPDATE billing.orders SET note = $2 WHERE order_id = $1;\nEND;",
            "integer, text",
        )
    )
    assert [p.name for p in m.action.params] == ["arg1", "arg2"]
    (step,) = m.action.steps
    assert step.assignments == {"note": "$arg2"} and step.where == "id = $arg1"


def test_prefixes_are_stripped_only_when_unambiguous():
    m = _one(
        _fn(
            "DECLARE v_note text; v_status text; v_count integer := 0;\n"
            "BEGIN\n"
            "  v_note := p_note; v_status := 'x'; v_count := v_count + 1;\n"
            "  UPDATE billing.orders SET note = v_note, status = v_status WHERE order_id = p_id;\n"
            "END;",
            "p_id integer, p_note text, note text",
        )
    )
    # p_note's bare name is taken by the param `note`; v_status would be read as the column
    assert [p.name for p in m.action.params] == ["p_id", "p_note", "note"]
    declared = next(s for s in m.action.steps if s.kind == "declare")
    assert [v.name for v in declared.variables] == ["v_note", "v_status", "count"]


def test_the_raw_parse_path_keeps_every_statement_as_raw_sql():
    fn = FunctionInfo(
        schema="billing",
        name="broken",
        parse_path="raw",
        parse_error="syntax error",
        raw_statements=[
            ("SELECT 1", SourcePos("x.sql", 3, 1)),
            ("x := 2", SourcePos("x.sql", 4, 1)),
        ],
    )
    m = map_function(fn, [], {})
    assert [s.sql for s in m.action.steps] == ["SELECT 1", "x := 2"]
    assert all("could not be parsed (syntax error)" in s.reason for s in m.action.steps)
    assert (m.statements_total, m.statements_converted) == (2, 0)
    assert [u.pos.line for u in m.unconverted] == [3, 4]


def test_a_function_that_is_not_generated_keeps_its_context_like_params():
    m = _one(
        _fn(
            "BEGIN\n  UPDATE billing.orders SET note = 'x' WHERE order_id = p_id;\nEND;",
            "p_tenant_id uuid, p_id integer",
        )
    )
    assert [p.name for p in m.action.params] == ["p_tenant_id", "p_id"]
    assert m.action.steps[0].where == "id = $p_id"


def test_tables_written_and_read_are_counted():
    m = _one(
        _fn(
            "DECLARE v integer;\nBEGIN\n"
            "  SELECT count(*) INTO v FROM billing.order_lines WHERE order_id = 1;\n"
            "  UPDATE billing.orders SET total = v WHERE order_id = 1;\n"
            "  UPDATE billing.orders SET note = 'n' WHERE order_id = 2;\nEND;"
        )
    )
    assert m.tables_written == {"billing.orders": 2}
    assert m.tables_read == {"billing.order_lines": 1}
    assert m.entity_hint == "billing.orders"


@pytest.mark.parametrize(
    ("condition", "negated"),
    [
        ("a IS NULL", "a IS NOT NULL"),
        ("a = b", "a <> b"),
        ("a <> b", "a = b"),
        ("a < b", "a >= b"),
        ("NOT a", "a"),
        ("a AND b", "NOT a OR NOT b"),
        ("a IN (1, 2)", "a NOT IN (1, 2)"),
        ("a BETWEEN 1 AND 2", "a NOT BETWEEN 1 AND 2"),
        ("a LIKE 'x%'", "a NOT LIKE 'x%'"),
        ("f(a)", "NOT f(a)"),
    ],
)
def test_negation_is_simplified_where_exact(condition, negated):
    tr = Translator(EntityTables([]), Names())
    assert tr.render(negate(tr.parse_expression(condition))) == negated


def test_error_codes_and_assignments():
    assert error_code("Customer % not found") == "customer_not_found"
    assert error_code("42 is wrong") == "error_42_is_wrong"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", error_code("Ünïcode!!"))
    assert split_assignment("NEW.a := b = c") == ("NEW.a", "b = c")
    with pytest.raises(Untranslatable):
        split_assignment("no assignment here")


def test_generated_frames_are_only_looked_for_in_fn_functions():
    sql = (
        (FIXTURES / "validation.sql")
        .read_text(encoding="utf-8")
        .replace("fn_place_order", "place_order")
    )
    module = parse_sql_text(SCHEMA_SQL + sql, "x.sql")
    assert module.functions[-1].name == "place_order"


def test_insert_select_becomes_a_foreach_with_one_insert_per_row():
    m = _one(
        _fn(
            "BEGIN\n  INSERT INTO billing.payments (order_id, amount)\n"
            "  SELECT order_id, total FROM billing.orders WHERE status = 'placed';\nEND;"
        )
    )
    (step,) = m.action.steps
    assert step.kind == "foreach" and step.variable == "payment_source"
    assert step.query == (
        "SELECT id AS order_id, total AS amount FROM \"order\" WHERE status = 'placed'"
    )
    (insert,) = step.body
    assert insert.values == {
        "order_id": "payment_source.order_id",
        "amount": "payment_source.amount",
    }


def test_insert_without_a_column_list_follows_the_table_columns():
    m = _one(
        _fn("BEGIN\n  INSERT INTO billing.order_lines VALUES (DEFAULT, 7, 'SKU', 2, 9.5);\nEND;")
    )
    (step,) = m.action.steps
    assert step.values == {"order_id": "7", "sku": "'SKU'", "quantity": "2", "unit_price": "9.5"}


def test_a_default_with_no_spec_form_is_kept_as_raw_sql_at_the_start():
    m = _one(
        _fn(
            "DECLARE v_n bigint := (SELECT count(*) FROM pg_class);\n"
            "BEGIN\n  UPDATE billing.orders SET total = v_n WHERE order_id = 1;\nEND;"
        )
    )
    declare, raw, update = m.action.steps
    assert declare.kind == "declare" and declare.variables[0].default is None
    assert raw.kind == "raw_sql" and raw.sql == "v_n := (SELECT count(*) FROM pg_class);"
    assert "pg_class is not an entity table" in raw.reason
    assert update.kind == "update"
    assert m.statements_converted == m.statements_total  # a default is not a statement


def test_user_types_give_variables_their_type():
    sql = (
        "CREATE TYPE billing.mood AS ENUM ('happy', 'sad');\n"
        "CREATE DOMAIN billing.positive AS integer CHECK (VALUE > 0);\n"
        + _fn(
            "DECLARE v_mood billing.mood := 'sad'; v_n billing.positive;\n"
            "  v_row billing.orders;\nBEGIN\n"
            "  SELECT * INTO v_row FROM billing.orders WHERE order_id = 1;\n"
            "  UPDATE billing.orders SET note = v_mood::text, total = v_n WHERE order_id = 2;\nEND;"
        )
    )
    m = _one(sql)
    declare = next(s for s in m.action.steps if s.kind == "declare")
    types = {v.name: (str(v.type), v.default) for v in declare.variables}
    assert types == {"mood": ("enum(happy, sad)", "sad"), "n": ("integer", None)}
    assert m.action.steps[0].kind == "find" and m.action.steps[0].into == "row"


def _loop_query(inner: str) -> str:
    m = _one(
        _fn(
            "DECLARE r record;\nBEGIN\n"
            "  FOR r IN SELECT o.order_id FROM billing.orders o\n"
            f"    WHERE o.customer_id IN ({inner}) LOOP\n"
            "    UPDATE billing.orders SET note = 'seen' WHERE order_id = r.order_id;\n"
            "  END LOOP;\nEND;",
            "p_root integer",
        )
    )
    (loop,) = [s for s in m.action.steps if s.kind != "declare"]
    return loop.query if loop.kind == "foreach" else f"raw_sql: {loop.reason}"


@pytest.mark.parametrize(
    "inner, translated",
    [
        # a set-returning function: its customer_id is not the outer order's
        (
            "SELECT customer_id FROM crm.customer_subtree(p_root)",
            "SELECT customer_id FROM crm.customer_subtree($root)",
        ),
        (
            "SELECT customer_id FROM (VALUES (1), (2)) AS v(customer_id)",
            "SELECT customer_id FROM ((VALUES (1), (2))) AS v (customer_id)",
        ),
        # a subquery in FROM: its (renamed) output column, not the outer one
        (
            "SELECT customer_id FROM (SELECT c.customer_id FROM billing.customers c) s",
            "SELECT id FROM (SELECT id FROM Customer) AS s",
        ),
        # known columns that lack the name: still an outer (correlated) reference
        (
            "SELECT v.n FROM (VALUES (1)) AS v(n) WHERE v.n = customer_id",
            "SELECT v.n FROM ((VALUES (1))) AS v (n) WHERE v.n = o.customer",
        ),
        ("SELECT customer_id FROM legacy.customer_map", "raw_sql: table legacy.customer_map"),
    ],
)
def test_a_bare_column_belongs_to_the_innermost_from_item_even_when_opaque(inner, translated):
    query = _loop_query(inner)
    assert query.startswith("raw_sql: " if translated.startswith("raw_sql") else "SELECT")
    if translated.startswith("raw_sql"):
        assert translated in query and "is not an entity table" in query
    else:
        assert query.endswith(f"IN ({translated})"), query
