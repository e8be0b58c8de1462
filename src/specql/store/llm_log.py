"""The LLM layer's answer cache and call log in the library file (schema version 4).

:class:`LLMCallStore` has the methods of ``specql.llm.client.CallStore`` (``cached_answer``,
``cache_answer``, ``log_call``) without importing ``specql.llm`` (the store and the LLM layer
sit on one layer and do not know each other; ``specql.api`` hands one to the other), and the
queries behind ``specql logs``: :meth:`~LLMCallStore.calls`, :meth:`~LLMCallStore.stats`,
:meth:`~LLMCallStore.totals` and :meth:`~LLMCallStore.prune`.

Every write is one short ``write()`` transaction of its own: a cache or log row never rides
along in (or rolls back) a transaction of the pattern library.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime

from specql.errors import SpecqlError
from specql.store.db import write

CACHE_ENTRIES = 20_000  # answers kept; the least recently used go first
MAX_ANSWER_BYTES = 64 * 1024  # a longer answer is a runaway generation, not worth keeping
MAX_ERROR_CHARS = 500
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"  # UTC ISO-8601 with milliseconds, like `at`

# The outcomes of migration 0004's CHECK (specql.llm.client.OUTCOMES, which the store may
# not import).
OUTCOMES = ("valid", "invalid", "error", "skipped")
# What stats() can group by: columns of llm_calls.
STAT_GROUPS = ("task", "model", "backend", "outcome", "run_id")
# The attributes of a call record, stored under the same names.
LOGGED = (
    "run_id",
    "task",
    "backend",
    "model",
    "prompt_hash",
    "tokens_in",
    "tokens_out",
    "latency_ms",
    "cache_hit",
    "outcome",
    "attempt",
    "escalated",
    "cost_usd",
    "error",
)
FLAGS = ("cache_hit", "escalated")  # 0/1 columns, given back as booleans
CALL_FILTERS = {
    "task": "task = ?",
    "outcome": "outcome = ?",
    "run_id": "run_id = ?",
    "since": "at >= ?",
}

# Per group (or over everything): counts, sums and the outcome counts. Outcomes and columns
# are this module's constants, safe to format into the SQL.
SUMMARY_COLUMNS = ", ".join(
    [
        "count(*) AS calls",
        "coalesce(sum(cache_hit), 0) AS cache_hits",
        *(f"coalesce(sum(outcome = '{outcome}'), 0) AS {outcome}" for outcome in OUTCOMES),
        "coalesce(sum(tokens_in), 0) AS tokens_in",
        "coalesce(sum(tokens_out), 0) AS tokens_out",
        "total(cost_usd) AS cost_usd",
    ]
)
# Latency is that of calls which reached a model: a cache hit, or a call refused before it was
# made (cost cap, prompt over the context, no model), has none and would drag the averages down.
TIMED_CALLS = "latency_ms IS NOT NULL"


def percentile(ordered: list[float], fraction: float) -> float:
    """The value ``fraction`` of the way through ``ordered`` (ascending, not empty), linearly
    interpolated between the two nearest values (numpy's default method)."""
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _latency(ordered: list[float]) -> dict:
    if not ordered:
        return {"latency_avg_ms": None, "latency_p50_ms": None, "latency_p95_ms": None}
    return {
        "latency_avg_ms": sum(ordered) / len(ordered),
        "latency_p50_ms": percentile(ordered, 0.50),
        "latency_p95_ms": percentile(ordered, 0.95),
    }


def _logged_since(since: str | datetime | None) -> tuple[str, tuple]:
    """The WHERE condition (and its argument) for calls logged from ``since`` on."""
    return ("1", ()) if since is None else (CALL_FILTERS["since"], (_iso(since),))


def _iso(since: str | datetime) -> str:
    """``since`` as the log writes times (a naive datetime is taken as UTC); a string is used
    as given, so a date prefix like '2025-01-31' works."""
    if isinstance(since, str):
        return since
    moment = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LLMCallStore:
    """The cache and call log on an open library connection (the caller closes it)."""

    def __init__(self, conn: sqlite3.Connection, *, cache_entries: int = CACHE_ENTRIES) -> None:
        self.conn = conn
        self.cache_entries = cache_entries

    # ------------------------------------------------------------------ the cache

    def cached_answer(self, key: str) -> str | None:
        """The answer stored under ``key``, marked as just used; None when there is none."""
        row = self.conn.execute("SELECT answer FROM llm_cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        with write(self.conn):
            self.conn.execute(f"UPDATE llm_cache SET used_at = {NOW} WHERE key = ?", (key,))
        return row[0]

    def cache_answer(self, key: str, model: str, text: str) -> None:
        """Store (or replace) the answer under ``key``; answers over 64 KB are not kept. The
        least recently used answers beyond the cap are dropped."""
        if len(text.encode("utf-8")) > MAX_ANSWER_BYTES:
            return
        with write(self.conn):
            self.conn.execute(
                "INSERT INTO llm_cache (key, model, answer) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET model = excluded.model, "
                f"answer = excluded.answer, used_at = {NOW}",
                (key, model, text),
            )
            over = self.conn.execute("SELECT count(*) FROM llm_cache").fetchone()[0]
            over -= self.cache_entries
            if over > 0:
                self.conn.execute(
                    "DELETE FROM llm_cache WHERE rowid IN "
                    "(SELECT rowid FROM llm_cache ORDER BY used_at, rowid LIMIT ?)",
                    (over,),
                )

    def clear_cache(self) -> int:
        """Forget every cached answer; returns how many there were."""
        with write(self.conn):
            return self.conn.execute("DELETE FROM llm_cache").rowcount

    # ------------------------------------------------------------------ the log

    def log_call(self, record) -> None:
        """Append one call: ``record`` is anything with the attributes of
        ``specql.llm.client.CallRecord`` (its error text is cut to 500 characters)."""
        row = {name: getattr(record, name) for name in LOGGED}
        for flag in FLAGS:
            row[flag] = int(bool(row[flag]))
        row["error"] = row["error"][:MAX_ERROR_CHARS] if row["error"] else None
        with write(self.conn):
            self.conn.execute(
                f"INSERT INTO llm_calls ({', '.join(LOGGED)}) "
                f"VALUES ({', '.join(':' + name for name in LOGGED)})",
                row,
            )

    def calls(
        self,
        limit: int | None = 50,
        task: str | None = None,
        outcome: str | None = None,
        run_id: str | None = None,
        since: str | datetime | None = None,
    ) -> list[dict]:
        """Logged calls, newest first, each a dict of the llm_calls columns (flags as
        booleans); filters left None match everything, ``limit`` None lists them all."""
        given = {"task": task, "outcome": outcome, "run_id": run_id}
        if since is not None:
            given["since"] = _iso(since)
        wanted = {name: value for name, value in given.items() if value is not None}
        where = " AND ".join(CALL_FILTERS[name] for name in wanted) or "1"
        rows = self.conn.execute(
            f"SELECT * FROM llm_calls WHERE {where} ORDER BY at DESC, id DESC LIMIT ?",
            (*wanted.values(), -1 if limit is None else limit),
        )
        found = []
        for row in rows:
            call = dict(row)
            for flag in FLAGS:
                call[flag] = bool(call[flag])
            found.append(call)
        return found

    def stats(self, by: str = "task", since: str | datetime | None = None) -> list[dict]:
        """One summary per value of column ``by`` (task, model, backend, outcome or run_id),
        most calls first: calls, cache hits and hit rate, outcome counts, tokens, latency
        (average, p50, p95 of the calls that reached a model; None when none did) and
        cost. The value itself is under the key ``by``. ``since`` counts only calls logged
        from then on."""
        if by not in STAT_GROUPS:
            raise SpecqlError(f"cannot group LLM calls by {by!r}: one of {', '.join(STAT_GROUPS)}")
        where, args = _logged_since(since)
        groups = self.conn.execute(
            f"SELECT {by} AS value, {SUMMARY_COLUMNS} FROM llm_calls WHERE {where} "
            f"GROUP BY {by} ORDER BY calls DESC, {by}",
            args,
        ).fetchall()
        latencies: dict[str, list[float]] = {}
        for value, ms in self.conn.execute(
            f"SELECT {by}, latency_ms FROM llm_calls WHERE {TIMED_CALLS} AND {where} ORDER BY 1, 2",
            args,
        ):
            latencies.setdefault(value, []).append(ms)
        return [
            {by: row["value"], **self._summary(row, latencies.get(row["value"], []))}
            for row in groups
        ]

    def totals(self, since: str | datetime | None = None) -> dict:
        """The :meth:`stats` summary over every logged call, or every call logged from
        ``since`` on (zeros when there are none)."""
        where, args = _logged_since(since)
        row = self.conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM llm_calls WHERE {where}", args
        ).fetchone()
        timed = self.conn.execute(
            f"SELECT latency_ms FROM llm_calls WHERE {TIMED_CALLS} AND {where} ORDER BY 1", args
        ).fetchall()
        return self._summary(row, [ms for (ms,) in timed])

    def prune(self, before: str | datetime) -> int:
        """Forget the calls logged before ``before``; returns how many there were."""
        with write(self.conn):
            return self.conn.execute("DELETE FROM llm_calls WHERE at < ?", (_iso(before),)).rowcount

    @staticmethod
    def _summary(row: sqlite3.Row, ordered_latencies: list[float]) -> dict:
        summary = dict(row)
        summary.pop("value", None)  # a group's value: the caller files it under its column
        calls = summary["calls"]
        summary["hit_rate"] = summary["cache_hits"] / calls if calls else 0.0
        return {**summary, **_latency(ordered_latencies)}
