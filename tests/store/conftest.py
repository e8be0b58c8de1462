"""Fixtures of the store tests: a library path in a fresh directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.store import fts5_available


@pytest.fixture
def db_path(tmp_path) -> Path:
    """Where a test's library file goes (not created yet). The latest schema needs FTS5."""
    if not fts5_available():
        pytest.skip("this Python's sqlite3 has no FTS5, which schema version 2 needs")
    return tmp_path / "home" / "library.db"
