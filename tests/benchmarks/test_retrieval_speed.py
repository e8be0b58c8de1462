"""benchmarks/retrieval_speed.py: the synthetic library it writes is what the index would have
made itself (current vectors, searchable text), and the script runs end to end, small."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from specql.patterns import PatternLibrary
from specql.retrieval import HashingEmbedder, PatternIndex, retrieval_missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rs():
    spec = importlib.util.spec_from_file_location(
        "retrieval_speed", ROOT / "benchmarks" / "retrieval_speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_synthetic_rows_are_current_for_the_index(rs, tmp_path) -> None:
    embedder = HashingEmbedder()
    rng = np.random.default_rng(1)
    with PatternLibrary.open(tmp_path / "lib.db") as lib:
        seeded = PatternIndex(lib.conn, embedder).status().documents
        documents = rs.SyntheticDocuments(rs.seeded_documents(lib))
        seeded_rows = rs.embed_seeded_randomly(lib, rng, embedder.name, embedder.dims)
        rows = rs.add_synthetic(lib, documents, rng, embedder, range(40))
        index = PatternIndex(lib.conn, embedder, auto_index_limit=0)  # embedding nothing
        status = index.status()
        assert (status.documents, status.embedded) == (seeded + 40, seeded + 40)
        hits = index.search("anything at all", k=200, signal="embedding", tier=2)
        assert sum(h.name.startswith("synthetic_") for h in hits) == 40
        assert embedder.calls == 1  # the query only: the library's vectors were taken as stored
        assert 40 <= rows <= 40 * (1 + max(documents.example_counts))
        assert seeded_rows >= seeded
        name, description = lib.conn.execute(
            "SELECT name, description FROM patterns_fts WHERE name LIKE 'synthetic_%' LIMIT 1"
        ).fetchone()
        found = index.search(f"{name} {description}", k=3, signal="bm25")
        assert found[0].name == name


def test_synthetic_documents_are_shaped_like_the_seed(rs) -> None:
    seed = [["summary one two three four five six", "select a from b"], ["summary x y z w v"]]
    documents = rs.SyntheticDocuments(seed, seed=3)
    name, category, description, chunks = documents.entry(7, ["audit"])
    assert name.startswith("synthetic_") and name.endswith("_7") and category == "audit"
    assert chunks[0].startswith(f"{name.replace('_', ' ')} (audit): {description}")
    assert len(chunks) - 1 in documents.example_counts
    assert all(len(c.split()) in documents.example_lengths for c in chunks[1:])
    assert set(" ".join(chunks[1:]).split()) <= {"select", "a", "from", "b"}


@pytest.mark.skipif(retrieval_missing() is not None, reason=str(retrieval_missing()))
def test_script_runs_small_and_ends_with_json(rs, capsys) -> None:
    argv = [
        "--sizes",
        "300",
        "--samples",
        "3",
        "--cold",
        "1",
        "--texts",
        "4",
        "--singles",
        "2",
        "--batch-sizes",
        "2",
    ]
    assert rs.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    size = figures["sizes"]["300"]
    assert size["matrix_rows"] >= size["entries"] > 300
    for column in rs.COLUMNS:
        for kind in ("short", "long"):
            timing = size[f"{column}_{kind}"]
            assert 0 < timing["min_ms"] <= timing["p50_ms"] <= timing["p99_ms"]
    assert figures["embedding"]["long"]["tokens"] > figures["embedding"]["short"]["tokens"]
    assert set(figures["embedding"]["long"]["by_batch"]) == {"2"}
    assert figures["cold_start"]["first_vector_s"] > figures["cold_start"]["import_s"] > 0
    assert "first_embedding_s" in figures["targets"] and "start" in figures["load_average"]
    assert any(line.startswith("target first_embedding_s") for line in out)
