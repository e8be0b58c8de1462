"""The Tier-3 seed: every entity template file is well formed, instantiates with its
dependencies from a real library, changes with its config, and all of them together generate
in every target and apply to a real PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import psycopg
import pytest
import yaml
from jsonschema import Draft202012Validator

from specql import api
from specql.dsl import validate
from specql.generators.base import available_generators
from specql.generators.postgres.apply import apply_manifest
from specql.generators.postgres.naming import table_name
from specql.patterns import PatternLibrary
from specql.patterns.definitions import EntityTemplate

SEED = Path(__file__).resolve().parents[2] / "src" / "specql" / "patterns" / "seed"
TEMPLATES = {
    f"{p.parent.name}.{p.stem}": yaml.safe_load(p.read_text(encoding="utf-8"))
    for p in sorted((SEED / "templates").glob("*/*.yaml"))
}
NAMESPACE_OF = {t["entity"]: t["namespace"] for t in TEMPLATES.values()}
DOMAIN_PATTERNS = {p.stem for p in (SEED / "domain").glob("*.yaml")}
NAMES = sorted(TEMPLATES)

# Where the test puts each namespace: both tenancy kinds, dependencies in their dependent's schema.
SCHEMA_OF = {
    "crm": "crm",
    "finance": "crm",
    "ecommerce": "catalog",
    "healthcare": "catalog",
    "hr": "projects",
    "projects": "projects",
}
# One option per template that must change what it instantiates into.
OTHER_CONFIG = {
    "crm.activity": {"kinds": ["call", "visit"]},
    "crm.company": {"with_address": False},
    "crm.contact": {"with_address": True},
    "crm.deal": {"currency": "USD"},
    "ecommerce.customer": {"with_address": False},
    "ecommerce.order": {"currency": "GBP"},
    "ecommerce.order_line": {"max_quantity": 10},
    "ecommerce.product": {"with_dimensions": True},
    "finance.account": {"currency": "CHF"},
    "finance.expense": {"categories": ["travel", "other"]},
    "finance.invoice": {"payment_terms_days": 14},
    "finance.payment": {"methods": ["card", "cash"]},
    "healthcare.appointment": {"default_minutes": 45},
    "healthcare.patient": {"with_emergency_contact": False},
    "healthcare.practitioner": {"with_contact_details": False},
    "healthcare.prescription": {"max_refills": 2},
    "hr.department": {"with_cost_center": False},
    "hr.employee": {"with_salary": False},
    "hr.leave_request": {"max_days": 10},
    "projects.milestone": {"with_billing": True},
    "projects.project": {"with_budget": False},
    "projects.task": {"priorities": ["low", "high"]},
    "projects.time_entry": {"max_hours_per_day": 10},
}
PYTHON_TARGETS = ("django", "sqlalchemy")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> PatternLibrary:
    with PatternLibrary.open(tmp_path_factory.mktemp("library") / "library.db") as lib:
        yield lib


@pytest.fixture
def roomy_registry(registry_copy) -> Path:
    """The registry copy with a subdomain per namespace (``templates_<namespace>``) in every
    domain: the stock subdomains have ten entity slots each, fewer than the templates and the
    helper entities of their patterns need."""
    doc = yaml.safe_load(registry_copy.read_text(encoding="utf-8"))
    for domain in doc["domains"].values():
        for number, namespace in enumerate(sorted(SCHEMA_OF), start=4):
            domain["subdomains"][number] = {"name": f"templates_{namespace}"}
    registry_copy.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return registry_copy


def _instantiate(library, name: str, config: dict | None = None):
    namespace = name.split(".")[0]
    return library.instantiate_entity_template(
        name, config=config, schema=SCHEMA_OF[namespace], record=False
    )


def _write_specs(library, directory: Path, configs: dict | None = None) -> list[str]:
    """Every template (with ``configs``) and its dependencies as spec files, each entity once,
    in its namespace's subdomain; returns the qualified tables of the templates' entities.
    A template's own instance wins over the default one it gets as another's dependency."""
    directory.mkdir()
    made = [_instantiate(library, name, (configs or {}).get(name)) for name in NAMES]
    tables: dict[str, str] = {}
    for entity in [entities[0] for entities in made] + [e for es in made for e in es[1:]]:
        if entity.name in tables:
            continue
        entity.subdomain = f"templates_{NAMESPACE_OF[entity.name]}"
        tables[entity.name] = f"{entity.schema}.{table_name(entity.name)}"
        (directory / f"{entity.name}.yaml").write_text(api.dump(entity), encoding="utf-8")
    return list(tables.values())


def _generate(library, tmp_path: Path, registry: Path, target: str):
    return api.generate(
        [tmp_path / "specs"], target, out_dir=tmp_path / "out", registry=registry, library=library
    )


# --------------------------------------------------------------------------- the files


def test_the_seed_covers_namespaces() -> None:
    per_namespace = Counter(name.split(".")[0] for name in NAMES)
    assert len(NAMES) >= 22, NAMES
    assert len(per_namespace) >= 5 and min(per_namespace.values()) >= 3, per_namespace
    assert set(per_namespace) == set(SCHEMA_OF)
    assert set(OTHER_CONFIG) == set(NAMES), "every template has an option that changes it"


@pytest.mark.parametrize("name", NAMES)
def test_definition_is_well_formed(name: str) -> None:
    definition = TEMPLATES[name]
    template = EntityTemplate.from_definition(definition)  # the library's own checks
    assert template.name == name, "the file is <namespace>/<name>.yaml"
    assert len(template.description) >= 80
    Draft202012Validator.check_schema(template.config)
    assert template.config.get("additionalProperties") is False
    assert template.config.get("properties"), "a config option"
    for dependency in template.depends_on:
        assert dependency in TEMPLATES, f"{name} depends on the unknown template {dependency}"
    body = template.body
    assert body.get("indexes"), "an index"
    assert len(body.get("actions", [])) >= 2, "a couple of actions"
    for use in body.get("patterns", []):
        used = use if isinstance(use, str) else use["pattern"]
        assert used in DOMAIN_PATTERNS, f"{name} uses the unknown pattern {used}"


@pytest.mark.parametrize("name", NAMES)
def test_instantiates_with_its_dependencies(name: str, library) -> None:
    entities = _instantiate(library, name)
    template = TEMPLATES[name]
    assert entities[0].name == template["entity"]
    assert entities[0].schema == SCHEMA_OF[name.split(".")[0]]
    dependencies = {TEMPLATES[d]["entity"] for d in template.get("depends_on", [])}
    assert dependencies <= {e.name for e in entities[1:]}
    expanded = library.expand(entities).entities
    assert [p for p in validate(expanded) if p.level.name == "ERROR"] == []


@pytest.mark.parametrize("name", NAMES)
def test_config_changes_the_body(name: str, library) -> None:
    default = _instantiate(library, name)[0]
    other = _instantiate(library, name, OTHER_CONFIG[name])[0]
    assert other != default


# --------------------------------------------------------------------------- all targets


@pytest.mark.parametrize("configs", [None, OTHER_CONFIG], ids=["default", "other-config"])
def test_every_template_applies_to_postgresql(
    configs, library, tmp_path, roomy_registry, pg_database
) -> None:
    tables = _write_specs(library, tmp_path / "specs", configs)
    _generate(library, tmp_path, roomy_registry, "postgres")
    report = apply_manifest(tmp_path / "out", pg_database)
    assert report.counts()["tables"] > len(tables)  # the patterns' helper entities too
    with psycopg.connect(pg_database) as conn:
        missing = [
            t for t in tables if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] is None
        ]
    assert missing == []


@pytest.mark.parametrize("target", PYTHON_TARGETS)
def test_every_template_generates_python(target: str, library, tmp_path, roomy_registry):
    if target not in available_generators():
        pytest.skip(f"the {target} target is not registered yet")
    _write_specs(library, tmp_path / "specs")
    files = _generate(library, tmp_path, roomy_registry, target)
    sources = [f for f in files if f.path.endswith(".py")]
    assert sources, f"{target} wrote no Python"
    for f in sources:
        compile(f.content, f.path, "exec")  # syntax; the target's own tests import and check it
