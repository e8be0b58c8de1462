"""Fixtures of the SQLAlchemy generator tests: generated packages (the examples and the edge
fixture specs), running a generated package in a fresh interpreter, reading a database's
catalog."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from specql.api import generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
EXAMPLES = REPO / "examples"
REGISTRY = REPO / "registry" / "domain_registry.yaml"
# Edge cases: a reference cycle, a self-reference, names Python or SQLAlchemy reserve, every
# basic and rich type, names longer than PostgreSQL keeps.
FIXTURE_SPECS = HERE / "fixtures" / "specs"
ORM_SESSION = HERE / "orm_session.py"
PACKAGE_ROOT = "sqlalchemy"  # the directory of the output that holds specql_models


def generate_into(tmp: Path, specs: Path, targets: str) -> tuple[Path, list]:
    """Generate ``targets`` for ``specs`` into ``tmp/out`` with a private registry copy."""
    registry = tmp / "registry" / "domain_registry.yaml"
    registry.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REGISTRY, registry)
    out = tmp / "out"
    files = generate([specs], targets=targets, out_dir=out, registry=registry)
    return out, files


@pytest.fixture(scope="module")
def examples_out(tmp_path_factory) -> Path:
    """The examples generated for both targets into one output directory."""
    out, _ = generate_into(tmp_path_factory.mktemp("examples"), EXAMPLES, "postgres,sqlalchemy")
    return out


@pytest.fixture(scope="module")
def fixtures_out(tmp_path_factory) -> Path:
    """The edge fixture specs generated for both targets into one output directory."""
    out, _ = generate_into(tmp_path_factory.mktemp("edge"), FIXTURE_SPECS, "postgres,sqlalchemy")
    return out


@pytest.fixture
def second_database(pg_server):
    """Another fresh database beside ``pg_database``: the SQL target's tables go there."""
    import psycopg

    name = "specql_sqlalchemy_compare"
    admin = pg_server.get_uri("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.get_uri(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_models(out: Path, uri: str, *steps: str) -> list[dict]:
    """Run ``steps`` of orm_session.py on the package generated in ``out`` in a fresh
    interpreter (isolated: no PYTHONPATH, the script's directory not on sys.path); one JSON
    result per step. A failing step fails the test with the interpreter's stderr."""
    root = out / PACKAGE_ROOT
    proc = subprocess.run(
        [sys.executable, "-I", str(ORM_SESSION), str(root), uri, *steps],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"orm_session.py {' '.join(steps)} failed:\n{proc.stderr[-6000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def catalog(uri: str, schemas: list[str]) -> dict[str, list]:
    """Columns, constraints, indexes and comments of the ``tb_`` tables in ``schemas``, as
    PostgreSQL reports them, in a stable order."""
    import psycopg

    queries = {
        "columns": """
            SELECT c.relnamespace::regnamespace::text, c.relname, a.attnum, a.attname,
                   format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                   pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relkind = 'r' AND c.relname LIKE 'tb\\_%%' AND a.attnum > 0
              AND NOT a.attisdropped AND c.relnamespace::regnamespace::text = ANY(%(s)s)
            ORDER BY 1, 2, 3""",
        "constraints": """
            SELECT c.relnamespace::regnamespace::text, c.relname, k.conname, k.contype,
                   pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            WHERE c.relname LIKE 'tb\\_%%' AND c.relnamespace::regnamespace::text = ANY(%(s)s)
            ORDER BY 1, 2, 3""",
        "indexes": """
            SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
            WHERE tablename LIKE 'tb\\_%%' AND schemaname = ANY(%(s)s) ORDER BY 1, 2, 3""",
        "tables": """
            SELECT c.relnamespace::regnamespace::text, c.relname, obj_description(c.oid)
            FROM pg_class c
            WHERE c.relkind = 'r' AND c.relname LIKE 'tb\\_%%'
              AND c.relnamespace::regnamespace::text = ANY(%(s)s)
            ORDER BY 1, 2""",
    }
    with psycopg.connect(uri) as conn:
        return {
            what: [tuple(row) for row in conn.execute(sql, {"s": schemas}).fetchall()]
            for what, sql in queries.items()
        }


def generate_models(entities: list, registry_path: Path) -> dict[str, str]:
    """The SQLAlchemy target's files for ``entities`` (built in Python), source by path."""
    from specql.dsl.registry import load_registry
    from specql.generators.sqlalchemy.generator import SqlAlchemyGenerator

    files = SqlAlchemyGenerator().generate(entities, load_registry(registry_path))
    return {f.path: f.content for f in files}


def write_both_targets(entities: list, registry_path: Path, out: Path) -> Path:
    """Both targets' files for ``entities`` (built in Python) written into ``out``."""
    from specql.dsl.registry import load_registry
    from specql.generators.base import get_generator
    from specql.generators.writer import write_files

    registry = load_registry(registry_path)
    for target in ("postgres", "sqlalchemy"):
        write_files(get_generator(target).generate(entities, registry), out, target=target)
    return out
