"""The generated apps in a real Django project: ``manage.py check``, the ORM on the tables the
PostgreSQL target creates, and migrations that create those same tables.

Each Django run is a subprocess (:mod:`tests.generators.django.django_project`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specql import api
from specql.generators.django.names import short_name
from tests.conftest import EXAMPLES
from tests.generators.django.conftest import FIXTURES
from tests.generators.django.django_project import DjangoProject

pytest.importorskip("django", reason="Django not installed")
psycopg = pytest.importorskip("psycopg", reason="psycopg not installed")

EXAMPLE_APPS = ["crm", "catalog", "projects"]


def _generate(paths, targets: str, out: Path, registry: Path) -> None:
    api.generate(paths, targets=targets, out_dir=out, registry=registry)


def test_examples_pass_django_check(tmp_path, registry_copy):
    _generate([EXAMPLES], "django", tmp_path / "out", registry_copy)
    project = DjangoProject.create(tmp_path / "project", tmp_path / "out", EXAMPLE_APPS)
    done = project.manage("check", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_orm_reads_and_writes_the_postgres_targets_tables(tmp_path, registry_copy, pg_database):
    out = tmp_path / "out"
    _generate([EXAMPLES], "postgres,django", out, registry_copy)
    api.apply(out, pg_database)
    project = DjangoProject.create(tmp_path / "project", out, EXAMPLE_APPS, pg_database)

    seen = project.run_json(FIXTURES / "orm_roundtrip.py")

    assert seen["ann"] == {
        "status": "lead",
        "is_lead": True,
        "score": 0,
        "company": "Acme",
        "str": "ann",
    }
    assert seen["acme_contacts"] == ["ann", "bob"]
    assert seen["objects"] == ["ann"]
    assert seen["all_objects"] == ["ann", "bob"]
    assert seen["bad_email_db"] is True
    assert seen["bad_email_clean"] is True
    assert seen["deal"] == ["10.00", "open", "EUR", "W-1"]
    assert seen["entry"] == [7200.0, "10.0.0.1", "aa:bb:cc:dd:ee:ff"]
    assert seen["view_company"] is True
    assert seen["action"] == ["success", "Globex"]


# --------------------------------------------------------------------------- migrations

SCHEMAS = ["crm", "catalog", "projects"]

COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
"""
TABLES = """
SELECT c.relname, obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind = 'r'
"""
CONSTRAINTS = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND k.contype IN ('c', 'f', 'p')
"""
INDEXES = """
SELECT t.relname, i.relname, pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = ANY(%(schemas)s)
"""
# Django's own ways, which no model option changes:
DJANGO_LIKE_INDEX = re.compile(r"_[0-9a-f]{8}_like$")  # text_pattern_ops index of unique text
DJANGO_FK_SUFFIX = " DEFERRABLE INITIALLY DEFERRED"  # and its own foreign key names


def _schema(uri: str, django: bool) -> dict[str, set]:
    """What both targets must agree on, with Django's own conventions taken out: its foreign
    keys are named its way and deferrable, it adds a ``_like`` index to unique text columns,
    and an index name longer than 30 characters is shortened (the identity column is BY
    DEFAULT, not ALWAYS, which format_type does not show)."""
    with psycopg.connect(uri) as conn:

        def rows(sql: str) -> list[tuple]:
            return conn.execute(sql, {"schemas": SCHEMAS}).fetchall()

        constraints = set()
        for table, name, kind, definition in rows(CONSTRAINTS):
            if kind == "f":
                constraints.add((table, kind, definition.removesuffix(DJANGO_FK_SUFFIX)))
            else:
                constraints.add((table, kind, name, definition))
        indexes = set()
        for table, name, definition in rows(INDEXES):
            if django and DJANGO_LIKE_INDEX.search(name):
                continue
            short = name if django else short_name(name)
            indexes.add((table, short, definition.replace(f"INDEX {name} ", "INDEX ", 1)))
        return {
            "columns": set(rows(COLUMNS)),
            "tables": set(rows(TABLES)),
            "constraints": constraints,
            "indexes": indexes,
        }


def test_migrations_create_the_postgres_targets_tables(tmp_path, registry_copy, pg_database):
    """Every column (type, NOT NULL, default, comment), CHECK, primary and foreign key and
    index that Django's migrations create equals the PostgreSQL target's, for the examples and
    a spec with a field of every type and several kinds of index."""
    out = tmp_path / "out"
    _generate([EXAMPLES, FIXTURES], "postgres,django", out, registry_copy)
    api.apply(out, pg_database)
    expected = _schema(pg_database, django=False)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        for schema in [*SCHEMAS, "app"]:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        for schema in SCHEMAS:  # Django creates tables, not schemas
            conn.execute(f"CREATE SCHEMA {schema}")

    project = DjangoProject.create(tmp_path / "project", out, EXAMPLE_APPS, pg_database)
    for args in (["makemigrations", *EXAMPLE_APPS], ["migrate"]):
        done = project.manage(*args)
        assert done.returncode == 0, done.stderr
    again = project.manage("makemigrations", "--check", "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr  # the models deconstruct stably

    actual = _schema(pg_database, django=True)
    assert ("tb_specimen", "mac_address", "macaddr", False, None, None) in actual["columns"]
    for part in expected:
        assert actual[part] == expected[part], part
    assert any("lower(email)" in definition for _, _, definition in actual["indexes"])
