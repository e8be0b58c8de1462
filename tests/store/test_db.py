"""open_db: a safe connection (WAL, busy timeout, foreign keys), clear errors for bad files,
and write() transactions that lose nothing when processes write at the same time."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
import traceback
from pathlib import Path

import pytest

from specql.errors import SpecqlError
from specql.store import LATEST_VERSION, migrate, open_db, pending, schema_version, write

ROWS_PER_WORKER = 200
INCREMENTS_PER_WORKER = 100


def test_fresh_file_gets_wal_latest_version_and_safe_settings(db_path) -> None:
    conn = open_db(db_path)
    assert db_path.is_file()  # the parent directory was created too
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == LATEST_VERSION
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.isolation_level is None
    assert isinstance(conn.execute("SELECT 1 AS one").fetchone(), sqlite3.Row)
    conn.close()


def test_reopening_applies_nothing(db_path) -> None:
    open_db(db_path).close()
    conn = open_db(db_path, create=False)
    assert pending(conn) == []
    assert migrate(conn) == []
    assert schema_version(conn) == LATEST_VERSION
    conn.close()


def test_foreign_keys_are_enforced_and_cascade(db_path) -> None:
    conn = open_db(db_path)
    with write(conn):
        conn.execute("INSERT INTO languages VALUES ('postgresql', 'PostgreSQL', 'sql', '.sql')")
        conn.execute("INSERT INTO patterns (id, name, category) VALUES (1, 'p', 'c')")
        conn.execute("INSERT INTO pattern_implementations VALUES (1, 'postgresql', 's', 't')")
    with pytest.raises(sqlite3.IntegrityError), write(conn):
        conn.execute("INSERT INTO pattern_implementations VALUES (1, 'cobol', 's', 't')")
    with write(conn):
        conn.execute("DELETE FROM patterns WHERE id = 1")
    assert conn.execute("SELECT count(*) FROM pattern_implementations").fetchone()[0] == 0
    conn.close()


def _meta_keys(conn: sqlite3.Connection) -> list[str]:
    return [row["key"] for row in conn.execute("SELECT key FROM meta ORDER BY key")]


def test_write_commits_or_rolls_back_as_a_whole(db_path) -> None:
    conn = open_db(db_path)
    with write(conn):
        conn.execute("INSERT INTO meta VALUES ('kept', '1')")
    with pytest.raises(RuntimeError), write(conn):
        conn.execute("INSERT INTO meta VALUES ('lost', '1')")
        raise RuntimeError("boom")
    assert not conn.in_transaction
    assert _meta_keys(conn) == ["kept"]
    # Committed means visible to another connection.
    other = open_db(db_path)
    assert _meta_keys(other) == ["kept"]
    other.close()
    conn.close()


def test_nested_write_is_a_savepoint(db_path) -> None:
    conn = open_db(db_path)
    with write(conn):
        conn.execute("INSERT INTO meta VALUES ('outer', '1')")
        with pytest.raises(RuntimeError), write(conn):
            conn.execute("INSERT INTO meta VALUES ('inner', '1')")
            raise RuntimeError("boom")
        with write(conn):
            conn.execute("INSERT INTO meta VALUES ('inner2', '1')")
    assert _meta_keys(conn) == ["inner2", "outer"]
    conn.close()


def test_write_takes_the_lock_up_front(db_path) -> None:
    """A second writer waits at BEGIN (and here, with no patience, fails there), before it has
    read anything it could base a lost update on."""
    first = open_db(db_path)
    second = open_db(db_path)
    second.execute("PRAGMA busy_timeout = 0")
    with write(first):
        with pytest.raises(sqlite3.OperationalError, match="locked"), write(second):
            pytest.fail("second writer got in while the first held the lock")
        assert not second.in_transaction
    first.close()
    second.close()


# --- errors a user can cause: one line, naming the file ---


def _assert_one_line_naming(err: pytest.ExceptionInfo, path: Path) -> str:
    text = str(err.value)
    assert str(path) in text
    assert "\n" not in text
    return text


def test_missing_file_without_create_is_refused_and_not_created(tmp_path) -> None:
    path = tmp_path / "nowhere" / "library.db"
    with pytest.raises(SpecqlError) as err:
        open_db(path, create=False)
    assert "no such library file" in _assert_one_line_naming(err, path)
    assert not path.parent.exists()


def test_not_a_database_is_refused(tmp_path) -> None:
    path = tmp_path / "library.db"
    path.write_text("name: this is a YAML file, not a library\n" * 100)
    with pytest.raises(SpecqlError) as err:
        open_db(path)
    assert "not a database" in _assert_one_line_naming(err, path)


def test_a_directory_is_refused(tmp_path) -> None:
    with pytest.raises(SpecqlError) as err:
        open_db(tmp_path)
    _assert_one_line_naming(err, tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused(db_path) -> None:
    open_db(db_path).close()
    db_path.chmod(0)
    try:
        with pytest.raises(SpecqlError) as err:
            open_db(db_path)
        _assert_one_line_naming(err, db_path)
    finally:
        db_path.chmod(0o644)


def test_newer_schema_is_refused(db_path) -> None:
    open_db(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.close()
    with pytest.raises(SpecqlError) as err:
        open_db(db_path)
    assert str(err.value) == (
        f"library {db_path} is schema version {LATEST_VERSION + 1};"
        f" this specql knows up to {LATEST_VERSION}: upgrade specql"
    )


# --- several processes at once (spawn: nothing inherited from the test process) ---


def _write_rows_and_count(path: str, worker: str, start, errors) -> None:
    """Interleave single-row inserts with read-modify-write increments of one counter, each in
    its own short transaction."""
    try:
        conn = open_db(path)
        start.wait()
        for i in range(ROWS_PER_WORKER):
            with write(conn):
                conn.execute("INSERT INTO meta VALUES (?, ?)", (f"{worker}-{i:03d}", worker))
            if i % 2:
                with write(conn):
                    # Read, compute in Python, write back: only safe with the lock taken first.
                    (value,) = conn.execute(
                        "SELECT value FROM meta WHERE key = 'counter'"
                    ).fetchone()
                    time.sleep(0.001)  # widen the window another writer could slip into
                    conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'counter'", (int(value) + 1,)
                    )
        conn.close()
    except BaseException:
        errors.put(f"{worker}: {traceback.format_exc()}")


def _open_fresh(path: str, worker: str, start, errors) -> None:
    try:
        start.wait()
        conn = open_db(path)
        if schema_version(conn) != LATEST_VERSION:
            errors.put(f"{worker}: opened at version {schema_version(conn)}")
        conn.close()
    except BaseException:
        errors.put(f"{worker}: {traceback.format_exc()}")


def _run_at_once(target, path: Path) -> None:
    """Run ``target`` in two fresh processes released together; fail with their tracebacks."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    errors = ctx.Queue()
    workers = [
        ctx.Process(target=target, args=(str(path), name, start, errors)) for name in ("a", "b")
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    reported = [errors.get(timeout=5) for _ in range(errors.qsize())] if not errors.empty() else []
    assert not reported, "\n".join(reported)
    assert [p.exitcode for p in workers] == [0, 0]


def test_two_processes_writing_at_once_lose_nothing(db_path) -> None:
    conn = open_db(db_path)
    with write(conn):
        conn.execute("INSERT INTO meta VALUES ('counter', '0')")
    _run_at_once(_write_rows_and_count, db_path)
    rows = conn.execute("SELECT value, count(*) FROM meta WHERE key != 'counter' GROUP BY value")
    assert {row[0]: row[1] for row in rows} == {"a": ROWS_PER_WORKER, "b": ROWS_PER_WORKER}
    counter = conn.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()[0]
    assert int(counter) == 2 * INCREMENTS_PER_WORKER
    conn.close()


def test_two_processes_opening_a_fresh_file_both_succeed(db_path) -> None:
    _run_at_once(_open_fresh, db_path)
    conn = open_db(db_path)
    assert schema_version(conn) == LATEST_VERSION
    conn.close()
