"""Fixtures of the retrieval tests: the real embedding model loaded once per run, and seeded
libraries (plain, and indexed with the real model) made once and copied for each test."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from specql.patterns import PatternLibrary
from specql.retrieval import MiniLMEmbedder, PatternIndex, retrieval_missing
from specql.store import fts5_available


def copy_library(source: Path, target: Path) -> Path:
    """A private copy of a library file (sqlite's backup: consistent whatever its WAL holds)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real model, loaded once for the whole run."""
    missing = retrieval_missing()
    if missing is not None:
        pytest.skip(missing)
    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory) -> Path:
    """A freshly seeded library with no embeddings."""
    if not fts5_available():
        pytest.skip("this Python's sqlite3 has no FTS5, which the library needs")
    path = tmp_path_factory.mktemp("seeded") / "library.db"
    PatternLibrary.open(path).close()
    return path


@pytest.fixture(scope="session")
def minilm_indexed_file(seeded_file, minilm, tmp_path_factory) -> Path:
    """The seeded library with every entry embedded by the real model."""
    path = copy_library(seeded_file, tmp_path_factory.mktemp("indexed") / "library.db")
    with PatternLibrary.open(path) as lib:
        PatternIndex(lib.conn, minilm).reindex()
    return path


@pytest.fixture
def seeded(seeded_file, tmp_path):
    """A private seeded library (no embeddings yet), open."""
    with PatternLibrary.open(copy_library(seeded_file, tmp_path / "library.db")) as lib:
        yield lib


@pytest.fixture
def indexed(minilm_indexed_file, tmp_path):
    """A private seeded library indexed with the real model, open."""
    with PatternLibrary.open(copy_library(minilm_indexed_file, tmp_path / "library.db")) as lib:
        yield lib
