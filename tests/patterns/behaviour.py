"""Runs the ``tests.behaviour`` steps of a domain pattern on a real PostgreSQL.

A step is one mapping (docs/pattern-library.md, "Tier 2"):

- ``sql: <statement>`` [``expect: <value>``]: run it; ``expect`` is the first column of the
  first row. ``%(tenant)s``, ``%(other_tenant)s``, ``%(user)s`` and ``%(other_user)s`` stand
  for the fixed UUIDs below (multi-tenant examples write ``tenant_id`` with them).
- ``call: <action>`` of the example entity, with ``instance`` (identifier of the row passed as
  ``p_id``, deleted rows included), ``params`` (``p_<name>`` by name; a value
  ``{sql: SELECT ...}`` is the result of that query), ``tenant: other`` / ``user: other``,
  ``expect: success | error:<code>``, ``message`` and ``data`` (a subset of ``object_data``).
- ``notified: <channel>``, ``expect: <count>`` [``payload``: a subset of each payload]: the
  notifications on that channel since the last ``notified`` step of it.

The runner works in autocommit, so each step is its own transaction, as a caller's would be.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PLACEHOLDERS = {
    "tenant": "00000000-0000-0000-0000-000000000001",
    "other_tenant": "00000000-0000-0000-0000-000000000002",
    "user": "00000000-0000-0000-0000-0000000000a1",
    "other_user": "00000000-0000-0000-0000-0000000000a2",
}


class BehaviourFailure(AssertionError):
    """A behaviour step did not do what the pattern file says; names the step."""


@dataclass
class Example:
    """Where the example entity lives: its actions are ``<schema>.fn_<schema>_<action>``."""

    schema: str
    table: str
    multi_tenant: bool


@dataclass
class Runner:
    conn: Any  # a psycopg connection in autocommit mode
    example: Example
    pattern: str
    _pending: dict[str, list[dict]] = field(default_factory=dict)

    def run(self, steps: list[Mapping]) -> None:
        channels = sorted({s["notified"] for s in steps if "notified" in s})
        for channel in channels:
            self.conn.execute(f'LISTEN "{channel}"')
            self._pending[channel] = []
        for number, step in enumerate(steps, start=1):
            try:
                self.step(step)
            except BehaviourFailure as exc:
                raise BehaviourFailure(
                    f"pattern {self.pattern}, behaviour step {number} {dict(step)}: {exc}"
                ) from None
            except Exception as exc:  # a database error: say which step caused it
                raise BehaviourFailure(
                    f"pattern {self.pattern}, behaviour step {number} {dict(step)}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc

    def step(self, step: Mapping) -> None:
        kinds = [k for k in ("sql", "call", "notified") if k in step]
        if len(kinds) != 1:
            raise BehaviourFailure("a step has exactly one of sql, call, notified")
        getattr(self, f"step_{kinds[0]}")(step)

    # ------------------------------------------------------------------ step kinds

    def step_sql(self, step: Mapping) -> None:
        row = self._query(step["sql"])
        if "expect" in step:
            got = row[0] if row else None
            _same(got, step["expect"], "first column")

    def step_call(self, step: Mapping) -> None:
        ex = self.example
        args: dict[str, Any] = {}
        if ex.multi_tenant:
            args["p_tenant_id"] = PLACEHOLDERS[_who(step, "tenant")]
        args["p_user_id"] = PLACEHOLDERS[_who(step, "user")]
        if "instance" in step:
            args["p_id"] = self._instance_id(step["instance"])
        for name, value in (step.get("params") or {}).items():
            args[f"p_{name}"] = self._value(value)
        named = ", ".join(f"{name} => %({name})s" for name in args)
        sql = (
            f"SELECT (r).status, (r).message, (r).object_data "
            f"FROM {ex.schema}.fn_{ex.schema}_{step['call']}({named}) AS r"
        )
        status, message, data = self.conn.execute(sql, args).fetchone()
        if status != step.get("expect", "success"):
            raise BehaviourFailure(
                f"status {status!r} ({message}), expected {step.get('expect')!r}"
            )
        if "message" in step:
            _same(message, step["message"], "message")
        for key, want in (step.get("data") or {}).items():
            if not isinstance(data, dict) or key not in data:
                raise BehaviourFailure(f"object_data has no {key!r}: {data!r}")
            _same(data[key], want, f"object_data.{key}")

    def step_notified(self, step: Mapping) -> None:
        channel = step["notified"]
        # Notifications of a committed step are already there; the timeout only bounds the wait.
        for note in self.conn.notifies(timeout=0.1):
            self._pending.setdefault(note.channel, []).append(json.loads(note.payload))
        seen, self._pending[channel] = self._pending[channel], []
        if len(seen) != step.get("expect", 1):
            raise BehaviourFailure(f"{len(seen)} notification(s) on {channel}: {seen}")
        for payload in seen:
            for key, want in (step.get("payload") or {}).items():
                _same(payload.get(key), want, f"payload.{key}")

    # ------------------------------------------------------------------ helpers

    def _query(self, sql: str) -> tuple | None:
        cur = self.conn.execute(sql, PLACEHOLDERS) if "%(" in sql else self.conn.execute(sql)
        return cur.fetchone() if cur.description else None

    def _instance_id(self, identifier: str) -> str:
        ex = self.example
        row = self.conn.execute(
            f"SELECT id FROM {ex.schema}.{ex.table} WHERE identifier = %s", (identifier,)
        ).fetchone()
        if row is None:
            raise BehaviourFailure(f"no row with identifier {identifier!r} in {ex.table}")
        return str(row[0])

    def _value(self, value: Any) -> Any:
        if isinstance(value, Mapping) and set(value) == {"sql"}:
            row = self._query(value["sql"])
            return row[0] if row else None
        if isinstance(value, float):  # numeric, not double precision: no implicit cast to it
            return Decimal(str(value))
        if isinstance(value, (dict, list)):
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value


def _who(step: Mapping, role: str) -> str:
    which = step.get(role, "")
    if which not in ("", "other"):
        raise BehaviourFailure(f"{role}: must be 'other' when given, not {which!r}")
    return f"other_{role}" if which else role


def _same(got: Any, want: Any, what: str) -> None:
    """Equal, comparing as text when the types differ (Decimal vs int, UUID vs str...)."""
    if got == want or (got is not None and want is not None and str(got) == str(want)):
        return
    raise BehaviourFailure(f"{what} is {got!r}, expected {want!r}")
