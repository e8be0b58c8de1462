"""What a function's statements do, as short plain-English phrases: the words a legacy function
is searched for in the pattern library with (with its name and the words of its body).

:func:`retrieval_features` reads the :class:`~specql.reverse.facts.FunctionFacts` the map
stage extracts anyway and describes statement *shapes* ("a row trigger", "updates stock
adding to a column", "loops over a query"). It never names a library pattern and never asks
the heuristic detectors: retrieval is meant to be a second, independent opinion, so its
query must not carry their verdicts.

Each describer in :data:`DESCRIBERS` looks at one aspect; the phrases come out in that order,
each once, at most :data:`MAX_FEATURES` of them. It is a single pass over facts already made
(no parsing), a few microseconds per function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from specql.reverse.facts import FunctionFacts, Stmt
from specql.reverse.parse_queries import SetItem, WriteFact, is_dynamic
from specql.reverse.source import TriggerInfo
from specql.sqltext import identifier_words

MAX_FEATURES = 16
MAX_NAMED_COLUMNS = 3  # columns named in one phrase ("sets status, updated_at of the new row")

# What an UPDATE assigns (SetItem.value), as the words of a phrase about one column.
_SET_PHRASES = {
    "inc": "updates {table} adding to {column}",
    "dec": "updates {table} subtracting from {column}",
    "now": "sets {column} to the current time",
    "user": "records the current user in {column}",
    "true": "sets the flag {column} to true",
    "false": "sets the flag {column} to false",
    "null": "clears {column}",
    "record": "copies {column} from the changed row",
}
_LOOPS = {
    "query": "loops over a query",
    "range": "loops over a range of numbers",
    "array": "loops over an array",
    "while": "repeats while a condition holds",
    "loop": "repeats in a loop until it exits",
}
_NOTICE_LEVELS = frozenset({"notice", "warning", "info", "log", "debug"})
_OPERATIONS = ("insert", "update", "delete", "truncate")

Describer = Callable[[FunctionFacts, tuple[TriggerInfo, ...]], Iterable[str]]
DESCRIBERS: list[Describer] = []


def describer(fn: Describer) -> Describer:
    DESCRIBERS.append(fn)
    return fn


def retrieval_features(facts: FunctionFacts, triggers: Iterable[TriggerInfo] = ()) -> list[str]:
    """Plain-English phrases for what the statements of the function do (see the module)."""
    found: dict[str, None] = {}
    trig = tuple(triggers)
    for describe in DESCRIBERS:
        for phrase in describe(facts, trig):
            found.setdefault(phrase)
            if len(found) >= MAX_FEATURES:
                return list(found)
    return list(found)


# --------------------------------------------------------------------------- helpers


def _words(name: str) -> str:
    """A table or column as words, without its schema, record or ``tb_`` prefix:
    ``shop.order_history`` -> ``order history``; ``new.updated_at`` -> ``updated at``."""
    return identifier_words(name.rsplit(".", 1)[-1].removeprefix("tb_"))


def _listed(names: Iterable[str]) -> str:
    unique = list(dict.fromkeys(n for n in names if n))
    shown = unique[:MAX_NAMED_COLUMNS]
    if len(shown) > 1:
        return ", ".join(shown[:-1]) + " and " + shown[-1]
    return shown[0] if shown else ""


def _record(operand: str) -> tuple[str, str] | None:
    """``new.status`` -> ``('new', 'status')``; anything else -> None."""
    head, dot, column = operand.partition(".")
    if dot and head in ("new", "old") and column and "." not in column:
        return head, column
    return None


def _writes(facts: FunctionFacts) -> Iterator[tuple[Stmt, WriteFact]]:
    for s, w in facts.writes():
        if w.table and not is_dynamic(w.table):
            yield s, w


# --------------------------------------------------------------------------- describers


@describer
def _trigger(facts: FunctionFacts, triggers: tuple[TriggerInfo, ...]) -> Iterator[str]:
    if not facts.is_trigger:
        return
    levels = {t.for_each.lower() for t in triggers}
    level = "statement" if levels == {"statement"} else "row"
    timing = " or ".join(sorted(facts.trigger_timing))
    yield f"{timing} {level} trigger" if timing else f"{level} trigger"
    events = [e for e in _OPERATIONS if e in facts.trigger_events]
    if events:
        yield f"runs on {_listed(events)}"
    branches = {
        right.lower()
        for g in facts.conditions
        for left, _, right in g.facts.comparisons
        if left == "tg_op"
    }
    if len(branches) > 1:
        yield "does something different for each operation"


@describer
def _row_values(facts: FunctionFacts, _: tuple[TriggerInfo, ...]) -> Iterator[str]:
    changed: list[str] = []
    for g in facts.conditions:
        for left, _op, right in g.facts.comparisons:
            a, b = _record(left), _record(right)
            if a and b and a[0] != b[0] and a[1] == b[1]:
                changed.append(_words(a[1]))
    if changed:
        yield f"compares old and new values of {_listed(changed)}"
    set_new = [
        _words(t) for s in facts.record_assignments for t in s.targets if t.startswith("new.")
    ]
    if set_new:
        yield f"sets {_listed(set_new)} of the new row"
    for s in facts.of_kind("return"):
        word = s.text.strip().lower()
        if word in ("new", "old"):
            yield f"returns the {word} row"
        elif word == "null" and facts.is_trigger:
            yield "cancels the operation by returning null"


@describer
def _checks(facts: FunctionFacts, _: tuple[TriggerInfo, ...]) -> Iterator[str]:
    for s in facts.of_kind("raise", "assert"):
        if s.level == "exception":
            if s.in_handler:
                yield "raises an error from an error handler"
            elif s.guards or s.kind == "assert":
                yield "raises an error when a check fails"
            else:
                yield "raises an error"
        elif s.level in _NOTICE_LEVELS:
            yield "logs a notice"
    for g in facts.conditions:
        if g.tests_found is not None:
            yield "checks whether the previous query found a row"
        elif g.facts.exists_subquery:
            yield "checks whether a matching row exists"
    if any(kind.lower() == "row_count" for kind, _ in facts.diagnostics):
        yield "counts the rows a statement changed"


@describer
def _statements(facts: FunctionFacts, _: tuple[TriggerInfo, ...]) -> Iterator[str]:
    for s, w in _writes(facts):
        table = _words(w.table)
        if w.op == "insert":
            yield f"inserts into {table}"
            if w.whole_row:
                yield "stores a whole row as data"
            for record, used in (("old", w.uses_old), ("new", w.uses_new)):
                if used:
                    yield f"copies {record} row values into {table}"
            if w.uses_tg:
                yield "records which operation fired the trigger"
            if w.on_conflict == "update":
                yield "insert on conflict update"
            elif w.on_conflict == "nothing":
                yield "insert on conflict do nothing"
        elif w.op == "update":
            yield f"updates {table}"
            yield from _set_phrases(table, [i for i in s.query.sets if _same(i, w)])
        elif w.op == "delete":
            yield f"deletes from {table}"
        if s.in_loop:
            yield "writes rows inside a loop"


def _same(item: SetItem, write: WriteFact) -> bool:
    return not item.table or item.table == write.table


def _set_phrases(table: str, items: list[SetItem]) -> Iterator[str]:
    for item in items:
        template = _SET_PHRASES.get(item.value)
        if template is not None:
            yield template.format(table=table, column=_words(item.column))


@describer
def _queries(facts: FunctionFacts, _: tuple[TriggerInfo, ...]) -> Iterator[str]:
    for _s, q in facts.queries():
        if q.aggregates:
            yield f"aggregates with {'/'.join(dict.fromkeys(q.aggregates))}"
        if q.recursive_cte:
            yield "recursive query"
        if q.notify_channels or "pg_notify" in q.calls:
            yield "sends a notification"
        for kind, _name in q.ddl:
            yield f"runs ddl: {kind.replace('_', ' ')}"
    for s in facts.of_kind("loop", "while"):
        yield _LOOPS["while" if s.kind == "while" else _loop_kind(s)]
    if any(True for _ in facts.of_kind("return_query", "return_next")):
        yield "returns a set of rows"
    if any(s.dynamic for s in facts.statements):
        yield "runs dynamic sql"
    if facts.exception_conditions:
        yield f"catches errors: {_listed(c.replace('_', ' ') for c in facts.exception_conditions)}"


def _loop_kind(s: Stmt) -> str:
    """What a loop statement iterates over (its body's statements carry that as
    ``loop_kind``; the loop statement itself only has its header)."""
    if s.query.kind in ("select", "insert", "update", "delete"):
        return "query"
    text = s.text.lower()
    if text.startswith("while"):  # a WHILE the token-level path saw as a loop
        return "while"
    if ".." in text or (s.targets and not text):  # FOR i IN 1..n (the AST keeps no text)
        return "range"
    if text.startswith("foreach") or s.query.kind == "expr":  # FOREACH x IN ARRAY <expr>
        return "array"
    return "loop"


@describer
def _reads(facts: FunctionFacts, _: tuple[TriggerInfo, ...]) -> Iterator[str]:
    if not any(True for _ in _writes(facts)):
        tables = [_words(t) for t in facts.tables_read if not is_dynamic(t)]
        if tables:
            yield f"only reads {_listed(tables)}"


__all__ = ["DESCRIBERS", "MAX_FEATURES", "describer", "retrieval_features"]
