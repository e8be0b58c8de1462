"""`specql logs list | stats` over a library holding known calls: tables and JSON, filters,
the total row, an empty log, and misuse of the options."""

from __future__ import annotations

import json
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

# task, backend, outcome, cache hit, latency ms, tokens in/out, cost, run; logged in order.
CALLS = [
    ("intent", "llamacpp", "invalid", False, 120.0, 300, 40, 0.0, "run-one"),
    ("intent", "llamacpp", "valid", False, 80.0, 350, 30, 0.0, "run-one"),
    ("names", "llamacpp", "valid", True, 0.4, 0, 0, 0.0, "run-one"),
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
    assert body[1][6:] == ["0", "0", "0.4", "hit", "0.0000"]


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
    ],
)
def test_bad_options_are_usage_errors(library, args, complaint) -> None:
    result = invoke(library, *args)
    assert result.exit_code == 2
    assert complaint in result.stderr and "Traceback" not in result.output


def test_help_gives_examples() -> None:
    for args in (["logs", "--help"], ["logs", "list", "--help"], ["logs", "stats", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "specql logs " in result.stdout
