"""The reverse pipeline end to end: the bundled legacy example, bad input in a batch, big
input, parallel runs equal to serial ones, resume after an interruption, the output of
``specql generate``, and a live database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from specql.dsl import dump, load_paths, load_text, validate
from specql.dsl import model as m
from specql.errors import ErrorLevel, SpecqlError
from specql.reverse import pipeline, state
from specql.reverse.parse import parse_paths
from specql.reverse.pipeline import reverse
from tests.reverse.test_report import FUNCTION_FIELDS

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "examples" / "legacy"
EXAMPLES = REPO / "examples"
REGISTRY = REPO / "registry" / "domain_registry.yaml"


def comparable(report) -> dict:
    """The report without what legitimately differs between runs (time, paths)."""
    data = report.to_dict()
    data.pop("timings")
    data.pop("out_dir")
    data["summary"].pop("seconds")
    data["summary"].pop("files_resumed")
    for fn in data["functions"]:
        fn.pop("ms")
    for f in data["files"]:
        f.pop("ms")
        f.pop("resumed")
    data["specs_written"] = None
    return data


def written_specs(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.yaml"))
    }


def assert_valid_specs(out: Path) -> list[m.Entity]:
    entities = load_paths(sorted(out.rglob("*.yaml")))
    errors = [p for p in validate(entities) if p.level is ErrorLevel.ERROR]
    assert not errors, [str(e) for e in errors]
    for e in entities:
        assert load_text(dump(e)) == e
    return entities


# --------------------------------------------------------------------------- the example


@pytest.fixture(scope="module")
def legacy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("legacy") / "specs"
    report = reverse([LEGACY], out, report_path=out.parent / "r.json")
    return report, out


def test_legacy_example_is_reversed_into_valid_specs(legacy_run) -> None:
    report, out = legacy_run
    assert report.ok, report.errors
    entities = assert_valid_specs(out)
    assert {f"{e.schema}.{e.name}" for e in entities} == {e.entity for e in report.entities}
    # one spec per table, plus a module spec for the functions that write no table
    tables = {e.table for e in report.entities if not e.module}
    assert tables == {
        "shop.customers",
        "shop.orders",
        "shop.order_lines",
        "shop.order_history",
        "inventory.tb_product",
    }
    assert len(report.specs_written) == len(entities)


def test_every_legacy_function_is_accounted_for(legacy_run) -> None:
    report, out = legacy_run
    parsed = {f.qualified_name for mod in parse_paths([LEGACY]) for f in mod.functions}
    assert len(parsed) >= 10
    assert sorted(f.name for f in report.functions) == sorted(parsed)
    by_key = {f"{e.schema}.{e.name}": e for e in load_paths(sorted(out.rglob("*.yaml")))}
    for fn in report.functions:
        assert fn.error is None
        spec = by_key[fn.entity]
        assert fn.action in [a.name for a in spec.actions], fn.name
        assert 0.0 <= fn.confidence <= 1.0 and fn.triage in (
            "auto-accept",
            "spot-check",
            "must-review",
        )
        for u in fn.unconverted:
            assert u.reason.strip()


def test_legacy_grouping_and_patterns(legacy_run) -> None:
    report, _ = legacy_run
    fns = {f.name: f for f in report.functions}
    # a trigger belongs to its table's entity, whatever it writes
    assert fns["shop.trg_orders_audit"].entity == fns["shop.place_order"].entity
    assert fns["shop.create_customer"].entity == "shop.Customer"
    assert fns["shop.customer_balance"].entity == "shop.ShopFunctions"  # reads only
    assert "audit_trail" in [p.pattern for p in fns["shop.trg_orders_audit"].patterns]
    assert all(p.evidence for f in report.functions for p in f.patterns)
    entity = {e.entity: e for e in report.entities}
    orders = entity[fns["shop.place_order"].entity]
    assert "audit_trail" in orders.patterns and "state_machine" in orders.patterns
    assert entity["shop.ShopFunctions"].module and entity["shop.ShopFunctions"].patterns == []
    # ORDER is a reserved word: the entity of shop.orders cannot be called Order
    assert orders.entity != "shop.Order"
    assert any("reserved" in n for n in orders.notes)


def test_report_file_has_the_documented_fields(legacy_run) -> None:
    _, out = legacy_run
    data = json.loads((out.parent / "r.json").read_text(encoding="utf-8"))
    assert set(data) >= {"summary", "files", "entities", "functions", "errors", "warnings"}
    assert data["summary"]["functions"] == len(data["functions"]) == 15
    assert data["summary"]["parse_paths"]["ast"] == 15
    fn = data["functions"][0]
    assert set(fn) >= FUNCTION_FIELDS
    assert fn["file"].endswith("03_customer_functions.sql") and fn["line"] > 0


def test_writing_again_changes_nothing(legacy_run, tmp_path) -> None:
    _, out = legacy_run
    copy = tmp_path / "specs"
    shutil.copytree(out, copy)
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*.yaml")}
    reverse([LEGACY], copy)
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*.yaml")} == before


def test_specs_of_entities_gone_are_removed(tmp_path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    out = tmp_path / "specs"
    reverse([legacy], out)
    assert (out / "shop" / "order_history.yaml").exists()
    schema = legacy / "01_schema.sql"
    text = schema.read_text(encoding="utf-8")
    start = text.index("-- Written only by shop.trg_orders_audit")
    end = text.index("CREATE TABLE inventory.tb_product")
    schema.write_text(text[:start] + text[end:], encoding="utf-8")
    reverse([legacy], out)
    assert not (out / "shop" / "order_history.yaml").exists()
    assert_valid_specs(out)


# --------------------------------------------------------------------------- bad input

GOOD = """\
CREATE TABLE shop.items (item_id serial PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
CREATE FUNCTION shop.restock(p_id integer, p_qty integer) RETURNS void AS $$
BEGIN
    IF p_qty <= 0 THEN
        RAISE EXCEPTION 'quantity must be positive';
    END IF;
    UPDATE shop.items SET qty = qty + p_qty WHERE item_id = p_id;
END;
$$ LANGUAGE plpgsql;
"""

BROKEN = """\
CREATE TABLE shop.orders (order_id serial PRIMARY KEY, total numeric(12,2));
CREATE TABLE shop.oops (a integer,, b text);
CREATE FUNCTION shop.clear(p_id integer) RETURNS void AS $$
BEGIN
    UPDATE shop.orders SET total = 0 WHERE order_id = p_id;
END;
$$ LANGUAGE plpgsql;
"""


@pytest.fixture
def bad_batch(tmp_path) -> Path:
    d = tmp_path / "batch"
    d.mkdir()
    (d / "a_good.sql").write_text(GOOD, encoding="utf-8")
    (d / "b_broken.sql").write_text(BROKEN, encoding="utf-8")
    (d / "c_empty.sql").write_text("", encoding="utf-8")
    latin1 = "-- Kundenstamm (Müller)\n" + GOOD.replace("restock", "nachbestellen")
    (d / "d_latin1.sql").write_bytes(latin1.replace("items", "artikel").encode("latin-1"))
    return d


def test_a_batch_with_bad_files_finishes_with_one_line_per_problem(bad_batch, tmp_path) -> None:
    out = tmp_path / "out"
    report = reverse([bad_batch], out)
    assert not report.ok
    files = {Path(f.path).name: f for f in report.files}
    assert set(files) == {"a_good.sql", "b_broken.sql", "c_empty.sql", "d_latin1.sql"}
    # the broken statement is one positioned error; the file's good parts still count
    assert len(report.errors) == 1
    (error,) = report.errors
    assert "\n" not in error and "b_broken.sql:2:" in error
    assert files["b_broken.sql"].error == error
    assert {f.name for f in report.functions} == {
        "shop.restock",
        "shop.clear",
        "shop.nachbestellen",
    }
    # the empty file and the non-UTF-8 file are warnings, one line each
    assert all("\n" not in w for w in report.warnings)
    assert any("c_empty.sql" in w and "no SQL statements" in w for w in report.warnings)
    assert any("d_latin1.sql:1:" in w and "UTF-8" in w for w in report.warnings)
    assert files["c_empty.sql"].error is None and files["d_latin1.sql"].error is None
    assert_valid_specs(out)


def test_missing_paths_and_empty_directories_are_user_errors(tmp_path) -> None:
    with pytest.raises(SpecqlError, match="no such file or directory"):
        reverse([tmp_path / "nope"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecqlError, match=r"no \.sql files"):
        reverse([tmp_path / "empty"], tmp_path / "out")
    with pytest.raises(SpecqlError, match="either paths"):
        reverse(None, tmp_path / "out")
    with pytest.raises(SpecqlError, match="jobs"):
        reverse([LEGACY], tmp_path / "out", jobs=0)


def test_a_crash_in_a_stage_is_one_error_and_the_batch_goes_on(tmp_path, monkeypatch) -> None:
    import specql.reverse.steps as steps

    real = steps.map_function

    def flaky(fn, *args, **kwargs):
        if fn.name == "pay_order":
            raise RuntimeError("boom\nwith a second line")
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(steps, "map_function", flaky)
    out = tmp_path / "out"
    report = reverse([LEGACY], out)
    assert not report.ok
    (error,) = report.errors
    assert "04_order_functions.sql:" in error and "RuntimeError: boom with a second line" in error
    (pay,) = [f for f in report.functions if f.name == "shop.pay_order"]
    assert pay.error == error and pay.confidence == 0.0 and pay.entity is not None
    assert len(report.functions) == 15
    specs = {f"{e.schema}.{e.name}": e for e in assert_valid_specs(out)}
    action = next(a for a in specs[pay.entity].actions if a.name == pay.action)
    assert all(isinstance(s, m.RawSqlStep) for s in action.steps)  # kept, as raw SQL


def test_a_50_mb_file_is_processed(tmp_path) -> None:
    d = tmp_path / "big"
    d.mkdir()
    row = "INSERT INTO items (name, qty) VALUES ('an item; with a semicolon', 42);\n"
    with (d / "dump.sql").open("w", encoding="utf-8") as fh:
        fh.write("CREATE TABLE items (item_id serial PRIMARY KEY, name text, qty integer);\n")
        fh.write(row * ((50 * 1024 * 1024) // len(row) + 1))
        fh.write(GOOD.replace("shop.", ""))
    assert (d / "dump.sql").stat().st_size > 50 * 1024 * 1024
    report = reverse([d], tmp_path / "out")
    assert report.ok, report.errors
    assert [f.name for f in report.functions] == ["restock"]
    assert report.files[0].statements > 700_000


def test_a_file_over_the_size_limit_is_refused_clearly(tmp_path) -> None:
    d = tmp_path / "big"
    d.mkdir()
    (d / "a.sql").write_text(GOOD, encoding="utf-8")
    (d / "b.sql").write_text("SELECT 1;\n" * 200, encoding="utf-8")
    report = reverse([d], tmp_path / "out", max_bytes=1000)
    (error,) = report.errors
    assert "b.sql:1:1: file is 2,000 bytes, over the limit" in error
    assert [f.name for f in report.functions] == ["shop.restock"]


def test_a_function_with_a_huge_body(tmp_path) -> None:
    checks = "".join(
        f"    IF p_qty = {i} THEN\n        RAISE EXCEPTION 'bad quantity {i}';\n    END IF;\n"
        f"    v_total := v_total + {i};\n"
        for i in range(2500)
    )
    sql = (
        GOOD
        + "CREATE FUNCTION shop.huge(p_qty integer) RETURNS integer AS $$\n"
        + "DECLARE\n    v_total integer := 0;\nBEGIN\n"
        + checks
        + "    RETURN v_total;\nEND;\n$$ LANGUAGE plpgsql;\n"
    )
    d = tmp_path / "huge"
    d.mkdir()
    (d / "huge.sql").write_text(sql, encoding="utf-8")
    report = reverse([d], tmp_path / "out")
    assert report.ok, report.errors
    huge = next(f for f in report.functions if f.name == "shop.huge")
    assert huge.statements_total >= 7500 and huge.error is None
    assert_valid_specs(tmp_path / "out")


# --------------------------------------------------------------------------- jobs, resume


def test_jobs_2_gives_the_same_result_as_jobs_1(bad_batch, tmp_path) -> None:
    src = tmp_path / "src"
    shutil.copytree(LEGACY, src / "legacy")
    shutil.copytree(bad_batch, src / "batch")
    one = reverse([src], tmp_path / "one", jobs=1)
    two = reverse([src], tmp_path / "two", jobs=2)
    assert comparable(one) == comparable(two)
    assert written_specs(tmp_path / "one") == written_specs(tmp_path / "two")


def test_resume_skips_finished_files_and_reports_everything(tmp_path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    full_out = tmp_path / "full"
    full = reverse([legacy], full_out)

    # An interrupted run: the journal holds the first half of the files, the last line torn.
    out = tmp_path / "out"
    out.mkdir()
    lines = (full_out / state.STATE_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(full.files) == 6
    done = lines[:3]
    (out / state.STATE_NAME).write_text("\n".join(done) + "\n" + lines[3][:50], encoding="utf-8")
    done_paths = {json.loads(line)["path"] for line in done}

    parsed: list[str] = []

    def progress(stage: str, n: int, total: int, item: str) -> None:
        if stage == "parse" and item:
            parsed.append(item)

    resumed = reverse([legacy], out, resume=True, progress=progress)
    assert set(parsed) == {f.path for f in full.files} - done_paths
    assert {f.path for f in resumed.files if f.resumed} == done_paths
    assert resumed.summary()["files_resumed"] == 3
    assert comparable(resumed) == comparable(full)
    assert written_specs(out) == written_specs(full_out)
    # the journal now holds every file again, and a plain rerun redoes everything
    assert len((out / state.STATE_NAME).read_text(encoding="utf-8").splitlines()) == 6
    again = reverse([legacy], out)
    assert not any(f.resumed for f in again.files)


def test_resume_redoes_a_file_that_changed(tmp_path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    out = tmp_path / "out"
    reverse([legacy], out)
    changed = legacy / "06_inventory_functions.sql"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n-- touched\n", encoding="utf-8")
    report = reverse([legacy], out, resume=True)
    resumed = {Path(f.path).name for f in report.files if f.resumed}
    assert "06_inventory_functions.sql" not in resumed and len(resumed) == 5
    # a changed table definition invalidates everything (steps depend on every table)
    schema = legacy / "01_schema.sql"
    schema.write_text(
        schema.read_text(encoding="utf-8").replace("phone         varchar(30),", ""),
        encoding="utf-8",
    )
    report = reverse([legacy], out, resume=True)
    assert not any(f.resumed for f in report.files)
    assert report.ok


def test_state_codec_round_trips_outcomes(legacy_run) -> None:
    from specql.reverse.assemble import FunctionOutcome

    _, out = legacy_run
    records = state.Journal(out).read()
    assert records
    for record in records.values():
        for data in record["outcomes"]:
            outcome = state.decode(data)
            assert isinstance(outcome, FunctionOutcome)
            assert state.decode(json.loads(json.dumps(state.encode(outcome)))) == outcome
    with pytest.raises(ValueError, match="unknown class"):
        state.decode({"$": "Popen", "args": "rm -rf /"})


# --------------------------------------------------------------------------- generated SQL


def test_reversing_what_generate_wrote(tmp_path) -> None:
    from specql.api import generate

    registry = tmp_path / "registry" / "domain_registry.yaml"
    registry.parent.mkdir()
    shutil.copy(REGISTRY, registry)
    gen = tmp_path / "gen"
    generate([EXAMPLES], out_dir=gen, registry=registry)
    out = tmp_path / "specs"
    report = reverse([gen], out)
    assert report.ok, report.errors[:5]
    originals = {f"{e.schema}.{e.name}": e for e in load_paths(sorted(EXAMPLES.glob("*/*.yaml")))}
    reversed_ = {f"{e.schema}.{e.name}": e for e in assert_valid_specs(out)}
    for key, original in originals.items():
        assert key in reversed_, key
        got = reversed_[key]
        assert [a.name for a in got.actions] == [a.name for a in original.actions], key
        assert got.indexes == original.indexes, key
        assert got.patterns == []  # generated functions add no entity patterns
    auto = [f for f in report.functions if f.triage == "auto-accept"]
    actions = sum(len(e.actions) for e in originals.values())
    assert len(auto) >= actions * 0.9


def test_indexes_go_into_the_specs_and_the_report_names_the_ones_left_out(tmp_path) -> None:
    report = reverse([REPO / "tests" / "reverse" / "fixtures" / "parse" / "indexes.sql"], tmp_path)
    assert report.ok, report.errors
    specs = {e.name: e for e in assert_valid_specs(tmp_path)}
    assert [i.name for i in specs["Purchase"].indexes] == [
        None,
        "purchases_total",
        "purchases_one_per_day",
    ]
    text = (tmp_path / "shop" / "purchase.yaml").read_text(encoding="utf-8")
    assert "indexes:\n  - fields: [status, placed_on]\n" in text
    notes = next(e.notes for e in report.entities if e.entity == "shop.Purchase")
    assert (
        "warning: index purchases_open: a partial index (WHERE) has no SpecQL form: not kept"
        in (notes)
    )
    data = report.to_dict()
    assert any("purchases_note_search" in n for e in data["entities"] for n in e["notes"])


# --------------------------------------------------------------------------- live database


def test_reverse_a_live_database(pg_database, tmp_path) -> None:
    pytest.importorskip("specql.reverse.catalog", reason="the catalog reader is not there yet")
    import psycopg

    sql = "CREATE SCHEMA shop;\n" + "\n".join(
        (LEGACY / name).read_text(encoding="utf-8")
        for name in (
            "01_schema.sql",
            "02_migration_2019.sql",
            "03_customer_functions.sql",
            "04_order_functions.sql",
            "05_triggers.sql",
            "06_inventory_functions.sql",
        )
    )
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.replace("CREATE SCHEMA shop;", "", 1))
    out = tmp_path / "specs"
    report = reverse(dsn=pg_database, out_dir=out, report_path=tmp_path / "r.json")
    assert report.ok, report.errors
    names = {f.name for f in report.functions}
    assert {"shop.create_customer", "shop.trg_orders_audit", "inventory.upsert_product"} <= names
    assert len(names) == 15
    assert "password" not in json.dumps(report.to_dict())
    entities = assert_valid_specs(out)
    assert {"Customer", "OrderLine", "Product"} <= {e.name for e in entities}
    files = reverse([LEGACY], tmp_path / "from-files")
    by_file = {f.name: f.statements_total for f in files.functions}
    assert {f.name: f.statements_total for f in report.functions} == by_file


def test_pipeline_redacts_passwords() -> None:
    assert pipeline._redact("postgresql://app:s3cret@db:5432/shop") == (
        "postgresql://app:***@db:5432/shop"
    )
    assert pipeline._redact("postgresql://app@db/shop") == "postgresql://app@db/shop"


def test_specql_reverse_is_the_library_call(tmp_path) -> None:
    import specql
    import specql.api

    assert callable(specql.reverse)  # the package, bound once its submodules are imported
    report = specql.reverse([LEGACY], tmp_path / "a")
    assert report.ok and len(report.functions) == 15
    assert comparable(specql.api.reverse([LEGACY], tmp_path / "b")) == comparable(report)


def test_spawned_workers_give_the_same_result(tmp_path, monkeypatch) -> None:
    # fork is used when no other thread runs; spawn otherwise (and on macOS)
    import multiprocessing

    monkeypatch.setattr(pipeline, "_mp_context", lambda: multiprocessing.get_context("spawn"))
    one = reverse([LEGACY], tmp_path / "one")
    two = reverse([LEGACY], tmp_path / "two", jobs=2)
    assert comparable(one) == comparable(two)
    assert written_specs(tmp_path / "one") == written_specs(tmp_path / "two")


_PARENT = None


def _parse_or_die(path, *args):
    """parse_one, except that a worker process parsing 04_* dies on the spot."""
    import os

    if os.getpid() != _PARENT and Path(path).name.startswith("04_"):
        os._exit(1)
    return _REAL_PARSE(path, *args)


_REAL_PARSE = pipeline.parse_one


def test_a_worker_that_dies_does_not_lose_files(tmp_path, monkeypatch) -> None:
    import os

    global _PARENT
    _PARENT = os.getpid()
    monkeypatch.setattr(pipeline, "parse_one", _parse_or_die)
    one = reverse([LEGACY], tmp_path / "one")
    two = reverse([LEGACY], tmp_path / "two", jobs=2)
    assert two.ok and comparable(one) == comparable(two)
