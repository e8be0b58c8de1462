"""Parse stage, part two: the SQL *inside* a PL/pgSQL body, as plain facts.

``parse`` turns a CREATE FUNCTION into a :class:`~specql.reverse.source.FunctionInfo` whose
``plpgsql`` is pglast's PLpgSQL_function dict. That dict keeps every embedded query, condition
and assignment as SQL *text* (``PLpgSQL_expr.query``). This module parses those texts with
PostgreSQL's own parser and returns :class:`QueryFacts`: which tables a statement writes and
reads, what an UPDATE assigns (``x = x + 1``, ``deleted = TRUE``, ``updated_at = now()``),
ON CONFLICT, recursive CTEs, function calls and aggregates, comparisons (``OLD.status =
'draft'``), OLD/NEW and TG_* references, NOTIFY, generated DDL (CREATE TRIGGER …).

Like ``parse`` it belongs to the parse stage, so it may import pglast; every later stage
(``facts``, ``heuristics``) only sees the plain, immutable facts returned here. Results are
cached per (text, mode): legacy code repeats the same queries a lot.

Three entry points:

* :func:`query_facts` — one PLpgSQL_expr (``mode`` is its ``parseMode``: 0 a statement,
  2 an expression, 3-5 an assignment ``target := expr``);
* :func:`dynamic_sql_facts` — the expression given to ``EXECUTE``: the SQL it builds is
  reconstructed (string literals kept, ``format()`` placeholders and variables replaced by
  dummy names) and parsed; when that fails, a few token-level facts are read from the text;
* :func:`split_body` — a token-level statement splitter for bodies that ``parse_plpgsql``
  rejects (``parse_path == 'raw'``), so that later stages can still look at them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from pglast import parser as _pg

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class SetItem:
    """One ``column = value`` of an UPDATE (or of ON CONFLICT DO UPDATE)."""

    table: str  # the written table (qualified as written), '' when unknown
    column: str
    # inc | dec (column = column +/- n), true | false | null | str | num (a constant),
    # now (a clock function), user (current_user, session_user, auth.uid() ...),
    # record (a value from OLD/NEW), expr (anything else)
    value: str
    delta_const: bool = False  # inc/dec by a constant (x = x + 1)
    text: str = ""  # literal text for constants, the delta for inc/dec


@dataclass(slots=True, frozen=True)
class WriteFact:
    """One INSERT/UPDATE/DELETE (top level or inside a CTE)."""

    op: str  # insert | update | delete
    table: str
    columns: tuple[str, ...] = ()  # INSERT column list / UPDATE SET columns
    uses_old: bool = False  # OLD / OLD.col referenced in the values
    uses_new: bool = False
    uses_tg: bool = False  # TG_OP, TG_TABLE_NAME ... in the values
    whole_row: bool = False  # a whole row is written: to_json(OLD), NEW.*, row_to_json(t.*)
    calls: tuple[str, ...] = ()  # functions called inside the statement
    on_conflict: str | None = None  # nothing | update


@dataclass(slots=True, frozen=True)
class QueryFacts:
    text: str
    ok: bool = True
    error: str | None = None
    kind: str = "select"  # select insert update delete expr notify create_trigger ddl other
    writes: tuple[WriteFact, ...] = ()
    reads: tuple[str, ...] = ()  # tables in FROM/JOIN/USING (CTE names excluded)
    from_functions: tuple[str, ...] = ()  # set-returning functions in FROM
    calls: tuple[str, ...] = ()  # every function called (lower case, as qualified in the SQL)
    aggregates: tuple[str, ...] = ()  # aggregate calls: sum, count, avg, min, max ...
    select_items: tuple[str, ...] = ()  # top-level SELECT outputs: agg:sum, col:x, const, expr
    sets: tuple[SetItem, ...] = ()
    on_conflict: str | None = None
    recursive_cte: bool = False
    columns: tuple[str, ...] = ()  # dotted column references, lower case: new.status, id
    # (left, op, right): ('new.status', '=', "'done'"), ('old.deleted', '=', 'false'),
    # ('approved_by', 'is not', 'null'), ('new.x', 'distinct', 'old.x')
    comparisons: tuple[tuple[str, str, str], ...] = ()
    strings: tuple[str, ...] = ()  # string literals
    notify_channels: tuple[str, ...] = ()  # NOTIFY channel / pg_notify first argument
    ddl: tuple[tuple[str, str], ...] = ()  # (create_trigger, function) (create_view, name) ...
    exists_subquery: bool = False
    reconstructed: bool = False  # dynamic SQL: text rebuilt from an EXECUTE expression

    @property
    def tables_written(self) -> tuple[str, ...]:
        return tuple(w.table for w in self.writes)


EMPTY = QueryFacts(text="", ok=False, kind="other")

_AGGREGATES = frozenset(
    {
        "sum",
        "count",
        "avg",
        "min",
        "max",
        "array_agg",
        "string_agg",
        "json_agg",
        "jsonb_agg",
        "bool_and",
        "bool_or",
        "every",
        "json_object_agg",
        "jsonb_object_agg",
    }
)
_CLOCK = frozenset(
    {
        "now",
        "current_timestamp",
        "current_date",
        "current_time",
        "localtimestamp",
        "localtime",
        "clock_timestamp",
        "transaction_timestamp",
        "statement_timestamp",
        "timeofday",
    }
)
_WHO = frozenset({"current_user", "session_user", "user", "current_role", "auth.uid"})
_CMP_OPS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">=", "~~", "!~~", "~~*", "@>", "<@"})
_TRIGGER_EVENTS = ((4, "insert"), (8, "delete"), (16, "update"), (32, "truncate"))


# ---------------------------------------------------------------------------------------------
# Small helpers over pglast's JSON tree
# ---------------------------------------------------------------------------------------------


def _names(items: list | None) -> str:
    out = []
    for it in items or ():
        s = it.get("String") if isinstance(it, dict) else None
        if s is not None:
            out.append(s.get("sval", "").lower())
        elif isinstance(it, dict) and "A_Star" in it:
            out.append("*")
    return ".".join(out)


def _rangevar(rv: dict) -> str:
    name = rv.get("relname", "").lower()
    schema = rv.get("schemaname")
    return f"{schema.lower()}.{name}" if schema else name


def _const(c: dict) -> str:
    if c.get("isnull"):
        return "null"
    if "sval" in c:
        return "'" + c["sval"].get("sval", "") + "'"
    if "ival" in c:
        return str(c["ival"].get("ival", 0))
    if "fval" in c:
        return c["fval"].get("fval", "0")
    if "boolval" in c:
        return "true" if c["boolval"].get("boolval") else "false"
    if "bsval" in c:
        return "'" + c["bsval"].get("bsval", "") + "'"
    return "<const>"


def _operand(node: object) -> str:
    """A short text for one side of a comparison."""
    if not isinstance(node, dict) or not node:
        return "<expr>"
    (kind, body), *_ = node.items()
    if kind == "ColumnRef":
        return _names(body.get("fields"))
    if kind == "A_Const":
        return _const(body)
    if kind == "TypeCast":
        return _operand(body.get("arg"))
    if kind == "ParamRef":
        return f"${body.get('number', 0)}"
    if kind == "FuncCall":
        return "fn:" + _names(body.get("funcname"))
    if kind == "SQLValueFunction":
        return "fn:" + body.get("op", "").lower().removeprefix("svfop_")
    if kind == "A_Indirection":
        return _operand(body.get("arg"))
    if (
        kind == "A_Expr"
        and body.get("kind") == "AEXPR_OP"
        and "lexpr" not in body
        and _names(body.get("name")) == "-"
    ):
        inner = _operand(body.get("rexpr"))
        return "-" + inner if inner[:1].isdigit() else "<expr>"
    return "<expr>"


def _is_const(node: object) -> bool:
    if not isinstance(node, dict):
        return False
    if "A_Const" in node:
        return True
    if "TypeCast" in node:
        return _is_const(node["TypeCast"].get("arg"))
    return False


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# ---------------------------------------------------------------------------------------------
# The collector
# ---------------------------------------------------------------------------------------------


class _Collector:
    __slots__ = (
        "aggregates",
        "calls",
        "columns",
        "comparisons",
        "ctes",
        "ddl",
        "exists_subquery",
        "from_functions",
        "notify",
        "on_conflict",
        "reads",
        "recursive",
        "sets",
        "strings",
        "writes",
    )

    def __init__(self) -> None:
        self.writes: list[WriteFact] = []
        self.reads: list[str] = []
        self.from_functions: list[str] = []
        self.calls: list[str] = []
        self.aggregates: list[str] = []
        self.sets: list[SetItem] = []
        self.on_conflict: str | None = None
        self.recursive = False
        self.columns: list[str] = []
        self.comparisons: list[tuple[str, str, str]] = []
        self.strings: list[str] = []
        self.notify: list[str] = []
        self.ddl: list[tuple[str, str]] = []
        self.ctes: set[str] = set()
        self.exists_subquery = False

    # generic descent ------------------------------------------------------------------------
    def visit(self, node: object) -> None:
        if isinstance(node, list):
            for item in node:
                self.visit(item)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            handler = _HANDLERS.get(key)
            if handler is not None and isinstance(value, dict):
                handler(self, value)
            elif isinstance(value, (dict, list)):
                self.visit(value)

    # node handlers --------------------------------------------------------------------------
    def range_var(self, rv: dict) -> None:
        self.reads.append(_rangevar(rv))

    def column_ref(self, node: dict) -> None:
        self.columns.append(_names(node.get("fields")))

    def a_const(self, node: dict) -> None:
        if "sval" in node:
            self.strings.append(node["sval"].get("sval", ""))

    def func_call(self, node: dict) -> None:
        name = _names(node.get("funcname"))
        self.calls.append(name)
        base = _last(name)
        if base in _AGGREGATES and "over" not in node:
            self.aggregates.append(base)
        if base == "pg_notify":
            args = node.get("args") or []
            if args:
                self.notify.append(_operand(args[0]).strip("'"))
        self.visit(node.get("args"))
        self.visit(node.get("agg_filter"))
        self.visit(node.get("agg_order"))

    def sql_value_function(self, node: dict) -> None:
        self.calls.append(node.get("op", "").lower().removeprefix("svfop_"))

    def range_function(self, node: dict) -> None:
        for fn in node.get("functions") or ():
            items = fn.get("List", {}).get("items", []) if isinstance(fn, dict) else []
            for it in items:
                if isinstance(it, dict) and "FuncCall" in it:
                    self.from_functions.append(_names(it["FuncCall"].get("funcname")))
        self.visit(node.get("functions"))

    def with_clause(self, node: dict) -> None:
        if node.get("recursive"):
            self.recursive = True
        for cte in node.get("ctes") or ():
            body = cte.get("CommonTableExpr", {})
            self.ctes.add(body.get("ctename", "").lower())
        self.visit(node.get("ctes"))

    def sub_link(self, node: dict) -> None:
        if node.get("subLinkType") == "EXISTS_SUBLINK":
            self.exists_subquery = True
        self.visit(node.get("testexpr"))
        self.visit(node.get("subselect"))

    def a_expr(self, node: dict) -> None:
        kind = node.get("kind")
        op = _names(node.get("name"))
        left, right = node.get("lexpr"), node.get("rexpr")
        if kind == "AEXPR_OP" and op in _CMP_OPS and left is not None:
            self.comparisons.append((_operand(left), op, _operand(right)))
        elif kind in ("AEXPR_DISTINCT", "AEXPR_NOT_DISTINCT"):
            word = "distinct" if kind == "AEXPR_DISTINCT" else "not distinct"
            self.comparisons.append((_operand(left), word, _operand(right)))
        elif kind == "AEXPR_IN" and isinstance(right, list):
            values = ",".join(_operand(v) for v in right)
            self.comparisons.append((_operand(left), "in" if op == "=" else "not in", values))
        self.visit(left)
        self.visit(right)

    def bool_expr(self, node: dict) -> None:
        boolop = node.get("boolop")
        for arg in node.get("args") or ():
            if isinstance(arg, dict) and "ColumnRef" in arg:
                value = "false" if boolop == "NOT_EXPR" else "true"
                self.comparisons.append((_names(arg["ColumnRef"].get("fields")), "=", value))
        self.visit(node.get("args"))

    def null_test(self, node: dict) -> None:
        op = "is" if node.get("nulltesttype") == "IS_NULL" else "is not"
        self.comparisons.append((_operand(node.get("arg")), op, "null"))
        self.visit(node.get("arg"))

    def boolean_test(self, node: dict) -> None:
        t = node.get("booltesttype", "")
        value = "true" if t in ("IS_TRUE", "IS_NOT_FALSE") else "false"
        self.comparisons.append((_operand(node.get("arg")), "=", value))
        self.visit(node.get("arg"))

    def notify_stmt(self, node: dict) -> None:
        self.notify.append(node.get("conditionname", "").lower())

    def create_trig(self, node: dict) -> None:
        self.ddl.append(("create_trigger", _names(node.get("funcname"))))
        events = node.get("events", 0)
        for bit, name in _TRIGGER_EVENTS:
            if events & bit:
                self.ddl.append(("trigger_event", name))

    def view_stmt(self, node: dict) -> None:
        self.ddl.append(("create_view", _rangevar(node.get("view", {}))))
        self.visit(node.get("query"))

    def create_function(self, node: dict) -> None:
        """A function created by dynamic SQL: its name, and the DML its body text shows."""
        self.ddl.append(("create_function", _names(node.get("funcname"))))
        for opt in node.get("options") or ():
            d = opt.get("DefElem", {})
            if d.get("defname") != "as":
                continue
            items = (d.get("arg") or {}).get("List", {}).get("items", [])
            body = " ".join((i.get("String") or {}).get("sval", "") for i in items)
            low = body.lower()
            for verb, table in _DML_RE.findall(body):
                self.writes.append(
                    WriteFact(
                        op=verb.split()[0].lower(),
                        table=table.lower(),
                        uses_old=bool(re.search(r"\bold\.", low)),
                        uses_new=bool(re.search(r"\bnew\.", low)),
                        uses_tg="tg_op" in low or "tg_table_name" in low,
                        whole_row=bool(re.search(r"\b(old|new)\.\*", low)),
                    )
                )

    def create_stmt(self, node: dict) -> None:
        self.ddl.append(("create_table", _rangevar(node.get("relation", {}))))
        self.visit(node.get("tableElts"))

    def create_table_as(self, node: dict) -> None:
        into = node.get("into", {}).get("rel", {})
        self.ddl.append(("create_table", _rangevar(into)))
        self.visit(node.get("query"))

    # DML --------------------------------------------------------------------------------------
    def _dml(self, op: str, node: dict, body_keys: tuple[str, ...]) -> None:
        table = _rangevar(node.get("relation", {}))
        alias = (node.get("relation", {}).get("alias") or {}).get("aliasname", "").lower()
        n_cols, n_calls = len(self.columns), len(self.calls)
        if "withClause" in node:
            self.with_clause(node["withClause"])
        cols: list[str] = []
        on_conflict = None
        if op == "insert":
            cols = [
                r["ResTarget"].get("name", "").lower()
                for r in node.get("cols") or ()
                if "ResTarget" in r
            ]
            occ = node.get("onConflictClause")
            if occ:
                on_conflict = "update" if occ.get("action") == "ONCONFLICT_UPDATE" else "nothing"
                self.on_conflict = self.on_conflict if self.on_conflict == "update" else on_conflict
                self._set_items(table, alias, occ.get("targetList"))
                self.visit(occ.get("whereClause"))
        elif op == "update":
            cols = self._set_items(table, alias, node.get("targetList"))
        for key in body_keys:
            self.visit(node.get(key))
        used = self.columns[n_cols:]
        heads = {c.split(".", 1)[0] for c in used}
        self.writes.append(
            WriteFact(
                op=op,
                table=table,
                columns=tuple(cols),
                uses_old="old" in heads,
                uses_new="new" in heads,
                uses_tg=any(h.startswith("tg_") for h in heads),
                whole_row=any(c.endswith(".*") or c in ("old", "new") for c in used),
                calls=tuple(self.calls[n_calls:]),
                on_conflict=on_conflict,
            )
        )

    def _set_items(self, table: str, alias: str, targets: list | None) -> list[str]:
        cols = []
        for t in targets or ():
            rt = t.get("ResTarget") if isinstance(t, dict) else None
            if not rt:
                continue
            col = rt.get("name", "").lower()
            cols.append(col)
            self.sets.append(_classify_set(table, col, rt.get("val"), alias))
            self.visit(rt.get("val"))
        return cols

    def insert_stmt(self, node: dict) -> None:
        self._dml("insert", node, ("selectStmt", "returningList"))

    def update_stmt(self, node: dict) -> None:
        self._dml("update", node, ("fromClause", "whereClause", "returningList"))

    def delete_stmt(self, node: dict) -> None:
        self._dml("delete", node, ("usingClause", "whereClause", "returningList"))

    def result(self, text: str, kind: str, select_items: tuple[str, ...]) -> QueryFacts:
        reads = tuple(r for r in self.reads if r not in self.ctes)
        return QueryFacts(
            text=text,
            kind=kind,
            writes=tuple(self.writes),
            reads=reads,
            from_functions=tuple(self.from_functions),
            calls=tuple(self.calls),
            aggregates=tuple(self.aggregates),
            select_items=select_items,
            sets=tuple(self.sets),
            on_conflict=self.on_conflict,
            recursive_cte=self.recursive,
            columns=tuple(self.columns),
            comparisons=tuple(self.comparisons),
            strings=tuple(self.strings),
            notify_channels=tuple(self.notify),
            ddl=tuple(self.ddl),
            exists_subquery=self.exists_subquery,
        )


_HANDLERS = {
    "RangeVar": _Collector.range_var,
    "ColumnRef": _Collector.column_ref,
    "A_Const": _Collector.a_const,
    "FuncCall": _Collector.func_call,
    "SQLValueFunction": _Collector.sql_value_function,
    "RangeFunction": _Collector.range_function,
    "WithClause": _Collector.with_clause,
    "withClause": _Collector.with_clause,
    "SubLink": _Collector.sub_link,
    "A_Expr": _Collector.a_expr,
    "BoolExpr": _Collector.bool_expr,
    "NullTest": _Collector.null_test,
    "BooleanTest": _Collector.boolean_test,
    "NotifyStmt": _Collector.notify_stmt,
    "CreateTrigStmt": _Collector.create_trig,
    "ViewStmt": _Collector.view_stmt,
    "CreateStmt": _Collector.create_stmt,
    "CreateFunctionStmt": _Collector.create_function,
    "CreateTableAsStmt": _Collector.create_table_as,
    "InsertStmt": _Collector.insert_stmt,
    "UpdateStmt": _Collector.update_stmt,
    "DeleteStmt": _Collector.delete_stmt,
}


def _strip_coalesce(node: object) -> object:
    """coalesce(x, 0) -> x (for ``x = coalesce(x, 0) + 1``)."""
    if isinstance(node, dict) and "CoalesceExpr" in node:
        args = node["CoalesceExpr"].get("args") or []
        return args[0] if args else node
    if isinstance(node, dict) and "FuncCall" in node:
        fc = node["FuncCall"]
        if _names(fc.get("funcname")) in ("coalesce", "pg_catalog.coalesce") and fc.get("args"):
            return fc["args"][0]
    if isinstance(node, dict) and "TypeCast" in node:
        return _strip_coalesce(node["TypeCast"].get("arg"))
    return node


def _refers_to(node: object, column: str, alias: str) -> bool:
    node = _strip_coalesce(node)
    if not isinstance(node, dict) or "ColumnRef" not in node:
        return False
    name = _names(node["ColumnRef"].get("fields"))
    parts = name.split(".")
    return parts[-1] == column and parts[0] not in ("old", "new", "excluded")


def _classify_set(table: str, column: str, val: object, alias: str) -> SetItem:
    if isinstance(val, dict) and "A_Expr" in val:
        e = val["A_Expr"]
        op = _names(e.get("name"))
        if e.get("kind") == "AEXPR_OP" and op in ("+", "-"):
            left, right = e.get("lexpr"), e.get("rexpr")
            other = None
            if _refers_to(left, column, alias):
                other = right
            elif op == "+" and _refers_to(right, column, alias):
                other = left
            if other is not None:
                return SetItem(
                    table,
                    column,
                    "inc" if op == "+" else "dec",
                    delta_const=_is_const(other),
                    text=_operand(other),
                )
    if isinstance(val, dict) and ("A_Const" in val or "TypeCast" in val):
        inner = val
        while isinstance(inner, dict) and "TypeCast" in inner:
            inner = inner["TypeCast"].get("arg")
        if isinstance(inner, dict) and "A_Const" in inner:
            text = _const(inner["A_Const"])
            if text in ("true", "false", "null"):
                return SetItem(table, column, text, text=text)
            return SetItem(table, column, "str" if text.startswith("'") else "num", text=text)
    operand = _operand(val)
    if operand.startswith("fn:"):
        name = operand[3:]
        if _last(name) in _CLOCK or name in _CLOCK:
            return SetItem(table, column, "now", text=name)
        if name in _WHO or _last(name) in ("current_user_id", "uid"):
            return SetItem(table, column, "user", text=name)
    if operand.split(".", 1)[0] in ("old", "new"):
        return SetItem(table, column, "record", text=operand)
    return SetItem(table, column, "expr")


_KIND = {
    "SelectStmt": "select",
    "InsertStmt": "insert",
    "UpdateStmt": "update",
    "DeleteStmt": "delete",
    "NotifyStmt": "notify",
    "CreateTrigStmt": "create_trigger",
}


def _select_items(stmt: dict) -> tuple[str, ...]:
    sel = stmt.get("SelectStmt")
    if not sel:
        return ()
    out = []
    for t in sel.get("targetList") or ():
        val = (t.get("ResTarget") or {}).get("val")
        out.append(_item_kind(val))
    return tuple(out)


def _item_kind(val: object) -> str:
    val = _strip_coalesce(val)
    if not isinstance(val, dict) or not val:
        return "expr"
    kind, body = next(iter(val.items()))
    if kind == "FuncCall":
        name = _last(_names(body.get("funcname")))
        if name in _AGGREGATES and "over" not in body:
            return "agg:" + name
        return "fn:" + name
    if kind == "ColumnRef":
        return "col:" + _names(body.get("fields"))
    if kind == "A_Const":
        return "const"
    if kind == "SubLink":
        sub = body.get("subselect", {})
        items = _select_items(sub)
        if body.get("subLinkType") == "EXISTS_SUBLINK":
            return "exists"
        return items[0] if len(items) == 1 else "expr"
    if kind == "A_Expr":
        parts = [_item_kind(body.get("lexpr")), _item_kind(body.get("rexpr"))]
        aggs = [p for p in parts if p.startswith("agg:")]
        return aggs[0] if aggs else "expr"
    return "expr"


def _facts_from_json(text: str, tree: dict, kind_hint: str | None = None) -> QueryFacts:
    stmts = [s.get("stmt", {}) for s in tree.get("stmts", ())]
    col = _Collector()
    col.visit(stmts)
    first = stmts[0] if stmts else {}
    top = next(iter(first), "")
    kind = kind_hint or _KIND.get(top, "ddl" if top.endswith("Stmt") else "other")
    items = _select_items(first) if kind in ("select", "expr") else ()
    return col.result(text, kind, items)


def _parse(text: str) -> dict:
    return json.loads(_pg.parse_sql_json(text))


_ASSIGN_RE = re.compile(r"^\s*(?P<target>[^:=]+?)\s*(?::=|=)\s*", re.S)


def split_assignment(text: str) -> tuple[str, str]:
    """``'x.y[1] := expr'`` -> ``('x.y[1]', 'expr')`` (PLpgSQL_stmt_assign query text)."""
    m = _ASSIGN_RE.match(text)
    if not m:
        return "", text
    return m.group("target").strip(), text[m.end() :]


@lru_cache(maxsize=8192)
def query_facts(text: str, mode: int = 0) -> QueryFacts:
    """Facts of one PLpgSQL_expr ``query`` text; ``mode`` is its ``parseMode``."""
    if not text or not text.strip():
        return EMPTY
    kind_hint = None
    sql = text
    if mode == 2:
        sql, kind_hint = "SELECT " + text, "expr"
    elif mode in (3, 4, 5):
        sql, kind_hint = "SELECT " + split_assignment(text)[1], "expr"
    try:
        tree = _parse(sql)
    except _pg.ParseError as exc:
        return QueryFacts(text=text, ok=False, error=str(exc), kind="other")
    return _facts_from_json(text, tree, kind_hint)


# ---------------------------------------------------------------------------------------------
# Dynamic SQL (EXECUTE)
# ---------------------------------------------------------------------------------------------

_PLACEHOLDER = "_x_"
_FMT_RE = re.compile(r"%(?:(\d+)\$)?([IsL%])")


def _render(node: object, env: dict[str, str], depth: int = 0) -> str:
    """Rebuild the SQL text an expression computes, with dummies for what is not a literal."""
    if depth > 40 or not isinstance(node, dict) or not node:
        return _PLACEHOLDER
    kind, body = next(iter(node.items()))
    if kind == "A_Const":
        if "sval" in body:
            return body["sval"].get("sval", "")
        return _const(body)
    if kind == "TypeCast":
        return _render(body.get("arg"), env, depth + 1)
    if kind == "A_Expr" and _names(body.get("name")) == "||":
        return _render(body.get("lexpr"), env, depth + 1) + _render(
            body.get("rexpr"), env, depth + 1
        )
    if kind == "ColumnRef":
        name = _names(body.get("fields"))
        return env.get(name, _PLACEHOLDER)
    if kind == "FuncCall":
        name = _last(_names(body.get("funcname")))
        args = body.get("args") or []
        if name == "format" and args:
            fmt = _render(args[0], env, depth + 1)
            values = [_render(a, env, depth + 1) for a in args[1:]]
            position = iter(range(len(values)))

            def sub(m: re.Match) -> str:
                spec, conv = m.group(1), m.group(2)
                if conv == "%":
                    return "%"
                idx = int(spec) - 1 if spec else next(position, len(values))
                value = values[idx] if 0 <= idx < len(values) else _PLACEHOLDER
                if conv == "L":
                    return "'" + value.replace("'", "''") + "'"
                return value if re.fullmatch(r"[\w.$]+", value) else _PLACEHOLDER

            return _FMT_RE.sub(sub, fmt)
        if name in ("concat", "concat_ws") and args:
            parts = [_render(a, env, depth + 1) for a in args]
            return parts[0].join(parts[1:]) if name == "concat_ws" else "".join(parts)
        if name in ("quote_literal", "quote_nullable"):
            return "'_x_'"
        if name == "quote_ident" and args:
            return _render(args[0], env, depth + 1)
        return _PLACEHOLDER
    if kind == "CaseExpr":
        whens = body.get("args") or []
        if whens:
            return _render(whens[0].get("CaseWhen", {}).get("result"), env, depth + 1)
        return _render(body.get("defresult"), env, depth + 1)
    return _PLACEHOLDER


def render_expression(text: str, env: dict[str, str] | None = None) -> str | None:
    """The string an expression builds (string literals kept, the rest as dummies), or None."""
    try:
        tree = _parse("SELECT " + text)
    except _pg.ParseError:
        return None
    try:
        val = tree["stmts"][0]["stmt"]["SelectStmt"]["targetList"][0]["ResTarget"]["val"]
    except (KeyError, IndexError):
        return None
    return _render(val, env or {})


_DML_RE = re.compile(
    r"\b(insert\s+into|update|delete\s+from)\s+(?:only\s+)?([a-z_][\w$]*(?:\.[a-z_][\w$]*)?)",
    re.I,
)
_TRIG_RE = re.compile(
    r"\bcreate\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger\b.*?\bexecute\s+(?:procedure|function)\s+"
    r"([a-z_][\w$]*(?:\.[a-z_][\w$]*)?)",
    re.I | re.S,
)
_SELF_INC_RE = re.compile(r"\b([a-z_]\w*)\s*=\s*(?:[a-z_]\w*\.)?\1\s*([+-])", re.I)


def _token_facts(text: str, error: str) -> QueryFacts:
    """What can be read from dynamic SQL text that does not parse."""
    writes = []
    for verb, table in _DML_RE.findall(text):
        op = verb.split()[0].lower()
        table = _undummy(table.lower())
        if table in ("set", "of"):
            table = DYNAMIC
        writes.append(WriteFact(op=op, table=table.lower()))
    sets = tuple(
        SetItem("", m.group(1).lower(), "inc" if m.group(2) == "+" else "dec")
        for m in _SELF_INC_RE.finditer(text)
    )
    ddl = tuple(("create_trigger", m.lower()) for m in _TRIG_RE.findall(text))
    lowered = text.lower()
    on_conflict = None
    if re.search(r"\bon\s+conflict\b[^;]*\bdo\s+update\b", lowered):
        on_conflict = "update"
    elif re.search(r"\bon\s+conflict\b[^;]*\bdo\s+nothing\b", lowered):
        on_conflict = "nothing"
    return QueryFacts(
        text=text,
        ok=False,
        error=error,
        kind=writes[0].op if writes else ("create_trigger" if ddl else "other"),
        writes=tuple(writes),
        sets=sets,
        ddl=ddl,
        on_conflict=on_conflict,
        recursive_cte="with recursive" in lowered,
        reconstructed=True,
    )


@lru_cache(maxsize=2048)
def _dynamic_text_facts(sql: str) -> QueryFacts:
    sql = sql.strip()
    if not sql:
        return EMPTY
    try:
        tree = _parse(sql)
    except _pg.ParseError as exc:
        return _token_facts(sql, str(exc))
    facts = _facts_from_json(sql, tree)
    return QueryFacts(
        **{
            **_asdict(facts),
            "reconstructed": True,
            "writes": tuple(_undummy_write(w) for w in facts.writes),
            "reads": tuple(_undummy(r) for r in facts.reads),
            "ddl": tuple((kind, _undummy(name)) for kind, name in facts.ddl),
            "sets": tuple(
                SetItem(_undummy(s.table), s.column, s.value, s.delta_const, s.text)
                if _PLACEHOLDER in s.table
                else s
                for s in facts.sets
            ),
        }
    )


DYNAMIC = "?"  # stands for the run-time part of a table name built by dynamic SQL


def is_dynamic(table: str) -> bool:
    """True when nothing of a (dynamic SQL) table name is known: '?', '?.?'."""
    return not table.replace(DYNAMIC, "").replace(".", "").replace("_", "").strip()


def _undummy(name: str) -> str:
    return name.replace(_PLACEHOLDER, DYNAMIC)


def _undummy_write(w: WriteFact) -> WriteFact:
    if _PLACEHOLDER not in w.table:
        return w
    return WriteFact(
        w.op,
        _undummy(w.table),
        w.columns,
        w.uses_old,
        w.uses_new,
        w.uses_tg,
        w.whole_row,
        w.calls,
        w.on_conflict,
    )


def _asdict(f: QueryFacts) -> dict:
    return {name: getattr(f, name) for name in QueryFacts.__dataclass_fields__}


def dynamic_sql_facts(expr_text: str, env: dict[str, str] | None = None) -> QueryFacts:
    """Facts of the SQL built by an ``EXECUTE <expr_text>``.

    ``env`` maps variable names to the SQL text they were last assigned (so that
    ``q := 'UPDATE ' || t || ' SET n = n + 1'; EXECUTE q;`` is understood).
    """
    sql = render_expression(expr_text, env)
    if sql is None:
        return QueryFacts(text=expr_text, ok=False, error="unparsable expression", kind="other")
    return _dynamic_text_facts(sql)


def looks_like_sql(text: str) -> bool:
    return bool(
        re.match(
            r"\s*(select|insert|update|delete|with|create|alter|drop|truncate|notify)\b",
            text,
            re.I,
        )
    )


# ---------------------------------------------------------------------------------------------
# Token-level splitting of bodies parse_plpgsql rejects
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RawStatement:
    """One statement of a body that could not be parsed, with its control-flow context."""

    text: str  # the statement, control keywords stripped (``RAISE EXCEPTION '…'``)
    line: int  # 1-based line in the body
    kind: str  # sql | raise | return | assign | perform | execute | other
    conditions: list[str] = field(default_factory=list)  # enclosing IF/ELSIF/WHILE conditions
    in_loop: bool = False
    in_handler: bool = False
    depth: int = 0
    cond_line: int = 0  # for kind == 'if': line of the condition


_KEYWORD_HEAD = re.compile(
    r"^\s*(?:<<\w+>>\s*)?(declare|begin|exception|end|if|elsif|elseif|else|loop|for|foreach|while|when|case)\b",
    re.I,
)


def split_body(body: str) -> list[RawStatement]:
    """Split a PL/pgSQL body into statements using PostgreSQL's SQL scanner.

    Control keywords (IF … THEN, ELSE, LOOP, END IF, EXCEPTION WHEN … THEN) are consumed and
    recorded as context; what remains between semicolons is a statement. The conditions of
    IF/ELSIF/WHILE are returned as ``kind='if'`` pseudo-statements so that they can be parsed
    as expressions.
    """
    try:
        tokens = _pg.scan(body)
    except Exception:  # the scanner rejects almost nothing; be safe anyway
        return []
    line_starts = [0]
    for i, ch in enumerate(body):
        if ch == "\n":
            line_starts.append(i + 1)

    def line_of(pos: int) -> int:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    out: list[RawStatement] = []
    stack: list[tuple[str, str]] = []  # (block kind, condition text)
    i, n = 0, len(tokens)

    def word(k: int) -> str:
        t = tokens[k]
        return body[t.start : t.end + 1].lower() if k < n else ""

    def ctx() -> tuple[list[str], bool, bool, int]:
        conds = [c for kind, c in stack if c]
        return (
            conds,
            any(k == "loop" for k, _ in stack),
            any(k == "handler" for k, _ in stack),
            len(stack),
        )

    in_declare = False
    while i < n:
        w = word(i)
        start = tokens[i].start
        if w == "declare":
            in_declare = True
            i += 1
            continue
        if w == "begin":
            in_declare = False
            stack.append(("block", ""))
            i += 1
            continue
        if in_declare:  # skip declarations up to the next semicolon
            while i < n and word(i) != ";":
                i += 1
            i += 1
            continue
        if w == "end":
            # END IF / END LOOP / END CASE / END [label];
            nxt = word(i + 1) if i + 1 < n else ""
            if stack:
                stack.pop()
            i += 2 if nxt in ("if", "loop", "case") else 1
            while i < n and word(i) != ";":
                i += 1
            i += 1
            continue
        if w in ("if", "elsif", "elseif", "while", "when"):
            j = i + 1
            stop = {"then"} if w != "while" else {"loop"}
            while j < n and word(j) not in stop:
                j += 1
            cond = body[tokens[i + 1].start : tokens[j - 1].end + 1] if j > i + 1 else ""
            if w in ("elsif", "elseif", "when") and stack and stack[-1][0] in ("if", "handler"):
                kind = stack.pop()[0]
            else:
                kind = {"if": "if", "while": "loop", "when": "handler"}.get(w, "if")
            if w == "when" and not any(k == "block" for k, _ in stack):
                kind = "if"  # CASE WHEN
            label = cond if kind != "handler" else ""
            conds, loop, handler, depth = ctx()
            out.append(
                RawStatement(
                    cond, line_of(start), "if", conds, loop, handler, depth, line_of(start)
                )
            )
            stack.append((kind, label))
            i = j + 1
            continue
        if w == "else":
            if stack and stack[-1][0] == "if":
                cond = stack.pop()[1]
                stack.append(("if", f"NOT ({cond})" if cond else ""))
            i += 1
            continue
        if w == "exception":
            stack.append(("handler", ""))
            i += 1
            continue
        if w in ("loop",):
            stack.append(("loop", ""))
            i += 1
            continue
        if w in ("for", "foreach"):
            j = i + 1
            while j < n and word(j) != "loop":
                j += 1
            text = body[start : tokens[j - 1].end + 1] if j > i else ""
            conds, loop, handler, depth = ctx()
            out.append(RawStatement(text, line_of(start), "loop", conds, loop, handler, depth))
            stack.append(("loop", ""))
            i = j + 1
            continue
        if w == "case":
            stack.append(("case", ""))
            i += 1
            continue
        # a plain statement up to the next top-level semicolon
        j = i
        while j < n and word(j) != ";":
            j += 1
        text = body[start : tokens[j - 1].end + 1] if j > i else ""
        i = j + 1
        if not text.strip():
            continue
        head = text.split(None, 1)[0].lower()
        kind = {
            "raise": "raise",
            "return": "return",
            "perform": "perform",
            "execute": "execute",
            "assert": "raise",
        }.get(head)
        if kind is None:
            if looks_like_sql(text):
                kind = "sql"
            elif re.match(r"^\s*[\w.\[\]\"]+\s*:?=", text):
                kind = "assign"
            else:
                kind = "other"
        conds, loop, handler, depth = ctx()
        out.append(RawStatement(text, line_of(start), kind, conds, loop, handler, depth))
    return out
