"""State of mapping one function to steps, shared by the statement handlers.

:class:`MapContext` holds what the handlers need (the translator, names, the generated frame,
the action's own entity table) and keeps the counts the confidence is computed from: every
PL/pgSQL statement is counted once, as converted (it became part of a non-raw step or was a
framework idiom with no step of its own) or not (it became a ``raw_sql`` step, with its reason
in :attr:`MapContext.unconverted`).

Each produced step gets a :class:`StepMeta`: the statements it came from (to turn it back into
``raw_sql`` when a later check rejects it) and the spec variables its expressions read.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from specql.dsl.model import RawSqlStep, Step, TypeRef
from specql.errors import SourcePos
from specql.reverse.body import BodyText, children, kind_of, lineno
from specql.reverse.confidence import NOTE
from specql.reverse.entity_tables import EntityTable, EntityTables
from specql.reverse.framework import Frame
from specql.reverse.source import FunctionInfo, Unconverted
from specql.reverse.sqlmap import Found, Name, Names, Translator

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class StepMeta:
    statements: list[dict]  # PL/pgSQL statements the step was made from
    reads: set[str] = field(default_factory=set)  # spec variables its own expressions read
    count: int = 1  # statements it stands for (nested ones included)
    part_of_parent: bool = False  # an ELSIF/WHEN branch: rejecting it rejects the whole IF


@dataclass
class VarDecl:
    """A declared PL/pgSQL variable as the spec will know it."""

    sql: str
    spec: str
    type: TypeRef | None
    type_text: str  # as declared, for messages
    default: str | None = None  # spec expression
    default_needs_assign: bool = False  # the default reads more than params and constants
    line: int = 0
    record: bool = False
    default_source: str | None = None  # the DECLARE default as written
    default_raw: RawSqlStep | None = None  # a default with no SpecQL form, as raw_sql


@dataclass
class Result:
    steps: list[Step]
    consumed: int = 1  # statements of the list the steps stand for
    found: Found | None = None  # what FOUND means for the next statement


class MapContext:
    def __init__(
        self,
        fn: FunctionInfo,
        tables: EntityTables,
        names: Names,
        translator: Translator,
        body: BodyText,
        datums: list[dict],
        frame: Frame | None,
        own: EntityTable | None,
    ) -> None:
        self.fn = fn
        self.tables = tables
        self.names = names
        self.tr = translator
        self.body = body
        self.datums = datums
        self.frame = frame
        self.own = own
        self.file = fn.pos.file if fn.pos else ""
        self.written: Counter[str] = Counter()
        self.meta: dict[int, StepMeta] = {}
        self.variables: dict[str, VarDecl] = {}  # by SQL name
        self.last_statement: dict | None = None  # the last top-level statement
        self.returned_ids: set[str] = set()  # variables set by INSERT … RETURNING id INTO
        self.single_column: set[int] = set()  # ids of query steps that select one column
        self.new_records: set[str] = set()  # record variables the mapping introduced
        self.pending_found: Found | None = None
        self.notes: list[Unconverted] = []  # what changed on the way (types, dropped locks)
        self._noted: dict[int, int] = {}  # index in notes -> id of the statement it is about

    # ---- positions and text

    def pos(self, stmt: dict) -> SourcePos:
        line = lineno(stmt)
        if self.fn.body_line and line:
            line = self.fn.body_line + line - 1
        return SourcePos(self.file, line, 0)

    def text(self, stmts: list[dict]) -> str:
        parts = []
        for stmt in stmts:
            found = self.body.text(stmt)
            parts.append(found if found is not None else fallback_text(stmt))
        return "\n".join(parts)

    # ---- steps

    def record(
        self,
        step: Step,
        statements: list[dict],
        reads: set[str] | None = None,
        count: int | None = None,
    ) -> Step:
        step.pos = self.pos(statements[0])
        self.meta[id(step)] = StepMeta(
            statements, set(reads or ()), count if count is not None else len(statements)
        )
        return step

    def raw(self, statements: list[dict], reason: str) -> RawSqlStep:
        """A raw_sql step for ``statements``; it stands for every statement nested in them.
        The variables its text names count as read by it (a declare goes before it)."""
        step = RawSqlStep(sql=self.text(statements), reason=reason)
        self._drop_notes_of(statements)
        count = sum(count_statements(s) for s in statements)
        words = {w.lower() for w in _WORD.findall(step.sql)}
        reads = {v.spec for sql, v in self.variables.items() if sql in words}
        return self.record(step, statements, reads, count=count)

    def unconverted_of(self, step: RawSqlStep) -> Unconverted:
        return Unconverted(step.pos, step.sql, step.reason)

    # ---- tables touched (a handler that fails half-way rolls back to a snapshot)

    def snapshot(self):
        return Counter(self.written), Counter(self.tr.tables_read), len(self.notes)

    def restore(self, snap) -> None:
        self.written, self.tr.tables_read = Counter(snap[0]), Counter(snap[1])
        del self.notes[snap[2] :]
        self._noted = {n: sid for n, sid in self._noted.items() if n < snap[2]}

    def note(self, stmt: dict, reason: str) -> None:
        """Something the mapping changed that the report should show (not a raw step)."""
        self.notes.append(Unconverted(self.pos(stmt), self.text([stmt]), NOTE + reason))
        self._noted[len(self.notes) - 1] = id(stmt)

    def _drop_notes_of(self, statements: list[dict]) -> None:
        """A note on a statement that ends up raw no longer holds (its text is kept as is)."""
        if not self._noted:
            return
        ids: set[int] = set()
        todo = list(statements)
        while todo:
            stmt = todo.pop()
            ids.add(id(stmt))
            for block in children(stmt):
                todo += block
        gone = {n for n, sid in self._noted.items() if sid in ids}
        if gone:
            self.notes[:] = [u for n, u in enumerate(self.notes) if n not in gone]
            kept = sorted(n for n in self._noted if n not in gone)
            self._noted = {n - sum(1 for g in gone if g < n): self._noted[n] for n in kept}

    def wrote(self, et: EntityTable | str) -> None:
        self.written[et if isinstance(et, str) else et.qualified] += 1

    # ---- names

    def datum(self, varno: int | None) -> dict | None:
        if varno is None or not 0 <= varno < len(self.datums):
            return None
        return self.datums[varno]

    def name_of_target(self, target: dict | None) -> list[tuple[str, Name | None]]:
        """SQL names (and their meaning) of an INTO/FOR target (a rec, var or row)."""
        if not target:
            return []
        ((kind, node),) = target.items()
        if kind == "PLpgSQL_row":
            return [(f["name"], self.names.get(f["name"])) for f in node.get("fields") or ()]
        refname = node.get("refname", "")
        return [(refname, self.names.get(refname))]


def is_synthetic(stmt: dict) -> bool:
    """The RETURN PL/pgSQL appends to a body that may end without one (no line number)."""
    return kind_of(stmt) == "PLpgSQL_stmt_return" and not lineno(stmt)


def count_statements(stmt: dict) -> int:
    """The statement and every statement nested in it (plain blocks are containers)."""
    if is_synthetic(stmt):
        return 0
    own = 0 if kind_of(stmt) == "PLpgSQL_stmt_block" else 1
    return own + sum(count_statements(s) for block in children(stmt) for s in block)


def fallback_text(stmt: dict) -> str:
    """Best-effort text of a statement when the body cannot be cut: its SQL, else its kind."""
    ((kind, node),) = stmt.items()
    for key in ("sqlstmt", "expr", "query", "dynquery", "cond"):
        value = node.get(key)
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            return value["PLpgSQL_expr"].get("query", "")
    return f"-- {kind.removeprefix('PLpgSQL_stmt_').upper()} statement at body line {lineno(stmt)}"


__all__ = [
    "MapContext",
    "Result",
    "StepMeta",
    "VarDecl",
    "count_statements",
    "fallback_text",
    "is_synthetic",
]
