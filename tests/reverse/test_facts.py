"""Facts extracted from PL/pgSQL bodies, and the SQL facts of embedded queries."""

from __future__ import annotations

import pytest

from specql.reverse.facts import extract_facts, tokens
from specql.reverse.parse_queries import (
    dynamic_sql_facts,
    is_dynamic,
    query_facts,
    split_assignment,
    split_body,
)
from specql.reverse.source import FunctionInfo, TriggerInfo

parse = pytest.importorskip("specql.reverse.parse", reason="the parse stage is not there yet")

SQL = """-- a comment line
CREATE OR REPLACE FUNCTION billing.close_invoice(p_invoice integer, p_user integer)
RETURNS integer AS $$
DECLARE
    v_state text;
    v_total numeric;
    r record;
    n integer;
BEGIN
    SELECT state INTO v_state FROM billing.invoices WHERE id = p_invoice FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invoice % not found', p_invoice;
    ELSIF v_state <> 'open' THEN
        RAISE EXCEPTION 'invoice % is %', p_invoice, v_state USING ERRCODE = 'P0001';
    ELSE
        RAISE NOTICE 'closing %', p_invoice;
    END IF;
    FOR r IN SELECT amount FROM billing.lines WHERE invoice_id = p_invoice LOOP
        v_total := coalesce(v_total, 0) + r.amount;
    END LOOP;
    UPDATE billing.invoices SET state = 'closed', total = v_total, closed_by = p_user
     WHERE id = p_invoice;
    GET DIAGNOSTICS n = ROW_COUNT;
    BEGIN
        INSERT INTO billing.invoice_log (invoice_id, action, at) VALUES (p_invoice, 'close', now());
    EXCEPTION WHEN unique_violation THEN
        RAISE;
    END;
    RETURN n;
END;
$$ LANGUAGE plpgsql;
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, t in enumerate(text.split("\n"), 1) if needle in t)


@pytest.fixture(scope="module")
def facts():
    fn = parse.parse_sql_text(SQL, source="test.sql").functions[0]
    return extract_facts(fn)


def test_signature(facts) -> None:
    assert facts.qualified_name == "billing.close_invoice"
    assert facts.name_tokens == ("close", "invoice")
    assert [a for a, _ in facts.args] == ["p_invoice", "p_user"]
    assert not facts.is_trigger
    assert facts.parse_path == "ast"
    assert {"v_state", "v_total", "r", "n"} <= set(facts.variables)
    assert facts.variables["p_invoice"].is_arg


def test_statement_kinds_and_file_lines(facts) -> None:
    counts = facts.counts
    assert counts["raise"] == 4  # three in the IF, one re-raise in the handler
    assert counts["execsql"] == 3
    assert counts["loop"] == 1 and counts["getdiag"] == 1 and counts["return"] == 1
    select = next(facts.of_kind("execsql"))
    assert select.line == line_of(SQL, "SELECT state INTO v_state")
    assert select.targets == ("v_state",)
    assert select.query.reads == ("billing.invoices",)


def test_raise_levels_guards_and_handlers(facts) -> None:
    raises = list(facts.of_kind("raise"))
    first, second, notice, reraise = raises
    assert (first.level, first.message) == ("exception", "invoice % not found")
    assert first.guards[-1].tests_found == "not found"
    assert second.level == "exception"
    # the ELSIF branch: the IF condition is negated, the ELSIF one holds
    assert [g.negated for g in second.guards] == [True, False]
    assert second.guards[-1].facts.comparisons == (("v_state", "<>", "'open'"),)
    assert notice.level == "notice" and all(g.negated for g in notice.guards)
    assert reraise.in_handler and reraise.level == "exception"
    assert facts.exception_conditions == ["unique_violation"]


def test_loops_assignments_and_diagnostics(facts) -> None:
    assign = next(facts.of_kind("assign"))
    assert assign.in_loop and assign.loop_kind == "query"
    assert assign.targets == ("v_total",)
    assert assign.depth > next(facts.of_kind("loop")).depth
    assert facts.diagnostics == [("ROW_COUNT", "n")]


def test_query_facts_in_context(facts) -> None:
    assert facts.tables_written == {"billing.invoices": 1, "billing.invoice_log": 1}
    assert "billing.lines" in facts.tables_read
    update = next(s for s, q in facts.queries() if q.kind == "update")
    sets = {i.column: i.value for i in update.query.sets}
    assert sets == {"state": "str", "total": "expr", "closed_by": "expr"}
    assert "now" in facts.calls


def test_trigger_facts() -> None:
    sql = """
    CREATE FUNCTION t.stamp() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.created_at := now();
        END IF;
        SELECT max(n) + 1 INTO NEW.seq FROM t.items WHERE parent = NEW.parent;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """
    fn = parse.parse_sql_text(sql).functions[0]
    fn.triggers = [
        TriggerInfo("stamp_tg", "t.items", "before", ("insert", "update"), "row", "t.stamp")
    ]
    f = extract_facts(fn)
    assert f.is_trigger
    assert f.trigger_events == {"insert", "update"} and f.trigger_timing == {"before"}
    assert [t for s in f.record_assignments for t in s.targets] == ["new.created_at", "new.seq"]
    assert f.conditions[0].only_trigger_vars
    ret = next(f.of_kind("return"))
    assert ret.text.upper() == "NEW"


def test_dynamic_execute_is_rebuilt() -> None:
    sql = """
    CREATE FUNCTION util.bump(tbl text, row_id integer) RETURNS void AS $$
    DECLARE
        stmt text;
    BEGIN
        stmt := 'UPDATE ' || quote_ident(tbl) || ' SET ref_count = ref_count + 1';
        stmt := stmt || ' WHERE id = ' || row_id;
        EXECUTE stmt;
        EXECUTE format('DELETE FROM %I.%I WHERE id = $1', 'arch', tbl || '_old') USING row_id;
    END;
    $$ LANGUAGE plpgsql;
    """
    f = extract_facts(parse.parse_sql_text(sql).functions[0])
    update, delete = [s for s in f.statements if s.dynamic]
    assert update.query.kind == "update" and update.query.reconstructed
    (item,) = update.query.sets
    assert (item.column, item.value, item.delta_const) == ("ref_count", "inc", True)
    assert is_dynamic(update.query.writes[0].table)
    assert delete.query.writes[0].table == "arch.?_old"  # format() arguments are substituted
    assert "stmt" in f.sql_variables


def test_raw_path_facts() -> None:
    body = """
DECLARE
    v app.users%ROWTYPE;
BEGIN
    SELECT * INTO v FROM app.users WHERE id = p_id;
    IF v.locked THEN
        RAISE EXCEPTION 'user % is locked', p_id;
    ELSE
        UPDATE app.users SET last_seen = now() WHERE id = p_id;
    END IF;
    FOR r IN SELECT * FROM app.sessions WHERE user_id = p_id LOOP
        total := total + r.seconds;
    END LOOP;
    RETURN NEW;
END;
"""
    fn = FunctionInfo(schema="app", name="touch", body=body, parse_path="raw", body_line=5)
    f = extract_facts(fn)
    assert f.parse_path == "raw"
    kinds = [s.kind for s in f.statements]
    assert kinds.count("raise") == 1 and "loop" in kinds and "assign" in kinds
    r = next(f.of_kind("raise"))
    assert (r.level, r.message) == ("exception", "user % is locked")
    assert r.guards[0].text == "v.locked"
    assert r.line == 5 + line_of(body, "RAISE EXCEPTION") - 1
    upd = next(s for s in f.of_kind("execsql") if s.query.kind == "update")
    assert upd.guards[0].negated  # the ELSE branch
    select = next(s for s in f.of_kind("execsql") if s.query.kind == "select")
    assert select.targets == ("v",) and select.query.reads == ("app.users",)
    assign = next(f.of_kind("assign"))
    assert assign.in_loop and assign.targets == ("total",)


def test_extraction_is_deterministic(facts) -> None:
    again = extract_facts(parse.parse_sql_text(SQL, source="test.sql").functions[0])
    assert [(s.kind, s.line, s.text) for s in again.statements] == [
        (s.kind, s.line, s.text) for s in facts.statements
    ]


# -- parse_queries ---------------------------------------------------------------------------


def test_set_items_are_classified() -> None:
    q = query_facts(
        "UPDATE s.t SET n = n + 1, bal = coalesce(bal, 0) - NEW.amount, gone = TRUE, "
        "at = now(), who = current_user, prev = OLD.state, label = 'x', k = NULL WHERE id = 1"
    )
    got = {i.column: (i.value, i.delta_const) for i in q.sets}
    assert got == {
        "n": ("inc", True),
        "bal": ("dec", False),
        "gone": ("true", False),
        "at": ("now", False),
        "who": ("user", False),
        "prev": ("record", False),
        "label": ("str", False),
        "k": ("null", False),
    }
    (w,) = q.writes
    assert (w.op, w.table, w.uses_new, w.uses_old) == ("update", "s.t", True, True)


def test_insert_facts() -> None:
    q = query_facts(
        "INSERT INTO audit.log (tbl, op, row) VALUES (TG_TABLE_NAME, TG_OP, to_jsonb(OLD)) "
        "ON CONFLICT (tbl) DO UPDATE SET hits = log.hits + 1"
    )
    (w,) = q.writes
    assert w.columns == ("tbl", "op", "row")
    assert w.uses_tg and w.uses_old and w.whole_row and w.on_conflict == "update"
    assert q.on_conflict == "update" and q.sets[0].value == "inc"
    assert query_facts("INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING").on_conflict == (
        "nothing"
    )


def test_select_facts() -> None:
    q = query_facts(
        "WITH RECURSIVE up AS (SELECT id, parent_id FROM cat WHERE id = $1 UNION ALL "
        "SELECT c.id, c.parent_id FROM cat c JOIN up ON c.id = up.parent_id) "
        "SELECT count(*), sum(x) FROM up, tree_descendants(1) d WHERE NOT deleted"
    )
    assert q.recursive_cte and q.reads == ("cat", "cat")  # the CTE name is not a table
    assert q.from_functions == ("tree_descendants",)
    assert q.aggregates == ("count", "sum") and q.select_items == ("agg:count", "agg:sum")
    assert ("deleted", "=", "false") in q.comparisons


def test_expression_and_assignment_modes() -> None:
    cond = query_facts("NEW.status IS DISTINCT FROM OLD.status AND NEW.status = 'done'", 2)
    assert cond.kind == "expr"
    assert ("new.status", "distinct", "old.status") in cond.comparisons
    assert ("new.status", "=", "'done'") in cond.comparisons
    assert split_assignment("NEW.total := a + b") == ("NEW.total", "a + b")
    assert query_facts("v := count_things(x)", 3).calls == ("count_things",)
    bad = query_facts("this is not sql", 0)
    assert not bad.ok and bad.error


def test_notify_and_generated_ddl() -> None:
    assert query_facts("NOTIFY jobs_ready").notify_channels == ("jobs_ready",)
    assert query_facts("SELECT pg_notify('ch', 'x')").notify_channels == ("ch",)
    q = dynamic_sql_facts(
        "'CREATE TRIGGER a AFTER INSERT OR DELETE ON ' || tbl || "
        "' FOR EACH ROW EXECUTE PROCEDURE audit.log_it()'"
    )
    assert ("create_trigger", "audit.log_it") in q.ddl
    assert ("trigger_event", "insert") in q.ddl and ("trigger_event", "delete") in q.ddl


def test_unparsable_dynamic_sql_falls_back_to_tokens() -> None:
    q = dynamic_sql_facts("'UPDATE ' || t || ' SET n = n + ' || d || ' WHERE ' || w || ' AND AND'")
    assert not q.ok and q.reconstructed
    assert q.writes[0].op == "update"
    assert q.sets[0].column == "n" and q.sets[0].value == "inc"


def test_split_body() -> None:
    body = """
BEGIN
    IF a > 0 THEN
        x := 1;
    ELSIF b THEN
        RAISE EXCEPTION 'no;semicolon ; here';
    END IF;
    WHILE x < 10 LOOP
        x := x + 1;
    END LOOP;
END;
"""
    stmts = split_body(body)
    kinds = [s.kind for s in stmts]
    assert kinds == ["if", "assign", "if", "raise", "if", "assign"]
    raise_ = stmts[3]
    assert raise_.text == "RAISE EXCEPTION 'no;semicolon ; here'"
    assert raise_.line == line_of(body, "RAISE")
    assert stmts[-1].in_loop


def test_name_tokens() -> None:
    assert tokens("app_public.tg_users__deletionChecks") == (
        "app",
        "public",
        "tg",
        "users",
        "deletion",
        "checks",
    )
    assert tokens("BOMQtyOnHand") == ("bom", "qty", "on", "hand")


def test_declare_defaults_are_facts() -> None:
    sql = """
    CREATE FUNCTION circ.due(p_lib integer) RETURNS text AS $$
    DECLARE
        tz text := coalesce((SELECT value FROM lib.settings WHERE lib_id = p_lib), 'UTC');
    BEGIN
        RETURN tz;
    END;
    $$ LANGUAGE plpgsql;
    """
    f = extract_facts(parse.parse_sql_text(sql).functions[0])
    (decl,) = f.of_kind("declare")
    assert decl.targets == ("tz",) and decl.line == line_of(sql, "tz text :=")
    assert "lib.settings" in f.tables_read


def test_function_created_by_dynamic_sql() -> None:
    q = dynamic_sql_facts(
        "'CREATE FUNCTION a.' || quote_ident(t || '_log_fn') || '() RETURNS trigger AS $f$ "
        "BEGIN INSERT INTO a.' || quote_ident(t || '_history') || ' SELECT now(), TG_OP, OLD.*; "
        "RETURN NULL; END; $f$ LANGUAGE plpgsql'"
    )
    assert ("create_function", "a.?_log_fn") in q.ddl
    (w,) = q.writes
    assert (w.op, w.table, w.uses_old, w.uses_tg, w.whole_row) == (
        "insert",
        "a.?_history",
        True,
        True,
        True,
    )
