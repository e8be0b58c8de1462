"""The LLM answer cache and call log in the library file: migration 4 on fresh and version-3
files, the cache (round trip, size limit, least-recently-used pruning), the log with its
listings and statistics, writers on two connections at once, and the real LLMClient using it
as its store."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from specql.errors import SpecqlError
from specql.llm.backends.mock import MockModel
from specql.llm.client import CallRecord, LLMClient
from specql.llm.config import LLMSettings
from specql.llm.tasks import task
from specql.store import LATEST_VERSION, LLMCallStore, migrate, open_db, schema_version, write
from specql.store.llm_log import MAX_ANSWER_BYTES, MAX_ERROR_CHARS, percentile

LLM_TABLES = {"llm_cache", "llm_calls"}
LLM_INDEXES = {"llm_cache_used", "llm_calls_at", "llm_calls_task", "llm_calls_run"}


@pytest.fixture
def conn(db_path):
    conn = open_db(db_path)
    yield conn
    conn.close()


@pytest.fixture
def store(conn) -> LLMCallStore:
    return LLMCallStore(conn)


def record(**changes) -> CallRecord:
    base = CallRecord(
        task="intent",
        backend="llamacpp",
        model="llamacpp:default",
        prompt_hash="0123456789abcdef",
        outcome="valid",
        tokens_in=100,
        tokens_out=20,
        latency_ms=50.0,
        run_id="run-a",
    )
    return replace(base, **changes)


def _names(conn: sqlite3.Connection, kind: str) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))
    return {row[0] for row in rows}


def _set_times(conn: sqlite3.Connection, table: str, column: str, times: dict) -> None:
    """Fixed timestamps, so order-by-time tests do not depend on the clock's resolution."""
    key = "key" if table == "llm_cache" else "id"
    with write(conn):
        for ident, at in times.items():
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (at, ident))


# --------------------------------------------------------------------------- migration


def test_a_fresh_library_has_the_cache_and_the_log(conn) -> None:
    assert schema_version(conn) == LATEST_VERSION >= 4
    assert _names(conn, "table") >= LLM_TABLES
    assert _names(conn, "index") >= LLM_INDEXES


def test_a_version_3_library_gains_them_keeping_its_rows(db_path) -> None:
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path, isolation_level=None)
    assert migrate(raw, target=3) == [1, 2, 3]
    raw.execute("INSERT INTO meta VALUES ('seed_hash', 'abc')")
    raw.execute(
        "INSERT INTO embedding_cache (model, content_hash, dims, vector) VALUES ('m', 'h', 1, ?)",
        (b"\0\0\0\0",),
    )
    assert not LLM_TABLES & _names(raw, "table")
    raw.close()

    conn = open_db(db_path)
    assert schema_version(conn) == LATEST_VERSION
    assert _names(conn, "table") >= LLM_TABLES
    assert [tuple(r) for r in conn.execute("SELECT key, value FROM meta")] == [("seed_hash", "abc")]
    assert conn.execute("SELECT count(*) FROM embedding_cache").fetchone()[0] == 1
    assert LLMCallStore(conn).calls() == []
    conn.close()


def test_the_log_refuses_an_unknown_outcome(store) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.log_call(record(outcome="maybe"))
    assert store.calls() == []


# --------------------------------------------------------------------------- cache


def test_an_answer_round_trips_and_is_marked_used(store, conn) -> None:
    assert store.cached_answer("k1") is None
    store.cache_answer("k1", "llamacpp:default", '{"intent": "x"}')
    _set_times(conn, "llm_cache", "used_at", {"k1": "2020-01-01T00:00:00.000Z"})
    assert store.cached_answer("k1") == '{"intent": "x"}'
    used = conn.execute("SELECT used_at FROM llm_cache WHERE key = 'k1'").fetchone()[0]
    assert used > "2020-01-01T00:00:00.000Z"


def test_caching_a_key_again_replaces_the_answer_and_keeps_its_creation(store, conn) -> None:
    store.cache_answer("k1", "mock:a", "first")
    _set_times(conn, "llm_cache", "created_at", {"k1": "2020-01-01T00:00:00.000Z"})
    store.cache_answer("k1", "mock:b", "second")
    row = conn.execute("SELECT model, answer, created_at FROM llm_cache").fetchall()
    assert [tuple(r) for r in row] == [("mock:b", "second", "2020-01-01T00:00:00.000Z")]


def test_answers_over_64_kb_are_not_cached(store) -> None:
    store.cache_answer("fits", "m", "x" * MAX_ANSWER_BYTES)
    store.cache_answer("long", "m", "x" * (MAX_ANSWER_BYTES + 1))
    # Bytes, not characters: half as many two-byte characters are already too many.
    store.cache_answer("wide", "m", "é" * (MAX_ANSWER_BYTES // 2 + 1))
    assert store.cached_answer("fits") == "x" * MAX_ANSWER_BYTES
    assert store.cached_answer("long") is None
    assert store.cached_answer("wide") is None


def test_the_least_recently_used_answers_go_beyond_the_cap(conn) -> None:
    store = LLMCallStore(conn, cache_entries=3)
    for key in ("a", "b", "c"):
        store.cache_answer(key, "m", key.upper())
    _set_times(
        conn,
        "llm_cache",
        "used_at",
        {"a": "2020-01-01T00:00:01.000Z", "b": "2020-01-01T00:00:02.000Z", "c": "2020-01-01"},
    )
    assert store.cached_answer("c") == "C"  # now the most recently used: kept
    store.cache_answer("d", "m", "D")  # one over the cap: the oldest used, 'a', goes
    assert store.cached_answer("a") is None
    assert [store.cached_answer(k) for k in ("b", "c", "d")] == ["B", "C", "D"]
    store.cache_answer("e", "m", "E")
    assert store.cached_answer("b") is None
    assert conn.execute("SELECT count(*) FROM llm_cache").fetchone()[0] == 3


def test_clear_cache_forgets_every_answer_and_keeps_the_log(store) -> None:
    store.cache_answer("a", "m", "A")
    store.cache_answer("b", "m", "B")
    store.log_call(record())
    assert store.clear_cache() == 2
    assert store.cached_answer("a") is None
    assert len(store.calls()) == 1


# --------------------------------------------------------------------------- log


def test_a_logged_call_lists_as_written(store) -> None:
    store.log_call(record(cache_hit=True, escalated=True, error="x" * 2000, cost_usd=0.0012))
    (call,) = store.calls()
    assert call["error"] == "x" * MAX_ERROR_CHARS
    assert call["cache_hit"] is True and call["escalated"] is True
    expected = record().to_dict()
    for name in ("task", "backend", "model", "prompt_hash", "outcome", "tokens_in", "run_id"):
        assert call[name] == expected[name]
    assert call["cost_usd"] == pytest.approx(0.0012)
    assert call["at"].endswith("Z") and call["at"][:4].isdigit()


def test_an_empty_error_is_stored_as_none(store) -> None:
    store.log_call(record(error=""))
    assert store.calls()[0]["error"] is None


def test_calls_list_newest_first_with_filters(store, conn) -> None:
    records = [
        record(task="intent", outcome="valid", run_id="r1"),
        record(task="names", outcome="invalid", run_id="r1"),
        record(task="intent", outcome="error", run_id="r2"),
        record(task="probe", outcome="valid", run_id="r2"),
    ]
    for r in records:
        store.log_call(r)
    _set_times(
        conn,
        "llm_calls",
        "at",
        {i: f"2025-01-0{i}T10:00:00.000Z" for i in range(1, 5)},
    )
    assert [c["id"] for c in store.calls()] == [4, 3, 2, 1]
    assert [c["id"] for c in store.calls(limit=2)] == [4, 3]
    assert [c["id"] for c in store.calls(limit=None)] == [4, 3, 2, 1]
    assert [c["id"] for c in store.calls(task="intent")] == [3, 1]
    assert [c["id"] for c in store.calls(outcome="valid")] == [4, 1]
    assert [c["id"] for c in store.calls(run_id="r1")] == [2, 1]
    assert [c["id"] for c in store.calls(task="intent", run_id="r2")] == [3]
    assert [c["id"] for c in store.calls(since="2025-01-03")] == [4, 3]
    paris = timezone(timedelta(hours=1))
    since = datetime(2025, 1, 2, 11, 0, tzinfo=paris)  # 10:00 UTC: call 2 itself is included
    assert [c["id"] for c in store.calls(since=since)] == [4, 3, 2]
    assert [c["id"] for c in store.calls(since=datetime(2025, 1, 2, 10, 0, 1))] == [4, 3]
    assert store.calls(task="nothing") == []


KNOWN = [
    # task, backend, outcome, cache hit, latency (None: no model called), tokens in/out, cost, run
    ("intent", "llamacpp", "valid", False, 10.0, 100, 10, 0.0, "r1"),
    ("intent", "llamacpp", "invalid", False, 20.0, 100, 30, 0.0, "r1"),
    ("intent", "llamacpp", "valid", True, None, 0, 0, 0.0, "r1"),
    ("intent", "openai", "valid", False, 30.0, 200, 20, 0.002, "r2"),
    ("intent", "openai", "skipped", False, None, 0, 0, 0.0, "r2"),
    ("intent", "llamacpp", "valid", False, 40.0, 100, 10, 0.0, "r2"),
    ("intent", "llamacpp", "error", False, 100.0, 0, 0, 0.0, "r2"),
    ("names", "llamacpp", "valid", True, None, 0, 0, 0.0, "r1"),
    ("names", "llamacpp", "valid", True, None, 0, 0, 0.0, "r2"),
]


@pytest.fixture
def known(store) -> LLMCallStore:
    for name, backend, outcome, hit, ms, t_in, t_out, cost, run in KNOWN:
        store.log_call(
            record(
                task=name,
                backend=backend,
                model=f"{backend}:m",
                outcome=outcome,
                cache_hit=hit,
                latency_ms=ms,
                tokens_in=t_in,
                tokens_out=t_out,
                cost_usd=cost,
                run_id=run,
            )
        )
    return store


def test_stats_by_task_count_rate_tokens_latency_and_cost(known) -> None:
    intent, names = known.stats()  # most calls first
    assert intent["task"] == "intent" and names["task"] == "names"
    assert intent["calls"] == 7 and intent["cache_hits"] == 1
    assert intent["hit_rate"] == pytest.approx(1 / 7)
    outcomes = {k: intent[k] for k in ("valid", "invalid", "error", "skipped")}
    assert outcomes == {"valid": 4, "invalid": 1, "error": 1, "skipped": 1}
    assert (intent["tokens_in"], intent["tokens_out"]) == (500, 70)
    assert intent["cost_usd"] == pytest.approx(0.002)
    # Latency of the calls that reached a model: not the cache hit, not the skipped call.
    # (Calls still count with no latency: both are in the outcome counts above.)
    timed = [10.0, 20.0, 30.0, 40.0, 100.0]
    assert intent["latency_avg_ms"] == pytest.approx(40.0)
    assert intent["latency_p50_ms"] == pytest.approx(30.0)
    assert intent["latency_p95_ms"] == pytest.approx(88.0)  # 40 + 0.8 * (100 - 40)
    assert intent["latency_p95_ms"] == pytest.approx(np.percentile(timed, 95))
    # Only cache hits: a full hit rate and no latency to speak of.
    assert names["calls"] == 2 and names["hit_rate"] == 1.0
    assert names["latency_p50_ms"] is None and names["latency_avg_ms"] is None


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("backend", {"llamacpp": 7, "openai": 2}),
        ("model", {"llamacpp:m": 7, "openai:m": 2}),
        ("outcome", {"valid": 6, "invalid": 1, "error": 1, "skipped": 1}),
        ("run_id", {"r1": 4, "r2": 5}),
    ],
)
def test_stats_group_by_other_columns(known, by, expected) -> None:
    groups = known.stats(by=by)
    assert {g[by]: g["calls"] for g in groups} == expected
    assert [g["calls"] for g in groups] == sorted((g["calls"] for g in groups), reverse=True)


def test_totals_sum_every_call(known) -> None:
    total = known.totals()
    assert total["calls"] == len(KNOWN) and total["cache_hits"] == 3
    assert total["hit_rate"] == pytest.approx(3 / 9)
    assert total["cost_usd"] == pytest.approx(0.002)
    assert total["latency_p50_ms"] == pytest.approx(30.0)
    assert sum(g["calls"] for g in known.stats(by="backend")) == total["calls"]


def _by_run_day(conn: sqlite3.Connection) -> None:
    """Run r1's calls logged on 1 January, r2's on 2 January."""
    days = {"r1": "2025-01-01T12:00:00.000Z", "r2": "2025-01-02T12:00:00.000Z"}
    with write(conn):
        for run, at in days.items():
            conn.execute("UPDATE llm_calls SET at = ? WHERE run_id = ?", (at, run))


def test_stats_and_totals_since_count_only_later_calls(known, conn) -> None:
    _by_run_day(conn)
    later = known.stats(by="run_id", since="2025-01-02")
    assert [(g["run_id"], g["calls"]) for g in later] == [("r2", 5)]
    total = known.totals(since=datetime(2025, 1, 2))
    assert (total["calls"], total["skipped"], total["cache_hits"]) == (5, 1, 1)
    # r2's timed calls: openai 30, llamacpp 40 and 100 (not the skipped call or the hit)
    assert total["latency_avg_ms"] == pytest.approx((30 + 40 + 100) / 3)
    assert known.totals(since="2025-01-03")["calls"] == 0


def test_prune_forgets_the_calls_before_a_moment(known, conn) -> None:
    _by_run_day(conn)
    assert known.prune(before="2025-01-02") == 4
    assert {c["run_id"] for c in known.calls(limit=None)} == {"r2"}
    assert known.prune(before=datetime(2025, 1, 2)) == 0  # r2's calls are at noon
    assert known.prune(before=datetime(2025, 1, 2, 13, tzinfo=UTC)) == 5
    assert known.totals()["calls"] == 0


def test_stats_of_an_empty_log(store) -> None:
    assert store.stats() == []
    total = store.totals()
    assert total["calls"] == 0 and total["hit_rate"] == 0.0 and total["cost_usd"] == 0.0
    assert total["latency_p95_ms"] is None


def test_stats_refuse_an_unknown_grouping(known) -> None:
    with pytest.raises(SpecqlError, match="cannot group LLM calls by 'prompt'"):
        known.stats(by="prompt")


def test_percentiles_match_numpys_linear_method() -> None:
    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 101):
        values = sorted(rng.uniform(0, 1000, size).tolist())
        for q in (0.0, 0.5, 0.95, 1.0):
            assert percentile(values, q) == pytest.approx(np.percentile(values, q * 100))


# --------------------------------------------------------------------------- concurrency

CALLS_PER_WRITER = 150


def test_two_connections_writing_at_once_lose_no_row(db_path) -> None:
    open_db(db_path).close()  # migrated before the writers start
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def writer(run: str) -> None:
        conn = open_db(db_path)
        try:
            store = LLMCallStore(conn)
            start.wait()
            for i in range(CALLS_PER_WRITER):
                store.log_call(record(run_id=run, attempt=i + 1))
                store.cache_answer(f"{run}-{i % 10}", "m", f"answer {i}")
                store.cached_answer(f"{run}-{i % 10}")
        except BaseException as exc:
            failures.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(run,)) for run in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    conn = open_db(db_path)
    store = LLMCallStore(conn)
    assert {g["run_id"]: g["calls"] for g in store.stats(by="run_id")} == {
        "a": CALLS_PER_WRITER,
        "b": CALLS_PER_WRITER,
    }
    attempts = [c["attempt"] for c in store.calls(run_id="a", limit=None)]
    assert sorted(attempts) == list(range(1, CALLS_PER_WRITER + 1))
    assert conn.execute("SELECT count(*) FROM llm_cache").fetchone()[0] == 20
    conn.close()


# --------------------------------------------------------------------------- the LLM client


def test_the_llm_client_logs_and_caches_through_the_store(store) -> None:
    """The store is a CallStore by shape: a task run logs its attempts, and the same task
    asked again is answered from the cache without calling the model."""
    probe = task("probe")
    context = {"sql": "INSERT INTO crm.note (body) VALUES ('x');"}
    model = MockModel(responses=['{"answer": "maybe"}', '{"answer": "yes", "table": "crm.note"}'])
    first = LLMClient(LLMSettings(), store, model=model, run_id="first").run(probe, context)
    assert first.ok and first.value.table == "crm.note" and len(model.calls) == 2
    again = LLMClient(LLMSettings(), store, model=model, run_id="again").run(probe, context)
    assert again.ok and again.cached and len(model.calls) == 2

    logged = store.calls(limit=None)
    assert [(c["run_id"], c["outcome"], c["cache_hit"]) for c in reversed(logged)] == [
        ("first", "invalid", False),
        ("first", "valid", False),
        ("again", "invalid", True),
        ("again", "valid", True),
    ]
    assert all(c["task"] == "probe" and c["model"] == "mock:default" for c in logged)
    assert logged[-1]["error"] and logged[-1]["tokens_in"] > 0
    (totals,) = store.stats(by="task")
    assert totals["calls"] == 4 and totals["hit_rate"] == 0.5
