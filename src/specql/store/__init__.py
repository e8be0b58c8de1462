"""SQLite store under SPECQL_HOME: one file per concern (the pattern library first), opened in
WAL mode with a busy timeout, written in ``BEGIN IMMEDIATE`` transactions, and upgraded by
numbered migrations (``migrations/NNNN_<what>.sql``, version in ``PRAGMA user_version``).

Layer 2: imports only ``specql.errors``.
"""

from specql.store.db import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    fts5_available,
    load_migrations,
    migrate,
    open_db,
    pending,
    schema_version,
    write,
)
from specql.store.fts import fts_query, has_search_terms
from specql.store.llm_log import LLMCallStore
from specql.store.paths import library_path, specql_home

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "LLMCallStore",
    "Migration",
    "fts5_available",
    "fts_query",
    "has_search_terms",
    "library_path",
    "load_migrations",
    "migrate",
    "open_db",
    "pending",
    "schema_version",
    "specql_home",
    "write",
]
