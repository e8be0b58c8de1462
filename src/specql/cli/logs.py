"""``specql logs …``: what the LLM layer did, from the call log in the library file.

``list`` shows the latest calls (one row per attempt of a task on a model, cached or not);
``stats`` sums them up by task, model, backend, outcome or run; ``prune`` forgets old calls
(and, when asked, the cached answers). Each takes ``--library PATH`` and ``--json``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click
from rich import box
from rich.console import Console
from rich.table import Table

from specql import api
from specql.cli.output import emit_json
from specql.cli.patterns import json_option, library_option
from specql.store.llm_log import OUTCOMES

# --by choices and the log column each groups by.
GROUPS = {
    "task": "task",
    "model": "model",
    "backend": "backend",
    "outcome": "outcome",
    "run": "run_id",
}
PIPE_WIDTH = 160  # a table written to a pipe or file is not cut to 80 columns


class Moment(click.ParamType):
    """A point in time: a span back from now (``30m``, ``12h``, ``7d``, ``2w``) or an ISO
    date or time (``2026-11-01``, ``2026-11-01T08:00``; UTC unless it names a zone)."""

    name = "when"
    SPAN = re.compile(r"(\d+)\s*([mhdw])")
    UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        text = value.strip()
        if span := self.SPAN.fullmatch(text):
            amount, unit = span.groups()
            return datetime.now(UTC) - timedelta(**{self.UNITS[unit]: int(amount)})
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is neither a span like 7d or 12h nor an ISO date or time")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


WHEN = Moment()
since_option = click.option(
    "--since", type=WHEN, help="Only calls from then on: 12h, 7d or an ISO date/time."
)


def _number(value, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


# (title, how a call shows in the column, right-aligned)
CALL_COLUMNS = [
    ("time (UTC)", lambda c: c["at"][:19].replace("T", " "), False),
    ("task", lambda c: c["task"], False),
    ("backend", lambda c: c["backend"], False),
    ("model", lambda c: c["model"], False),
    ("outcome", lambda c: c["outcome"], False),
    ("tokens in", lambda c: _number(c["tokens_in"]), True),
    ("out", lambda c: _number(c["tokens_out"]), True),
    ("ms", lambda c: _number(c["latency_ms"], 1), True),
    ("cache", lambda c: "hit" if c["cache_hit"] else "", False),
    ("cost $", lambda c: _number(c["cost_usd"], 4), True),
]

# (title, how a summary shows in the column); the first column is the group's value.
STAT_COLUMNS = [
    ("calls", lambda s: _number(s["calls"])),
    ("hits", lambda s: _number(s["cache_hits"])),
    ("hit %", lambda s: _number(100 * s["hit_rate"], 1)),
    *((outcome, lambda s, o=outcome: _number(s[o])) for outcome in OUTCOMES),
    ("tokens in", lambda s: _number(s["tokens_in"])),
    ("out", lambda s: _number(s["tokens_out"])),
    ("avg ms", lambda s: _number(s["latency_avg_ms"], 1)),
    ("p50 ms", lambda s: _number(s["latency_p50_ms"], 1)),
    ("p95 ms", lambda s: _number(s["latency_p95_ms"], 1)),
    ("cost $", lambda s: _number(s["cost_usd"], 4)),
]


def _print(table: Table) -> None:
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=PIPE_WIDTH)
    console.print(table)


def _table(**options) -> Table:
    return Table(box=box.SIMPLE, pad_edge=False, show_edge=False, **options)


@click.group("logs")
def logs_group() -> None:
    """The LLM call log: every attempt of a task on a model (cached or not), its outcome,
    tokens, latency and cost, kept in the library file.

    \b
    Examples:
      specql logs list --task intent --limit 20
      specql logs stats --by model
    """


@logs_group.command("list")
@click.option("--task", help="Only calls of this task, e.g. intent.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only calls with this outcome.")
@click.option("--run", "run_id", help="Only calls of this run (its id, as `stats --by run` shows).")
@since_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many calls to show, newest first.",
)
@library_option
@json_option
def list_cmd(task, outcome, run_id, since, limit, library, as_json) -> None:
    """The latest LLM calls, newest first: time, task, backend, model, outcome, tokens in
    and out, latency, cache hit and cost (--json adds the run, attempt and error).

    \b
    Examples:
      specql logs list
      specql logs list --outcome invalid --task names --since 2d --json
    """
    calls = api.llm_calls(
        library, limit=limit, task=task, outcome=outcome, run_id=run_id, since=since
    )
    if as_json:
        emit_json(calls)
        return
    if not calls:
        filtered = any(value is not None for value in (task, outcome, run_id, since))
        click.echo("no LLM calls match" if filtered else "no LLM calls logged yet")
        return
    table = _table()
    for title, _, right in CALL_COLUMNS:
        table.add_column(title, justify="right" if right else "left", no_wrap=True)
    for call in calls:
        table.add_row(*(show(call) for _, show, _ in CALL_COLUMNS))
    _print(table)


@logs_group.command("stats")
@click.option(
    "--by",
    type=click.Choice(list(GROUPS)),
    default="task",
    show_default=True,
    help="What to sum the calls up by.",
)
@since_option
@library_option
@json_option
def stats_cmd(by, since, library, as_json) -> None:
    """LLM calls summed up: calls, cache hits and hit rate, outcomes, tokens, latency of
    the calls that reached a model (average, p50, p95) and cost, with a total.

    \b
    Examples:
      specql logs stats
      specql logs stats --by run --since 7d --json
    """
    stats = api.llm_stats(library, by=GROUPS[by], since=since)
    if as_json:
        emit_json(stats)
        return
    if not stats["groups"]:
        click.echo("no LLM calls logged since then" if since else "no LLM calls logged yet")
        return
    table = _table(show_footer=True)
    table.add_column(by, footer="total", no_wrap=True)
    for title, show in STAT_COLUMNS:
        table.add_column(title, footer=show(stats["total"]), justify="right", no_wrap=True)
    for group in stats["groups"]:
        value = group[stats["by"]]
        table.add_row(value or "-", *(show(group) for _, show in STAT_COLUMNS))
    _print(table)


@logs_group.command("prune")
@click.option(
    "--before",
    type=WHEN,
    help="Forget the calls logged before then: 30d, 12h or an ISO date/time.",
)
@click.option("--cache", is_flag=True, help="Also forget every cached model answer.")
@library_option
@json_option
def prune_cmd(before, cache, library, as_json) -> None:
    """Forget old LLM calls, and with --cache the cached answers (the next run asks the
    model again). The log otherwise keeps every call; the cache drops the answers used
    least recently once it is full.

    \b
    Examples:
      specql logs prune --before 30d
      specql logs prune --before 2026-01-01 --cache --json
    """
    if before is None and not cache:
        raise click.UsageError("say what to forget: --before WHEN, --cache, or both")
    removed = api.prune_llm_log(library, before=before, cache=cache)
    if as_json:
        emit_json(removed)
        return
    click.echo(
        f"forgot {removed['calls']:,} logged call(s)"
        + (f" and {removed['cached_answers']:,} cached answer(s)" if cache else "")
    )
