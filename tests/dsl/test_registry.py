"""The domain registry: loading, validation with positions, lookups, finding, write-back."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.dsl.registry import (
    REGISTRY_ENV,
    find_registry,
    load_registry,
    loads_registry,
)
from specql.errors import SpecqlError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "registry" / "domain_registry.yaml"

MINIMAL = """\
# top comment
version: 1
framework_schema: app
framework_schemas: [common, app]
domains:
  2:
    name: crm          # the crm domain
    aliases: [sales]
    description: Customers
    multi_tenant: true
    subdomains:
      0: { name: general }
      1:
        name: accounts
        entities: { Contact: 0, Company: 3 }
  3:
    name: catalog
    multi_tenant: false
    subdomains:
      0: { name: general }
"""


def test_shipped_registry_loads() -> None:
    reg = load_registry(SHIPPED)
    assert reg.path == SHIPPED
    assert reg.framework_schema == "app"
    assert reg.framework_schemas == ("common", "app", "core")
    assert sorted(reg.domains) == [1, 2, 3, 4]
    crm = reg.domains[2]
    assert crm.name == "crm" and crm.aliases == ("sales",) and crm.multi_tenant
    assert {n: s.name for n, s in crm.subdomains.items()} == {
        0: "general",
        1: "accounts",
        2: "pipeline",
    }


def test_typed_view() -> None:
    reg = loads_registry(MINIMAL, "r.yaml")
    crm = reg.domains[2]
    assert crm.description == "Customers"
    assert crm.subdomains[1].entities == {"Contact": 0, "Company": 3}
    assert crm.subdomains[1].free_numbers() == [1, 2, 4, 5, 6, 7, 8, 9]
    assert crm.default_subdomain().name == "general"
    assert crm.entity_location("Company") == (crm.subdomains[1], 3)
    assert crm.entity_location("Nope") is None
    assert reg.framework_schemas == ("common", "app")


def test_lookups_by_name_and_alias() -> None:
    reg = loads_registry(MINIMAL, "r.yaml")
    assert reg.domain_for_schema("crm").number == 2
    assert reg.domain_for_schema("sales").number == 2
    assert reg.is_multi_tenant("crm") and reg.is_multi_tenant("sales")
    assert not reg.is_multi_tenant("catalog")
    assert not reg.is_multi_tenant("app")  # framework schema, no domain
    assert reg.multi_tenant_schemas() == {"crm", "sales"}
    assert reg.known_schemas() == ["catalog", "crm", "sales"]


def test_unknown_schema_names_registry_and_known_schemas() -> None:
    reg = load_registry(SHIPPED)
    with pytest.raises(SpecqlError) as err:
        reg.domain_for_schema("billing")
    msg = str(err.value)
    assert "'billing'" in msg and str(SHIPPED) in msg
    assert "catalog, core, crm, products, projects, sales" in msg


def test_unknown_subdomain_lists_known_ones() -> None:
    reg = loads_registry(MINIMAL, "r.yaml")
    with pytest.raises(SpecqlError, match=r"unknown subdomain 'billing'.*general, accounts"):
        reg.subdomain_for(reg.domains[2], "billing")
    assert reg.subdomain_for(reg.domains[2], None).number == 0
    assert reg.subdomain_for(reg.domains[2], "accounts").number == 1


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        (
            "domains:\n  0: {name: x, subdomains: {0: {name: g}}}\n",
            "domain number 0 out of range",
            "r.yaml:2:3",
        ),
        (
            "domains:\n  10:\n    name: x\n    subdomains: {0: {name: g}}\n",
            "domain number 10 out of range",
            "r.yaml:2:3",
        ),
        (
            "domains:\n  1:\n    name: x\n    subdomains:\n      12: {name: g}\n",
            "subdomain number 12 out of range 0-9",
            "r.yaml:5:7",
        ),
        (
            "domains:\n  1:\n    name: x\n    subdomains:\n      0: {name: g, entities: {A: 10}}\n",
            "entity 'A' has number 10, out of range 0-9",
            "r.yaml:5:34",
        ),
        (
            "domains:\n  1:\n    name: x\n    subdomains:\n"
            "      0:\n        name: g\n        entities:\n          A: 1\n          B: 1\n",
            "entity number 1 is used by both 'A' and 'B'",
            "r.yaml:9:14",
        ),
        (
            "domains:\n  1: {name: x, subdomains: {0: {name: g}}}\n"
            "  2: {name: x, subdomains: {0: {name: g}}}\n",
            "schema name 'x' of domain 2 is already used by domain 1",
            "r.yaml:3:3",
        ),
        (
            "domains:\n  1: {name: x, subdomains: {0: {name: g}}}\n"
            "  2: {name: y, aliases: [x], subdomains: {0: {name: g}}}\n",
            "schema name 'x' of domain 2 is already used by domain 1",
            "r.yaml:3:3",
        ),
        (
            "domains:\n  1: {name: x, subdomains: {0: {name: g}, 1: {name: g}}}\n",
            "duplicate subdomain name 'g'",
            "r.yaml:2:43",
        ),
        (
            "domains:\n  1: {name: x, subdomains: {0: {name: g, entities: {A: 0}}, "
            "1: {name: h, entities: {A: 0}}}}\n",
            "entity 'A' is numbered in subdomains 0 and 1",
            "r.yaml:2:",
        ),
        (
            "domains:\n  1: {name: x, multi_tenant: yes, subdomains: {0: {name: g}}}\n",
            "'multi_tenant' must be true or false",
            "r.yaml:2:",
        ),
        ("domains:\n  1: {subdomains: {0: {name: g}}}\n", "missing 'name'", "r.yaml:2:"),
        ("domains: [1, 2]\n", "'domains' must be a mapping", "r.yaml:1:10"),
        ("version: 2\ndomains: {}\n", "unsupported registry version 2", "r.yaml:1:10"),
        ("domans: {}\n", "unknown registry key 'domans'", "r.yaml:1:1"),
        ("domains: {1: [\n", "invalid YAML", "r.yaml:"),
    ],
)
def test_validation_errors_have_positions(text: str, message: str, where: str) -> None:
    with pytest.raises(SpecqlError) as err:
        loads_registry(text, "r.yaml")
    assert message in str(err.value)
    assert any(str(e).startswith(where) for e in getattr(err.value, "errors", [err.value])), str(
        err.value
    )


def test_all_errors_are_collected() -> None:
    text = "domains:\n  0: {name: a, subdomains: {0: {name: g}}}\n  11: {name: b, subdomains: {}}\n"
    with pytest.raises(SpecqlError) as err:
        loads_registry(text, "r.yaml")
    assert len(err.value) == 2


def test_write_back_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "domain_registry.yaml"
    path.write_text(MINIMAL)
    reg = load_registry(path)
    crm = reg.domains[2]
    reg.set_entity_number(crm, crm.subdomains[0], "Deal", 0)
    reg.set_entity_number(crm, crm.subdomains[1], "Note", 1)
    assert reg.changed
    assert reg.save() is True
    text = path.read_text()
    assert "# top comment" in text and "# the crm domain" in text
    again = load_registry(path)
    assert again.domains[2].subdomains[0].entities == {"Deal": 0}
    assert again.domains[2].subdomains[1].entities == {"Contact": 0, "Company": 3, "Note": 1}
    assert again.domains[3].subdomains[0].entities == {}
    # Saving without a change writes nothing.
    mtime = path.stat().st_mtime_ns
    assert again.save() is False
    assert path.stat().st_mtime_ns == mtime


def test_shipped_registry_survives_write_back(tmp_path: Path) -> None:
    path = tmp_path / "domain_registry.yaml"
    original = SHIPPED.read_text()
    path.write_text(original)
    reg = load_registry(path)
    domain = reg.domains[4]
    subdomain = domain.subdomains[1]
    before = dict(subdomain.entities)
    free = min(set(range(10)) - set(before.values()))
    reg.set_entity_number(domain, subdomain, "RegistryProbe", free)
    reg.save()
    text = path.read_text()
    comments = [line.strip() for line in original.splitlines() if "#" in line]
    for comment in comments:
        assert comment.split("#", 1)[1] in text
    assert load_registry(path).domains[4].subdomains[1].entities == {
        **before,
        "RegistryProbe": free,
    }


def test_find_registry_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "registry").mkdir(parents=True)
    found = project / "registry" / "domain_registry.yaml"
    found.write_text(MINIMAL)
    specs = project / "specs" / "crm"
    specs.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    explicit = tmp_path / "mine.yaml"
    explicit.write_text(MINIMAL)
    env = tmp_path / "env.yaml"
    env.write_text(MINIMAL)

    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    # walking up from a start path (a file or a directory)
    assert find_registry([specs]) == found.resolve()
    assert find_registry([specs / "contact.yaml"]) == found.resolve()
    # the environment variable wins over walking up
    monkeypatch.setenv(REGISTRY_ENV, str(env))
    assert find_registry([specs]) == env
    # an explicit path wins over everything
    assert find_registry([specs], explicit=explicit) == explicit
    # the current directory is searched last
    monkeypatch.delenv(REGISTRY_ENV)
    monkeypatch.chdir(specs)
    assert find_registry([elsewhere]) == found.resolve()


def test_find_registry_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    with pytest.raises(SpecqlError, match="no domain registry found"):
        find_registry([tmp_path])
    with pytest.raises(SpecqlError, match="registry file not found"):
        find_registry(explicit=tmp_path / "missing.yaml")
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "gone.yaml"))
    with pytest.raises(SpecqlError, match=r"\$SPECQL_REGISTRY"):
        find_registry([tmp_path])
