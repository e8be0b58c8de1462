"""The generated models on a real PostgreSQL: ``configure_mappers``, ``create_all``, rows
through a Session, soft delete; the same models on the tables the PostgreSQL target creates;
and ``create_all`` creating exactly those tables (columns, types, defaults, constraints and
their names, indexes, comments)."""

from __future__ import annotations

import re

import pytest

from specql.generators.postgres.apply import apply_manifest
from tests.generators.sqlalchemy.conftest import catalog, run_models

pytestmark = pytest.mark.postgres

EXAMPLE_SCHEMAS = ["catalog", "crm", "projects"]


def test_the_examples_configure_every_mapper_without_specql(examples_out):
    [configured] = run_models(examples_out, "-", "configure")
    assert configured["classes"] == [
        "specql_models.catalog.Category",
        "specql_models.catalog.PriceList",
        "specql_models.catalog.Product",
        "specql_models.crm.Company",
        "specql_models.crm.Contact",
        "specql_models.crm.Deal",
        "specql_models.crm.Note",
        "specql_models.projects.Project",
        "specql_models.projects.Task",
        "specql_models.projects.TimeEntry",
    ]
    assert "crm.tb_contact" in configured["tables"]
    assert len(configured["tables"]) == 10
    assert configured["imports_specql"] is False


def _check_example_rows(seen: dict) -> None:
    assert seen["ann"] == {
        "id_is_uuid": True,
        "status": "qualified",
        "score": 0,
        "company": "Acme",
        "last_contacted_at": "2024-05-01T09:30:00+00:00",
    }
    assert seen["acme"] == {
        "metadata": {"source": "legacy", "tier": 2},
        "tags": ["b2b", "vip"],
        "industry": "other",
        "annual_revenue": "1234567.8912",
    }
    assert seen["deal"] == {
        "contact": "Ann",
        "product": "Drill",
        "currency": "EUR",
        "stage": "open",
        "probability": "10.00",
    }
    assert seen["drill"] == {
        "category": "tools",
        "colors": ["red", "black"],
        "active": True,
        "stock_units": 0,
    }
    assert seen["entry"] == {
        "client": "Acme",
        "client_ip": ["IPv4Address", "192.168.1.20"],
        "device_mac": "08:00:2b:01:02:03",
        "estimate_seconds": 10800.0,
        "billable": True,
    }
    assert seen["notes"] == ["met at the fair"]
    assert seen["soft_delete"] == {
        "active_before": ["acme"],
        "active_after": [],
        "still_in_table": "acme",
        "deleted_at_set": True,
        "products_active": ["drill"],
    }


def test_examples_create_all_then_rows_through_a_session(examples_out, pg_database):
    created, seen = run_models(examples_out, pg_database, "create_all", "examples")
    assert created["schemas"] == EXAMPLE_SCHEMAS
    assert len(created["tables"]) == 10
    assert "projects.tb_time_entry" in created["tables"]
    _check_example_rows(seen)


def test_the_models_work_on_the_tables_of_the_postgres_target(examples_out, pg_database):
    apply_manifest(examples_out, pg_database)
    [seen] = run_models(examples_out, pg_database, "examples")
    _check_example_rows(seen)


@pytest.mark.parametrize("spec_set", ["examples_out", "fixtures_out"])
def test_create_all_makes_the_tables_the_postgres_target_makes(
    spec_set, request, pg_database, second_database
):
    out = request.getfixturevalue(spec_set)
    run_models(out, pg_database, "create_all")
    apply_manifest(out, second_database)
    from_models = catalog(pg_database, EXAMPLE_SCHEMAS)
    from_sql = catalog(second_database, EXAMPLE_SCHEMAS)
    assert from_models["tables"], "nothing was created"
    for what in ("tables", "columns", "constraints", "indexes"):
        assert from_models[what] == from_sql[what], what


def test_long_names_are_shortened_as_the_sql_target_shortens_them(fixtures_out, pg_database):
    run_models(fixtures_out, pg_database, "create_all")
    found = catalog(pg_database, ["projects"])
    # pkey, id and identifier keys, fkey, enum check (PostgreSQL 18 also lists NOT NULLs)
    names = {name for _, _, name, kind, _ in found["constraints"] if kind in "pufc"}
    names |= {name for _, _, name, _ in found["indexes"]}  # + the tenant_id and ref indexes
    assert len(names) == 5 + 2
    assert all(len(name) == 63 and re.search(r"_[0-9a-f]{8}$", name) for name in names), names


def test_rows_that_refer_to_each_other_flush_together(fixtures_out, pg_database):
    _, seen = run_models(fixtures_out, pg_database, "create_all", "cycle")
    assert seen == {"primary_contact": "bob", "back_to_company": "acme", "leaf_parent": "root"}
