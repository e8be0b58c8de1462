"""reverse.parse: SQL files -> SqlModule (tables, types, functions, triggers, errors)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from specql.errors import ErrorLevel, SpecqlError
from specql.reverse.parse import (
    format_type_text,
    link_modules,
    parse_paths,
    parse_sql_bytes,
    parse_sql_file,
    parse_sql_text,
    scan_split,
    split_plpgsql_body,
    sql_files,
)
from tests.conftest import CORPUS as CORPUS_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "parse"


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (fixtures are not hard-coded)."""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def by_name(items, name):
    return next(x for x in items if x.name == name)


# --------------------------------------------------------------------------- pg_dump output


@pytest.fixture(scope="module")
def dump():
    return parse_sql_file(FIXTURES / "pg_dump_mixed.sql")


def test_pg_dump_output_parses_without_errors(dump) -> None:
    assert dump.errors == []
    assert {t.qualified_name for t in dump.tables} == {"shop.customer", "shop.purchase"}
    assert dump.pending == []


def test_psql_meta_commands_and_copy_data_are_skipped_with_a_record(dump) -> None:
    path = FIXTURES / "pg_dump_mixed.sql"
    skipped = {pos.line: why for pos, why in dump.skipped}
    assert "\\connect shopdb" in skipped[line_of(path, "\\connect")]
    assert "\\restrict" in skipped[line_of(path, "\\restrict")]
    copy_line = line_of(path, "1\tann@example.com")
    assert skipped[copy_line].startswith("COPY data (2 lines) of COPY shop.customer")
    assert "COPY shop.purchase" in skipped[line_of(path, "10\t1\tpaid")]


def test_alter_table_constraints_and_defaults_apply_to_the_table(dump) -> None:
    customer = by_name(dump.tables, "customer")
    purchase = by_name(dump.tables, "purchase")
    assert customer.primary_key == ("customer_id",)
    cid = customer.column("customer_id")
    assert cid.primary_key and cid.not_null
    assert cid.default == "nextval('shop.customer_customer_id_seq'::regclass)"
    assert customer.column("email").unique
    assert customer.column("email").sql_type == "character varying(120)"
    assert customer.column("active").default == "true"
    assert purchase.column("customer_id").references == ("shop", "customer", "customer_id")
    assert purchase.foreign_keys[0].name == "purchase_customer_id_fkey"
    # pg_dump's CHECK (x = ANY (ARRAY['a'::text, ...])) is an enum
    assert purchase.column("channel").check_values == ("web", "phone", "store")
    assert purchase.column("channel").default == "'web'"  # the ::text cast is noise
    assert purchase.column("state").sql_type == "shop.order_state"
    assert purchase.column("state").default == "'open'"
    assert purchase.checks == []


def test_comments_types_functions_and_triggers_of_a_dump(dump) -> None:
    customer = by_name(dump.tables, "customer")
    assert customer.comment == "People who buy things"
    assert customer.column("email").comment == "Where receipts go"
    (state,) = dump.types
    assert (state.qualified_name, state.kind, state.values) == (
        "shop.order_state",
        "enum",
        ("open", "paid", "shipped"),
    )
    (fn,) = dump.functions
    assert fn.qualified_name == "shop.touch_updated" and fn.parse_path == "ast"
    (trigger,) = fn.triggers
    assert trigger.table == "shop.customer" and trigger.events == ("update",)


def test_positions_are_file_line_col(dump) -> None:
    path = FIXTURES / "pg_dump_mixed.sql"
    customer = by_name(dump.tables, "customer")
    assert customer.pos.file == str(path)
    assert (customer.pos.line, customer.pos.col) == (line_of(path, "CREATE TABLE shop.customer"), 1)
    (fn,) = dump.functions
    assert fn.pos.line == line_of(path, "CREATE FUNCTION shop.touch_updated")
    assert dump.triggers[0].pos.line == line_of(path, "CREATE TRIGGER customer_touch")


# --------------------------------------------------------------------------- tables and types


@pytest.fixture(scope="module")
def trinity():
    return parse_sql_file(FIXTURES / "trinity.sql")


def test_trinity_tables_keep_identity_unique_and_audit_columns(trinity) -> None:
    assert trinity.errors == []
    company = by_name(trinity.tables, "tb_company")
    assert company.schema == "crm"
    pk = company.column("pk_company")
    assert pk.is_identity and pk.primary_key and pk.sql_type == "integer"
    assert company.column("id").default == "gen_random_uuid()"
    assert company.column("id").unique and company.column("identifier").unique
    assert company.unique_keys == [("id",), ("identifier",)]
    assert company.column("created_at").sql_type == "timestamp with time zone"


@pytest.mark.parametrize(
    ("column", "sql_type"),
    [
        ("quantity", "integer"),
        ("big_count", "bigint"),
        ("small_count", "smallint"),
        ("unit_price", "numeric(12,2)"),
        ("ratio", "double precision"),
        ("ratio_real", "real"),
        ("is_gift", "boolean"),
        ("ship_on", "date"),
        ("ship_at", "time without time zone"),
        ("confirmed_at", "timestamp with time zone"),
        ("local_time", "timestamp without time zone"),
        ("lead_time", "interval"),
        ("attributes", "jsonb"),
        ("raw_payload", "json"),
        ("external_ref", "uuid"),
        ("code", "character varying(12)"),
        ("country", "character(2)"),
        ("client_ip", "inet"),
        ("device_mac", "macaddr"),
        ("tags", "text[]"),
        ("scores", "integer[]"),
        ("blob", "bytea"),
    ],
)
def test_types_are_kept_as_postgresql_prints_them(trinity, column, sql_type) -> None:
    assert by_name(trinity.tables, "tb_order_line").column(column).sql_type == sql_type


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        ("int4", "integer"),
        ("INT", "integer"),
        ("pg_catalog.int8", "bigint"),
        ("float8", "double precision"),
        ("float4", "real"),
        ("bool", "boolean"),
        ("varchar", "character varying"),
        ("varchar(20)", "character varying(20)"),
        ("char", "character(1)"),
        ("decimal(10, 2)", "numeric(10,2)"),
        ("numeric(10)", "numeric(10,0)"),
        ("timestamptz", "timestamp with time zone"),
        ("timestamp(3) with time zone", "timestamp(3) with time zone"),
        ("timetz", "time with time zone"),
        ("citext", "citext"),
        ("public.mood", "mood"),
        ("crm.status_type", "crm.status_type"),
        ("int[][]", "integer[]"),
        ("not a type (", "not a type ("),
    ],
)
def test_format_type_text(written, printed) -> None:
    assert format_type_text(written) == printed


def test_enum_checks_in_both_spellings_and_rich_checks(trinity) -> None:
    line = by_name(trinity.tables, "tb_order_line")
    assert line.column("status").check_values == ("draft", "confirmed", "cancelled")
    assert line.column("status").default == "'draft'"
    assert line.column("priority").check_values == ("low", "high")
    assert line.column("contact_email").check_regex.startswith("^[A-Za-z0-9._%+-]+@")
    discount = line.column("discount")
    assert (discount.check_min, discount.check_max) == (0, 100)
    latitude = line.column("latitude")  # the catalogue's (x >= '-90'::integer::numeric) form
    assert (latitude.check_min, latitude.check_max) == (-90, 90)
    # a CHECK over two columns is not an enum: kept as text
    assert line.checks == ["quantity > 0 AND quantity < unit_price * 1000"]
    assert line.column("attributes").default == "'{}'"


def test_foreign_keys_across_schemas_and_plain_ones(trinity) -> None:
    line = by_name(trinity.tables, "tb_order_line")
    assert line.column("fk_company").references == ("crm", "tb_company", "pk_company")
    # added by ALTER TABLE after the CREATE TABLE, to a table of another schema
    assert line.column("fk_category").references == ("catalog", "tb_category", "pk_category")
    assert line.comment == "One line of an order"
    assert line.column("unit_price").comment == "Price of one unit"
    invoices = by_name(trinity.tables, "invoices")
    assert invoices.schema is None
    assert invoices.column("country_code").references == (None, "countries", "code")
    serial = invoices.column("invoice_id")
    assert serial.sql_type == "integer" and serial.not_null
    assert serial.default == "nextval('invoices_invoice_id_seq'::regclass)"
    assert invoices.column("amount").sql_type == "numeric(10,0)"


def test_domains_composites_and_table_extras() -> None:
    m = parse_sql_text(
        """
        CREATE DOMAIN email_address AS text NOT NULL CHECK (VALUE ~ '^[^@]+@[^@]+$');
        CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
        CREATE TYPE money_pair AS (amount numeric(12,2), currency char(3));
        CREATE TABLE t (
            a integer,
            b integer,
            total numeric GENERATED ALWAYS AS (a + b) STORED,
            UNIQUE (a, b),
            EXCLUDE USING gist (a WITH =),
            LIKE other INCLUDING ALL
        );
        CREATE TEMP TABLE scratch (x int);
        ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT 'x', ALTER COLUMN a SET NOT NULL;
        ALTER TABLE t DROP COLUMN b, ALTER COLUMN a TYPE bigint;
        """
    )
    email = by_name(m.types, "email_address")
    assert email.kind == "domain" and email.base.sql_type == "text" and email.base.not_null
    assert email.base.check_regex == "^[^@]+@[^@]+$"
    assert by_name(m.types, "posint").checks == ["value > 0"]
    pair = by_name(m.types, "money_pair")
    assert [(a.name, a.sql_type) for a in pair.attributes] == [
        ("amount", "numeric(12,2)"),
        ("currency", "character(3)"),
    ]
    (t,) = m.tables  # the temporary table is skipped, with a record
    assert any("temporary table scratch" in why for _, why in m.skipped)
    assert [c.name for c in t.columns] == ["a", "total", "c"]
    assert t.column("a").not_null and t.column("a").sql_type == "bigint"
    assert t.column("c").default == "'x'"
    assert t.column("total").generated == "a + b"
    assert t.unique_keys == [("a", "b")]
    assert any("EXCLUDE" in n for n in t.notes) and any("LIKE other" in n for n in t.notes)


def test_search_path_qualifies_unqualified_names() -> None:
    m = parse_sql_text(
        "SET search_path = sales, public;\nCREATE TABLE deal (id int);\n"
        "SET search_path TO DEFAULT;\nCREATE TABLE other (id int);"
    )
    assert [t.qualified_name for t in m.tables] == ["sales.deal", "other"]


# --------------------------------------------------------------------------- functions


@pytest.fixture(scope="module")
def functions():
    return parse_sql_file(FIXTURES / "functions.sql")


def test_rowtype_of_a_schema_qualified_table_is_rewritten(functions) -> None:
    path = FIXTURES / "functions.sql"
    fn = by_name(functions.functions, "close_invoice")
    assert fn.schema == "billing" and fn.language == "plpgsql"
    assert fn.parse_path == "rewritten" and fn.parse_error is None
    decl_line = line_of(path, "v_invoice billing.invoice%ROWTYPE")
    assert fn.rewrites == [f"line {decl_line}: billing.invoice%ROWTYPE -> record"]
    assert isinstance(fn.plpgsql, dict) and "action" in fn.plpgsql
    # AST line numbers map to file lines through body_line
    first = fn.plpgsql["action"]["PLpgSQL_stmt_block"]["body"][0]
    (node,) = first.values()
    assert fn.body_line + node["lineno"] - 1 == line_of(path, "SELECT * INTO v_invoice")
    assert fn.body_line == line_of(path, "AS $body$")
    assert fn.comment == "Close an open invoice"
    assert [(a.name, a.sql_type, a.mode, a.default) for a in fn.args] == [
        ("p_invoice_id", "integer", "in", None),
        ("p_note", "text", "in", "NULL"),
    ]
    assert fn.returns == "boolean"
    assert fn.source.startswith("CREATE OR REPLACE FUNCTION billing.close_invoice(")
    assert "v_invoice.status := 'closed';" in fn.body


def test_percent_type_parameter_is_rewritten(functions) -> None:
    fn = by_name(functions.functions, "invoice_total")
    assert fn.schema == "billing"  # from SET search_path
    assert fn.args[0].sql_type == "billing.invoice.invoice_id%TYPE"
    assert fn.parse_path == "rewritten"
    assert fn.rewrites[0].endswith("billing.invoice.invoice_id%TYPE -> text")


def test_unparsable_body_keeps_its_top_level_statements(functions) -> None:
    path = FIXTURES / "functions.sql"
    fn = by_name(functions.functions, "broken_report")
    assert fn.parse_path == "raw" and fn.plpgsql is None
    assert fn.parse_error == "too few parameters specified for RAISE"
    texts = [text for text, _ in fn.raw_statements]
    assert texts[0].startswith("DECLARE") and "r record;" in texts[0]
    assert texts[1].startswith("FOR r IN SELECT") and texts[1].endswith("END LOOP;")
    assert "END IF;" in texts[1]
    assert texts[2] == "RAISE NOTICE 'found % of %', v_total;"
    assert texts[3] == "RETURN v_total;"
    assert texts[4] == "EXCEPTION WHEN others THEN\n    RETURN -1;"
    positions = [pos for _, pos in fn.raw_statements]
    assert positions[2].line == line_of(path, "RAISE NOTICE 'found")
    assert positions[2].col == 5
    assert positions[4].line == line_of(path, "EXCEPTION WHEN others")


def test_triggers_attach_to_the_function_they_execute(functions) -> None:
    touch = by_name(functions.functions, "touch")
    assert touch.is_trigger and touch.parse_path == "ast"
    assert [t.name for t in touch.triggers] == ["invoice_touch", "invoice_audit"]
    first, second = touch.triggers
    assert (first.table, first.timing, first.events, first.for_each, first.function) == (
        "billing.invoice",
        "before",
        ("insert", "update"),
        "row",
        "billing.touch",
    )
    assert (second.timing, second.events, second.for_each, second.function) == (
        "after",
        ("delete",),
        "statement",
        "touch",
    )
    assert functions.triggers == [first, second]


def test_procedures_table_functions_and_sql_functions(functions) -> None:
    purge = by_name(functions.functions, "purge")
    assert purge.returns is None and purge.parse_path == "ast"
    assert [(a.name, a.mode, a.default) for a in purge.args] == [
        ("p_before", "in", None),
        ("p_count", "inout", "0"),
    ]
    open_ = by_name(functions.functions, "open_invoices")
    assert open_.returns == "TABLE(invoice_id integer, total numeric)"
    assert [a.mode for a in open_.args] == ["variadic", "table", "table"]
    assert open_.parse_path == "rewritten"  # libpg_query refuses VARIADIC in PL/pgSQL
    every = by_name(functions.functions, "all_invoices")
    assert every.returns == "SETOF billing.invoice" and every.language == "sql"
    assert every.parse_path == "raw" and every.plpgsql is None
    assert [t for t, _ in every.raw_statements] == ["SELECT * FROM billing.invoice", "SELECT 1"]
    twice = by_name(functions.functions, "double_it")
    assert [t for t, _ in twice.raw_statements] == ["RETURN x * 2"]


def test_do_blocks_are_anonymous_functions(functions) -> None:
    path = FIXTURES / "functions.sql"
    line = line_of(path, "DO $$")
    do = by_name(functions.functions, f"do_block_{line}")
    assert do.schema is None and do.returns == "void"
    assert do.parse_path == "ast" and do.plpgsql is not None
    perl = by_name(functions.functions, f"do_block_{line_of(path, 'DO LANGUAGE plperl')}")
    assert perl.language == "plperl" and perl.parse_path == "raw"
    assert perl.parse_error == "LANGUAGE plperl: no PL/pgSQL body to parse"


def test_percent_type_of_other_shapes_and_repeated_declare() -> None:
    m = parse_sql_text(
        """CREATE FUNCTION a.f(p a.t, q a.t.c%TYPE) RETURNS SETOF a.thing AS $f$
        DECLARE
            x a.thing;
            declare y a.thing[];
            z CONSTANT public.t%ROWTYPE := NULL;
            c CURSOR FOR SELECT a.b FROM a;
        BEGIN
            x.field := z.f;
            RETURN;
        END $f$ LANGUAGE plpgsql"""
    )
    (fn,) = m.functions
    assert fn.parse_path == "rewritten", fn.parse_error
    rewritten = {r.split(": ", 1)[1] for r in fn.rewrites}
    assert rewritten >= {
        "a.t -> t",
        "a.t.c%TYPE -> text",
        "a.thing -> thing",
        "a.thing[] -> text[]",
        "public.t%ROWTYPE -> record",
    }
    out = parse_sql_text(
        "CREATE FUNCTION g(p int, OUT q a.t.c%TYPE, OUT r a.u) RETURNS record AS $$\n"
        "BEGIN q := 'x'; r := NULL; END $$ LANGUAGE plpgsql"
    ).functions[0]
    assert out.parse_path == "rewritten", out.parse_error
    assert {r.split(": ", 1)[1] for r in out.rewrites} == {"a.t.c%TYPE -> text", "a.u -> text"}


def test_second_rewrite_reads_unknown_types_as_text() -> None:
    m = parse_sql_text(
        """CREATE FUNCTION f() RETURNS void AS $$
        DECLARE
            r crm.status_domain;
            n integer;
        BEGIN
            SELECT 'x', 1 INTO r, n;
        END $$ LANGUAGE plpgsql"""
    )
    (fn,) = m.functions
    assert fn.parse_path == "rewritten"
    assert fn.rewrites == ["line 3: crm.status_domain -> text"]


def test_psql_variables_in_statements_and_bodies() -> None:
    m = parse_sql_text(
        "create table :SCHEMA.jobs (id int, a int[]);\n"
        "create function :SCHEMA.f() returns :SCHEMA.jobs as $$\n"
        "declare v :SCHEMA.jobs;\n"
        "begin select * into v from :SCHEMA.jobs where a[1:2] = '{1,2}'; return v; end;\n"
        "$$ language plpgsql;"
    )
    assert m.errors == []
    assert m.tables[0].qualified_name == "schema.jobs"
    assert any("psql variables read as names: :SCHEMA" in why for _, why in m.skipped)
    (fn,) = m.functions
    assert fn.parse_path == "rewritten", fn.parse_error
    assert fn.qualified_name == "schema.f"


# --------------------------------------------------------------------------- broken input


def test_a_broken_statement_is_one_positioned_error_and_the_rest_parses() -> None:
    path = FIXTURES / "broken.sql"
    m = parse_sql_file(path)
    assert [t.name for t in m.tables] == ["first_ok", "second_ok", "third_ok"]
    first, second = m.errors
    assert (first.pos.file, first.pos.line, first.pos.col) == (
        str(path),
        line_of(path, "broken_one"),
        36,
    )
    assert str(first).startswith(f'{path}:{first.pos.line}:36: syntax error at or near ","')
    # an unbalanced parenthesis does not swallow the statements after it
    assert second.pos.line == line_of(path, "INSERT INTO second_ok")
    assert m.statements == 5


def test_unterminated_literal_reports_the_rest_of_the_file() -> None:
    path = FIXTURES / "unterminated.sql"
    m = parse_sql_file(path)
    assert [t.name for t in m.tables] == ["before_quote"]
    (err,) = m.errors
    assert err.pos.line == line_of(path, "never closed")
    assert "cannot be split into statements" in err.message


@pytest.mark.parametrize("name", ["empty.sql", "comments_only.sql"])
def test_files_without_statements(name) -> None:
    m = parse_sql_file(FIXTURES / name)
    assert (m.statements, m.errors, m.tables, m.functions) == (0, [], [], [])


def test_non_utf8_bytes_are_a_positioned_warning_and_the_rest_parses(tmp_path) -> None:
    data = b"CREATE TABLE a (x int);\n-- caf" + b"\xe9 cr\xe8me\nCREATE TABLE b (y int);\n"
    path = tmp_path / "latin1.sql"
    path.write_bytes(data)
    m = parse_sql_file(path)
    assert [t.name for t in m.tables] == ["a", "b"]
    (warning,) = m.errors
    assert warning.level is ErrorLevel.WARNING
    assert (warning.pos.line, warning.pos.col) == (2, 7)
    bad_byte = data.index(b"\xe9")
    assert f"invalid UTF-8 at byte {bad_byte}" in warning.message
    assert "2 undecodable" in warning.message


def test_bom_and_nul_characters() -> None:
    m = parse_sql_bytes(b"\xef\xbb\xbfCREATE TABLE a (x int);\x00\nCREATE TABLE b (y int);")
    assert [t.name for t in m.tables] == ["a", "b"]
    (warning,) = m.errors
    assert warning.level is ErrorLevel.WARNING and "NUL" in warning.message
    assert m.tables[0].pos.col == 1


def test_missing_and_oversized_files_are_errors_not_exceptions(tmp_path) -> None:
    missing = parse_sql_file(tmp_path / "nope.sql")
    assert "cannot read file" in missing.errors[0].message
    path = tmp_path / "big.sql"
    path.write_text("SELECT 1;\n" * 100)
    refused = parse_sql_file(path, max_bytes=500)
    (err,) = refused.errors
    assert "1,000 bytes, over the limit of 500 bytes" in err.message
    assert refused.statements == 0


def test_a_50_mb_file_is_processed_in_reasonable_time(tmp_path) -> None:
    block = (
        "CREATE TABLE t{i} (id integer PRIMARY KEY, name text NOT NULL, "
        "status text CHECK (status IN ('a', 'b')));\n"
        + "INSERT INTO t{i} VALUES (1, 'some text; with a semicolon', 'a'), (2, 'y', 'b');\n"
        * 40
        + "CREATE FUNCTION f{i}(a integer) RETURNS integer AS $$\nBEGIN\n"
        "  RETURN a + 1;\nEND;\n$$ LANGUAGE plpgsql;\n"
    )
    path = tmp_path / "big.sql"
    size = 0
    with path.open("w", encoding="utf-8") as out:
        i = 0
        while size < 50 * 1024 * 1024:
            chunk = block.replace("{i}", str(i))
            out.write(chunk)
            size += len(chunk)
            i += 1
        out.write("CREATE TABLE broken (a int,,);\n")
    start = time.perf_counter()
    m = parse_sql_file(path)
    elapsed = time.perf_counter() - start
    print(f"50 MB file: {elapsed:.1f}s, {m.statements} statements, {len(m.tables)} tables")
    assert len(m.tables) == len(m.functions) == i
    assert len(m.errors) == 1 and m.errors[0].pos.line == path.read_text().count("\n")
    assert elapsed < 120
    # the default limit refuses what is bigger than 64 MB, without reading it
    assert parse_sql_file(path, max_bytes=10 * 1024 * 1024).errors[0].message.startswith("file is")


# --------------------------------------------------------------------------- splitting


def test_scan_split_survives_unbalanced_parentheses_and_atomic_bodies() -> None:
    def texts(sql):
        done, last = scan_split(sql)
        return [sql[s] for s in done], (sql[last] if last else None)

    assert texts("SELECT 1); SELECT 2; SELECT 3") == (["SELECT 1)", "SELECT 2"], "SELECT 3")
    assert texts("SELECT (1;\nCREATE TABLE x (a int); SELECT $$;$$;") == (
        ["SELECT (1", "CREATE TABLE x (a int)", "SELECT $$;$$"],
        None,
    )
    body = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END"
    assert texts(body + "; SELECT 3") == ([body], "SELECT 3")
    assert texts(";; -- nothing\n") == ([], None)


def test_split_plpgsql_body_nested_blocks() -> None:
    body = """
<<outer>>
DECLARE
  a int := 0;
BEGIN
  IF a > 0 THEN
    BEGIN a := 1; END;
  ELSIF a < 0 THEN a := 2;
  ELSE
    CASE a WHEN 1 THEN a := 3; ELSE NULL; END CASE;
  END IF;
  a := CASE WHEN a > 1 THEN 2 ELSE 3 END;
  WHILE a < 10 LOOP a := a + 1; END LOOP;
  DROP TABLE IF EXISTS x;
  RETURN 'a;b';
END outer;
"""
    items = [text for _, text in split_plpgsql_body(body)]
    assert items == [
        "DECLARE\n  a int := 0;",
        items[1],
        "a := CASE WHEN a > 1 THEN 2 ELSE 3 END;",
        "WHILE a < 10 LOOP a := a + 1; END LOOP;",
        "DROP TABLE IF EXISTS x;",
        "RETURN 'a;b';",
    ]
    assert items[1].startswith("IF a > 0 THEN") and items[1].endswith("END IF;")
    assert split_plpgsql_body("  ") == []
    assert split_plpgsql_body("not plpgsql at all") == [(0, "not plpgsql at all")]
    assert split_plpgsql_body("BEGIN 'unterminated") == [(0, "BEGIN 'unterminated")]


# --------------------------------------------------------------------------- several files


def test_link_modules_applies_statements_across_files(tmp_path) -> None:
    (tmp_path / "b_tables").mkdir()
    (tmp_path / "b_tables" / "tables.sql").write_text(
        "SET search_path = app;\nCREATE TABLE parent (id int);\nCREATE TABLE child (pid int);"
    )
    (tmp_path / "a_constraints.sql").write_text(
        "ALTER TABLE app.parent ADD PRIMARY KEY (id);\n"
        "ALTER TABLE app.child ADD FOREIGN KEY (pid) REFERENCES app.parent (id);\n"
        "COMMENT ON TABLE app.child IS 'kids';\n"
        "ALTER TABLE app.ghost ADD COLUMN x int;\n"
        "CREATE TRIGGER t AFTER INSERT ON app.child FOR EACH ROW EXECUTE FUNCTION app.fn();"
    )
    (tmp_path / "c_functions.sql").write_text(
        "CREATE FUNCTION app.fn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;"
    )
    (tmp_path / "notes.txt").write_text("not sql")
    assert [p.name for p in sql_files([tmp_path])] == [
        "a_constraints.sql",
        "tables.sql",
        "c_functions.sql",
    ]
    constraints, tables, functions = parse_paths([tmp_path])
    parent, child = tables.tables
    assert parent.primary_key == ("id",)
    assert child.column("pid").references == ("app", "parent", "id")
    assert child.comment == "kids"
    assert [p.sql for p in constraints.pending] == ["ALTER TABLE app.ghost ADD COLUMN x int"]
    assert any("its object is not defined" in why for _, why in constraints.skipped)
    assert [t.name for t in functions.functions[0].triggers] == ["t"]
    link_modules([constraints, tables, functions])  # idempotent
    assert len(functions.functions[0].triggers) == 1
    assert len([s for s in constraints.skipped if "not defined" in s[1]]) == 1


def test_parse_paths_refuses_a_missing_path(tmp_path) -> None:
    with pytest.raises(SpecqlError, match="no such file or directory"):
        parse_paths([tmp_path / "missing"])


# --------------------------------------------------------------------------- the corpus

CORPUS = CORPUS_ROOT / "sql"
# Measured on the 645-file corpus: 98.7% of the 1,263 CREATE FUNCTION ... plpgsql bodies
# parse as written or after the fallback's rewrites (1,088 ast + 159 rewritten, 16 raw that
# PostgreSQL itself would reject too, most from its own regression tests).
CORPUS_FLOOR = 0.97


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_corpus_smoke() -> None:
    start = time.perf_counter()
    modules = parse_paths([CORPUS])
    elapsed = time.perf_counter() - start
    functions = [
        f
        for m in modules
        for f in m.functions
        if f.is_plpgsql and not f.name.startswith("do_block_")
    ]
    paths = {p: sum(1 for f in functions if f.parse_path == p) for p in ("ast", "rewritten", "raw")}
    share = (paths["ast"] + paths["rewritten"]) / len(functions)
    print(
        f"corpus: {len(modules)} files in {elapsed:.2f}s, {len(functions)} plpgsql functions: "
        f"{paths} ({share:.1%} parsed)"
    )
    assert len(functions) > 1000
    assert share >= CORPUS_FLOOR
    for f in functions:
        if f.parse_path == "raw":
            assert f.parse_error and f.raw_statements
        else:
            assert f.plpgsql is not None


def test_quoted_body_raw_statements_are_undoubled() -> None:
    m = parse_sql_text(
        "CREATE FUNCTION f() RETURNS int AS '\nBEGIN\n  RAISE NOTICE ''% %'', 1;\n"
        "  RETURN 1;\nEND;' LANGUAGE plpgsql;"
    )
    (fn,) = m.functions
    assert fn.parse_path == "raw"
    assert [(t, p.line, p.col) for t, p in fn.raw_statements] == [
        ("RAISE NOTICE '% %', 1;", 3, 3),
        ("RETURN 1;", 4, 3),
    ]


def test_a_statement_nested_too_deeply_is_an_error_not_a_crash() -> None:
    deep = "-".join(["1"] * 3000)
    m = parse_sql_text(f"CREATE TABLE t (a int DEFAULT {deep});\nCREATE TABLE ok (b int);")
    assert [t.name for t in m.tables] == ["ok"]
    (err,) = m.errors
    assert err.pos.line == 1 and "nested too deeply" in err.message


@pytest.mark.parametrize("broken", ["INSERT INTO a VALUES (1", "SELECT 1 +"])
def test_a_statement_broken_at_its_end_is_reported(broken) -> None:
    m = parse_sql_text(f"CREATE TABLE a (x int);\n{broken};\nCREATE TABLE b (y int);")
    assert [t.name for t in m.tables] == ["a", "b"]
    (err,) = m.errors
    assert err.pos.line == 2 and "syntax error at end of input" in err.message


def test_ddl_inside_a_do_block_defines_objects() -> None:
    sql = """DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE app.mood AS ENUM ('happy', 'sad');
    END IF;
    CREATE TABLE IF NOT EXISTS app.t (m app.mood);
    ALTER TABLE app.t ADD COLUMN z text;
END
$$;"""
    m = parse_sql_text(sql)
    assert [(t.qualified_name, t.values, t.pos.line, t.pos.col) for t in m.types] == [
        ("app.mood", ("happy", "sad"), 4, 9)
    ]
    (table,) = m.tables
    assert [c.name for c in table.columns] == ["m", "z"] and table.pos.line == 6
    assert [f.name for f in m.functions] == ["do_block_1"]


def test_create_index_keeps_its_keys_and_what_a_spec_cannot_say() -> None:
    path = FIXTURES / "indexes.sql"
    module = parse_sql_file(path)
    assert module.errors == []
    tables = {t.name: t for t in module.tables}
    keys = {
        i.name: (i.columns, i.expression, i.unique, i.unsupported)
        for t in tables.values()
        for i in t.indexes
    }
    assert keys == {
        "customers_email_unique": (("email",), None, True, None),
        "customers_email_ci": ((), "lower(email)", True, None),
        None: (("name",), None, False, None),  # CREATE INDEX without a name
        "purchases_customer_idx": (("customer_id",), None, False, None),  # before its table
        "purchases_customer_placed": (("customer_id", "placed_on"), None, False, "DESC"),
        "idx_tb_purchase_status_placed_on": (("status", "placed_on"), None, False, None),
        "purchases_open": (("placed_on",), None, False, "a partial index (WHERE)"),
        "purchases_note_search": ((), "to_tsvector('english', note)", False, "USING gin"),
        "purchases_id_idx": (("purchase_id",), None, False, None),
        "purchases_total_rounded": (
            ("status",),
            "round(total)",
            False,
            "an expression among several keys",
        ),
        "purchases_total": ((), "COALESCE(total, 0)", False, None),
        "purchases_legacy_code": (("legacy_code",), None, False, None),
        "purchases_one_per_day": (("customer_id", "placed_on"), None, True, None),
    }
    ci = by_name(tables["customers"].indexes, "customers_email_ci")
    assert (ci.pos.file, ci.pos.line, ci.pos.col) == (str(path), line_of(path, "email_ci"), 1)
    assert tables["purchases"].notes == ["index purchases_total: WITH (...) not kept"]
    assert [p.sql for p in module.pending] == ["CREATE INDEX ghost_idx ON shop.ghost (x)"]


@pytest.mark.parametrize(
    ("keys", "unsupported"),
    [
        ("(a text_pattern_ops)", "operator class text_pattern_ops"),
        ('(a COLLATE "C")', "COLLATE C"),
        ("(a NULLS FIRST)", "NULLS FIRST"),
        ("(a DESC NULLS LAST)", "DESC"),
        ("(a) INCLUDE (b)", "INCLUDE"),
        ("(a) NULLS NOT DISTINCT", "NULLS NOT DISTINCT"),
        ("(lower(b), upper(b))", "an expression among several keys"),
        ("(a ASC NULLS LAST)", None),  # the defaults, spelled out
        ("((a))", None),  # a parenthesised column is the column
    ],
)
def test_index_keys_a_spec_cannot_say(keys: str, unsupported: str | None) -> None:
    module = parse_sql_text(f"CREATE TABLE t (a text, b text);\nCREATE UNIQUE INDEX i ON t {keys};")
    (index,) = module.tables[0].indexes
    assert index.unsupported == unsupported
    if unsupported is None:
        assert index.columns == ("a",)
