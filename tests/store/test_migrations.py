"""Numbered migrations: each in one transaction with its version; a version-1 library is
upgraded in place without losing a row; a failing migration leaves the file as it was."""

from __future__ import annotations

import json
import shutil
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from specql.errors import SpecqlError
from specql.store import (
    LATEST_VERSION,
    MIGRATIONS,
    load_migrations,
    migrate,
    open_db,
    pending,
    schema_version,
    write,
)
from specql.store import db as store_db
from specql.store.db import split_statements

DATA = Path(__file__).parent / "data"
PACKAGED = resources.files("specql.store").joinpath("migrations")
NEW_COLUMNS = {"version": 1, "deprecated_at": None, "replaced_by": None, "deprecation_reason": None}


def _raw(path: Path) -> sqlite3.Connection:
    """A plain connection, set up like open_db's but not migrated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _v1_library(path: Path) -> None:
    """A version-1 library holding the rows of data/v1_rows.sql."""
    conn = _raw(path)
    assert migrate(conn, target=1) == [1]
    conn.executescript((DATA / "v1_rows.sql").read_text())
    conn.close()


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    )
    return [row[0] for row in rows]


def _contents(conn: sqlite3.Connection, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    return {
        table: [
            tuple(row)
            for row in conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid")
        ]
        for table, cols in columns.items()
    }


def _schema(conn: sqlite3.Connection) -> list[tuple]:
    return [
        tuple(r) for r in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY 1, 2")
    ]


def test_packaged_migrations_run_one_to_latest() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    assert [m.name for m in MIGRATIONS][:2] == ["0001_library.sql", "0002_lifecycle.sql"]


def test_statements_split_where_sqlite_says_a_statement_ends() -> None:
    script = """
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT DEFAULT 'a;b');  /* trailing; comment */
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN
            UPDATE t SET x = 'c;d'; DELETE FROM t WHERE 0;
        END;
        INSERT INTO t VALUES ('e'); INSERT INTO t VALUES ('f');
        -- nothing after this comment
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[1].startswith("/* trailing; comment */\n        CREATE TRIGGER")
    assert statements[1].endswith("END;")
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)
    assert conn.execute("SELECT x FROM t ORDER BY rowid").fetchall() == [("c;d",), ("c;d",)]
    with pytest.raises(ValueError, match="unterminated"):
        split_statements("CREATE TABLE a (x); CREATE TABLE b (y)")


def test_a_gap_in_the_numbers_is_refused(tmp_path) -> None:
    shutil.copy(DATA / "broken_migration" / "0002_broken.sql", tmp_path / "0003_broken.sql")
    shutil.copy(Path(str(PACKAGED.joinpath("0001_library.sql"))), tmp_path)
    with pytest.raises(ValueError, match=r"numbered 1..n, found \[1, 3\]"):
        load_migrations(tmp_path)


def test_migrate_stops_at_target_and_continues_later(db_path) -> None:
    conn = _raw(db_path)
    assert pending(conn) == list(range(1, LATEST_VERSION + 1))
    assert migrate(conn, target=1) == [1]
    assert schema_version(conn) == 1
    assert "patterns" in _tables(conn)
    assert "pattern_versions" not in _tables(conn)
    assert pending(conn) == list(range(2, LATEST_VERSION + 1))
    assert migrate(conn) == list(range(2, LATEST_VERSION + 1))
    assert pending(conn) == []
    conn.close()


def test_v1_library_upgrades_in_place_keeping_every_row(db_path) -> None:
    _v1_library(db_path)
    conn = _raw(db_path)
    v1_tables = _tables(conn)
    columns = {
        table: [row["name"] for row in conn.execute(f"PRAGMA table_info({table})")]
        for table in v1_tables
    }
    before = _contents(conn, columns)
    conn.close()
    assert all(before.values()), "data/v1_rows.sql must fill every version-1 table"

    conn = open_db(db_path)
    assert schema_version(conn) == LATEST_VERSION
    assert _contents(conn, columns) == before
    for table in ("patterns", "domain_patterns", "entity_templates"):
        for row in conn.execute(f"SELECT {', '.join(NEW_COLUMNS)} FROM {table}"):
            assert dict(row) == NEW_COLUMNS
    conn.close()


def test_upgrade_back_fills_version_one_of_every_pattern(db_path) -> None:
    _v1_library(db_path)
    conn = open_db(db_path)
    versions = {
        (row["tier"], row["name"]): (row["version"], row["source"], json.loads(row["body"]))
        for row in conn.execute("SELECT * FROM pattern_versions")
    }
    assert sorted(versions) == [
        (1, "declare_variable"),
        (1, "exists_check"),
        (2, "soft_delete"),
        (3, "crm.company"),
        (3, "crm.contact"),
    ]
    assert {version for version, _, _ in versions.values()} == {1}
    _, source, body = versions[(1, "declare_variable")]
    assert source == "manual"
    assert body["parameters"] == {"type": "object", "required": ["name", "type"]}
    assert body["implementations"] == {
        "postgresql": {"fragment": "declaration", "template": "{{ name }} {{ type | sql_type }};"},
        "django": {"fragment": "statement", "template": "{{ name }} = None"},
    }
    _, source, body = versions[(2, "soft_delete")]
    assert source == "llm_generated"
    assert body["conflicts"] == ["hard_delete"]
    assert body["implementation"] == {"fields": {"deleted_at": "timestamp"}}
    _, _, body = versions[(3, "crm.contact")]
    assert (body["name"], body["namespace"], body["entity"]) == ("contact", "crm", "Contact")
    assert body["depends_on"] == ["crm.company"]
    assert versions[(3, "crm.company")][2]["depends_on"] == []
    conn.close()


def test_upgrade_makes_existing_patterns_searchable(db_path) -> None:
    _v1_library(db_path)
    conn = open_db(db_path)
    hits = conn.execute(
        "SELECT tier, name, category FROM patterns_fts WHERE patterns_fts MATCH ? ORDER BY rank",
        ("remove",),  # porter stemming: the description says "removed"
    ).fetchall()
    assert [tuple(hit) for hit in hits] == [("2", "soft_delete", "lifecycle")]
    hits = conn.execute(
        "SELECT name, category FROM patterns_fts WHERE patterns_fts MATCH 'organisation'"
    ).fetchall()
    assert [tuple(hit) for hit in hits] == [("crm.contact", "crm")]
    conn.close()


def test_lifecycle_tables_guard_their_values(db_path) -> None:
    conn = open_db(db_path)
    with write(conn):
        conn.execute("INSERT INTO pattern_quality (tier, name) VALUES (2, 'unused')")
        conn.execute(
            "INSERT INTO pattern_quality (tier, name, successes, failures) VALUES (2, 'used', 3, 1)"
        )
    rates = dict(conn.execute("SELECT name, success_rate FROM pattern_quality_view").fetchall())
    assert rates == {"unused": None, "used": 0.75}
    for bad in (
        "INSERT INTO pattern_cooccurrence (pattern_a, pattern_b) VALUES ('b', 'a')",
        "INSERT INTO pattern_suggestions (tier, name, body, source, status)"
        " VALUES (2, 'x', '{}', 'manual', 'maybe')",
        "INSERT INTO pattern_suggestions (tier, name, body, source)"
        " VALUES (2, 'x', '{}', 'guessed')",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"), write(conn):
            conn.execute(bad)
    conn.close()


@pytest.fixture
def broken_migrations(tmp_path):
    """The packaged 0001 followed by data/broken_migration/0002_broken.sql."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    shutil.copy(Path(str(PACKAGED.joinpath("0001_library.sql"))), directory)
    shutil.copy(DATA / "broken_migration" / "0002_broken.sql", directory)
    return load_migrations(directory)


def test_failing_migration_leaves_the_file_at_its_old_version(db_path, broken_migrations) -> None:
    _v1_library(db_path)
    conn = _raw(db_path)
    schema, meta = _schema(conn), conn.execute("SELECT * FROM meta").fetchall()
    with pytest.raises(SpecqlError) as err:
        migrate(conn, migrations=broken_migrations)
    assert "0002_broken.sql" in str(err.value)
    assert str(db_path) in str(err.value)
    assert "no such table: no_such_table" in str(err.value)
    assert not conn.in_transaction
    assert schema_version(conn) == 1
    assert _schema(conn) == schema  # no half_done table, no half column
    assert conn.execute("SELECT * FROM meta").fetchall() == meta
    conn.close()


def test_open_db_reports_a_failing_migration(db_path, broken_migrations, monkeypatch) -> None:
    _v1_library(db_path)
    monkeypatch.setattr(store_db, "MIGRATIONS", broken_migrations)
    with pytest.raises(SpecqlError, match=r"migration 0002_broken\.sql failed"):
        open_db(db_path)
    monkeypatch.undo()
    conn = _raw(db_path)
    assert schema_version(conn) == 1
    assert "half_done" not in _tables(conn)
    conn.close()
