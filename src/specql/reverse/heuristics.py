"""Pattern heuristics: which of the 13 library patterns a legacy function implements, and why.

One small detector per pattern, registered by name in :data:`DETECTORS` (``@detector``). A
detector looks at :class:`~specql.reverse.facts.FunctionFacts` only and returns a score in
[0, 1] built from weighted *signals*; every signal that fired adds an evidence line citing what
was seen and where ("line 12: UPDATE money.summary SET balance = balance - NEW.amount").

Scoring convention (shared by all detectors, so scores are comparable):

* a **strong signal** — one that alone makes the pattern likely to a PL/pgSQL reader (ON
  CONFLICT DO UPDATE, WITH RECURSIVE, pg_notify, NEW.col := … in a trigger) — weighs 0.55-0.8;
* a **supporting signal** (vocabulary of names, a weaker structural hint) weighs 0.1-0.35 and
  needs company to pass the threshold;
* the score is the capped sum of the signals that fired.

:data:`THRESHOLD` (0.5) is the one place that decides which findings are reported: a finding
needs one strong signal, or several supporting ones. ``detect_patterns(facts, threshold=0)``
returns every non-zero score (the benchmark and triage features use that).

:func:`variable_purposes` classifies declared variables by how the body uses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from specql.reverse.facts import FunctionFacts, Guard, Stmt, tokens
from specql.reverse.parse_queries import DYNAMIC, SetItem, is_dynamic
from specql.reverse.source import PatternFinding

THRESHOLD = 0.5  # findings with score >= THRESHOLD are reported

PATTERNS = (
    "state_machine",
    "audit_trail",
    "soft_delete",
    "validation_chain",
    "approval_workflow",
    "hierarchy",
    "notification",
    "multi_tenant",
    "accumulator",
    "upsert",
    "computed_field",
    "counter_cache",
    "temporal_versioning",
)


@dataclass
class Signals:
    """Weighted signals collected by one detector."""

    score: float = 0.0
    evidence: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def add(self, weight: float, evidence: str, key: str | None = None) -> bool:
        """Add a signal once per ``key`` (default: the evidence text)."""
        key = key or evidence
        if key in self._seen:
            return False
        self._seen.add(key)
        self.score += weight
        self.evidence.append(evidence)
        return True

    def result(self) -> tuple[float, list[str]]:
        return round(min(self.score, 1.0), 3), self.evidence


Detector = Callable[[FunctionFacts], Signals]
DETECTORS: dict[str, Detector] = {}


def detector(name: str) -> Callable[[Detector], Detector]:
    def register(fn: Detector) -> Detector:
        DETECTORS[name] = fn
        return fn

    return register


def detect_patterns(facts: FunctionFacts, threshold: float = THRESHOLD) -> list[PatternFinding]:
    """Findings with score >= ``threshold``, best first (ties in registry order)."""
    found = []
    for name, fn in DETECTORS.items():
        score, evidence = fn(facts).result()
        if score > 0 and score >= threshold:
            found.append(PatternFinding(pattern=name, score=score, evidence=evidence))
    order = {name: i for i, name in enumerate(DETECTORS)}
    found.sort(key=lambda f: (-f.score, order[f.pattern]))
    return found


# ---------------------------------------------------------------------------------------------
# Vocabulary and small helpers
# ---------------------------------------------------------------------------------------------

STATUS_WORDS = frozenset({"status", "state", "stage", "phase", "lifecycle"})
DELETE_FLAG_WORDS = frozenset(
    {"deleted", "removed", "archived", "tombstone", "tombstoned", "trashed", "purged"}
)
WEAK_FLAG_WORDS = frozenset(
    {"active", "inactive", "enabled", "disabled", "available", "visible", "hidden"}
)
DELETE_NAME_WORDS = frozenset(
    {"delete", "del", "remove", "undelete", "restore", "archive", "unarchive", "trash", "revive"}
)
LOG_TABLE_WORDS = frozenset(
    {
        "log",
        "logs",
        "audit",
        "audits",
        "auditor",
        "history",
        "histories",
        "trail",
        "journal",
        "changelog",
        "delta",
        "deltas",
        "changes",
    }
)
COUNT_WORDS = frozenset({"count", "counts", "cnt", "counter", "num", "tally", "refcount"})
TOTAL_WORDS = frozenset(
    {"total", "totals", "sum", "balance", "amount", "owed", "paid", "qty", "quantity", "onhand"}
)
TENANT_WORDS = frozenset(
    {
        "tenant",
        "tenants",
        "organization",
        "organizations",
        "organisation",
        "organisations",
        "org",
        "orgs",
        "workspace",
        "workspaces",
        "company",
        "companies",
        "account",
        "accounts",
        "team",
        "teams",
    }
)
MEMBER_WORDS = frozenset(
    {"membership", "memberships", "member", "members", "owner", "owners", "role", "roles"}
)
TENANT_KEYS = frozenset(
    {
        "tenant_id",
        "tenantid",
        "organization_id",
        "organisation_id",
        "org_id",
        "company_id",
        "workspace_id",
        "team_id",
        "client_id",
        "ad_client_id",
    }
)
TEMPORAL_NAME_WORDS = frozenset(
    {
        "restore",
        "revert",
        "version",
        "versions",
        "versioning",
        "history",
        "temporal",
        "baseline",
        "snapshot",
        "undo",
        "lifecycle",
        "timetravel",
        "asof",
    }
)
HIERARCHY_WORDS = frozenset(
    {
        "ancestor",
        "ancestors",
        "descendant",
        "descendants",
        "connectby",
        "subtree",
        "hierarchy",
        "children",
        "parents",
        "tree",
        "closure",
        "containment",
    }
)
NOTIFY_CALL_WORDS = frozenset(
    {
        "notify",
        "notification",
        "notifications",
        "mail",
        "email",
        "emails",
        "sendmail",
        "alert",
        "alerts",
    }
)
CLOCK_CALLS = frozenset(
    {
        "now",
        "current_timestamp",
        "clock_timestamp",
        "transaction_timestamp",
        "statement_timestamp",
        "localtimestamp",
        "current_date",
    }
)
WHO_CALLS = frozenset(
    {
        "current_user",
        "session_user",
        "user",
        "current_role",
        "uid",
        "current_user_id",
        "inet_client_addr",
        "pg_backend_pid",
    }
)
EVENT_CALL_WORDS = frozenset(
    {
        "job",
        "jobs",
        "event",
        "events",
        "notify",
        "queue",
        "enqueue",
        "log",
        "audit",
        "emit",
        "publish",
        "add",
    }
)
RECORD_FUNCS = frozenset(
    {"to_json", "to_jsonb", "row_to_json", "hstore", "json_build_object", "jsonb_build_object"}
)


def _at(s: Stmt | Guard | int) -> str:
    line = s if isinstance(s, int) else s.line
    return f"line {line}" if line else "body"


def _short(text: str, n: int = 70) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= n else text[: n - 1] + "…"


_WORDS: dict[str, frozenset[str]] = {}  # name -> its words: detectors ask ~90 times a function
_MAX_WORDS = 50_000


def _words(name: str) -> frozenset[str]:
    found = _WORDS.get(name)
    if found is None:
        found = frozenset(tokens(name))
        if len(name) <= 200:  # names recur; statement texts and messages seldom do
            if len(_WORDS) >= _MAX_WORDS:
                _WORDS.clear()
            _WORDS[name] = found
    return found


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _is_status(col: str) -> bool:
    return bool(_words(_last(col)) & STATUS_WORDS)


def _is_delete_flag(col: str) -> bool:
    return bool(_words(_last(col)) & DELETE_FLAG_WORDS)


def _is_weak_flag(col: str) -> bool:
    w = _words(_last(col))
    return bool(w & WEAK_FLAG_WORDS) and len(w) <= 2


def _is_const(operand: str) -> bool:
    return bool(operand) and (operand[0] in "'-0123456789" or operand in ("true", "false", "null"))


def _record_field(operand: str) -> tuple[str, str] | None:
    parts = operand.split(".")
    if len(parts) == 2 and parts[0] in ("old", "new"):
        return parts[0], parts[1]
    return None


def _table_words(table: str) -> frozenset[str]:
    return _words(table.replace(DYNAMIC, ""))


def _guard_cmps(guards: Iterable[Guard]) -> list[tuple[str, str, str]]:
    return [c for g in guards for c in g.facts.comparisons]


def _sets(facts: FunctionFacts) -> Iterable[tuple[Stmt, SetItem]]:
    for s, q in facts.queries():
        for item in q.sets:
            yield s, item


def _is_clock(name: str) -> bool:
    return _last(name) in CLOCK_CALLS


def _is_who(name: str) -> bool:
    base = _last(name)
    return base in WHO_CALLS or name in ("auth.uid",) or base.endswith("current_user_id")


# ---------------------------------------------------------------------------------------------
# Detectors
# ---------------------------------------------------------------------------------------------


@detector("state_machine")
def _state_machine(f: FunctionFacts) -> Signals:
    sig = Signals()
    # 1. a transition: OLD.x and NEW.x of the same column both tested (against constants /
    #    as booleans) in the conditions guarding some statement, or in one IF condition.
    for g_stack in _guard_stacks(f):
        tested: dict[str, dict[str, str]] = {}
        for left, op, right in _guard_cmps(g_stack):
            rf = _record_field(left)
            if rf and (_is_const(right) or op in ("is", "is not")):
                tested.setdefault(rf[1], {})[rf[0]] = f"{left} {op} {right}"
            rf2 = _record_field(right)
            if rf and rf2 and rf[1] == rf2[1] and op in ("distinct", "<>", "!="):
                tested.setdefault(rf[1], {}).setdefault("changed", f"{left} {op} {right}")
        for col, sides in tested.items():
            if "old" in sides and "new" in sides:
                w = 0.65 if _is_status(col) else 0.55
                sig.add(
                    w,
                    f"{_at(g_stack[-1])}: transition of {col}: {sides['old']} and {sides['new']}",
                    key=f"tr:{col}",
                )
            elif "changed" in sides and len(sides) > 1:
                w = 0.6 if _is_status(col) else 0.45
                other = next(v for k, v in sides.items() if k != "changed")
                sig.add(
                    w,
                    f"{_at(g_stack[-1])}: {col} changed ({sides['changed']}) and tested ({other})",
                    key=f"tr:{col}",
                )
    # 2. an UPDATE moving a column from one constant to another in one statement
    for s, q in f.queries():
        for item in q.sets:
            if item.value not in ("str", "num", "true", "false") or _is_delete_flag(item.column):
                continue  # deletion flags are soft_delete's business
            for left, op, right in q.comparisons:
                if (
                    _last(left) == item.column
                    and _is_const(right)
                    and right != item.text
                    and op in ("=", "<>", "!=", "in", "is", "is not")
                ):
                    w = (
                        0.55
                        if (_is_status(item.column) or item.value in ("true", "false"))
                        else 0.4
                    )
                    sig.add(
                        w,
                        f"{_at(s)}: UPDATE {item.table} sets {item.column} = {item.text} "
                        f"where {left} {op} {right}",
                        key=f"upd:{item.column}",
                    )
    # 3. a status column set to constants, with status values tested elsewhere
    status_sets = [(s, i) for s, i in _sets(f) if _is_status(i.column) and i.value == "str"]
    if status_sets:
        values = sorted({i.text for _, i in status_sets})
        s0, i0 = status_sets[0]
        sig.add(0.3, f"{_at(s0)}: {i0.column} set to {', '.join(values)}", key="status-set")
        if len(values) > 1:
            sig.add(0.1, f"{len(values)} different {i0.column} values written", key="status-many")
        for g in f.conditions:
            for left, op, right in g.facts.comparisons:
                if _is_status(left) and _is_const(right) and right != "null":
                    sig.add(0.25, f"{_at(g)}: branches on {left} {op} {right}", key="status-test")
    # 4. transition tables
    for table in list(f.tables_read) + list(f.tables_written):
        if _table_words(table) & {"transition", "transitions", "workflow"}:
            sig.add(0.4, f"uses transition table {table}", key="tr-table")
    return sig


def _guard_stacks(f: FunctionFacts) -> Iterable[tuple[Guard, ...]]:
    seen = set()
    for s in f.statements:
        if s.guards:
            key = tuple(id(g) for g in s.guards)
            if key not in seen:
                seen.add(key)
                yield s.guards
    for g in f.conditions:  # each condition on its own (IF OLD.x = 'a' AND NEW.x = 'b')
        yield (g,)


@detector("audit_trail")
def _audit_trail(f: FunctionFacts) -> Signals:
    sig = Signals()
    for s, q in f.queries():
        for w in q.writes:
            if w.op != "insert":
                continue
            words = _table_words(w.table)
            logish = bool(words & LOG_TABLE_WORDS) or "audit" in w.table or "history" in w.table
            whole_row = w.whole_row
            who = [c for c in w.calls if _is_who(c)]
            when = [c for c in w.calls if _is_clock(c)]
            audit_cols = [c for c in w.columns if "audit" in c or c in ("action", "operation")]
            if logish:
                sig.add(
                    0.4,
                    f"{_at(s)}: INSERT INTO {w.table} (a log/history table)",
                    key=f"log:{w.table}",
                )
                if whole_row or w.uses_old or w.uses_new:
                    sig.add(0.3, f"{_at(s)}: logs OLD/NEW row data into {w.table}", key="rowdata")
                if w.uses_tg:
                    sig.add(0.2, f"{_at(s)}: records TG_OP / TG_TABLE_NAME", key="tg")
                if who:
                    sig.add(
                        0.2, f"{_at(s)}: records who ({', '.join(sorted(set(who)))})", key="who"
                    )
                if when:
                    sig.add(
                        0.1, f"{_at(s)}: records when ({', '.join(sorted(set(when)))})", key="when"
                    )
                if audit_cols:
                    sig.add(
                        0.1, f"{_at(s)}: audit columns {', '.join(audit_cols[:3])}", key="auditcols"
                    )
            elif f.is_trigger and (whole_row or w.uses_tg) and (w.uses_old or w.uses_tg):
                sig.add(
                    0.45,
                    f"{_at(s)}: trigger copies the OLD row / TG_OP into {w.table}",
                    key=f"copy:{w.table}",
                )
        for kind, name in q.ddl:
            if kind == "create_trigger" and (
                _words(name) & {"log", "audit", "history"} or "audit" in name
            ):
                sig.add(0.6, f"{_at(s)}: creates a trigger running {name}", key="gen-trigger")
            if kind == "create_view" and any("audit" in c for c in q.columns):
                sig.add(0.5, f"{_at(s)}: creates view {name} over audit columns", key="gen-view")
            if kind in ("create_table", "create_view") and (
                _table_words(name) & {"audit", "history", "log", "changelog"}
                or any(_table_words(t) & {"audit", "history"} for t in q.reads)
            ):
                sig.add(
                    0.55,
                    f"{_at(s)}: creates audit/history {kind.split('_')[1]} {name}",
                    key="gen-table",
                )
    # an event/job named after auditing (an identifier-like literal passed to a call)
    for s in f.statements:
        for text in s.query.strings:
            callers = [c for c in s.query.calls if _words(_last(c)) & EVENT_CALL_WORDS]
            if (
                re.fullmatch(r"[a-z][a-z0-9_:-]*", text, re.I)
                and "audit" in _words(text)
                and callers
            ):
                sig.add(
                    0.5,
                    f"{_at(s)}: emits audit event '{_short(text, 40)}' via {callers[0]}",
                    key="audit-event",
                )
    return sig


@detector("soft_delete")
def _soft_delete(f: FunctionFacts) -> Signals:
    sig = Signals()
    name_words = set(f.name_tokens)
    for s, q in f.queries():
        for item in q.sets:
            if _is_delete_flag(item.column):
                if item.value in ("true", "now", "user") or (item.value == "str" and item.text):
                    sig.add(
                        0.6,
                        f"{_at(s)}: UPDATE {item.table} marks rows deleted "
                        f"({item.column} = {item.text or item.value})",
                        key=f"mark:{item.column}",
                    )
                elif item.value in ("false", "null"):
                    sig.add(
                        0.5,
                        f"{_at(s)}: UPDATE {item.table} un-deletes rows "
                        f"({item.column} = {item.text})",
                        key=f"unmark:{item.column}",
                    )
            elif (
                _is_weak_flag(item.column)
                and item.value in ("true", "false")
                and not is_dynamic(item.table)
            ):
                w = 0.3
                sig.add(
                    w,
                    f"{_at(s)}: UPDATE {item.table} sets flag {item.column} = "
                    f"{item.text} instead of deleting/inserting rows",
                    key=f"weak:{item.column}",
                )
                if name_words & DELETE_NAME_WORDS:
                    sig.add(
                        0.25,
                        f"function name says {'/'.join(sorted(name_words & DELETE_NAME_WORDS))}"
                        f" but the body only flips {item.column}",
                        key="weak-name",
                    )
                if any(_last(left) == item.column for left, _, _ in q.comparisons):
                    sig.add(
                        0.2,
                        f"{_at(s)}: only rows with the opposite {item.column} are touched",
                        key="weak-where",
                    )
    # logic guarding soft-deleted rows: conditions on the deletion flag
    for g in f.conditions:
        for left, _op, _right in g.facts.comparisons:
            if _is_delete_flag(left):
                w = 0.55 if _record_field(left) else 0.4
                sig.add(w, f"{_at(g)}: branches on deletion flag {left}", key=f"guard:{left}")
    for s, q in f.queries():
        if q.kind not in ("select", "update", "insert", "delete"):
            continue
        for left, op, right in q.comparisons:
            if _is_delete_flag(left) and (right in ("false", "null", "true")):
                sig.add(0.3, f"{_at(s)}: filters on {left} {op} {right}", key="filter")
    return sig


@detector("validation_chain")
def _validation_chain(f: FunctionFacts) -> Signals:
    sig = Signals()
    guards_raise = []
    for s in f.statements:
        if s.kind not in ("raise", "assert") or s.level != "exception" or s.in_handler:
            continue
        if s.kind == "raise" and not s.guards and not f.is_trigger:
            continue  # an unconditional RAISE in a function is a stub / not-implemented;
            # in a trigger it forbids the operation (an immutability guard)
        if s.guards and all(g.only_trigger_vars for g in s.guards):
            continue  # "trigger must be fired BEFORE ..." sanity checks don't count
        guards_raise.append(s)
    if guards_raise:
        first = guards_raise[0]
        cond = first.guards[-1].text if first.guards else first.text
        sig.add(
            0.6,
            f"{_at(first)}: RAISE EXCEPTION '{_short(first.message, 50)}' when {_short(cond, 50)}",
            key="raise1",
        )
        for extra in guards_raise[1:4]:
            sig.add(
                0.08,
                f"{_at(extra)}: RAISE EXCEPTION '{_short(extra.message, 50)}'",
                key=f"raise:{extra.line}",
            )
    # coded error returns: guarded RETURN -1 / RETURN 'error text' (several of them)
    coded = []
    for s in f.of_kind("return"):
        if not s.guards or s.in_handler:
            continue
        t = s.text.strip()
        if re.fullmatch(r"-\s*\d+", t) or (
            t.startswith("'")
            and _words(t)
            & {
                "null",
                "invalid",
                "not",
                "no",
                "error",
                "cannot",
                "already",
                "must",
                "only",
                "unable",
                "ambiguous",
                "incomplete",
            }
        ):
            coded.append(s)
    if len(coded) >= 2:
        sig.add(
            0.55,
            f"{_at(coded[0])}: coded error returns ({len(coded)}: "
            f"{', '.join(_short(c.text, 25) for c in coded[:3])})",
            key="coded",
        )
    for s in f.statements:
        for c in s.query.calls:
            if re.match(r"(assert|validate|check)_", _last(c)):
                sig.add(0.2, f"{_at(s)}: calls validator {c}", key=f"call:{c}")
    return sig


@detector("approval_workflow")
def _approval(f: FunctionFacts) -> Signals:
    sig = Signals()

    def approvalish(name: str) -> bool:
        return any(w.startswith(("approv", "reject")) for w in _words(_last(name)))

    words = set(f.name_tokens)
    verbs = words & {"approve", "approval", "approvals", "reject", "disapprove", "unapprove"}
    if verbs:
        sig.add(0.55, f"function name: {f.name} ({', '.join(sorted(verbs))})", key="name")
    elif any(w.startswith(("approv", "reject")) for w in words):
        sig.add(0.3, f"function name mentions approval: {f.name}", key="name")
    written = set(f.tables_written)
    for s, q in f.queries():
        for item in q.sets:
            if approvalish(item.column):
                sig.add(
                    0.55,
                    f"{_at(s)}: UPDATE {item.table} records approval "
                    f"({item.column} = {item.text or item.value})",
                    key="set",
                )
    tested_read: list[str] = []
    for s, q in f.queries():
        for left, op, right in q.comparisons:
            if approvalish(left):
                tables = set(q.reads) | set(q.tables_written)
                # "not approved yet": approved_by IS NULL, approved = false, approved IS NOT TRUE
                pending = (op == "is" and right == "null") or right == "false"
                if tables & written and pending:
                    sig.add(
                        0.55,
                        f"{_at(s)}: only unapproved rows ({left} {op} {right}) of "
                        f"{', '.join(sorted(tables & written))} are changed",
                        key="gate",
                    )
                else:
                    tested_read.append(f"{_at(s)}: {left} {op} {right}")
    local = {n for n, v in f.variables.items() if not v.is_arg}
    for g in f.conditions:
        for left, op, right in g.facts.comparisons:
            if approvalish(left) and left not in local:  # a column / record field, not a counter
                sig.add(0.45, f"{_at(g)}: branches on {left} {op} {right}", key="branch")
    for s in f.of_kind("raise"):
        mw = _words(s.message)
        if mw & {"approved", "approval", "approve", "approver"}:
            sig.add(0.5, f"{_at(s)}: RAISE '{_short(s.message, 50)}'", key="msg")
    if tested_read:
        sig.add(0.15, tested_read[0], key="tested")
    return sig


@detector("hierarchy")
def _hierarchy(f: FunctionFacts) -> Signals:
    sig = Signals()
    for s, q in f.queries():
        if q.recursive_cte:
            sig.add(
                0.7,
                f"{_at(s)}: WITH RECURSIVE over {', '.join(q.reads[:2]) or 'a tree'}",
                key="cte",
            )
    for s in f.statements:
        for name in (*s.query.calls, *s.query.from_functions):
            w = _words(_last(name)) & HIERARCHY_WORDS
            if w:
                sig.add(0.6, f"{_at(s)}: uses tree function {name}", key=f"fn:{name}")
    own = {f.qualified_name.lower(), f.name.lower()}
    for s in f.statements:
        if own & set(s.query.calls):
            per_row = s.loop_kind == "query"
            sig.add(
                0.55 if per_row else 0.25,
                f"{_at(s)}: recursive call of {f.name}"
                + (" for each row of a FOR … IN SELECT loop" if per_row else ""),
                key="self",
            )
    for s, q in f.queries():
        parent_out = [
            i[4:] for i in q.select_items if i.startswith("col:") and "parent" in _words(i[4:])
        ]
        if s.in_loop and parent_out and s.targets:
            sig.add(
                0.55,
                f"{_at(s)}: climbs the tree: SELECT {parent_out[0]} INTO {s.targets[0]} in a loop",
                key="walk",
            )
        parent_cmp = [
            (left, right)
            for left, _op, right in q.comparisons
            if "parent" in _words(_last(left)) or "parent" in _words(_last(right))
        ]
        if parent_cmp:
            left, right = parent_cmp[0]
            if s.in_loop:
                sig.add(
                    0.55, f"{_at(s)}: follows parent link {left} = {right} in a loop", key="walk"
                )
            else:
                sig.add(0.25, f"{_at(s)}: joins on parent link {left} = {right}", key="parent")
    for t in list(f.tables_read) + list(f.tables_written):
        if _table_words(t) & HIERARCHY_WORDS:
            sig.add(0.25, f"uses tree table {t}", key="tree-table")
    for g in f.conditions:  # a trigger reacting to re-parenting
        for left, op, right in g.facts.comparisons:
            lf, rf = _record_field(left), _record_field(right)
            if lf and rf and lf[1] == rf[1] and "parent" in _words(lf[1]) and op != "=":
                sig.add(
                    0.5, f"{_at(g)}: reacts to re-parenting ({left} {op} {right})", key="reparent"
                )
    return sig


@detector("notification")
def _notification(f: FunctionFacts) -> Signals:
    sig = Signals()
    for s in f.statements:
        q = s.query
        for ch in q.notify_channels:
            sig.add(0.8, f"{_at(s)}: NOTIFY / pg_notify on channel {ch or '?'}", key="notify")
        for c in q.calls:
            w = _words(_last(c))
            if w & NOTIFY_CALL_WORDS and _last(c) != "pg_notify":
                sig.add(0.6, f"{_at(s)}: calls {c}", key=f"call:{c}")
            elif "add_job" in c or ("job" in w and w & {"add", "queue", "enqueue", "schedule"}):
                sig.add(0.6, f"{_at(s)}: queues a background job via {c}", key="job")
            elif w & {"enqueue", "queue"}:
                sig.add(0.3, f"{_at(s)}: queues work via {c}", key="queue")
        for text in q.strings:
            if _words(text) & {"email", "mail", "emails", "notification", "notify"} and q.calls:
                sig.add(0.2, f"{_at(s)}: message/job '{_short(text, 40)}'", key="mailtext")
    for s, q in f.queries():
        for w in q.writes:
            words = _table_words(w.table)
            if w.op != "insert":
                continue
            messages = words & {
                "mail",
                "email",
                "emails",
                "notification",
                "notifications",
                "message",
                "messages",
                "sms",
                "mailqueue",
                "outbox",
            }
            queue = words & {"queue", "queues", "jobs", "job", "outbox", "mailqueue"}
            if queue and messages:
                sig.add(
                    0.55, f"{_at(s)}: INSERT INTO {w.table} (a message queue/outbox)", key="outbox"
                )
            elif queue or words & {"notification", "notifications"}:
                # a generic job queue: background work, a notification only with company
                sig.add(0.35, f"{_at(s)}: INSERT INTO {w.table} (a job queue)", key="outbox")
    return sig


@detector("multi_tenant")
def _multi_tenant(f: FunctionFacts) -> Signals:
    sig = Signals()
    identifiers = set(f.columns) | set(f.calls) | set(f.tables_read) | set(f.tables_written)
    identifiers |= {c for _, w in f.writes() for c in w.columns}
    identifiers |= {a for a, _ in f.args}
    who_words = MEMBER_WORDS | {"user", "users", "usr"}
    for ident in sorted(identifiers):
        w = _words(ident)
        if w & TENANT_WORDS and w & who_words and not (w & {"perm", "permission"}):
            sig.add(0.6, f"membership/role of a tenant: {ident}", key="member")
    for name in sorted(f.calls):
        w = _words(_last(name))
        if w & {"perm", "perms", "permission", "permissions", "authorize", "authorized"} and w & {
            "has",
            "check",
            "usr",
            "user",
            "can",
        }:
            sig.add(0.35, f"permission check {name}", key="perm")
            if any(_words(a) & TENANT_WORDS for a, _ in f.args) or any(
                _words(c) & TENANT_WORDS for c in identifiers
            ):
                sig.add(0.25, "permission checked at a tenant/org scope", key="perm-scope")
    for line, q in f.expressions():
        for left, _op, right in q.comparisons:
            for side, other in ((left, right), (right, left)):
                if _last(side) in TENANT_KEYS and not _is_const(other) and other != "<expr>":
                    sig.add(0.55, f"{_at(line)}: scoped by tenant key {side} = {other}", key="key")
        if any(_words(_last(c)) & {"config", "sysconfig", "setting", "settings"} for c in q.calls):
            keys = [c for c in q.columns if _tenantish(c)]
            if keys:
                sig.add(
                    0.55,
                    f"{_at(line)}: configuration looked up per tenant ({keys[0]})",
                    key="config",
                )
            elif any(_words(_last(c)) & TENANT_WORDS for c in q.calls):
                sig.add(0.3, f"{_at(line)}: per-organisation setting lookup", key="config")
    for s, q in f.queries():  # per-tenant configuration rows
        if any(
            _words(_last(t))
            & {
                "setting",
                "settings",
                "config",
                "configuration",
                "preference",
                "preferences",
                "sysconfig",
            }
            for t in q.reads
        ):
            for left, _op, right in q.comparisons:
                # org_unit = v_org: the tenant comes from an argument / variable, not a join
                if _tenantish(_last(left)) and (
                    right.split(".")[0] in f.variables or right.startswith("$")
                ):
                    sig.add(
                        0.55,
                        f"{_at(s)}: configuration rows looked up per {left} = {right}",
                        key="config",
                    )
    name_words = set(f.name_tokens) | {w for t in f.tables_written for w in _table_words(t)}
    if name_words & TENANT_WORDS and any(_words(i) & MEMBER_WORDS for i in identifiers):
        sig.add(
            0.5,
            f"tenant entity ({', '.join(sorted(name_words & TENANT_WORDS))}) with "
            "owner/role checks",
            key="owner",
        )
    if name_words & TENANT_WORDS and any(_is_who(c) for c in f.calls):
        sig.add(0.15, "acts for the calling user on a tenant entity", key="caller")
    return sig


def _tenantish(name: str) -> bool:
    """v_client_id, v_ClientId, org, p_tenant: a variable/column naming a tenant."""
    return any(
        w in TENANT_WORDS or w == "client" or w.removesuffix("id") in TENANT_WORDS | {"client"}
        for w in _words(name)
    )


@detector("accumulator")
def _accumulator(f: FunctionFacts) -> Signals:
    sig = Signals()
    for s, q in f.queries():
        for agg in q.aggregates:
            if agg in ("sum", "avg"):
                sig.add(
                    0.6,
                    f"{_at(s)}: {agg.upper()}() over {', '.join(q.reads[:2]) or 'rows'}",
                    key="sum",
                )
        for item in q.sets:
            if item.value in ("inc", "dec") and not item.delta_const:
                if _words(item.column) & COUNT_WORDS:
                    continue  # a count moved by n: counter cache, not a running balance
                sig.add(
                    0.55,
                    f"{_at(s)}: running balance {item.column} = {item.column} "
                    f"{'+' if item.value == 'inc' else '-'} {item.text}",
                    key=f"bal:{item.column}",
                )
    for s in f.of_kind("assign"):
        if not s.in_loop or not s.targets:
            continue
        target = s.targets[0]
        var = f.variables.get(target)
        if "[" in target or (var is not None and var.type and not _numeric(var.type)):
            continue  # array slots, strings, sets: not a running total
        _, value = s.text.split("=", 1) if "=" in s.text else ("", "")
        if re.search(
            rf"(?<![\w.]){re.escape(target)}\s*[+-]", value.lstrip(":= "), re.I
        ) and not re.fullmatch(rf"\s*{re.escape(target)}\s*[+-]\s*1\s*", value.lstrip(":= "), re.I):
            sig.add(
                0.5,
                f"{_at(s)}: {target} accumulates in a loop ({_short(s.text, 40)})",
                key=f"loop:{target}",
            )
    # count(*) that is more than an existence test (stored / returned, not just compared to 0)
    for s, q in f.queries():
        if "agg:count" in q.select_items and s.targets:
            target = s.targets[0]
            used_as_existence = any(
                (_last(left) == target and right in ("0", "1"))
                for g in f.conditions
                for left, _op, right in g.facts.comparisons
            )
            if not used_as_existence:
                sig.add(0.25, f"{_at(s)}: count(*) INTO {target}", key="count")
    return sig


def _numeric(sql_type: str) -> bool:
    t = sql_type.lower()
    return bool(
        re.match(
            r"(int|bigint|smallint|numeric|decimal|float|double|real|money|"
            r"number)",
            t,
        )
    )


@detector("upsert")
def _upsert(f: FunctionFacts) -> Signals:
    sig = Signals()
    for s, q in f.queries():
        if q.on_conflict == "update":
            table = next((w.table for w in q.writes if w.on_conflict == "update"), "")
            sig.add(0.8, f"{_at(s)}: INSERT INTO {table} … ON CONFLICT DO UPDATE", key="oc")
    stmts = f.statements
    for i, s in enumerate(stmts):
        q = s.query
        kind = q.kind
        if kind not in ("update", "select") or not (q.writes or q.reads):
            continue
        table = (q.tables_written or q.reads)[0]
        for later in stmts[i + 1 : i + 40]:
            found = next((g.tests_found for g in later.guards if g.tests_found), None)
            diag = any(_row_count_zero(g, f) for g in later.guards)
            if not (found or diag):
                continue
            inserts = [w for w in later.query.writes if w.op == "insert"]
            missing = found == "not found" or diag
            if kind == "update" and missing and any(w.table == table for w in inserts):
                sig.add(
                    0.75,
                    f"{_at(s)}: UPDATE {table}; {_at(later)}: INSERT when no row was updated",
                    key="upd-ins",
                )
            elif (
                kind == "select"
                and missing
                and any(w.table == table for w in inserts)
                and any(w.op == "update" and w.table == table for _, w in f.writes())
            ):
                sig.add(
                    0.65,
                    f"{_at(s)}: looks up {table}; inserts when missing, updates otherwise",
                    key="sel-ins",
                )
            elif (
                kind == "update"
                and found == "found"
                and later.kind == "return"
                and later.text.strip().lower() != "null"
                and _insert_after(stmts, stmts.index(later), table)
            ):
                sig.add(
                    0.75,
                    f"{_at(s)}: UPDATE {table}; {_at(later)}: RETURN when FOUND, else INSERT below",
                    key="upd-ins",
                )
            elif (
                kind == "update"
                and found == "found"
                and later.kind == "return"
                and later.text.strip().lower() == "null"
                and f.is_trigger
            ):
                sig.add(
                    0.6,
                    f"{_at(s)}: UPDATE {table} of the existing row, then {_at(later)}: "
                    "RETURN NULL skips the INSERT",
                    key="trg-upd",
                )
    for s in f.statements:
        if (
            s.in_handler
            and any(w.op == "update" for w in s.query.writes)
            and "unique_violation" in f.exception_conditions
        ):
            sig.add(
                0.6, f"{_at(s)}: UPDATE in the unique_violation handler of an INSERT", key="exc"
            )
    return sig


def _insert_after(stmts: list[Stmt], j: int, table: str) -> bool:
    """An INSERT INTO ``table`` after statement j that is not itself under an IF FOUND."""
    for later in stmts[j + 1 : j + 30]:
        if any(w.op == "insert" and w.table == table for w in later.query.writes):
            return not any(g.tests_found == "found" for g in later.guards)
    return False


def _row_count_zero(g: Guard, f: FunctionFacts) -> bool:
    targets = {t for k, t in f.diagnostics if k.upper() == "ROW_COUNT"}
    return any(_last(left) in targets and right == "0" for left, _op, right in g.facts.comparisons)


@detector("computed_field")
def _computed_field(f: FunctionFacts) -> Signals:
    sig = Signals()
    derived = []
    for s in f.record_assignments:
        for t in s.targets:
            if not t.startswith("new."):
                continue
            value = s.text.split("=", 1)[-1].lstrip(":= ").strip()
            if value.lower() == "old." + t[4:]:
                continue  # NEW.x := OLD.x alone keeps a value, it does not derive one
            derived.append((s, t))
    if derived:
        s, t = derived[0]
        value = _short(s.text.split("=", 1)[-1].lstrip(":= "), 50)
        if s.kind == "execsql":
            value = f"({_short(s.text, 50)})"
        sig.add(0.65, f"{_at(s)}: sets NEW.{t[4:]} := {value}", key="new")
        for s2, t2 in derived[1:3]:
            sig.add(0.05, f"{_at(s2)}: sets {t2}", key=f"new:{t2}")
    return sig


@detector("counter_cache")
def _counter_cache(f: FunctionFacts) -> Signals:
    sig = Signals()
    found: list[tuple[float, str, str]] = []
    for s, q in f.queries():
        for item in q.sets:
            if item.value not in ("inc", "dec"):
                continue
            on_conflict = any(w.on_conflict == "update" for w in q.writes)
            countish = bool(_words(item.column) & COUNT_WORDS) or "count" in item.column
            totalish = bool(_words(item.column) & TOTAL_WORDS)
            if on_conflict and not countish:
                continue  # revision = revision + 1 on the upserted row itself
            w = 0.4
            why = []
            if f.is_trigger:
                w += 0.15
                why.append("in a trigger")
            if countish:
                w += 0.15
                why.append("count column")
            elif totalish:
                w += 0.05
            if item.delta_const:
                w += 0.05
            sign = "+" if item.value == "inc" else "-"
            found.append(
                (
                    w,
                    f"{_at(s)}: UPDATE {item.table} SET {item.column} = {item.column} "
                    f"{sign} {item.text or 'n'}" + (f" ({', '.join(why)})" if why else ""),
                    f"{item.table}.{item.column}",
                )
            )
    # the strongest increment counts fully, further counters on other columns add a little
    found.sort(key=lambda x: -x[0])
    for i, (w, text, key) in enumerate(found[:4]):
        sig.add(w if i == 0 else 0.05, text, key=key)
    for s in f.statements:
        for c in s.query.calls:
            w = _words(_last(c))
            if w & {"inc", "dec", "increment", "decrement", "incr", "decr"} and w & COUNT_WORDS:
                sig.add(0.4, f"{_at(s)}: calls {c}", key="call")
                if f.is_trigger:
                    sig.add(0.15, "the count is moved from a trigger", key="call-trg")
    return sig


@detector("temporal_versioning")
def _temporal(f: FunctionFacts) -> Signals:
    sig = Signals()
    name_words = set(f.name_tokens)
    hits = name_words & TEMPORAL_NAME_WORDS
    if {"system", "time"} <= name_words or {"valid", "time"} <= name_words:
        hits |= {"system time"}
    if {"as", "of"} <= name_words:
        hits |= {"as of"}
    if hits:
        sig.add(0.35, f"function name: {f.name} ({', '.join(sorted(hits))})", key="name")
    for s in f.statements:
        for c in s.query.calls:
            w = _words(_last(c)) & (TEMPORAL_NAME_WORDS - {"history"})
            if w and _last(c).lower() != f.name.lower():
                sig.add(0.2, f"{_at(s)}: calls {c}", key="call")
    for line, q in f.expressions():
        for left, op, right in q.comparisons:
            for side in (left, right):
                w = _words(_last(side))
                if (
                    w & {"range", "period"} and w & {"txid", "sys", "valid", "system", "tx"}
                ) or _last(side) in (
                    "sys_period",
                    "valid_from",
                    "valid_to",
                    "valid_range",
                    "valid_period",
                    "system_period",
                ):
                    sig.add(0.35, f"{_at(line)}: validity range {side} {op} …", key="range")
        for text in q.strings:
            if re.search(r"system[_ ]time|sys_period|valid_(?:from|to)|as[_ ]of", text, re.I):
                sig.add(
                    0.4, f"{_at(line)}: system-time setting '{_short(text, 40)}'", key="systime"
                )
    history_words = {"versions", "version", "history", "revisions", "snapshots"}
    versioned = [t for t in f.tables_read if _table_words(t) & history_words]
    restored = [t for t in f.tables_written if t not in versioned]
    if versioned and restored:
        sig.add(0.3, f"restores {', '.join(restored[:2])} from {versioned[0]}", key="restore")
    for s, q in f.queries():
        tables = list(q.reads) + (
            [w.table for w in q.writes if w.op == "insert"] if q.reconstructed else []
        )
        for t in tables:
            tw = _table_words(t)
            if tw & {"history", "log", "logs"} and any(
                _last(c) in ("old_data", "new_data", "changes", "delta")
                or _words(_last(c)) & {"audit", "txid"}
                for c in q.columns
            ):
                sig.add(0.25, f"{_at(s)}: reads row history from {t}", key="hist")
            elif tw & {"history"} and q.ddl:
                sig.add(0.25, f"{_at(s)}: builds a view over history table {t}", key="hist")
    return sig


# ---------------------------------------------------------------------------------------------
# Variable purposes
# ---------------------------------------------------------------------------------------------

PURPOSES = ("count", "total", "accumulator", "flag", "sql", "id", "row", "loop", "result", "temp")


def variable_purposes(facts: FunctionFacts) -> dict[str, str]:
    """Purpose of each declared (non-argument) variable from how the body uses it.

    count        SELECT count(*) INTO v, GET DIAGNOSTICS v = ROW_COUNT, v := v + 1
    total        SELECT sum(…)/avg(…) INTO v
    accumulator  v := v + x / v := v || x inside a loop
    flag         boolean set to TRUE/FALSE, or tested as a condition
    sql          text the function builds and EXECUTEs
    id           RETURNING id INTO v, currval()/nextval()
    row          SELECT * INTO v / a record variable
    loop         the variable of a FOR loop
    result       the value the function RETURNs
    temp         anything else that is assigned
    """
    local = {n: v for n, v in facts.variables.items() if not v.is_arg}
    found: dict[str, str] = {}

    def put(name: str, purpose: str) -> None:
        name = name.split("[", 1)[0]
        if name not in local:
            return
        cur = found.get(name)
        if cur is None or PURPOSES.index(purpose) < PURPOSES.index(cur):
            found[name] = purpose

    for kind, target in facts.diagnostics:
        if kind.upper() == "ROW_COUNT":
            put(target, "count")
    for s in facts.statements:
        if s.kind == "execsql" and s.targets:
            items = s.query.select_items or ()
            for i, t in enumerate(s.targets):
                item = items[i] if i < len(items) else ""
                if item == "agg:count":
                    put(t, "count")
                elif item in ("agg:sum", "agg:avg"):
                    put(t, "total")
                elif s.query.kind in ("insert", "update", "delete") and _last(t) != "*":
                    put(t, "id")
                elif items == ("col:*",) or (
                    len(s.targets) == 1 and local.get(t) and local[t].type == "record"
                ):
                    put(t, "row")
        elif s.kind == "loop" and s.targets:
            for t in s.targets:
                put(t, "loop")
        elif s.kind == "assign" and s.targets:
            t = s.targets[0].split("[", 1)[0]
            value = s.text.split("=", 1)[-1].lstrip(":= ").strip()
            low = value.lower()
            self_ref = re.search(rf"(?<![\w.]){re.escape(t)}\s*(\+|-|\|\|)", value, re.I)
            if self_ref and re.fullmatch(rf"{re.escape(t)}\s*\+\s*1", value, re.I):
                put(t, "count")
            elif self_ref and s.in_loop:
                put(t, "accumulator")
            elif low in ("true", "false"):
                put(t, "flag")
            elif t in facts.sql_variables:
                put(t, "sql")
            elif re.match(r"(currval|nextval)\s*\(", low):
                put(t, "id")
            else:
                put(t, "temp")
    for g in facts.conditions:
        for c in g.facts.columns:
            v = local.get(c)
            if v is not None and v.type in ("bool", "boolean"):
                put(c, "flag")
    for s in facts.of_kind("return"):
        t = s.text.strip().lower()
        if t in local and t not in found:
            found[t] = "result"
    for name, v in local.items():
        if (
            name not in found
            and v.type in ("bool", "boolean")
            and any(name in s.targets for s in facts.statements)
        ):
            found[name] = "flag"
    return found
