"""`specql logs list | stats | prune` over a library holding known calls: tables and JSON,
filters, the total row, times given as spans or ISO dates, forgetting old calls and cached
answers, an empty log, and misuse of the options."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from specql import api
from specql.cli.main import cli
from specql.llm.client import CallRecord
from specql.store import fts5_available

pytestmark = pytest.mark.skipif(
    not fts5_available(), reason="this Python's sqlite3 has no FTS5, which the library needs"
)

# task, backend, outcome, cache hit, latency ms (None: no model called), tokens in/out, cost,
# run; logged in order.
CALLS = [
    ("intent", "llamacpp", "invalid", False, 120.0, 300, 40, 0.0, "run-one"),
    ("intent", "llamacpp", "valid", False, 80.0, 350, 30, 0.0, "run-one"),
    ("names", "llamacpp", "valid", True, None, 0, 0, 0.0, "run-one"),
    ("intent", "openai", "valid", False, 900.0, 400, 30, 0.0125, "run-two"),
]


def invoke(library: Path, *args: str):
    return CliRunner().invoke(cli, ["logs", *args, "--library", str(library)])


def ok_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows(result) -> list[list[str]]:
    """The table's body rows as words, below the header's rule."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    return [line.split() for line in lines[rule + 1 :] if line.strip()]


@pytest.fixture
def library(tmp_path) -> Path:
    path = tmp_path / "library.db"
    with api.llm_call_store(path) as store:
        for task, backend, outcome, hit, ms, t_in, t_out, cost, run in CALLS:
            store.log_call(
                CallRecord(
                    task=task,
                    backend=backend,
                    model=f"{backend}:small",
                    prompt_hash="feedfacecafebeef",
                    outcome=outcome,
                    tokens_in=t_in,
                    tokens_out=t_out,
                    latency_ms=ms,
                    cache_hit=hit,
                    cost_usd=cost,
                    error="not json" if outcome == "invalid" else None,
                    run_id=run,
                )
            )
    return path


def test_list_shows_the_calls_newest_first(library) -> None:
    result = invoke(library, "list")
    header = result.stdout.splitlines()[0].split()
    assert header[:2] == ["time", "(UTC)"] and "cache" in header and "$" in header
    body = rows(result)
    assert [r[2] for r in body] == ["intent", "names", "intent", "intent"]  # after date, time
    newest = body[0]
    assert newest[3:6] == ["openai", "openai:small", "valid"]
    assert newest[6:] == ["400", "30", "900.0", "0.0125"]  # tokens, ms, no cache hit, cost
    assert body[1][6:] == ["0", "0", "-", "hit", "0.0000"]


def test_list_filters_and_limit(library) -> None:
    def tasks_and_outcomes(*args: str) -> list[tuple[str, str]]:
        return [
            (c["task"], c["outcome"]) for c in ok_json(invoke(library, "list", *args, "--json"))
        ]

    assert tasks_and_outcomes("--task", "intent", "--outcome", "valid") == [
        ("intent", "valid"),
        ("intent", "valid"),
    ]
    assert tasks_and_outcomes("--outcome", "invalid") == [("intent", "invalid")]
    assert tasks_and_outcomes("--run", "run-two") == [("intent", "valid")]
    assert len(tasks_and_outcomes("--limit", "2")) == 2
    assert len(rows(invoke(library, "list", "--limit", "3"))) == 3


def test_list_json_has_every_column(library) -> None:
    calls = ok_json(invoke(library, "list", "--json"))
    assert len(calls) == len(CALLS)
    oldest = calls[-1]
    assert oldest["error"] == "not json" and oldest["run_id"] == "run-one"
    assert oldest["cache_hit"] is False and calls[1]["cache_hit"] is True
    assert {"id", "at", "attempt", "escalated", "prompt_hash", "latency_ms"} <= set(oldest)


def test_stats_by_task_with_a_total(library) -> None:
    body = rows(invoke(library, "stats"))
    by_name = {r[0]: r for r in body if r[0] != "total" and set(r[0]) != {"─"}}
    assert by_name["intent"][1:4] == ["3", "0", "0.0"]  # calls, hits, hit %
    assert by_name["names"][1:4] == ["1", "1", "100.0"]
    total = next(r for r in body if r[0] == "total")
    assert total[1:4] == ["4", "1", "25.0"] and total[-1] == "0.0125"
    assert total[8:10] == ["1,050", "100"]  # tokens in and out


def test_stats_json_numbers(library) -> None:
    stats = ok_json(invoke(library, "stats", "--json"))
    assert stats["by"] == "task"
    intent = next(g for g in stats["groups"] if g["task"] == "intent")
    assert (intent["valid"], intent["invalid"], intent["cache_hits"]) == (2, 1, 0)
    assert intent["latency_p50_ms"] == pytest.approx(120.0)
    assert intent["latency_avg_ms"] == pytest.approx((120 + 80 + 900) / 3)
    assert stats["total"]["calls"] == 4 and stats["total"]["hit_rate"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("by", "column", "expected"),
    [
        ("run", "run_id", {"run-one": 3, "run-two": 1}),
        ("backend", "backend", {"llamacpp": 3, "openai": 1}),
        ("model", "model", {"llamacpp:small": 3, "openai:small": 1}),
        ("outcome", "outcome", {"valid": 3, "invalid": 1}),
    ],
)
def test_stats_by_other_groupings(library, by, column, expected) -> None:
    stats = ok_json(invoke(library, "stats", "--by", by, "--json"))
    assert stats["by"] == column
    assert {g[column]: g["calls"] for g in stats["groups"]} == expected
    header = invoke(library, "stats", "--by", by).stdout.splitlines()[0].split()
    assert header[:2] == [by, "calls"]


def test_an_empty_log_says_so(tmp_path) -> None:
    library = tmp_path / "library.db"
    for command in ("list", "stats"):
        result = invoke(library, command)
        assert result.exit_code == 0, result.output
        assert result.stdout == "no LLM calls logged yet\n"
    assert ok_json(invoke(library, "list", "--json")) == []
    empty = ok_json(invoke(library, "stats", "--json"))
    assert empty["groups"] == [] and empty["total"]["calls"] == 0


def test_filters_matching_nothing_say_so(library) -> None:
    result = invoke(library, "list", "--task", "no_such_task")
    assert result.exit_code == 0 and result.stdout == "no LLM calls match\n"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("stats", "--by", "prompt"), "'--by'"),
        (("list", "--outcome", "maybe"), "'--outcome'"),
        (("list", "--limit", "0"), "'--limit'"),
        (("list", "--since", "yesterday"), "neither a span like 7d or 12h nor an ISO date"),
        (("stats", "--since", "7y"), "'--since'"),
        (("prune", "--before", "2026-13-01"), "'--before'"),
        (("prune",), "say what to forget: --before WHEN, --cache, or both"),
    ],
)
def test_bad_options_are_usage_errors(library, args, complaint) -> None:
    result = invoke(library, *args)
    assert result.exit_code == 2
    assert complaint in result.stderr and "Traceback" not in result.output


def test_help_gives_examples() -> None:
    for command in ([], ["list"], ["stats"], ["prune"]):
        args = ["logs", *command, "--help"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "specql logs " in result.stdout


def _log_days(library: Path, days_ago: dict[str, int]) -> None:
    """Each run's calls logged that many days ago (at the time of day of now)."""
    conn = sqlite3.connect(library)
    with conn:
        for run, days in days_ago.items():
            at = datetime.now(UTC) - timedelta(days=days)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            conn.execute("UPDATE llm_calls SET at = ? WHERE run_id = ?", (stamp, run))
    conn.close()


def test_since_takes_a_span_or_an_iso_date(library) -> None:
    _log_days(library, {"run-one": 10, "run-two": 1})
    recent = ok_json(invoke(library, "list", "--since", "2d", "--json"))
    assert [c["run_id"] for c in recent] == ["run-two"]
    assert len(ok_json(invoke(library, "list", "--since", "3w", "--json"))) == 4
    five_days_ago = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    stats = ok_json(invoke(library, "stats", "--since", five_days_ago, "--by", "run", "--json"))
    assert [(g["run_id"], g["calls"]) for g in stats["groups"]] == [("run-two", 1)]
    assert stats["total"]["cost_usd"] == pytest.approx(0.0125)
    nothing = invoke(library, "stats", "--since", "30m")
    assert nothing.exit_code == 0 and nothing.stdout == "no LLM calls logged since then\n"
    assert invoke(library, "list", "--since", "30m").stdout == "no LLM calls match\n"


def test_prune_forgets_calls_before_a_moment(library) -> None:
    _log_days(library, {"run-one": 10, "run-two": 1})
    result = invoke(library, "prune", "--before", "7d")
    assert result.exit_code == 0 and result.stdout == "forgot 3 logged call(s)\n"
    assert [c["run_id"] for c in ok_json(invoke(library, "list", "--json"))] == ["run-two"]
    again = ok_json(invoke(library, "prune", "--before", "7d", "--json"))
    assert again == {"calls": 0, "cached_answers": 0}


def test_prune_cache_forgets_the_cached_answers_only_when_asked(library) -> None:
    with api.llm_call_store(library) as store:
        store.cache_answer("k1", "llamacpp:small", '{"answer": 1}')
        store.cache_answer("k2", "llamacpp:small", '{"answer": 2}')
    kept = ok_json(invoke(library, "prune", "--before", "2000-01-01", "--json"))
    assert kept == {"calls": 0, "cached_answers": 0}
    with api.llm_call_store(library) as store:
        assert store.cached_answer("k1") == '{"answer": 1}'
    result = invoke(library, "prune", "--cache")
    assert result.exit_code == 0
    assert result.stdout == "forgot 0 logged call(s) and 2 cached answer(s)\n"
    with api.llm_call_store(library) as store:
        assert store.cached_answer("k1") is None
    assert len(ok_json(invoke(library, "list", "--json"))) == len(CALLS)  # the log is kept
