"""Fixtures of the PostgreSQL generator tests (helpers live in spec_fixtures.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specql.dsl.model import Entity
from specql.dsl.registry import DomainRegistry, load_registry
from tests.generators.postgres.spec_fixtures import (
    EMPTY_REGISTRY,
    apply_sql,
    ddl_scripts,
    load_fixture_entities,
)


@pytest.fixture
def entities() -> list[Entity]:
    """Every fixture entity: basic, rich, enum, ref, cross-schema ref, list, cycles."""
    return load_fixture_entities()


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    """A private copy of a registry with no entity assigned (generation writes numbers into it)."""
    path = tmp_path / "registry" / "domain_registry.yaml"
    path.parent.mkdir()
    shutil.copy(EMPTY_REGISTRY, path)
    return path


@pytest.fixture
def registry(registry_path: Path) -> DomainRegistry:
    return load_registry(registry_path)


@pytest.fixture
def applied_db(pg_database: str, entities: list[Entity]) -> str:
    """A database with every fixture entity's tables and views."""
    apply_sql(pg_database, ddl_scripts(entities))
    return pg_database
