"""`specql patterns search | similar | reindex` as a user runs them, with the real embedding
model: rankings, filters, JSON, the index kept in step with the library, and one-line errors
for bad queries, a library too big to index on the fly and a missing or corrupt model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from specql.cli.main import cli
from specql.retrieval import retrieval_missing
from specql.retrieval.index import AUTO_INDEX_LIMIT, MAX_QUERY_CHARS

pytestmark = pytest.mark.skipif(retrieval_missing() is not None, reason=str(retrieval_missing()))

HISTORY_QUERY = "writes old and new row values to a history table"


def invoke(library: Path, *args: str, env: dict | None = None, input: str | None = None):
    return CliRunner().invoke(cli, [*args, "--library", str(library)], env=env, input=input)


def ok_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A seeded library with every entry embedded, shared by the read-only tests."""
    library = tmp_path_factory.mktemp("indexed") / "library.db"
    assert invoke(library, "patterns", "reindex").exit_code == 0
    return library


@pytest.fixture
def indexed_copy(indexed, tmp_path) -> Path:
    """A private copy of the indexed library, for tests that change it."""
    copy = tmp_path / "library.db"
    with sqlite3.connect(indexed) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return copy


def names(result) -> list[str]:
    return [hit["name"] for hit in ok_json(result)["hits"]]


# --------------------------------------------------------------------------- search


def test_history_query_ranks_audit_trail_first(indexed) -> None:
    found = ok_json(invoke(indexed, "patterns", "search", HISTORY_QUERY, "-k", "3", "--json"))
    assert found["query"] == {
        "text": HISTORY_QUERY,
        "k": 3,
        "signal": "hybrid",
        "tier": None,
        "category": None,
        "language": None,
        "min_score": None,
    }
    top = found["hits"][0]
    assert (top["name"], top["kind"], top["category"]) == ("audit_trail", "domain", "audit")
    assert top["signals"] == ["embedding", "bm25"] and top["cosine"] > 0.3
    assert len(found["hits"]) == 3
    scores = [hit["score"] for hit in found["hits"]]
    assert scores == sorted(scores, reverse=True)

    table = invoke(indexed, "patterns", "search", HISTORY_QUERY)
    assert table.exit_code == 0, table.output
    header, first, *rest = table.stdout.splitlines()
    assert header.split() == ["#", "name", "kind", "category", "score", "cosine", "found", "by"]
    assert first.split()[:4] == ["1", "audit_trail", "domain", "audit"]
    assert first.split()[-1] == "embedding+bm25" and len(rest) == 4


def test_each_signal_alone(indexed) -> None:
    for signal in ("embedding", "bm25"):
        found = ok_json(
            invoke(indexed, "patterns", "search", HISTORY_QUERY, "--signal", signal, "--json")
        )
        assert found["hits"] and {tuple(h["signals"]) for h in found["hits"]} == {(signal,)}
        assert found["hits"][0]["name"] == "audit_trail"


def test_filters(indexed) -> None:
    audit = ok_json(
        invoke(indexed, "patterns", "search", "changes", "--category", "audit", "--json")
    )
    assert audit["hits"] and {h["category"] for h in audit["hits"]} == {"audit"}
    templates = names(
        invoke(indexed, "patterns", "search", "a customer", "--tier", "template", "--json")
    )
    assert templates and all("." in name for name in templates)  # namespace.name
    django = names(
        invoke(indexed, "patterns", "search", HISTORY_QUERY, "--language", "django", "--json")
    )
    assert django[0] == "audit_trail"
    strict = ok_json(
        invoke(indexed, "patterns", "search", HISTORY_QUERY, "--min-score", "0.4", "--json")
    )
    assert strict["hits"] and all(h["cosine"] >= 0.4 for h in strict["hits"])


@pytest.mark.parametrize(
    "option", [("--category", "no_such_category"), ("--language", "cobol")], ids=lambda o: o[0]
)
def test_unknown_filter_value_finds_nothing(indexed, option) -> None:
    assert names(invoke(indexed, "patterns", "search", HISTORY_QUERY, *option, "--json")) == []
    empty = invoke(indexed, "patterns", "search", HISTORY_QUERY, *option)
    assert empty.exit_code == 0 and empty.stdout.strip() == "no entries match"


def test_query_from_stdin(indexed) -> None:
    found = names(invoke(indexed, "patterns", "search", "-", "--json", input=HISTORY_QUERY))
    assert found[0] == "audit_trail"


def test_deprecated_pattern_leaves_the_results(indexed_copy) -> None:
    assert names(invoke(indexed_copy, "patterns", "search", HISTORY_QUERY, "--json"))[0] == (
        "audit_trail"
    )
    deprecated = invoke(indexed_copy, "patterns", "deprecate", "audit_trail", "--reason", "test")
    assert deprecated.exit_code == 0, deprecated.output
    for signal in ("hybrid", "embedding", "bm25"):
        after = names(
            invoke(indexed_copy, "patterns", "search", HISTORY_QUERY, "--signal", signal, "--json")
        )
        assert after and "audit_trail" not in after


# --------------------------------------------------------------------------- reindex


def test_reindex_embeds_a_new_library_once(tmp_path) -> None:
    library = tmp_path / "library.db"
    # A terminal on stderr gets a progress bar; stdout stays pure JSON.
    first = invoke(library, "patterns", "reindex", "--json", env={"TTY_COMPATIBLE": "1"})
    done = ok_json(first)
    assert "embedding texts" in first.stderr
    assert done["model"] == "all-MiniLM-L6-v2-onnx-int8"
    assert done["embedded"] == done["documents"] > 50 and done["reused"] == 0
    assert done["texts"] > done["documents"]  # legacy examples are chunks of their own

    again = ok_json(invoke(library, "patterns", "reindex", "--json"))
    assert (again["documents"], again["embedded"], again["texts"]) == (done["documents"], 0, 0)
    text = invoke(library, "patterns", "reindex")
    assert text.exit_code == 0 and text.stderr == ""
    assert f"{done['documents']} documents" in text.stdout and "0 embedded" in text.stdout


def test_reindex_force_embeds_everything_again(indexed_copy) -> None:
    forced = ok_json(invoke(indexed_copy, "patterns", "reindex", "--force", "--json"))
    assert forced["embedded"] == forced["documents"] and forced["reused"] == 0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("query", ["", "   \n"], ids=["empty", "blank"])
def test_empty_query(indexed, query) -> None:
    line = one_line_error(invoke(indexed, "patterns", "search", query))
    assert line.startswith("error: empty search query")


def test_megabyte_query(indexed) -> None:
    huge = "audit " * ((1 << 20) // 6)  # ~1 MB
    for result in (
        invoke(indexed, "patterns", "search", huge),
        invoke(indexed, "patterns", "search", "-", input=huge),
    ):
        line = one_line_error(result)
        assert f"at most {MAX_QUERY_CHARS:,}" in line and f"{len(huge):,} characters" in line


def test_large_unindexed_library_asks_for_reindex(tmp_path) -> None:
    from specql.patterns import PatternLibrary

    library = tmp_path / "library.db"
    with PatternLibrary.open(library) as lib, lib.transaction():
        for i in range(AUTO_INDEX_LIMIT + 1):
            lib.add_domain_pattern(
                {
                    "name": f"synthetic_{i}",
                    "category": "synthetic",
                    "description": f"synthetic pattern {i} of a large library",
                    "parameters": {"type": "object", "properties": {}},
                    "implementation": {"fields": {f"note_{i}": "text"}},
                    "tests": {"example": {"entity": "Probe", "schema": "catalog"}},
                }
            )
    line = one_line_error(invoke(library, "patterns", "search", HISTORY_QUERY))
    assert "has no embeddings yet" in line and "`specql patterns reindex`" in line
    assert str(library) in line
    # Full-text search needs no embeddings.
    assert names(invoke(library, "patterns", "search", HISTORY_QUERY, "--signal", "bm25", "--json"))


@pytest.fixture(params=["missing", "junk"])
def bad_model(request, tmp_path) -> Path:
    model = tmp_path / "model.onnx"
    if request.param == "junk":
        model.write_bytes(bytes(range(256)) * 64)
    return model


def test_bad_model_file_is_named(tmp_path, bad_model) -> None:
    env = {"SPECQL_EMBEDDING_MODEL": str(bad_model)}
    library = tmp_path / "library.db"
    for args in (("search", HISTORY_QUERY), ("reindex",)):
        line = one_line_error(invoke(library, "patterns", *args, env=env))
        assert line.startswith(f"error: embedding model file {bad_model}")
    # BM25 never loads the model.
    bm25 = invoke(library, "patterns", "search", HISTORY_QUERY, "--signal", "bm25", env=env)
    assert bm25.exit_code == 0, bm25.output
    assert bm25.stdout.splitlines()[1].split()[1] == "audit_trail"


@pytest.mark.parametrize("args", [("-k", "0"), ("--signal", "vibes"), ("--tier", "4")])
def test_bad_options_are_usage_errors(indexed, args) -> None:
    result = invoke(indexed, "patterns", "search", HISTORY_QUERY, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["search", "similar", "reindex"])
def test_help_has_examples(command) -> None:
    result = CliRunner().invoke(cli, ["patterns", command, "--help"])
    assert result.exit_code == 0 and f"specql patterns {command}" in result.stdout
    assert "Example" in result.stdout


# --------------------------------------------------------------------------- similar

TRIGGERS = Path(__file__).parents[2] / "examples" / "legacy" / "05_triggers.sql"


def test_similar_lists_each_function_with_its_patterns(indexed) -> None:
    found = ok_json(invoke(indexed, "patterns", "similar", str(TRIGGERS), "-k", "3", "--json"))
    by_name = {fn["name"]: fn for fn in found}
    assert set(by_name) == {
        "shop.trg_orders_audit",
        "shop.trg_touch_updated_at",
        "inventory.trg_product_low_stock",
    }
    audit = by_name["shop.trg_orders_audit"]
    assert (audit["file"], audit["line"], audit["kind"]) == (str(TRIGGERS), 4, "trigger")
    assert len(audit["hits"]) == 3 and {h["kind"] for h in audit["hits"]} == {"domain"}
    assert "audit_trail" in [h["name"] for h in audit["hits"]]

    table = invoke(indexed, "patterns", "similar", str(TRIGGERS), "-k", "2")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0] == f"shop.trg_orders_audit (trigger, {TRIGGERS}:4)"
    assert lines[1].split()[:2] == ["#", "name"] and len(lines) == 3 * 4


def test_similar_one_function_any_tier(indexed) -> None:
    found = ok_json(
        invoke(
            indexed,
            "patterns",
            "similar",
            str(TRIGGERS),
            "--function",
            "trg_product_low_stock",  # the bare name is enough
            "--tier",
            "all",
            "-k",
            "10",
            "--json",
        )
    )
    assert [fn["name"] for fn in found] == ["inventory.trg_product_low_stock"]
    assert len(found[0]["hits"]) == 10
    assert len({h["kind"] for h in found[0]["hits"]}) > 1


def test_similar_unknown_function_names_those_found(indexed) -> None:
    line = one_line_error(
        invoke(indexed, "patterns", "similar", str(TRIGGERS), "--function", "nope")
    )
    assert "'nope'" in line and "shop.trg_orders_audit" in line


def test_similar_file_without_functions(indexed, tmp_path) -> None:
    schema_only = tmp_path / "schema.sql"
    schema_only.write_text("CREATE TABLE t (id int PRIMARY KEY);\n")
    assert ok_json(invoke(indexed, "patterns", "similar", str(schema_only), "--json")) == []
    text = invoke(indexed, "patterns", "similar", str(schema_only))
    assert text.exit_code == 0 and text.stdout.strip() == f"no functions in {schema_only}"


def test_similar_with_a_bad_model(tmp_path, bad_model) -> None:
    line = one_line_error(
        invoke(
            tmp_path / "library.db",
            "patterns",
            "similar",
            str(TRIGGERS),
            env={"SPECQL_EMBEDDING_MODEL": str(bad_model)},
        )
    )
    assert line.startswith(f"error: embedding model file {bad_model}")


def test_similar_unparsable_file(indexed, tmp_path) -> None:
    broken = tmp_path / "broken.sql"
    broken.write_text(
        "CREATE FUNCTION f( RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n"
    )
    line = one_line_error(invoke(indexed, "patterns", "similar", str(broken)))
    assert str(broken) in line and "syntax error" in line
