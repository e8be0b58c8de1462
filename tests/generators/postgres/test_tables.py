"""Write-side DDL: the contract's tables, applied to a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from specql.dsl.loader import load_text
from specql.dsl.model import Entity, Field, Index
from specql.dsl.types import RICH_TYPES, parse_type
from specql.errors import SpecqlError
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.naming import pg_identifier, spec_index_name
from specql.generators.postgres.tables import table_ddl, table_order
from tests.generators.postgres.spec_fixtures import load_fixture_entities

psycopg = pytest.importorskip("psycopg")


def _f(name: str, type_text: str, **kw) -> Field:
    return Field(name, parse_type(type_text), **kw)


def _columns(conn, schema: str, table: str) -> list[tuple[str, str, str, str | None]]:
    return conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()


# ---------------------------------------------------------------- text of the DDL


def test_fixtures_cover_every_type_family() -> None:
    kinds = {(f.type.kind, f.type.name) for e in load_fixture_entities() for f in e.fields}
    assert {k for k, _ in kinds} == {"basic", "rich", "enum", "ref", "list"}
    rich = {n for k, n in kinds if k == "rich"}
    assert rich == set(RICH_TYPES)
    from specql.dsl.types import BASIC_TYPES

    assert {n for k, n in kinds if k == "basic"} == set(BASIC_TYPES)


def test_enum_default_label_is_quoted_and_other_defaults_are_kept() -> None:
    e = Entity(
        "Thing",
        "catalog",
        fields=[
            _f("status", "enum(new, old)", default="new", nullable=False),
            _f("quoted", "enum(new, old)", default="'old'"),
            _f("n", "integer", default="0"),
            _f("at", "datetime", default="now()"),
        ],
    )
    sql = table_ddl(e, CompileContext.of([e]))
    assert "status TEXT NOT NULL DEFAULT 'new'," in sql
    assert "quoted TEXT DEFAULT 'old'," in sql
    assert "n INTEGER DEFAULT 0," in sql
    assert "at TIMESTAMPTZ DEFAULT now()," in sql
    assert "CONSTRAINT tb_thing_status_check CHECK (status IN ('new', 'old'))" in sql


def test_trinity_tenant_and_audit_columns_in_order() -> None:
    e = Entity("OrderLine", "crm", fields=[_f("qty", "integer", nullable=False)])
    sql = table_ddl(e, CompileContext.of([e], ["crm"]))
    lines = [line.strip() for line in sql.splitlines()]
    start = lines.index("CREATE TABLE crm.tb_order_line (")
    assert lines[start + 1 : start + 10] == [
        "pk_order_line INTEGER GENERATED ALWAYS AS IDENTITY "
        "CONSTRAINT tb_order_line_pkey PRIMARY KEY,",
        "id UUID NOT NULL DEFAULT gen_random_uuid() CONSTRAINT tb_order_line_id_key UNIQUE,",
        "identifier TEXT NOT NULL CONSTRAINT tb_order_line_identifier_key UNIQUE,",
        "tenant_id UUID NOT NULL,",
        "qty INTEGER NOT NULL,",
        "created_at TIMESTAMPTZ NOT NULL DEFAULT now(),",
        "updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),",
        "deleted_at TIMESTAMPTZ",
        ");",
    ]
    assert lines[0] == "CREATE SCHEMA IF NOT EXISTS crm;"
    assert "CREATE INDEX idx_tb_order_line_tenant_id ON crm.tb_order_line (tenant_id);" in lines


def test_description_becomes_comments() -> None:
    (e,) = load_fixture_entities("product")
    e.description = "It's a product"
    sql = table_ddl(e, CompileContext.of(load_fixture_entities("product", "category")))
    assert "COMMENT ON TABLE catalog.tb_product IS 'It''s a product';" in sql
    assert (
        "COMMENT ON COLUMN catalog.tb_product.name IS 'Name shown in the shop''s catalog';" in sql
    )


def test_ref_to_unknown_entity_is_an_error() -> None:
    e = Entity("Thing", "catalog", fields=[_f("owner", "ref(Nobody)")])
    with pytest.raises(SpecqlError, match=r"Thing\.owner: ref\(Nobody\) refers to no entity"):
        table_ddl(e, CompileContext.of([e]))
    wrong_schema = Entity("Other", "crm", fields=[_f("thing", "ref(crm.Thing)")])
    with pytest.raises(SpecqlError, match="refers to no entity"):
        table_ddl(wrong_schema, CompileContext.of([e, wrong_schema]))


def test_ref_default_is_an_error() -> None:
    a = Entity("A", "catalog")
    b = Entity("B", "catalog", fields=[_f("a", "ref(A)", default="1")])
    with pytest.raises(SpecqlError, match="a ref field cannot have a default"):
        table_ddl(b, CompileContext.of([a, b]))


def test_table_order_puts_referenced_tables_first_and_defers_cycles() -> None:
    ents = {e.name: e for e in load_fixture_entities()}
    ctx = CompileContext.of(list(ents.values()))
    given = [ents[n] for n in ("Task", "Contact", "Company", "RichSample", "Product", "Category")]
    order, deferred = table_order(given, ctx)
    names = [e.name for e in order]
    assert names == ["Company", "Category", "Product", "Contact", "Task", "RichSample"]
    assert deferred == {"Category": ["parent"], "Company": ["primary_contact"]}
    # Deterministic: the same input order gives the same result.
    assert [e.name for e in table_order(given, ctx)[0]] == names


def test_long_names_are_cut_deterministically() -> None:
    name = "idx_tb_" + "x" * 80
    cut = pg_identifier(name)
    assert len(cut) == 63 and cut == pg_identifier(name) and cut != pg_identifier(name + "y")
    assert pg_identifier("short") == "short"


def test_spec_indexes_follow_the_fk_indexes() -> None:
    ents = load_fixture_entities()
    (task,) = [e for e in ents if e.name == "Task"]
    sql = table_ddl(task, CompileContext.of(ents, ["crm", "projects"]))
    index_lines = [line for line in sql.splitlines() if "INDEX" in line]
    assert index_lines == [
        "CREATE INDEX idx_tb_task_tenant_id ON projects.tb_task (tenant_id);",
        "CREATE INDEX idx_tb_task_fk_assignee ON projects.tb_task (fk_assignee);",
        "CREATE INDEX idx_tb_task_fk_product ON projects.tb_task (fk_product);",
        "CREATE INDEX idx_tb_task_assignee_due_on ON projects.tb_task (fk_assignee, due_on);",
        "CREATE INDEX task_title_ci ON projects.tb_task ((lower(title)));",
        "CREATE UNIQUE INDEX idx_tb_task_tenant_id_external_id "
        "ON projects.tb_task (tenant_id, external_id);",
    ]


def _indexed(fields: str, *indexes: str, schema: str = "crm") -> Entity:
    return load_text(
        f"entity: Thing\nschema: {schema}\nfields: {{{fields}}}\nindexes:\n"
        + "".join(f"  - {i}\n" for i in indexes),
        "thing.yaml",
    )


def test_index_expressions_read_fields_as_columns() -> None:
    owner = Entity("Owner", "crm")
    e = _indexed(
        "owner: ref(Owner), label: text, n: integer",
        '{ expression: "coalesce(owner, 0) + n", unique: true }',
        "{ expression: \"lower(label || 'x')\" }",
        '{ expression: "( Label  IS  NULL )" }',
        '{ fields: ["order", created_at] }',
    )
    e.fields.append(_f("order", "integer"))  # a column name that needs quotes
    sql = table_ddl(e, CompileContext.of([owner, e]))
    assert "CREATE UNIQUE INDEX idx_tb_thing_coalesce_owner_0_n ON crm.tb_thing " in sql
    assert "((COALESCE(fk_owner, 0) + n));" in sql
    assert "CREATE INDEX idx_tb_thing_lower_label_x ON crm.tb_thing ((lower(label || 'x')));" in sql
    # As PostgreSQL reads it (unquoted names fold to lower case); so is the default name.
    assert "idx_tb_thing_label_is_null ON crm.tb_thing ((label IS NULL));" in sql
    assert 'idx_tb_thing_order_created_at ON crm.tb_thing ("order", created_at);' in sql


def test_default_index_names_are_deterministic_and_cut_to_63_bytes() -> None:
    long = Index(fields=["a_rather_long_field_name", "another_rather_long_field_name"])
    name = spec_index_name("PurchaseOrderLine", long)
    assert len(name.encode()) == 63 and name.startswith("idx_tb_purchase_order_line_a_rather")
    assert name == spec_index_name("PurchaseOrderLine", long)
    same = [Index(expression="LOWER( email )"), Index(expression="lower(email)")]
    assert {spec_index_name("Contact", i) for i in same} == {"idx_tb_contact_lower_email"}
    assert spec_index_name("Contact", Index(fields=["x"], name="mine")) == "mine"


@pytest.mark.parametrize(
    ("fields", "indexes", "schema", "message"),
    [
        ("a: text", ["{ fields: [b] }"], "crm", "index of Thing: no field 'b'"),
        ("a: text", ["{ fields: [tenant_id, a] }"], "catalog", "no field 'tenant_id'"),
        ("a: text", ["{ expression: lower(x.a) }"], "crm", "'x.a' is not a field"),
        ("a: text", ["{ expression: $id > a }"], "crm", "'[$]id' is not a field"),
        ("a: text", ["{ expression: 'lower(' }"], "crm", "invalid SQL"),
        (
            "a: text, b_c: text, a_b: text, c: text",
            ["{ fields: [a, b_c] }", "{ fields: [a_b, c] }"],
            "crm",
            "'idx_tb_thing_a_b_c' of Thing has the name of another index of its table",
        ),
        (
            "owner: ref(Thing)",
            ["{ fields: [owner, created_at], name: idx_tb_thing_fk_owner }"],
            "crm",
            "has the name of another index",
        ),
    ],
)
def test_index_problems_are_errors_at_the_index(fields, indexes, schema, message) -> None:
    e = _indexed(fields, *indexes, schema=schema)
    with pytest.raises(SpecqlError, match=message) as err:
        table_ddl(e, CompileContext.of([e], ["crm"]))
    assert err.value.pos == e.indexes[-1].pos


# ---------------------------------------------------------------- on a real PostgreSQL


@pytest.mark.postgres
def test_ddl_applies_with_the_contract_columns(applied_db: str) -> None:
    with psycopg.connect(applied_db) as conn:
        cols = _columns(conn, "crm", "tb_contact")
    assert [c[0] for c in cols] == [
        "pk_contact",
        "id",
        "identifier",
        "tenant_id",
        "email",
        "first_name",
        "status",
        "fk_company",
        "fk_favourite_product",
        "score",
        "labels",
        "order",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    types = {c[0]: (c[1], c[2], c[3]) for c in cols}
    assert types["pk_contact"][:2] == ("integer", "NO")
    assert types["id"] == ("uuid", "NO", "gen_random_uuid()")
    assert types["identifier"][:2] == ("text", "NO")
    assert types["status"] == ("text", "YES", "'lead'::text")
    assert types["score"] == ("integer", "NO", "0")
    assert types["labels"][0] == "ARRAY"
    assert types["created_at"] == ("timestamp with time zone", "NO", "now()")
    assert types["deleted_at"] == ("timestamp with time zone", "YES", None)


@pytest.mark.postgres
def test_tenant_id_only_in_multi_tenant_schemas(applied_db: str) -> None:
    with psycopg.connect(applied_db) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.columns "
            "WHERE column_name = 'tenant_id' AND table_name LIKE 'tb_%' ORDER BY 1, 2"
        ).fetchall()
    assert rows == [("crm", "tb_company"), ("crm", "tb_contact"), ("projects", "tb_task")]


@pytest.mark.postgres
def test_foreign_keys_and_their_indexes(applied_db: str) -> None:
    with psycopg.connect(applied_db) as conn:
        fks = conn.execute(
            "SELECT conrelid::regclass::text, conname, confrelid::regclass::text "
            "FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2"
        ).fetchall()
        indexes = {
            (r[0], r[1])
            for r in conn.execute("SELECT schemaname, indexname FROM pg_indexes").fetchall()
        }
    assert fks == [
        ("catalog.tb_category", "tb_category_fk_parent_fkey", "catalog.tb_category"),
        ("catalog.tb_product", "tb_product_fk_category_fkey", "catalog.tb_category"),
        ("crm.tb_company", "tb_company_fk_primary_contact_fkey", "crm.tb_contact"),
        ("crm.tb_contact", "tb_contact_fk_company_fkey", "crm.tb_company"),
        ("crm.tb_contact", "tb_contact_fk_favourite_product_fkey", "catalog.tb_product"),
        ("projects.tb_task", "tb_task_fk_assignee_fkey", "crm.tb_contact"),
        ("projects.tb_task", "tb_task_fk_product_fkey", "catalog.tb_product"),
    ]
    for schema, index in [
        ("catalog", "idx_tb_category_fk_parent"),
        ("catalog", "idx_tb_product_fk_category"),
        ("crm", "idx_tb_company_fk_primary_contact"),
        ("crm", "idx_tb_contact_fk_company"),
        ("crm", "idx_tb_contact_fk_favourite_product"),
        ("projects", "idx_tb_task_fk_assignee"),
        ("projects", "idx_tb_task_fk_product"),
        ("crm", "idx_tb_contact_tenant_id"),
        ("crm", "tb_contact_pkey"),
        ("crm", "tb_contact_id_key"),
        ("crm", "tb_contact_identifier_key"),
    ]:
        assert (schema, index) in indexes, index
    assert ("catalog", "idx_tb_product_tenant_id") not in indexes


@pytest.mark.postgres
def test_spec_indexes_apply_as_written(applied_db: str) -> None:
    with psycopg.connect(applied_db, autocommit=True) as conn:
        defs = dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'projects' "
                "AND tablename = 'tb_task'"
            ).fetchall()
        )
        assert defs["idx_tb_task_assignee_due_on"] == (
            "CREATE INDEX idx_tb_task_assignee_due_on ON projects.tb_task "
            "USING btree (fk_assignee, due_on)"
        )
        assert defs["task_title_ci"] == (
            "CREATE INDEX task_title_ci ON projects.tb_task USING btree (lower(title))"
        )
        assert defs["idx_tb_task_tenant_id_external_id"] == (
            "CREATE UNIQUE INDEX idx_tb_task_tenant_id_external_id ON projects.tb_task "
            "USING btree (tenant_id, external_id)"
        )
        row = {"tenant_id": TENANT, "title": "T", "external_id": uuid.UUID(int=7)}
        _insert(conn, "projects.tb_task", {**row, "identifier": "t1"})
        _insert(conn, "projects.tb_task", {**row, "identifier": "t2", "tenant_id": uuid.uuid4()})
        with pytest.raises(psycopg.errors.UniqueViolation, match="tenant_id_external_id"):
            _insert(conn, "projects.tb_task", {**row, "identifier": "t3"})


def _insert(conn, table: str, values: dict) -> None:
    cols = ", ".join(f'"{c}"' for c in values)
    marks = ", ".join(["%s"] * len(values))
    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))


TENANT = uuid.UUID(int=1)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("table", "good", "bad"),
    [
        (
            "crm.tb_contact",
            {"email": "ann@example.com"},
            {"email": "not-an-email"},
        ),
        ("crm.tb_contact", {"email": "a@b.io", "status": "qualified"}, {"status": "prospect"}),
        ("crm.tb_contact", {"email": "a@b.io", "labels": ["vip"]}, {"labels": ["vip", "boss"]}),
        ("catalog.tb_product", {"discount": 12.5}, {"discount": 150}),
        ("catalog.tb_product", {"discount": 0}, {"discount": -1}),
        ("catalog.tb_product", {"sizes": ["s", "l"]}, {"sizes": ["xl"]}),
        ("catalog.tb_rich_sample", {"phone": "+4930123456"}, {"phone": "030 123"}),
        ("catalog.tb_rich_sample", {"port": 5432}, {"port": 70000}),
        ("catalog.tb_rich_sample", {"latitude": -45.5}, {"latitude": 91}),
        ("catalog.tb_rich_sample", {"country_code": "DE"}, {"country_code": "de"}),
        ("catalog.tb_rich_sample", {"url": "https://x.org/a?b=1"}, {"url": "ftp://x.org"}),
        ("catalog.tb_rich_sample", {"slug": "a-b-c"}, {"slug": "A B"}),
    ],
)
def test_checks_reject_bad_values(applied_db: str, table: str, good: dict, bad: dict) -> None:
    base = {
        "crm.tb_contact": {"tenant_id": TENANT, "email": "x@y.org"},
        "catalog.tb_product": {"sku": "S1", "name": "N", "price": 1},
        "catalog.tb_rich_sample": {},
    }[table]
    with psycopg.connect(applied_db) as conn:
        _insert(conn, table, {**base, "identifier": "good", **good})
        with pytest.raises(psycopg.errors.CheckViolation):
            _insert(conn, table, {**base, "identifier": "bad", **bad})


@pytest.mark.postgres
def test_not_null_unique_and_fk_are_enforced(applied_db: str) -> None:
    with psycopg.connect(applied_db, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.NotNullViolation):
            _insert(conn, "crm.tb_contact", {"tenant_id": TENANT, "identifier": "c1"})
        with pytest.raises(psycopg.errors.NotNullViolation):
            _insert(conn, "crm.tb_contact", {"identifier": "c1", "email": "a@b.io"})
        _insert(
            conn, "crm.tb_contact", {"tenant_id": TENANT, "identifier": "c1", "email": "a@b.io"}
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            _insert(
                conn, "crm.tb_contact", {"tenant_id": TENANT, "identifier": "c1", "email": "b@b.io"}
            )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            _insert(
                conn,
                "crm.tb_contact",
                {"tenant_id": TENANT, "identifier": "c2", "email": "b@b.io", "fk_company": 999},
            )
        # the deferred (cycle-closing) foreign key is there too
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            _insert(
                conn,
                "crm.tb_company",
                {"tenant_id": TENANT, "identifier": "co", "name": "X", "fk_primary_contact": 999},
            )


@pytest.mark.postgres
def test_every_rich_type_accepts_a_typical_value(applied_db: str) -> None:
    values = {
        "email": "ann.lee+crm@mail.example.com",
        "url": "http://example.com:8080/path",
        "phone": "+14155550100",
        "slug": "spring-sale",
        "money": 19.99,
        "percentage": 100,
        "color": "#A0b1C2",
        "country_code": "FR",
        "currency_code": "EUR",
        "language_code": "en-GB",
        "ip_address": "192.168.1.20",
        "mac_address": "00:1a:2B:3c:4D:5e",
        "latitude": 48.8566,
        "longitude": 2.3522,
        "semantic_version": "1.2.3-beta.1+build.5",
        "postal_code": "75001",
        "timezone": "Europe/Paris",
        "markdown": "# Title",
        "hostname": "db-1.internal.example.com",
        "iban": "DE89370400440532013000",
        "port": 443,
    }
    assert set(values) == set(RICH_TYPES)
    with psycopg.connect(applied_db) as conn:
        _insert(conn, "catalog.tb_rich_sample", {"identifier": "r1", **values})
