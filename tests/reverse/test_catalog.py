"""reverse.catalog: a live database's catalogue reads like the DDL that created it."""

from __future__ import annotations

import dataclasses

import pytest

from specql.errors import SpecqlError
from specql.reverse.catalog import dsn_display, read_catalog
from specql.reverse.entities import tables_to_entities
from specql.reverse.parse import parse_sql_text

pytestmark = pytest.mark.postgres

DDL = """
CREATE SCHEMA crm;
CREATE SCHEMA catalog;

CREATE TYPE crm.stage AS ENUM ('lead', 'won', 'lost');
CREATE DOMAIN crm.email_address AS text NOT NULL
    CHECK (VALUE ~ '^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$');
CREATE TYPE crm.money_pair AS (amount numeric(12,2), currency character(3));

CREATE TABLE catalog.tb_category (
    pk_category integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    identifier text NOT NULL UNIQUE,
    name text NOT NULL,
    slug text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
);
COMMENT ON TABLE catalog.tb_category IS 'Product groups';

CREATE TABLE crm.tb_deal (
    pk_deal integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    identifier text NOT NULL UNIQUE,
    tenant_id uuid NOT NULL,
    fk_category integer REFERENCES catalog.tb_category (pk_category),
    title character varying(200) NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    code character varying(3) CHECK (code IN ('a', 'b')),
    stage crm.stage DEFAULT 'lead',
    contact crm.email_address,
    pair crm.money_pair,
    amount numeric(12,2) DEFAULT 0,
    discount numeric(5,2) CHECK (discount BETWEEN 0 AND 100),
    tags text[],
    attributes jsonb DEFAULT '{}'::jsonb,
    flags boolean DEFAULT true,
    total numeric GENERATED ALWAYS AS (amount * 2) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CHECK (amount >= 0 OR status = 'closed'),
    UNIQUE (tenant_id, title)
);
COMMENT ON COLUMN crm.tb_deal.title IS 'What we sell';
CREATE INDEX deal_by_stage ON crm.tb_deal (stage, created_at);
CREATE UNIQUE INDEX deal_identifier_ci ON crm.tb_deal (lower(identifier));
CREATE INDEX deal_open ON crm.tb_deal (amount) WHERE status = 'open';
CREATE INDEX deal_tags ON crm.tb_deal USING gin (tags);

CREATE TABLE public.plain (
    code character(2) PRIMARY KEY,
    deal integer REFERENCES crm.tb_deal (pk_deal)
);

CREATE FUNCTION crm.close_deal(p_deal_id integer, p_note text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_deal crm.tb_deal%ROWTYPE;
BEGIN
    SELECT * INTO v_deal FROM crm.tb_deal WHERE pk_deal = p_deal_id;
    v_deal.status := 'closed';
    UPDATE crm.tb_deal SET status = v_deal.status WHERE pk_deal = p_deal_id;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION crm.close_deal(integer, text) IS 'Close a deal';

CREATE FUNCTION crm.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE FUNCTION crm.open_deals(VARIADIC p_states text[])
RETURNS TABLE(deal integer, amount numeric) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT d.pk_deal, d.amount FROM crm.tb_deal d WHERE d.status = ANY (p_states);
END;
$$;

CREATE FUNCTION crm.double_it(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x * 2 $$;

CREATE PROCEDURE crm.purge(IN p_before date, INOUT p_count integer DEFAULT 0)
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM crm.tb_deal WHERE created_at < p_before;
    GET DIAGNOSTICS p_count = ROW_COUNT;
END;
$$;

CREATE TRIGGER deal_touch BEFORE INSERT OR UPDATE ON crm.tb_deal
    FOR EACH ROW EXECUTE FUNCTION crm.touch();
CREATE TRIGGER deal_audit AFTER DELETE ON crm.tb_deal
    FOR EACH STATEMENT EXECUTE FUNCTION crm.touch();
"""


@pytest.fixture
def database(pg_database):
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(DDL)
        conn.execute("CREATE EXTENSION IF NOT EXISTS hstore")  # extension objects stay out
    return pg_database


def _table_key(table):
    return (table.schema or "public", table.name)


def _comparable_table(table):
    """What both sides must agree on (constraint names and expression texts differ: the
    catalogue names every constraint and prints expressions with its own casts)."""
    columns = [dataclasses.asdict(c) for c in table.columns]
    for c in columns:  # the catalogue adds casts to expressions: (amount * '2'::numeric)
        c["generated"] = c["generated"] is not None
    return {
        "columns": columns,
        "primary_key": table.primary_key,
        "unique_keys": sorted(table.unique_keys),
        "foreign_keys": sorted(
            (fk.columns, fk.ref_schema or "public", fk.ref_table, fk.ref_columns)
            for fk in table.foreign_keys
        ),
        "checks": len(table.checks),
        "comment": table.comment,
        "indexes": [dataclasses.replace(i, pos=None) for i in table.indexes],
    }


def _comparable_function(fn):
    return {
        "args": [dataclasses.asdict(a) for a in fn.args],
        "returns": fn.returns,
        "language": fn.language,
        "body": fn.body.strip(),
        "parse_path": fn.parse_path,
        "rewrites": [r.split(": ", 1)[1] for r in fn.rewrites],
        "plpgsql": fn.plpgsql is not None,
        "raw": [text for text, _ in fn.raw_statements],
        "triggers": sorted(t.name for t in fn.triggers),
        "comment": fn.comment,
    }


def test_catalogue_reads_like_the_ddl(database) -> None:
    from_text = parse_sql_text(DDL, "schema.sql")
    from_db = read_catalog(database)
    assert from_text.errors == [] and from_db.errors == []

    assert from_db.source == dsn_display(database)
    assert "@" not in from_db.source or ":" not in from_db.source.split("@")[0][13:]

    text_tables = {_table_key(t): _comparable_table(t) for t in from_text.tables}
    db_tables = {_table_key(t): _comparable_table(t) for t in from_db.tables}
    assert db_tables.keys() == text_tables.keys()
    for key, expected in text_tables.items():
        assert db_tables[key] == expected, key

    text_functions = {(f.schema, f.name): _comparable_function(f) for f in from_text.functions}
    db_functions = {(f.schema, f.name): _comparable_function(f) for f in from_db.functions}
    assert db_functions.keys() == text_functions.keys()  # hstore's functions are not ours
    for key, expected in text_functions.items():
        assert db_functions[key] == expected, key

    def triggers(module):
        return sorted(
            (t.name, t.table, t.timing, t.events, t.for_each, t.function) for t in module.triggers
        )

    assert triggers(from_db) == triggers(from_text)
    assert {(t.schema, t.name, t.kind, t.values) for t in from_db.types} == {
        (t.schema, t.name, t.kind, t.values) for t in from_text.types
    }


def test_catalogue_positions_name_the_object(database) -> None:
    module = read_catalog(database)
    display = dsn_display(database)
    deal = next(t for t in module.tables if t.name == "tb_deal")
    assert deal.pos.file == f"{display}#table crm.tb_deal"
    close = next(f for f in module.functions if f.name == "close_deal")
    assert close.pos.file == f"{display}#function crm.close_deal(integer,text)"
    assert close.parse_path == "rewritten"
    assert close.comment == "Close a deal"
    (audit_trigger, _) = sorted(
        next(f for f in module.functions if f.name == "touch").triggers, key=lambda t: t.name
    )
    assert audit_trigger.pos.file == f"{display}#trigger crm.tb_deal.deal_audit"


def test_catalogue_entities_match_the_ddl_entities(database) -> None:
    from_text = parse_sql_text(DDL, "schema.sql")
    from_db = read_catalog(database)

    def entities(module):
        return {
            (r.entity.schema, r.entity.name): (
                r.entity.fields,
                r.entity.indexes,
                r.entity.description,
                r.tier,
            )
            for r in tables_to_entities(module.tables, module.types)
        }

    assert entities(from_db) == entities(from_text)
    deal = next(
        r for r in tables_to_entities(from_db.tables, from_db.types) if r.table.name == "tb_deal"
    )
    types = {f.name: str(f.type) for f in deal.entity.fields}
    assert types["stage"] == "enum(lead, won, lost)"
    assert types["contact"] == "email"
    assert types["category"] == "ref(catalog.Category)"
    assert types["code"] == "enum(a, b)"
    assert [(i.fields, i.expression, i.unique, i.name) for i in deal.entity.indexes] == [
        (["stage", "created_at"], None, False, "deal_by_stage"),
        ([], "lower(identifier)", True, "deal_identifier_ci"),
    ]
    notes = [str(n) for n in deal.notes]
    assert "warning: index deal_open: a partial index (WHERE) has no SpecQL form: not kept" in notes
    assert "warning: index deal_tags: USING gin has no SpecQL form: not kept" in notes


def test_schemas_filter(database) -> None:
    module = read_catalog(database, schemas=["catalog"])
    assert [t.qualified_name for t in module.tables] == ["catalog.tb_category"]
    assert module.functions == [] and module.triggers == []


def test_unreachable_database_is_a_clear_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(SpecqlError, match=r"cannot connect to postgresql://u@127\.0\.0\.1:1/x"):
        read_catalog("postgresql://u:secret@127.0.0.1:1/x")


def test_dsn_display_hides_the_password() -> None:
    pytest.importorskip("psycopg")
    assert dsn_display("postgresql://app:s3cret@db:5432/shop?sslmode=require") == (
        "postgresql://app@db:5432/shop"
    )
    assert "s3cret" not in dsn_display("host=db user=app password=s3cret dbname=shop")
