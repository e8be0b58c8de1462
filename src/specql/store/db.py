"""Opening a specql SQLite file safely, write transactions, and numbered schema migrations.

Connections run in autocommit mode (``isolation_level=None``): every write goes through
``write()``, which takes the write lock up front (``BEGIN IMMEDIATE``) so that concurrent
processes queue on the busy timeout instead of failing halfway or losing an update.

Migrations are ``migrations/NNNN_<what>.sql`` package files; the schema version is
``PRAGMA user_version``. Each migration runs in one transaction together with bumping the
version, so a file is always exactly at one version.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from specql.errors import SourcePos, SpecqlError

BUSY_TIMEOUT_MS = 30_000
MIGRATION_NAME = re.compile(r"^(\d{4})_\w+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # file name, for error messages
    statements: tuple[str, ...]


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements. ``executescript`` would COMMIT first, so
    a migration is run statement by statement inside its own transaction instead."""
    statements: list[str] = []
    start = 0
    for end in (i + 1 for i, char in enumerate(script) if char == ";"):
        # A ';' inside a string, comment or trigger body does not end the statement.
        if sqlite3.complete_statement(script[start:end]):
            statements.append(script[start:end].strip())
            start = end
    leftover = "\n".join(
        line for line in script[start:].splitlines() if not line.strip().startswith("--")
    )
    if leftover.strip():
        raise ValueError(f"unterminated SQL statement: {leftover.strip()[:60]!r}")
    return statements


def load_migrations(source: Traversable | Path) -> tuple[Migration, ...]:
    """The migrations in a directory, in order. Versions must run 1, 2, 3, ... without gaps:
    a missing file would otherwise silently skip part of the schema."""
    found: list[Migration] = []
    for entry in source.iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            statements = tuple(split_statements(entry.read_text(encoding="utf-8")))
            found.append(Migration(int(match.group(1)), entry.name, statements))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations in {source} must be numbered 1..n, found {versions}")
    return tuple(found)


MIGRATIONS: tuple[Migration, ...] = load_migrations(
    resources.files("specql.store").joinpath("migrations")
)
LATEST_VERSION: int = MIGRATIONS[-1].version


def fts5_available() -> bool:
    """Whether this Python's sqlite3 has FTS5 (schema version 2 needs it for search)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE probe USING fts5 (text)")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()
    return True


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def database_file(conn: sqlite3.Connection) -> str:
    """The file behind the connection's main database ('' for an in-memory one)."""
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main":
            return row[2]
    return ""


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` (waits up to the busy timeout for other
    writers), COMMIT on success, ROLLBACK on any exception. Nested inside another ``write()``
    it becomes a savepoint, so library operations compose into one transaction."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested_write")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO nested_write")
            conn.execute("RELEASE nested_write")
            raise
        conn.execute("RELEASE nested_write")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite may already have rolled back by itself (e.g. disk full).
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _check_known(conn: sqlite3.Connection, migrations: tuple[Migration, ...]) -> int:
    current = schema_version(conn)
    latest = migrations[-1].version
    if current > latest:
        path = database_file(conn)
        raise SpecqlError(
            f"library {path} is schema version {current}; this specql knows up to {latest}:"
            " upgrade specql"
        )
    return current


def pending(conn: sqlite3.Connection, migrations: tuple[Migration, ...] | None = None) -> list[int]:
    """Versions not yet applied to this file."""
    migrations = MIGRATIONS if migrations is None else migrations
    current = _check_known(conn, migrations)
    return [m.version for m in migrations if m.version > current]


def migrate(
    conn: sqlite3.Connection,
    target: int | None = None,
    migrations: tuple[Migration, ...] | None = None,
) -> list[int]:
    """Apply the migrations above the file's version up to ``target`` (default: the latest);
    returns the versions applied. Each runs in its own transaction with the version bump, so
    a failure leaves the file at the last version that succeeded."""
    migrations = MIGRATIONS if migrations is None else migrations
    target = migrations[-1].version if target is None else target
    applied: list[int] = []
    for migration in migrations:
        if migration.version > target:
            break
        if migration.version <= _check_known(conn, migrations):
            continue
        with write(conn):
            # Another process may have migrated while this one waited for the lock.
            if migration.version <= schema_version(conn):
                continue
            try:
                for statement in migration.statements:
                    conn.execute(statement)
            except sqlite3.Error as exc:
                path = database_file(conn)
                raise SpecqlError(f"migration {migration.name} failed on {path}: {exc}") from exc
            # An integer from our own file name: safe to format into the pragma.
            conn.execute(f"PRAGMA user_version = {migration.version:d}")
        applied.append(migration.version)
    return applied


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (a no-op once it is). Switching needs the file to itself, and
    SQLite answers SQLITE_BUSY at once rather than calling the busy handler, e.g. when two
    processes open a fresh file together: so retry here, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    _enable_wal(conn)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def open_db(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and with ``create``, create) a specql SQLite file, configured and migrated to
    the latest schema. Every problem with the file is a one-line SpecqlError naming it."""
    path = Path(path).expanduser()
    pos = SourcePos(file=str(path))
    if not path.exists():
        if not create:
            raise SpecqlError("no such library file", pos)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecqlError(
                f"cannot create directory {path.parent}: {exc.strerror}", pos
            ) from None
    try:
        # timeout is SQLite's busy_timeout: waits for other processes' locks, migration too.
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise SpecqlError(f"cannot open: {exc}", pos) from None
    try:
        _configure(conn)
        migrate(conn)
    except SpecqlError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise SpecqlError(f"cannot open: {exc}", pos) from None
    return conn
