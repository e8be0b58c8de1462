"""specql.generators.postgres.types: the mapping tables, CHECK bodies, and — on a real
PostgreSQL — that every rich CHECK accepts and rejects exactly what Python does.

(This file tests the one generator module the dsl engineer owns; it lives beside the type
tests because it shares their samples.)"""

from __future__ import annotations

import pytest

from specql.dsl.types import RICH_TYPES, parse_type
from specql.generators.postgres.types import (
    RICH_NATIVE_SQL,
    check_expression,
    param_sql_type,
    quote_ident,
    sql_string,
    sql_type,
)
from tests.dsl.test_types import SAMPLES


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("text", "TEXT"),
        ("integer", "INTEGER"),
        ("bigint", "BIGINT"),
        ("smallint", "SMALLINT"),
        ("numeric", "NUMERIC"),
        ("numeric(12)", "NUMERIC(12)"),
        ("numeric(12,2)", "NUMERIC(12,2)"),
        ("float", "DOUBLE PRECISION"),
        ("boolean", "BOOLEAN"),
        ("date", "DATE"),
        ("datetime", "TIMESTAMPTZ"),
        ("time", "TIME"),
        ("duration", "INTERVAL"),
        ("uuid", "UUID"),
        ("json", "JSONB"),
        ("email", "TEXT"),
        ("money", "NUMERIC(19,4)"),
        ("percentage", "NUMERIC(5,2)"),
        ("port", "INTEGER"),
        ("ip_address", "INET"),
        ("mac_address", "MACADDR"),
        ("enum(a, b)", "TEXT"),
        ("ref(Company)", "INTEGER"),
        ("list(integer)", "INTEGER[]"),
        ("list(list(money))", "NUMERIC(19,4)[][]"),
    ],
)
def test_sql_type(text: str, sql: str) -> None:
    assert sql_type(parse_type(text)) == sql


def test_param_type_passes_refs_as_uuid() -> None:
    assert param_sql_type(parse_type("ref(crm.Company)")) == "UUID"
    assert param_sql_type(parse_type("numeric(5,1)")) == "NUMERIC(5,1)"
    assert param_sql_type(parse_type("list(email)")) == "TEXT[]"


def test_every_rich_type_has_a_sql_type() -> None:
    for name in RICH_TYPES:
        assert sql_type(parse_type(name))


@pytest.mark.parametrize(
    ("column", "text", "check"),
    [
        ("status", "enum(lead, qualified)", "status IN ('lead', 'qualified')"),
        ("share", "percentage", "share BETWEEN 0 AND 100"),
        ("lat", "latitude", "lat BETWEEN -90 AND 90"),
        ("tags", "list(enum(a, b))", "tags <@ ARRAY['a', 'b']::TEXT[]"),
        ("color", "color", "color ~ '^#[0-9A-Fa-f]{6}$'"),
        ("order", "enum(x)", "\"order\" IN ('x')"),
        ("Mixed", "slug", "\"Mixed\" ~ '^[a-z0-9]+(-[a-z0-9]+)*$'"),
        ("name", "text", None),
        ("amount", "money", None),
        ("ip", "ip_address", None),
        ("company", "ref(Company)", None),
        ("emails", "list(email)", None),
    ],
)
def test_check_expression(column: str, text: str, check: str | None) -> None:
    assert check_expression(column, parse_type(text)) == check


def test_quotes_in_patterns_are_doubled() -> None:
    check = check_expression("site", parse_type("url"))
    assert "&''()" in check  # the url pattern's quote, doubled
    assert check.count("'") % 2 == 0


def test_quoting_helpers() -> None:
    assert sql_string("it's") == "'it''s'"
    assert sql_string("a\\b") == "'a\\b'"
    assert quote_ident("email") == "email"
    assert quote_ident("select") == '"select"'
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_ident("1st") == '"1st"'


@pytest.mark.postgres
def test_rich_checks_agree_with_python_on_a_real_server(pg_database) -> None:
    import psycopg

    disagreements = []
    with psycopg.connect(pg_database, autocommit=True) as conn:
        for name, (good, bad) in SAMPLES.items():
            if name in RICH_NATIVE_SQL:  # validated by the native type, see the next test
                continue
            t = parse_type(name)
            check = check_expression("v", t)
            conn.execute(f"CREATE TEMP TABLE t_{name} (v {sql_type(t)} CHECK ({check}))")
            for value, expected in [(v, True) for v in good] + [(v, False) for v in bad]:
                try:
                    with conn.transaction():
                        conn.execute(f"INSERT INTO t_{name} (v) VALUES (%s)", (value,))
                    accepted = True
                except psycopg.errors.CheckViolation:
                    accepted = False
                if accepted != expected:
                    disagreements.append((name, value, accepted))
    assert disagreements == []


@pytest.mark.postgres
def test_native_rich_types_reject_garbage_on_a_real_server(pg_database) -> None:
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        for name, good, bad in [
            ("ip_address", "10.0.0.1", "999.1.1.1"),
            ("mac_address", "08:00:2b:01:02:03", "zz"),
        ]:
            sql = sql_type(parse_type(name))
            assert (
                conn.execute(f"SELECT %s::{sql}::text", (good,)).fetchone()[0].startswith(good[:4])
            )
            with pytest.raises(psycopg.errors.DataError), conn.transaction():
                conn.execute(f"SELECT %s::{sql}", (bad,))
