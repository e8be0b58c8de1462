"""The PostgreSQL generator end to end: codes, paths, apply order, idempotence, real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.dsl.model import Action, Entity, Field, RejectStep, UpdateStep
from specql.dsl.registry import load_registry
from specql.dsl.types import parse_type
from specql.errors import SpecqlError
from specql.generators.base import get_generator
from specql.generators.postgres.generator import PostgresGenerator
from specql.generators.postgres.naming import table_name, view_name
from specql.generators.writer import apply_order, read_manifest, write_files
from tests.generators.postgres.spec_fixtures import load_fixture_entities


def _with_actions(entities: list[Entity]) -> list[Entity]:
    """Give Contact two actions and Task one, so layer 03 has files."""
    by_name = {e.name: e for e in entities}
    by_name["Contact"].actions = [
        Action(
            "bump_score", steps=[UpdateStep(entity="Contact", assignments={"score": "score + 1"})]
        ),
        Action("refuse", steps=[RejectStep(error="no_way")]),
    ]
    by_name["Task"].actions = [
        Action("finish", steps=[UpdateStep(entity="Task", assignments={"done": "true"})])
    ]
    return entities


def _generate(registry_path: Path, entities: list[Entity] | None = None):
    entities = _with_actions(entities if entities is not None else load_fixture_entities())
    return PostgresGenerator().generate(entities, load_registry(registry_path))


def test_registered_by_name() -> None:
    assert isinstance(get_generator("postgres"), PostgresGenerator)
    assert PostgresGenerator.name == "postgres"


def test_files_codes_paths_and_order(registry_path: Path) -> None:
    files = _generate(registry_path)
    listing = [(f.code, f.layer, f.path) for f in files]
    assert listing == [
        ("010001", "write_side", "01_write_side/0_framework/00_framework/010001_framework.sql"),
        # tables: depth first over refs, starting from code order (Company 210, Contact 211,
        # RichSample 300, Category 310, Product 311, Task 400): referenced tables first
        ("013101", "write_side", "01_write_side/3_catalog/31_products/013101_tb_category.sql"),
        ("013111", "write_side", "01_write_side/3_catalog/31_products/013111_tb_product.sql"),
        ("012111", "write_side", "01_write_side/2_crm/21_accounts/012111_tb_contact.sql"),
        ("012101", "write_side", "01_write_side/2_crm/21_accounts/012101_tb_company.sql"),
        ("013001", "write_side", "01_write_side/3_catalog/30_general/013001_tb_rich_sample.sql"),
        ("014001", "write_side", "01_write_side/4_projects/40_general/014001_tb_task.sql"),
        # foreign keys that close a cycle (Category.parent, Contact.company), after every table
        ("013102", "write_side", "01_write_side/3_catalog/31_products/013102_tb_category_fk.sql"),
        ("012112", "write_side", "01_write_side/2_crm/21_accounts/012112_tb_contact_fk.sql"),
        # views and functions in code order
        ("022101", "read_side", "02_read_side/2_crm/21_accounts/022101_tv_company.sql"),
        ("022111", "read_side", "02_read_side/2_crm/21_accounts/022111_tv_contact.sql"),
        ("023001", "read_side", "02_read_side/3_catalog/30_general/023001_tv_rich_sample.sql"),
        ("023101", "read_side", "02_read_side/3_catalog/31_products/023101_tv_category.sql"),
        ("023111", "read_side", "02_read_side/3_catalog/31_products/023111_tv_product.sql"),
        ("024001", "read_side", "02_read_side/4_projects/40_general/024001_tv_task.sql"),
        ("032111", "functions", "03_functions/2_crm/21_accounts/032111_fn_crm_bump_score.sql"),
        ("032112", "functions", "03_functions/2_crm/21_accounts/032112_fn_crm_refuse.sql"),
        ("034001", "functions", "03_functions/4_projects/40_general/034001_fn_projects_finish.sql"),
    ]
    assert [f.name for f in files][:2] == ["framework", "tb_category"]
    assert all(f.content.endswith("\n") for f in files)
    assert "ALTER TABLE catalog.tb_category" in files[7].content
    assert "ALTER TABLE crm.tb_contact" in files[8].content
    assert "CREATE OR REPLACE FUNCTION" in files[-1].content


def test_codes_are_written_back_and_stable(registry_path: Path) -> None:
    first = _generate(registry_path)
    registry_text = registry_path.read_text()
    reg = load_registry(registry_path)
    assert reg.domains[2].subdomains[1].entities == {"Company": 0, "Contact": 1}
    assert reg.domains[3].subdomains[0].entities == {"RichSample": 0}
    assert "# Domain registry" in registry_text  # comments survived the write-back
    mtime = registry_path.stat().st_mtime_ns

    second = _generate(registry_path)
    assert second == first
    assert registry_path.read_text() == registry_text
    assert registry_path.stat().st_mtime_ns == mtime


def test_adding_an_entity_keeps_old_codes(registry_path: Path) -> None:
    first = {f.name: f.code for f in _generate(registry_path)}
    entities = load_fixture_entities()
    entities.append(
        Entity("Account", "crm", subdomain="accounts", fields=[Field("name", parse_type("text"))])
    )
    second = {f.name: f.code for f in _generate(registry_path, entities)}
    assert {k: second[k] for k in first} == first
    assert second["tb_account"] == "012121"


def test_generating_twice_writes_byte_identical_output(registry_path: Path, tmp_path: Path) -> None:
    write_files(_generate(registry_path), tmp_path / "a")
    registry_text = registry_path.read_text()
    write_files(_generate(registry_path), tmp_path / "b")
    write_files(_generate(registry_path), tmp_path / "a")  # over itself: nothing changes

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert registry_path.read_text() == registry_text
    assert read_manifest(tmp_path / "a")[0].code == "010001"


def test_too_many_actions_is_an_error_naming_the_entity(registry_path: Path) -> None:
    entities = load_fixture_entities()
    task = next(e for e in entities if e.name == "Task")
    task.actions = [Action(f"a{i}", steps=[RejectStep(error="x")]) for i in range(10)]
    with pytest.raises(SpecqlError, match="entity 'Task' has 10 actions; at most 9"):
        PostgresGenerator().generate(entities, load_registry(registry_path))


def test_actions_sharing_a_function_name_are_an_error(registry_path: Path) -> None:
    entities = load_fixture_entities()
    for e in entities:
        if e.schema == "crm":
            e.actions = [Action("archive", steps=[RejectStep(error="x")])]
    with pytest.raises(SpecqlError, match=r"would both be the function crm\.fn_crm_archive"):
        PostgresGenerator().generate(entities, load_registry(registry_path))


def test_failed_generation_leaves_the_registry_alone(registry_path: Path) -> None:
    before = registry_path.read_text()
    entities = load_fixture_entities()
    entities.append(Entity("Broken", "crm", fields=[Field("x", parse_type("ref(Nowhere)"))]))
    with pytest.raises(SpecqlError, match="refers to no entity"):
        PostgresGenerator().generate(entities, load_registry(registry_path))
    assert registry_path.read_text() == before


def test_unknown_schema_is_an_error_naming_the_registry(registry_path: Path) -> None:
    with pytest.raises(SpecqlError) as err:
        PostgresGenerator().generate([Entity("Invoice", "billing")], load_registry(registry_path))
    assert "schema 'billing' has no domain" in str(err.value)
    assert str(registry_path) in str(err.value)


@pytest.mark.postgres
def test_generated_files_apply_in_manifest_order(
    registry_path: Path, tmp_path: Path, pg_database: str
) -> None:
    psycopg = pytest.importorskip("psycopg")
    write_files(_generate(registry_path), tmp_path)
    with psycopg.connect(pg_database) as conn:
        for path in apply_order(tmp_path):
            conn.execute(path.read_text())
        relations = {
            r[0]
            for r in conn.execute(
                "SELECT relnamespace::regnamespace::text || '.' || relname FROM pg_class "
                "WHERE relkind IN ('r', 'v')"
            ).fetchall()
        }
        functions = {
            r[0]
            for r in conn.execute(
                "SELECT pronamespace::regnamespace::text || '.' || proname FROM pg_proc"
            ).fetchall()
        }
    for e in load_fixture_entities():
        assert f"{e.schema}.{table_name(e.name)}" in relations
        assert f"{e.schema}.{view_name(e.name)}" in relations
    assert {
        "crm.fn_crm_bump_score",
        "crm.fn_crm_refuse",
        "projects.fn_projects_finish",
    } <= functions
