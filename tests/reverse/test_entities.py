"""reverse.entities: TableInfo -> Entity, with what was recognised, dropped and approximated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specql.dsl import load_paths, load_text, validate
from specql.dsl import model as m
from specql.dsl.registry import load_registry
from specql.dsl.types import RICH_TYPES, parse_type
from specql.errors import ErrorLevel
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.generator import PostgresGenerator
from specql.generators.postgres.tables import deferred_fk_ddl, table_ddl, table_order
from specql.reverse.entities import table_to_entity, tables_to_entities
from specql.reverse.parse import parse_paths, parse_sql_text
from specql.reverse.source import ColumnInfo, ForeignKeyInfo, IndexInfo, TableInfo, TypeInfo

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "parse"


def entities_of(sql: str) -> dict[str, object]:
    module = parse_sql_text(sql, "test.sql")
    assert not [e for e in module.errors if e.level is ErrorLevel.ERROR], module.errors
    return {r.table.name: r for r in tables_to_entities(module.tables, module.types)}


def field_types(result) -> dict[str, str]:
    return {f.name: str(f.type) for f in result.entity.fields}


# --------------------------------------------------------------------------- round trip


def test_examples_round_trip_through_generated_ddl(tmp_path) -> None:
    """reverse(generate(spec)) has the spec's fields and description, for every example."""
    registry = tmp_path / "domain_registry.yaml"
    shutil.copy(REPO / "registry" / "domain_registry.yaml", registry)
    originals = load_paths(sorted((REPO / "examples").rglob("*.yaml")))
    files = PostgresGenerator().generate(originals, load_registry(registry))
    module = parse_sql_text("\n".join(f.content for f in files), "generated.sql")
    results = {
        (r.entity.schema, r.entity.name): r for r in tables_to_entities(module.tables, module.types)
    }
    for spec in originals:
        result = results[(spec.schema, spec.name)]
        assert result.entity.fields == spec.fields, spec.name
        assert result.entity.indexes == spec.indexes, spec.name
        assert result.entity.description == spec.description
        assert result.trinity and result.surrogate_key == f"pk_{result.table.name[3:]}"
        assert result.errors == []
        assert set(result.audit_columns) == {"created_at", "updated_at", "deleted_at"}
        assert result.soft_delete_column == "deleted_at"
        assert result.tier == ("multi_tenant" if spec.schema in ("crm", "projects") else "shared")
    assert results[("app", "EventLog")].tier == "framework"  # the framework's own table
    reversed_specs = [r.entity for r in results.values()]
    assert validate(reversed_specs) == []


EVERY_TYPE = """
entity: Everything
schema: crm
description: Every type family the generator writes
fields:
  title: text!
  count: integer = 0
  big: bigint
  small: smallint
  price: numeric(12,2)
  ratio: float
  flag: boolean = true
  day: date
  moment: datetime
  clock: time
  span: duration
  token: uuid
  payload: json
  state: enum(draft, live, gone) = draft
  labels: list(text)
  levels: list(enum(low, high))
  parent: ref(Everything)
  thing: ref(catalog.Thing)
{rich}
"""

THING = """
entity: Thing
schema: catalog
fields:
  name: text!
"""


def test_every_type_family_round_trips() -> None:
    # markdown is a TEXT column without a CHECK: it reads back as text (documented)
    rich = "\n".join(f"  r_{name}: {name}" for name in RICH_TYPES if name != "markdown")
    specs = [load_text(EVERY_TYPE.format(rich=rich), "everything.yaml"), load_text(THING, "t.yaml")]
    ctx = CompileContext.of(specs, ("crm",))
    order, deferred = table_order(specs, ctx)
    sql = [table_ddl(e, ctx, deferred.get(e.name, ())) for e in order]
    sql += [deferred_fk_ddl(e, deferred[e.name], ctx) for e in order if e.name in deferred]
    results = entities_of("\n".join(sql))
    everything = results["tb_everything"].entity
    assert everything.fields == specs[0].fields
    assert everything.description == specs[0].description
    assert results["tb_everything"].tier == "multi_tenant"
    assert results["tb_thing"].entity.fields == specs[1].fields


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fixture_results():
    modules = parse_paths([FIXTURES / "trinity.sql", FIXTURES / "pg_dump_mixed.sql"])
    tables = [t for m in modules for t in m.tables]
    types = [t for m in modules for t in m.types]
    return {r.table.name: r for r in tables_to_entities(tables, types)}


def test_trinity_audit_and_tenant_columns_are_not_fields(fixture_results) -> None:
    line = fixture_results["tb_order_line"]
    assert line.entity.name == "OrderLine" and line.entity.schema == "crm"
    assert line.trinity and line.tenant_column == "tenant_id" and line.tier == "multi_tenant"
    for column in ("pk_order_line", "id", "identifier", "tenant_id", "created_at", "deleted_at"):
        assert column in line.dropped
        assert line.entity.field_named(column) is None
    assert line.column_fields["pk_order_line"] == "pk"
    assert line.column_fields["tenant_id"] == "tenant_id"
    assert line.column_fields["fk_company"] == "company"
    category = fixture_results["tb_category"]
    assert category.tier == "shared" and category.tenant_column is None


def test_fixture_types_map_to_the_dialect(fixture_results) -> None:
    types = field_types(fixture_results["tb_order_line"])
    assert types == {
        "company": "ref(Company)",
        "category": "ref(catalog.Category)",
        "status": "enum(draft, confirmed, cancelled)",
        "priority": "enum(low, high)",
        "quantity": "integer",
        "big_count": "bigint",
        "small_count": "smallint",
        "unit_price": "numeric(12,2)",
        "ratio": "float",
        "ratio_real": "float",
        "is_gift": "boolean",
        "ship_on": "date",
        "ship_at": "time",
        "confirmed_at": "datetime",
        "local_time": "datetime",
        "lead_time": "duration",
        "attributes": "json",
        "raw_payload": "json",
        "external_ref": "uuid",
        "code": "text",
        "country": "text",
        "client_ip": "ip_address",
        "device_mac": "mac_address",
        "tags": "list(text)",
        "scores": "list(integer)",
        "contact_email": "email",
        "discount": "percentage",
        "latitude": "latitude",
        "amount_due": "money",
        "blob": "text",
    }
    line = fixture_results["tb_order_line"].entity
    assert line.field_named("status").default == "draft"
    assert not line.field_named("status").nullable
    assert line.field_named("unit_price").description == "Price of one unit"
    assert line.field_named("code").description == "legacy type: character varying(12)"
    assert line.field_named("blob").description == "legacy type: bytea"
    notes = [str(n) for n in fixture_results["tb_order_line"].notes]
    assert "warning: blob: bytea has no SpecQL type: read as text (closest)" in notes
    assert any("CHECK (quantity > 0" in n for n in notes)


def test_legacy_tables_surrogate_and_natural_keys(fixture_results) -> None:
    invoices = fixture_results["invoices"]
    assert invoices.entity.name == "Invoice" and invoices.entity.schema == "public"
    assert invoices.surrogate_key == "invoice_id" and invoices.column_fields["invoice_id"] == "id"
    assert not invoices.trinity
    assert invoices.audit_columns == {"last_update": "updated_at"}
    assert invoices.soft_delete_column == "deleted"
    assert field_types(invoices) == {
        "country_code": "ref(Country)",
        "customer_id": "integer",
        "amount": "numeric(10,0)",
        "deleted": "boolean",
    }
    countries = fixture_results["countries"]
    assert countries.surrogate_key is None
    code = countries.entity.field_named("code")
    assert not code.nullable and str(code.type) == "text"
    assert any("natural primary key" in n.message for n in countries.notes)


def test_pg_dump_tables_enum_types_and_plain_foreign_keys(fixture_results) -> None:
    purchase = fixture_results["purchase"]
    assert field_types(purchase) == {
        "customer": "ref(Customer)",
        "state": "enum(open, paid, shipped)",
        "channel": "enum(web, phone, store)",
        "total": "numeric(12,2)",
    }
    assert purchase.column_fields["customer_id"] == "customer"
    assert purchase.entity.field_named("state").default == "open"
    assert purchase.entity.field_named("channel").default == "web"
    customer = fixture_results["customer"]
    assert customer.entity.description == "People who buy things"
    assert customer.audit_columns == {"updated_on": "updated_at"}
    assert customer.entity.field_named("email").description == (
        "Where receipts go (legacy type: character varying(120))"
    )
    every = [r.entity for r in fixture_results.values()]
    assert validate(every) == []


# --------------------------------------------------------------------------- cases


def table(name="t", schema="s", columns=(), **kw) -> TableInfo:
    return TableInfo(schema, name, columns=list(columns), **kw)


def test_unknown_types_are_errors_the_report_shows() -> None:
    result = table_to_entity(table(columns=[ColumnInfo("shape", "s.polyline", not_null=True)]))
    f = result.entity.field_named("shape")
    assert str(f.type) == "text" and not f.nullable
    assert f.description == "legacy type: s.polyline"
    assert result.unknown_types == {"shape": "s.polyline"}
    (error,) = result.errors
    assert error.column == "shape" and "unknown type s.polyline" in error.message


def test_user_types_resolve_to_their_dialect_form() -> None:
    email_re = RICH_TYPES["email"].pattern
    types = [
        TypeInfo("s", "mood", "enum", values=("happy", "sad")),
        TypeInfo("s", "rating", "enum", values=("PG-13", "R")),
        TypeInfo(
            "s",
            "email_address",
            "domain",
            base=ColumnInfo("email_address", "text", not_null=True, check_regex=email_re),
        ),
        TypeInfo("s", "money_pair", "composite", attributes=[ColumnInfo("a", "integer")]),
    ]
    result = table_to_entity(
        table(
            columns=[
                ColumnInfo("mood", "mood"),
                ColumnInfo("moods", "s.mood[]"),
                ColumnInfo("rating", "s.rating"),
                ColumnInfo("contact", "email_address"),
                ColumnInfo("pair", "s.money_pair"),
            ]
        ),
        [],
        types,
    )
    assert field_types(result) == {
        "mood": "enum(happy, sad)",
        "moods": "list(enum(happy, sad))",
        "rating": "text",
        "contact": "email",
        "pair": "json",
    }
    assert not result.entity.field_named("contact").nullable
    assert result.errors == []
    levels = {(n.column, n.level) for n in result.notes}
    assert ("rating", "warning") in levels and ("pair", "warning") in levels


def test_checks_that_are_not_enums_or_rich_types_are_noted() -> None:
    result = table_to_entity(
        table(
            columns=[
                ColumnInfo("grade", "text", check_values=("A+", "B")),
                ColumnInfo("code", "text", check_regex="^[0-9]+$"),
                ColumnInfo("score", "integer", check_min=0, check_max=10),
            ],
            checks=["a < b"],
        )
    )
    assert field_types(result) == {"grade": "text", "code": "text", "score": "integer"}
    messages = [n.message for n in result.notes]
    assert any("'A+', 'B'" in m and "not identifiers" in m for m in messages)
    assert "CHECK (code ~ '^[0-9]+$') not kept" in messages
    assert "CHECK (0 <= score <= 10) not kept" in messages
    assert "CHECK (a < b) has no SpecQL form: not kept" in messages


def test_field_names_a_spec_cannot_use_are_renamed() -> None:
    result = table_to_entity(
        table(
            "orders",
            columns=[
                ColumnInfo("order", "integer"),
                ColumnInfo("OrderDate", "date"),
                ColumnInfo("pk_other", "integer"),
                ColumnInfo("id", "integer"),
            ],
        )
    )
    assert result.entity.name == "Order"
    assert [f.name for f in result.entity.fields] == ["order_value", "order_date", "other_value"]
    assert result.column_fields["OrderDate"] == "order_date"
    assert result.dropped["id"] == "reserved name: the framework's id"
    assert validate([result.entity]) == []


def test_references_resolve_across_schemas_and_report_surprises() -> None:
    target = table("tb_company", "crm", [ColumnInfo("pk_company", "integer", primary_key=True)])
    target.primary_key = ("pk_company",)
    source = table(
        "tb_deal",
        "sales",
        [
            ColumnInfo("fk_company", "integer"),
            ColumnInfo("owner_id", "integer", references=(None, "users", None)),
            ColumnInfo("company_code", "text", default="'x'"),
            ColumnInfo("a", "integer"),
            ColumnInfo("b", "integer"),
        ],
        foreign_keys=[
            ForeignKeyInfo(("fk_company",), "crm", "tb_company", ("pk_company",)),
            ForeignKeyInfo(("company_code",), "crm", "tb_company", ("code",)),
            ForeignKeyInfo(("a", "b"), "crm", "tb_pair", ("x", "y")),
        ],
    )
    result = table_to_entity(source, {"crm.tb_company": target, "sales.tb_deal": source})
    assert field_types(result) == {
        "company": "ref(crm.Company)",
        "owner_id": "integer",
        "company_code": "ref(crm.Company)",
        "a": "integer",
        "b": "integer",
    }
    messages = " | ".join(n.message for n in result.notes)
    assert "references users, which is not among the parsed tables: kept as a plain field" in (
        messages
    )
    assert "not its primary key" in messages
    assert "default 'x' of a ref dropped" in messages


def test_composite_primary_key_and_generated_columns() -> None:
    result = table_to_entity(
        table(
            "tb_link",
            columns=[
                ColumnInfo("a", "integer", not_null=True, primary_key=True),
                ColumnInfo("b", "integer", not_null=True, primary_key=True),
                ColumnInfo("total", "integer", generated="a + b"),
                ColumnInfo("seq", "integer", default="nextval('s'::regclass)"),
            ],
            primary_key=("a", "b"),
        )
    )
    assert [f.name for f in result.entity.fields] == ["a", "b", "seq"]
    assert result.entity.field_named("seq").default is None
    assert "generated column (a + b)" in result.dropped["total"]
    assert any("composite primary key (a, b)" in n.message for n in result.notes)


def test_type_mapping_of_single_columns() -> None:
    cases = {
        "integer": "integer",
        "bigint": "bigint",
        "numeric(12,2)": "numeric(12,2)",
        "numeric": "numeric",
        "character varying": "text",
        "citext": "text",
        "timestamp with time zone": "datetime",
        "time with time zone": "time",
        "interval": "duration",
        "jsonb": "json",
        "double precision": "float",
        "real": "float",
        "boolean": "boolean",
        "uuid": "uuid",
        "date": "date",
        "inet": "ip_address",
        "cidr": "ip_address",
        "macaddr": "mac_address",
        "money": "money",
        "hstore": "json",
        "xml": "text",
        "tsvector": "text",
        "int4range": "text",
        "text[]": "list(text)",
        "bytea[]": "list(text)",
        "numeric(19,4)": "money",
    }
    columns = [ColumnInfo(f"c{i}", sql) for i, sql in enumerate(cases)]
    result = table_to_entity(table(columns=columns))
    got = {c.sql_type: str(result.entity.field_named(c.name).type) for c in columns}
    assert got == cases
    assert result.errors == []
    for text in got.values():
        parse_type(text)  # every one is a type of the dialect


def test_ref_field_names_and_qualification_of_ambiguous_entities() -> None:
    def users(schema):
        key = ColumnInfo("user_id", "integer", primary_key=True)
        return table("users", schema, [key], primary_key=("user_id",))

    posts = table(
        "posts", "a", [ColumnInfo("user_id", "integer", references=("a", "users", "user_id"))]
    )
    result = table_to_entity(posts, [users("a"), users("b"), posts])
    # 'user' is a reserved word: the column name stays; User is in two schemas: qualified
    assert field_types(result) == {"user_id": "ref(a.User)"}
    assert validate([result.entity, table_to_entity(users("a"), [users("a")]).entity]) == []


# --------------------------------------------------------------------------- indexes


@pytest.fixture(scope="module")
def indexed():
    module = parse_sql_text((FIXTURES / "indexes.sql").read_text(encoding="utf-8"), "i.sql")
    return {r.entity.name: r for r in tables_to_entities(module.tables, module.types)}


def test_indexes_on_fields_and_expressions_become_spec_indexes(indexed) -> None:
    assert indexed["Customer"].entity.indexes == [
        m.Index(expression="lower(email)", unique=True, name="customers_email_ci"),
        m.Index(fields=["name"]),  # CREATE INDEX without a name: the default one
    ]
    assert indexed["Purchase"].entity.indexes == [
        m.Index(fields=["status", "placed_on"]),  # its name was the default: dropped
        m.Index(expression="COALESCE(total, 0)", name="purchases_total"),
        m.Index(fields=["customer", "placed_on"], unique=True, name="purchases_one_per_day"),
    ]
    assert validate([r.entity for r in indexed.values()]) == []


def test_indexes_the_table_has_anyway_are_left_out_silently(indexed) -> None:
    # customers_email_unique repeats UNIQUE (email), purchases_id_idx the primary key,
    # purchases_customer_idx the index of the ref 'customer'.
    for result in indexed.values():
        notes = " ".join(str(n) for n in result.notes)
        for name in ("customers_email_unique", "purchases_id_idx", "purchases_customer_idx"):
            assert name not in notes


def test_indexes_a_spec_cannot_say_are_noted_not_dropped(indexed) -> None:
    warnings = [n.message for n in indexed["Purchase"].notes if n.level == "warning"]
    assert warnings[-6:] == [
        "index purchases_customer_placed: DESC has no SpecQL form: not kept",
        "index purchases_open: a partial index (WHERE) has no SpecQL form: not kept",
        "index purchases_note_search: USING gin has no SpecQL form: not kept",
        "index purchases_total_rounded: an expression among several keys has no SpecQL form: "
        "not kept",
        "index purchases_legacy_code is on legacy_code, which is no field: not kept",
        "index purchases_total: WITH (...) not kept",
    ]


def test_index_expressions_over_columns_with_other_spec_names() -> None:
    thing = table(
        name="tb_thing",
        columns=[
            ColumnInfo("pk_thing", "integer", primary_key=True, is_identity=True),
            ColumnInfo("fk_owner", "integer", references=("s", "tb_thing", "pk_thing")),
            ColumnInfo("order", "integer"),
            ColumnInfo("modified_on", "timestamp with time zone"),
        ],
        primary_key=("pk_thing",),
        indexes=[
            IndexInfo("a", expression='coalesce(fk_owner, "order")'),
            IndexInfo("b", expression="date_part('year', modified_on)"),
            IndexInfo("c", expression="lower(nowhere)"),
            IndexInfo('"Odd"', columns=("order",), unique=True),
        ],
    )
    result = table_to_entity(thing, [thing])
    assert result.entity.indexes == [
        m.Index(expression="COALESCE(owner, order_value)", name="a"),
        m.Index(expression="date_part('year', updated_at)", name="b"),
        m.Index(fields=["order_value"], unique=True),
    ]
    messages = [n.message for n in result.notes]
    assert "index c (lower(nowhere)): column nowhere is no field: not kept" in messages
    assert 'index "Odd": the name is no lower-case identifier: not kept' in messages
