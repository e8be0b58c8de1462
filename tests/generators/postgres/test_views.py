"""Read side: tv_<entity> views, applied to a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from specql.dsl.model import Entity, Field
from specql.dsl.types import parse_type
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.views import view_ddl
from tests.generators.postgres.spec_fixtures import apply_sql, ddl_scripts, load_fixture_entities

psycopg = pytest.importorskip("psycopg")

TENANT = uuid.UUID(int=7)


def test_view_text() -> None:
    ents = load_fixture_entities()
    ctx = CompileContext.of(ents, ["crm"])
    contact = next(e for e in ents if e.name == "Contact")
    sql = view_ddl(contact, ctx)
    assert "CREATE OR REPLACE VIEW crm.tv_contact AS" in sql
    assert "    t.tenant_id,\n" in sql
    assert "'company', r_company.id" in sql
    assert "LEFT JOIN crm.tb_company AS r_company ON r_company.pk_company = t.fk_company" in sql
    assert "LEFT JOIN catalog.tb_product AS r_favourite_product" in sql
    assert "'order', t.\"order\"" in sql
    assert sql.rstrip().endswith("WHERE t.deleted_at IS NULL;")
    product = next(e for e in ents if e.name == "Product")
    assert "tenant_id" not in view_ddl(product, ctx)


@pytest.mark.postgres
def test_view_columns(applied_db: str) -> None:
    with psycopg.connect(applied_db) as conn:
        rows = conn.execute(
            "SELECT table_schema || '.' || table_name, string_agg(column_name, ',' "
            "ORDER BY ordinal_position) FROM information_schema.columns "
            "WHERE table_name LIKE 'tv_%' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("catalog.tv_category", "id,data"),
        ("catalog.tv_product", "id,data"),
        ("catalog.tv_rich_sample", "id,data"),
        ("crm.tv_company", "id,tenant_id,data"),
        ("crm.tv_contact", "id,tenant_id,data"),
        ("projects.tv_task", "id,tenant_id,data"),
    ]


@pytest.mark.postgres
def test_view_exposes_refs_as_uuids_and_hides_soft_deleted_rows(applied_db: str) -> None:
    with psycopg.connect(applied_db) as conn:
        cat_pk, cat_id = conn.execute(
            "INSERT INTO catalog.tb_category (identifier, name, slug) VALUES ('c', 'Tools', 'tools') "
            "RETURNING pk_category, id"
        ).fetchone()
        prod_pk, prod_id = conn.execute(
            "INSERT INTO catalog.tb_product (identifier, sku, name, price, fk_category, colors) "
            "VALUES ('p', 'S1', 'Hammer', 9.5, %s, ARRAY['red', 'blue']) "
            "RETURNING pk_product, id",
            (cat_pk,),
        ).fetchone()
        co_pk, co_id = conn.execute(
            "INSERT INTO crm.tb_company (identifier, tenant_id, name) VALUES ('co', %s, 'ACME') "
            "RETURNING pk_company, id",
            (TENANT,),
        ).fetchone()
        ann_pk, ann_id = conn.execute(
            "INSERT INTO crm.tb_contact (identifier, tenant_id, email, fk_company, "
            "fk_favourite_product) VALUES ('ann', %s, 'ann@acme.io', %s, %s) "
            "RETURNING pk_contact, id",
            (TENANT, co_pk, prod_pk),
        ).fetchone()
        conn.execute(
            "INSERT INTO crm.tb_contact (identifier, tenant_id, email, deleted_at) "
            "VALUES ('gone', %s, 'gone@acme.io', now())",
            (TENANT,),
        )
        # a self-reference closed by the deferred foreign key
        conn.execute(
            "INSERT INTO catalog.tb_category (identifier, name, slug, fk_parent) "
            "VALUES ('sub', 'Hammers', 'hammers', %s)",
            (cat_pk,),
        )

        rows = conn.execute("SELECT id, tenant_id, data FROM crm.tv_contact").fetchall()
        assert len(rows) == 1
        vid, tenant, data = rows[0]
        assert vid == ann_id and tenant == TENANT
        assert data["company"] == str(co_id)
        assert data["favourite_product"] == str(prod_id)
        assert data["status"] == "lead" and data["score"] == 0
        assert data["labels"] is None and data["first_name"] is None
        # every key is present
        assert set(data) == {
            "id", "identifier", "email", "first_name", "status", "company",
            "favourite_product", "score", "labels", "order", "created_at", "updated_at",
        }  # fmt: skip
        assert data["id"] == str(ann_id) and data["identifier"] == "ann"

        product = conn.execute("SELECT data FROM catalog.tv_product").fetchone()[0]
        assert product["category"] == str(cat_id) and product["colors"] == ["red", "blue"]
        assert product["discount"] == 0 and product["status"] == "draft"
        sub = conn.execute(
            "SELECT data FROM catalog.tv_category WHERE data->>'identifier' = 'sub'"
        ).fetchone()[0]
        assert sub["parent"] == str(cat_id)

        # Soft-deleting the company hides it, but the contact still names it by UUID.
        conn.execute("UPDATE crm.tb_company SET deleted_at = now()")
        assert conn.execute("SELECT count(*) FROM crm.tv_company").fetchone()[0] == 0
        assert conn.execute("SELECT data->>'company' FROM crm.tv_contact").fetchone()[0] == str(
            co_id
        )
        assert ann_pk


@pytest.mark.postgres
def test_wide_entity_view_applies(pg_database: str) -> None:
    # jsonb_build_object takes at most 100 arguments: 120 fields need several calls.
    wide = Entity(
        "Wide", "catalog", fields=[Field(f"f{i}", parse_type("integer")) for i in range(120)]
    )
    apply_sql(pg_database, ddl_scripts([wide]))
    with psycopg.connect(pg_database) as conn:
        conn.execute("INSERT INTO catalog.tb_wide (identifier, f0, f119) VALUES ('w', 1, 2)")
        data = conn.execute("SELECT data FROM catalog.tv_wide").fetchone()[0]
    assert len(data) == 124 and data["f0"] == 1 and data["f119"] == 2 and data["f60"] is None
