"""Hybrid search over the library: the real model ranks the right pattern first and the index
follows the library (add, edit, deprecate) without an explicit reindex; the logic around the
model (sync, reuse, cache, filters, rerank, bad input) is checked with the hashing embedder,
whose counters show exactly what was embedded."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from specql import api
from specql.errors import SpecqlError
from specql.retrieval import HashingEmbedder, Hit, PatternIndex, function_document
from specql.retrieval import index as index_module
from specql.retrieval.index import MAX_QUERY_CHARS, SIGNALS, check_query

DATA = Path(__file__).parent / "data"
HISTORY_QUERY = "writes old and new row values to a history table"
GEOFENCE_QUERY = "is the customer's address inside the delivery area drawn on the map"


def data(name: str) -> dict:
    return yaml.safe_load((DATA / f"{name}.yaml").read_text())


def names(hits: list[Hit]) -> list[str]:
    return [hit.name for hit in hits]


def embedding_row(lib, name: str, model: str) -> tuple[str, bytes]:
    row = lib.conn.execute(
        "SELECT content_hash, vector FROM pattern_embeddings WHERE name = ? AND model = ?",
        (name, model),
    ).fetchone()
    return tuple(row)


def chunk_count(lib, *, where: str = "deprecated = 0") -> int:
    return lib.conn.execute(
        f"SELECT coalesce(sum(json_array_length(chunks)), 0) FROM pattern_documents WHERE {where}"
    ).fetchone()[0]


class RefusingEmbedder:
    """An embedder that must not be used: a BM25 search or a rejected query never reaches it."""

    dims = 64

    @property
    def name(self) -> str:
        raise AssertionError("the model was asked for its name")

    def embed(self, texts):
        raise AssertionError("the model was asked to embed")


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def hashed(seeded, hashing):
    """The seeded library indexed with the hashing embedder, whose counters start at 0."""
    PatternIndex(seeded.conn, hashing).reindex()
    hashing.calls = hashing.texts_embedded = 0
    return seeded


# --------------------------------------------------------------------------- the real model


@pytest.mark.parametrize("signal", ["hybrid", "embedding"])
def test_history_query_ranks_audit_trail_first(indexed, minilm, signal: str) -> None:
    hits = PatternIndex(indexed.conn, minilm).search(HISTORY_QUERY, k=5, signal=signal)
    assert hits[0].name == "audit_trail"
    assert (hits[0].tier, hits[0].category) == (2, "audit")
    assert hits[0].cosine > 0.35
    assert hits[0].cosine >= max(h.cosine for h in hits)
    assert "embedding" in hits[0].signals
    assert len(hits) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_deprecated_pattern_leaves_every_signal_and_comes_back_when_updated(
    indexed, minilm
) -> None:
    index = PatternIndex(indexed.conn, minilm)
    assert all("audit_trail" in names(index.search(HISTORY_QUERY, k=10, signal=s)) for s in SIGNALS)
    documents = index.status().documents

    indexed.deprecate("audit_trail", replaced_by="temporal_versioning", reason="test")
    for signal in SIGNALS:
        hits = index.search(HISTORY_QUERY, k=50, signal=signal)
        assert "audit_trail" not in names(hits), signal
        assert hits, signal
    assert index.status().documents == documents - 1

    indexed.update(indexed.get_pattern("audit_trail").to_definition(), tier=2)
    for signal in SIGNALS:
        assert index.search(HISTORY_QUERY, k=5, signal=signal)[0].name == "audit_trail", signal


def test_a_library_edit_updates_the_entry_embedding(indexed, minilm) -> None:
    index = PatternIndex(indexed.conn, minilm)
    new_text = "nightly import of currency exchange rates from the central bank"
    assert index.search(new_text, k=3, signal="embedding")[0].name != "audit_trail"
    old_hash, old_vector = embedding_row(indexed, "audit_trail", minilm.name)

    definition = indexed.get_pattern("audit_trail", tier=2).to_definition()
    definition["description"] = "Imports currency exchange rates from the central bank nightly."
    indexed.update(definition, tier=2)

    top = index.search(new_text, k=3, signal="embedding")[0]
    assert (top.name, top.cosine > 0.5) == ("audit_trail", True)
    new_hash, new_vector = embedding_row(indexed, "audit_trail", minilm.name)
    document_hash = indexed.conn.execute(
        "SELECT content_hash FROM pattern_documents WHERE name = 'audit_trail'"
    ).fetchone()[0]
    assert new_hash == document_hash != old_hash
    assert new_vector != old_vector
    # Only the summary chunk changed: the legacy examples keep their vectors.
    old_rows = np.frombuffer(old_vector, "<f4").reshape(-1, minilm.dims)
    new_rows = np.frombuffer(new_vector, "<f4").reshape(-1, minilm.dims)
    assert old_rows.shape == new_rows.shape
    assert not np.allclose(old_rows[0], new_rows[0])
    assert np.allclose(old_rows[1:], new_rows[1:], atol=1e-6)
    assert index.status().stale == 0


def test_a_new_domain_pattern_is_found_without_a_reindex(indexed, minilm) -> None:
    index = PatternIndex(indexed.conn, minilm)
    assert "geofence" not in names(index.search(GEOFENCE_QUERY, k=5))
    indexed.add_domain_pattern(data("geofence"))
    for signal in ("hybrid", "embedding"):
        assert index.search(GEOFENCE_QUERY, k=5, signal=signal)[0].name == "geofence", signal
    assert index.status().stale == 0


def test_the_api_searches_a_library_file(minilm_indexed_file, minilm) -> None:
    hits = api.search_patterns(
        HISTORY_QUERY, k=3, tier=2, library=minilm_indexed_file, embedder=minilm
    )
    assert hits[0].to_json() == {
        "name": "audit_trail",
        "tier": 2,
        "kind": "domain",
        "category": "audit",
        "score": round(hits[0].score, 4),
        "cosine": round(hits[0].cosine, 4),
        "bm25": round(hits[0].bm25, 4),
        "signals": ["embedding", "bm25"],
    }


# --------------------------------------------------------------------------- keeping in step


def test_reindex_of_an_unchanged_library_embeds_nothing(hashed, hashing) -> None:
    index = PatternIndex(hashed.conn, hashing)
    result = index.reindex()
    assert (result.embedded, result.reused, result.texts) == (0, 0, 0)
    assert result.documents == index.status().documents > 50
    assert hashing.texts_embedded == 0
    index.search(HISTORY_QUERY)  # searching an up-to-date index embeds only the query
    assert hashing.texts_embedded == 1


def test_a_first_reindex_embeds_every_chunk_with_progress(seeded, hashing) -> None:
    seen: list[tuple[int, int]] = []
    result = PatternIndex(seeded.conn, hashing).reindex(progress=lambda *p: seen.append(p))
    total = chunk_count(seeded)
    assert (result.embedded, result.reused, result.texts) == (result.documents, 0, total)
    assert hashing.texts_embedded == total
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_force_embeds_everything_again(hashed, hashing) -> None:
    result = PatternIndex(hashed.conn, hashing).reindex(force=True)
    total = chunk_count(hashed)
    assert (result.embedded, result.reused, result.texts) == (result.documents, 0, total)
    assert hashing.texts_embedded == total


def test_identical_content_reuses_the_stored_vector(hashed, hashing) -> None:
    # Entries always differ by name, so two identical documents are written here directly.
    hashed.conn.execute(
        "INSERT INTO pattern_documents (tier, name, category, languages, chunks, content_hash) "
        "SELECT tier, 'audit_trail_copy', category, languages, chunks, content_hash "
        "FROM pattern_documents WHERE name = 'audit_trail'"
    )
    result = PatternIndex(hashed.conn, hashing).reindex()
    assert (result.embedded, result.reused, result.texts) == (0, 1, 0)
    assert hashing.texts_embedded == 0
    assert embedding_row(hashed, "audit_trail_copy", hashing.name) == embedding_row(
        hashed, "audit_trail", hashing.name
    )


def test_a_change_embeds_only_the_changed_entry_on_the_next_search(hashed, hashing) -> None:
    index = PatternIndex(hashed.conn, hashing)
    index.search(HISTORY_QUERY)
    hashing.texts_embedded = 0
    hashed.add_domain_pattern(data("geofence"))
    assert index.status().stale == 1
    assert index.search(GEOFENCE_QUERY, k=1, signal="embedding")[0].name == "geofence"
    assert hashing.texts_embedded == chunk_count(hashed, where="name = 'geofence'") + 1

    hashing.texts_embedded = 0
    hashed.deprecate("geofence")
    hashed.update(hashed.get_pattern("geofence").to_definition(), tier=2)
    assert "geofence" in names(index.search(GEOFENCE_QUERY))
    assert hashing.texts_embedded == 1  # same content: its vector was kept, only the query


def test_a_library_never_indexed_asks_for_a_reindex(seeded) -> None:
    index = PatternIndex(seeded.conn, HashingEmbedder(), auto_index_limit=0, where="library X")
    with pytest.raises(SpecqlError) as caught:
        index.search(HISTORY_QUERY)
    message = str(caught.value)
    assert message.startswith("library X has no embeddings yet for model hashing-64")
    assert "specql patterns reindex" in message and "\n" not in message
    assert names(index.search(HISTORY_QUERY, signal="bm25"))  # the way out it names works


def test_many_changes_since_the_last_index_ask_for_a_reindex(hashed, hashing) -> None:
    for name in ("soft_delete", "tagging"):
        definition = hashed.get_pattern(name, tier=2).to_definition()
        hashed.update({**definition, "description": f"Changed {name}."}, tier=2)
    index = PatternIndex(hashed.conn, hashing, auto_index_limit=1)
    with pytest.raises(SpecqlError, match=r"has 2 entries changed since it was indexed.*reindex"):
        index.search(HISTORY_QUERY)
    assert PatternIndex(hashed.conn, hashing, auto_index_limit=2).search(HISTORY_QUERY)


# --------------------------------------------------------------------------- embedding cache


def test_search_many_embeds_repeated_texts_once(hashed, hashing) -> None:
    texts = [
        function_document("hr.log_salary", "INSERT INTO hr.salary_history SELECT OLD.*"),
        function_document("next_invoice_number", "UPDATE counters SET n = n + 1"),
    ]
    first = PatternIndex(hashed.conn, hashing).search_many(texts, k=3)
    assert (hashing.calls, hashing.texts_embedded) == (1, 2)
    again = PatternIndex(hashed.conn, hashing).search_many(texts, k=3)  # a new index: same file
    assert (hashing.calls, hashing.texts_embedded) == (1, 2)
    assert again == first
    cached = hashed.conn.execute("SELECT count(*) FROM embedding_cache").fetchone()[0]
    assert cached == 2
    PatternIndex(hashed.conn, hashing).search_many([*texts, "one new text"], k=3)
    assert (hashing.calls, hashing.texts_embedded) == (2, 3)


def test_the_embedding_cache_keeps_the_most_recently_used(hashed, hashing, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "CACHE_ROWS", 2)
    index = PatternIndex(hashed.conn, hashing)
    for text in ("first text", "second text", "third text"):
        index.search_many([text])
        time.sleep(0.002)  # used_at has millisecond resolution
    hashing.texts_embedded = 0
    index.search_many(["third text", "second text"])
    assert hashing.texts_embedded == 0
    index.search_many(["first text"])
    assert hashing.texts_embedded == 1


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize("signal", SIGNALS)
def test_tier_and_category_filters(hashed, hashing, signal: str) -> None:
    index = PatternIndex(hashed.conn, hashing)
    primitives = index.search("insert a row and return its id", k=10, signal=signal, tier=1)
    assert primitives and {h.tier for h in primitives} == {1}
    audit = index.search(HISTORY_QUERY, k=10, signal=signal, category="audit")
    assert names(audit) == ["audit_trail"]
    assert index.search(HISTORY_QUERY, signal=signal, category="no_such_category") == []
    assert index.search(HISTORY_QUERY, signal=signal, tier=3, category="audit") == []


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_primitive_is_found_only_in_its_languages(hashed, hashing, signal: str) -> None:
    hashed.add_pattern(data("sql_only_primitive"))
    index = PatternIndex(hashed.conn, hashing)
    query = "advisory lock on a key so concurrent writers queue"
    assert names(index.search(query, k=3, signal=signal, language="postgresql"))[0] == (
        "advisory_lock"
    )
    for language in ("django", "sqlalchemy"):
        hits = index.search(query, k=50, signal=signal, language=language)
        assert hits and "advisory_lock" not in names(hits), language
    assert index.search(query, signal=signal, language="cobol") == []


@pytest.mark.parametrize(("signal", "score"), [("embedding", "cosine"), ("bm25", "bm25")])
def test_min_score_drops_weaker_hits(hashed, hashing, signal: str, score: str) -> None:
    index = PatternIndex(hashed.conn, hashing)
    everything = index.search(HISTORY_QUERY, k=50, signal=signal)
    scores = sorted(getattr(h, score) for h in everything)
    threshold = scores[len(scores) // 2]
    kept = index.search(HISTORY_QUERY, k=50, signal=signal, min_score=threshold)
    assert kept == [h for h in everything if getattr(h, score) >= threshold]
    assert 0 < len(kept) < len(everything)
    assert index.search(HISTORY_QUERY, signal=signal, min_score=1e9) == []


def test_min_score_of_hybrid_is_a_cosine(hashed, hashing) -> None:
    index = PatternIndex(hashed.conn, hashing)
    kept = index.search(HISTORY_QUERY, k=50, min_score=0.2)
    assert kept and all(h.cosine >= 0.2 for h in kept)
    assert index.search(HISTORY_QUERY, min_score=1.01) == []


@pytest.mark.parametrize("signal", SIGNALS)
def test_k_is_the_number_of_hits(hashed, hashing, signal: str) -> None:
    index = PatternIndex(hashed.conn, hashing)
    for k in (1, 3, 7):
        assert len(index.search(HISTORY_QUERY, k=k, signal=signal)) == k
    assert (
        names(index.search(HISTORY_QUERY, k=3, signal=signal))
        == names(index.search(HISTORY_QUERY, k=7, signal=signal))[:3]
    )
    with pytest.raises(SpecqlError, match="k must be at least 1"):
        index.search(HISTORY_QUERY, k=0, signal=signal)


def test_hybrid_fuses_both_signals(hashed, hashing) -> None:
    index = PatternIndex(hashed.conn, hashing)

    def ranking(signal: str) -> list[tuple[int, str]]:
        return [(h.tier, h.name) for h in index.search(HISTORY_QUERY, k=50, signal=signal)]

    by_embedding, by_bm25 = ranking("embedding"), ranking("bm25")
    hybrid = index.search(HISTORY_QUERY, k=50)
    assert {(h.tier, h.name) for h in hybrid} <= set(by_embedding) | set(by_bm25)
    for hit in hybrid:
        key = (hit.tier, hit.name)
        assert ("embedding" in hit.signals) == (key in by_embedding)
        assert ("bm25" in hit.signals) == (key in by_bm25)
        expected = sum(
            1 / (index_module.RRF_K + ranked.index(key) + 1)
            for ranked in (by_embedding, by_bm25)
            if key in ranked
        )
        assert hit.score == pytest.approx(expected)


def test_bm25_never_loads_the_model(hashed) -> None:
    index = PatternIndex(hashed.conn, RefusingEmbedder())
    hits = index.search(HISTORY_QUERY, k=5, signal="bm25", tier=2)
    assert hits[0].name == "audit_trail"
    assert all(h.cosine is None and h.signals == ("bm25",) for h in hits)
    assert index.search_many([HISTORY_QUERY], signal="bm25") == [
        index.search(HISTORY_QUERY, signal="bm25")
    ]
    default = PatternIndex(hashed.conn)
    default.search(HISTORY_QUERY, signal="bm25")
    assert default._embedder is None  # the registered model was never even created


# --------------------------------------------------------------------------- rerank hook


def test_a_reranker_order_is_honoured(hashed, hashing) -> None:
    index = PatternIndex(hashed.conn, hashing)
    given: list[list[Hit]] = []

    def reverse(text: str, hits: list[Hit]) -> list[Hit]:
        given.append(hits)
        return hits[::-1]

    plain = index.search(HISTORY_QUERY, k=3)
    reranked = index.search(HISTORY_QUERY, k=3, rerank=reverse)
    candidates = given[0]
    assert len(candidates) == 10  # max(3k, 10) fused candidates, best first
    assert candidates[:3] == plain
    assert reranked == candidates[::-1][:3]


def test_hits_a_reranker_invents_or_repeats_are_dropped(hashed, hashing) -> None:
    index = PatternIndex(hashed.conn, hashing)
    invented = Hit(tier=2, name="made_up", category="audit", score=99.0)

    def unreliable(text: str, hits: list[Hit]) -> list[Hit]:
        forged = Hit(tier=9, name=hits[1].name, category="x", score=5.0)  # wrong tier
        return [invented, hits[1], hits[1], forged, hits[0], "not a hit", hits[1]]

    candidates = index.search(HISTORY_QUERY, k=10)
    reranked = index.search(HISTORY_QUERY, k=5, rerank=unreliable)
    assert reranked == [candidates[1], candidates[0]]
    assert index.search(HISTORY_QUERY, rerank=lambda text, hits: []) == []


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("query", ["", "   ", "\n\t", None, 42])
def test_an_empty_query_is_refused_before_the_model(hashed, query) -> None:
    index = PatternIndex(hashed.conn, RefusingEmbedder())
    for signal in SIGNALS:
        with pytest.raises(SpecqlError, match="empty search query"):
            index.search(query, signal=signal)


def test_a_megabyte_query_is_refused_quickly(hashed) -> None:
    index = PatternIndex(hashed.conn, RefusingEmbedder())
    query = "history " * 131_072
    started = time.perf_counter()
    for signal in SIGNALS:
        with pytest.raises(SpecqlError, match=f"at most {MAX_QUERY_CHARS:,}"):
            index.search(query, signal=signal)
    assert time.perf_counter() - started < 0.5
    assert check_query("x" * MAX_QUERY_CHARS) == "x" * MAX_QUERY_CHARS


def test_a_query_without_words_says_so(hashed, hashing) -> None:
    with pytest.raises(SpecqlError, match="no searchable words"):
        PatternIndex(hashed.conn, hashing).search("?!* -- ()", signal="bm25")


def test_an_unknown_signal_names_the_known_ones(hashed, hashing) -> None:
    with pytest.raises(
        SpecqlError, match="unknown signal 'cosine'; one of hybrid, embedding, bm25"
    ):
        PatternIndex(hashed.conn, hashing).search(HISTORY_QUERY, signal="cosine")


# --------------------------------------------------------------------------- function texts


def test_a_function_document_is_its_name_kind_features_then_distinct_body_words() -> None:
    body = """
        -- pretend this is audit_trail
        INSERT INTO hr.salary_history (employee_id, old_salary) VALUES (OLD.id, OLD.salary);
        INSERT INTO hr.salary_history (employee_id, new_salary) VALUES (NEW.id, 'literal');
    """
    text = function_document(
        "hr.log_salary_change", body, kind="trigger", features=["row trigger", "writes history"]
    )
    assert text == (
        "hr log salary change trigger row trigger writes history. "
        "insert into hr salary history employee id old values new"
    )
    long_body = " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}x" for i in range(5000))
    words = function_document("f", long_body).split(". ", 1)[1].split()
    assert len(words) == index_module.FUNCTION_WORDS == len(set(words))


def test_status_counts_documents_and_current_vectors(seeded, hashing) -> None:
    index = PatternIndex(seeded.conn, hashing)
    before = index.status()
    assert (before.model, before.embedded, before.stale) == ("hashing-64", 0, before.documents)
    index.reindex()
    after = index.status()
    assert (after.documents, after.embedded, after.stale) == (before.documents,) * 2 + (0,)
    assert json.loads(json.dumps(after.to_json()))["stale"] == 0
