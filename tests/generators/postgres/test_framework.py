"""The framework objects every action function relies on, on a real PostgreSQL."""

from __future__ import annotations

import json

import pglast
import pytest

from specql.generators.postgres.actions import BUSINESS_ERROR_SQLSTATE, framework_sql

pytestmark = pytest.mark.postgres


def _apply(dsn: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute(sql)


def test_framework_sql_is_plain_sql():
    stmts = pglast.parse_sql(framework_sql())
    kinds = [type(s.stmt).__name__ for s in stmts]
    assert kinds[0] == "CreateSchemaStmt"
    assert kinds.count("CreateFunctionStmt") == 2


def test_framework_applies_twice(pg_database):
    import psycopg

    _apply(pg_database, framework_sql())
    _apply(pg_database, framework_sql())
    with psycopg.connect(pg_database) as conn:
        columns = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'app.mutation_result'::regclass AND attnum > 0 ORDER BY attnum"
        ).fetchall()
        assert columns == [
            ("status", "text"),
            ("message", "text"),
            ("id", "uuid"),
            ("object_data", "jsonb"),
        ]
        functions = conn.execute(
            "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'app' ORDER BY 1"
        ).fetchall()
        assert functions == [
            ("log_event(p_event text, p_data jsonb)",),
            ("raise_business_error(p_code text, p_message text)",),
        ]


def test_log_event_appends_a_trinity_row(pg_database):
    import psycopg

    _apply(pg_database, framework_sql())
    with psycopg.connect(pg_database) as conn:
        (event_id,) = conn.execute(
            "SELECT app.log_event('deal_won', %s::jsonb)", [json.dumps({"amount": 10})]
        ).fetchone()
        row = conn.execute(
            "SELECT id, identifier, event, data, created_at IS NOT NULL, pk_event_log "
            "FROM app.tb_event_log"
        ).fetchone()
    assert row[:5] == (event_id, str(event_id), "deal_won", {"amount": 10}, True)
    assert row[5] == 1


def test_business_errors_have_their_own_sqlstate(pg_database):
    import psycopg

    _apply(pg_database, framework_sql())
    with psycopg.connect(pg_database) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT app.raise_business_error('not_a_lead', 'Only leads')")
        conn.rollback()
        assert caught.value.sqlstate == BUSINESS_ERROR_SQLSTATE
        assert caught.value.diag.message_primary == "Only leads"
        assert caught.value.diag.message_detail == "not_a_lead"
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT app.raise_business_error('bare_code')")
        assert caught.value.diag.message_primary == "bare_code"


def test_framework_schema_is_configurable(pg_database):
    import psycopg

    _apply(pg_database, framework_sql("fw"))
    with psycopg.connect(pg_database) as conn:
        (found,) = conn.execute("SELECT to_regtype('fw.mutation_result') IS NOT NULL").fetchone()
        assert found
        (logged,) = conn.execute("SELECT fw.log_event('x', NULL) IS NOT NULL").fetchone()
        assert logged
