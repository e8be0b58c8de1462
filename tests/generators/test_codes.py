"""Hierarchical codes: assigned once, stable, written back only when something is new."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.dsl.model import Entity
from specql.dsl.registry import load_registry, loads_registry
from specql.errors import SpecqlError
from specql.generators.codes import EntityCode, assign_codes, code

REGISTRY = """\
# registry for code tests
version: 1
domains:
  2:
    name: crm      # multi-tenant CRM
    aliases: [sales]
    multi_tenant: true
    subdomains:
      1: { name: accounts }
      2:
        name: pipeline
        entities: { Deal: 4 }   # reserved on purpose
  3:
    name: catalog
    subdomains:
      0: { name: general }
"""


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    path = tmp_path / "domain_registry.yaml"
    path.write_text(REGISTRY)
    return path


def test_code_format() -> None:
    assert code("01", EntityCode(2, 1, 0), 1) == "012101"
    assert code("03", EntityCode(9, 9, 9), 9) == "039999"
    with pytest.raises(ValueError):
        code("04", EntityCode(2, 1, 0), 1)
    with pytest.raises(ValueError):
        code("03", EntityCode(2, 1, 0), 10)


def test_new_entities_get_lowest_free_numbers(registry_path: Path) -> None:
    reg = load_registry(registry_path)
    entities = [
        Entity("Contact", "crm"),
        Entity("Company", "crm"),
        Entity("Lead", "sales", subdomain="pipeline"),
        Entity("Deal", "crm", subdomain="pipeline"),
        Entity("Product", "catalog"),
    ]
    codes = assign_codes(entities, reg)
    assert codes == {
        # no subdomain: the domain's lowest-numbered one (1), numbered in name order
        "Company": EntityCode(2, 1, 0),
        "Contact": EntityCode(2, 1, 1),
        "Deal": EntityCode(2, 2, 4),  # already in the registry: kept
        "Lead": EntityCode(2, 2, 0),  # alias schema -> same domain
        "Product": EntityCode(3, 0, 0),
    }
    again = load_registry(registry_path)
    assert again.domains[2].subdomains[1].entities == {"Company": 0, "Contact": 1}
    assert again.domains[2].subdomains[2].entities == {"Deal": 4, "Lead": 0}


def test_codes_are_stable_across_runs_and_new_entities(registry_path: Path) -> None:
    first = assign_codes(
        [Entity("Contact", "crm"), Entity("Zebra", "crm")], load_registry(registry_path)
    )
    text_after_first = registry_path.read_text()
    mtime = registry_path.stat().st_mtime_ns

    # Same entities again: same codes, registry untouched.
    second = assign_codes(
        [Entity("Zebra", "crm"), Entity("Contact", "crm")], load_registry(registry_path)
    )
    assert second == first
    assert registry_path.read_text() == text_after_first
    assert registry_path.stat().st_mtime_ns == mtime

    # A new entity that sorts first does not move the old ones.
    third = assign_codes(
        [Entity("Account", "crm"), Entity("Contact", "crm"), Entity("Zebra", "crm")],
        load_registry(registry_path),
    )
    assert third["Contact"] == first["Contact"] and third["Zebra"] == first["Zebra"]
    assert third["Account"] == EntityCode(2, 1, 2)


def test_entity_removed_from_specs_keeps_its_number(registry_path: Path) -> None:
    assign_codes([Entity("A", "crm"), Entity("B", "crm")], load_registry(registry_path))
    codes = assign_codes([Entity("B", "crm"), Entity("C", "crm")], load_registry(registry_path))
    assert codes == {"B": EntityCode(2, 1, 1), "C": EntityCode(2, 1, 2)}


def test_write_back_keeps_comments(registry_path: Path) -> None:
    assign_codes([Entity("Contact", "crm")], load_registry(registry_path))
    text = registry_path.read_text()
    for comment in ("# registry for code tests", "# multi-tenant CRM", "# reserved on purpose"):
        assert comment in text


def test_full_subdomain_is_an_error(registry_path: Path) -> None:
    reg = load_registry(registry_path)
    entities = [Entity(f"E{i}", "catalog") for i in range(10)]
    assign_codes(entities, reg)
    before = registry_path.read_text()
    with pytest.raises(SpecqlError) as err:
        assign_codes([*entities, Entity("Eleventh", "catalog")], load_registry(registry_path))
    msg = str(err.value)
    assert "subdomain 0 (general) of domain 3 (catalog) is full" in msg
    assert "'Eleventh'" in msg and str(registry_path) in msg
    assert registry_path.read_text() == before


def test_unknown_schema_is_an_error(registry_path: Path) -> None:
    with pytest.raises(SpecqlError) as err:
        assign_codes([Entity("Invoice", "billing")], load_registry(registry_path))
    assert "schema 'billing' has no domain" in str(err.value)
    assert str(registry_path) in str(err.value)
    assert "known schemas: catalog, crm, sales" in str(err.value)


def test_unknown_subdomain_is_an_error(registry_path: Path) -> None:
    with pytest.raises(SpecqlError, match="unknown subdomain 'billing'"):
        assign_codes([Entity("Invoice", "crm", subdomain="billing")], load_registry(registry_path))
    # also for an entity that already has a number
    assign_codes([Entity("Invoice", "crm")], load_registry(registry_path))
    with pytest.raises(SpecqlError, match="unknown subdomain 'billing'"):
        assign_codes([Entity("Invoice", "crm", subdomain="billing")], load_registry(registry_path))


def test_duplicate_entity_names_are_an_error(registry_path: Path) -> None:
    with pytest.raises(SpecqlError, match="'Contact' is defined twice"):
        assign_codes(
            [Entity("Contact", "crm"), Entity("Contact", "catalog")], load_registry(registry_path)
        )


def test_registry_without_file_is_not_saved() -> None:
    reg = loads_registry(REGISTRY)
    codes = assign_codes([Entity("Contact", "crm")], reg)
    assert codes["Contact"] == EntityCode(2, 1, 0)
    assert reg.changed
    assert "Contact: 0" in reg.dumps()
