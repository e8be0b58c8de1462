"""Fixtures of the Django target's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.dsl.registry import DomainRegistry, load_registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def registry(registry_copy: Path) -> DomainRegistry:
    return load_registry(registry_copy)
