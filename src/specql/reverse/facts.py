"""What a function does, as countable facts: the input of the heuristics (and of triage).

:func:`extract_facts` walks the PL/pgSQL body AST of a
:class:`~specql.reverse.source.FunctionInfo` (pglast's PLpgSQL_function dict) generically and
flattens it into :class:`Stmt` records that know their line, nesting depth, whether they sit in
a loop or an exception handler, and the IF/CASE/WHILE conditions guarding them. Every embedded
query, condition, assignment and dynamic EXECUTE is described by
:class:`~specql.reverse.parse_queries.QueryFacts` (the parse stage parses the SQL text; nothing
here imports pglast). Functions the parser could not read (``parse_path == 'raw'``) get the
same records from a token-level split of the body, less precisely.

Everything here is plain data and deterministic; extraction of an average function takes a
fraction of a millisecond (embedded queries are parsed once per distinct text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from specql.reverse.body import expr_text
from specql.reverse.parse_queries import (
    EMPTY,
    QueryFacts,
    RawStatement,
    dynamic_sql_facts,
    looks_like_sql,
    query_facts,
    render_expression,
    split_assignment,
    split_body,
)
from specql.reverse.source import TRIGGER_VARIABLES, FunctionInfo

# elog levels of PLpgSQL_stmt_raise (PostgreSQL's elog.h)
_LEVELS = {14: "debug", 15: "log", 17: "info", 18: "notice", 19: "warning", 21: "exception"}

# Statements that run one SQL text, read as a query (PERFORM and CALL have no INTO): the key
# of that text in the statement's AST node.
_SQL_TEXT_KEY = {"execsql": "sqlstmt", "perform": "expr", "call": "expr"}


@dataclass(slots=True)
class Guard:
    """A condition some statement depends on (IF / ELSIF / CASE WHEN / WHILE / EXIT WHEN)."""

    text: str  # the condition as written
    line: int
    facts: QueryFacts  # the condition parsed as an expression
    negated: bool = False  # the statement is in the ELSE side (or a later ELSIF)

    @property
    def tests_found(self) -> str | None:
        """'found' / 'not found' when the condition is about FOUND (after a query)."""
        t = re.sub(r"\s+", " ", self.text.strip().lower())
        if t in ("found", "(found)"):
            return "not found" if self.negated else "found"
        if t in ("not found", "(not found)", "not (found)"):
            return "found" if self.negated else "not found"
        return None

    @property
    def only_trigger_vars(self) -> bool:
        """The condition only looks at TG_OP/TG_WHEN/TG_LEVEL… (a trigger-usage check)."""
        cols = [c for c in self.facts.columns if c]
        return bool(cols) and all(c.split(".")[0] in TRIGGER_VARIABLES for c in cols)


@dataclass(slots=True)
class Stmt:
    kind: str  # declare assign if case loop while exit return return_next return_query
    #            raise assert execsql perform dynexecute getdiag call block other
    line: int  # line in the file when the body position is known, else in the body
    depth: int = 0  # nesting of IF/CASE/loops/blocks
    in_loop: bool = False
    loop_kind: str = ""  # innermost loop: query (FOR r IN SELECT) | range | array | while | loop
    in_handler: bool = False  # inside an EXCEPTION WHEN … THEN
    guards: tuple[Guard, ...] = ()
    text: str = ""  # SQL / expression text (first 200 characters)
    query: QueryFacts = EMPTY  # the embedded SQL (or the expression) parsed
    targets: tuple[str, ...] = ()  # INTO / assignment targets: 'v_total', 'new.updated_at'
    level: str = ""  # raise: exception | warning | notice | info | log | debug
    message: str = ""  # raise message / condition name / errcode
    dynamic: bool = False  # EXECUTE of a built string

    @property
    def unconditional(self) -> bool:
        return not self.guards


@dataclass(slots=True)
class VarInfo:
    name: str
    type: str = ""
    default: str = ""
    is_arg: bool = False
    constant: bool = False


@dataclass(slots=True)
class FunctionFacts:
    name: str
    schema: str | None
    qualified_name: str
    name_tokens: tuple[str, ...]
    args: tuple[tuple[str, str], ...]  # (name, type)
    returns: str
    is_trigger: bool
    trigger_events: frozenset[str]  # from the CREATE TRIGGERs that run it
    trigger_timing: frozenset[str]  # before / after / instead of
    comment: str
    parse_path: str
    statements: list[Stmt] = field(default_factory=list)
    conditions: list[Guard] = field(default_factory=list)
    variables: dict[str, VarInfo] = field(default_factory=dict)
    exception_conditions: list[str] = field(default_factory=list)
    diagnostics: list[tuple[str, str]] = field(default_factory=list)  # (ROW_COUNT, target)
    max_depth: int = 0
    sql_variables: set[str] = field(default_factory=set)  # variables holding built SQL text
    body_lines: tuple[str, ...] = ()
    body_line: int = 0  # file line of body line 1 (0 = unknown)

    # -- derived views --------------------------------------------------------------------
    def of_kind(self, *kinds: str) -> Iterator[Stmt]:
        return (s for s in self.statements if s.kind in kinds)

    @property
    def counts(self) -> Counter:
        return Counter(s.kind for s in self.statements)

    def queries(self) -> Iterator[tuple[Stmt, QueryFacts]]:
        """Every parsed SQL statement (static or reconstructed dynamic) with its statement."""
        for s in self.statements:
            if s.query.kind not in ("expr", "other") or s.query.writes:
                yield s, s.query

    def expressions(self) -> Iterator[tuple[int, QueryFacts]]:
        """Every parsed fact source: queries, conditions, assignments, return values."""
        for s in self.statements:
            if s.query is not EMPTY:
                yield s.line, s.query
        for g in self.conditions:
            yield g.line, g.facts

    def writes(self) -> Iterator[tuple[Stmt, object]]:
        for s, q in self.queries():
            for w in q.writes:
                yield s, w

    @property
    def tables_written(self) -> Counter:
        return Counter(w.table for _, w in self.writes())

    @property
    def tables_read(self) -> Counter:
        """Tables read by queries and by conditions (IF EXISTS (SELECT … FROM t))."""
        return Counter(t for _, q in self.expressions() for t in q.reads)

    @property
    def calls(self) -> set[str]:
        return {c for _, q in self.expressions() for c in q.calls} | {
            f for _, q in self.expressions() for f in q.from_functions
        }

    @property
    def columns(self) -> set[str]:
        return {c for _, q in self.expressions() for c in q.columns}

    @property
    def strings(self) -> list[str]:
        return [t for _, q in self.expressions() for t in q.strings]

    @property
    def record_assignments(self) -> list[Stmt]:
        """Statements assigning NEW.<column> (assignments and SELECT … INTO NEW.col)."""
        return [s for s in self.statements if any(t.startswith("new.") for t in s.targets)]

    def line_text(self, line: int) -> str:
        """Source text of a line (file line numbering, like Stmt.line)."""
        idx = line - (self.body_line or 1)
        return self.body_lines[idx] if 0 <= idx < len(self.body_lines) else ""

    @property
    def identifier_tokens(self) -> set[str]:
        """Lower-case word tokens of every identifier seen: names, columns, tables, calls."""
        words: set[str] = set(self.name_tokens)
        names = list(self.columns) + list(self.calls)
        names += list(self.tables_written) + list(self.tables_read)
        names += [a for a, _ in self.args] + list(self.variables)
        for n in names:
            words.update(tokens(n))
        return words


_TOKEN_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def tokens(name: str) -> tuple[str, ...]:
    """``'app_public.tg_users__deletionChecks'`` -> ``('app', 'public', 'tg', 'users', 'deletion', 'checks')``."""
    return tuple(t.lower() for t in _TOKEN_RE.findall(name or ""))


# ---------------------------------------------------------------------------------------------
# Extraction from the PL/pgSQL AST
# ---------------------------------------------------------------------------------------------


def _expr_mode(node: object) -> int:
    if isinstance(node, dict):
        return (node.get("PLpgSQL_expr") or {}).get("parseMode", 0)
    return 0


class _Walker:
    def __init__(self, facts: FunctionFacts, datums: list) -> None:
        self.f = facts
        self.datums = datums
        self.offset = (facts.body_line - 1) if facts.body_line else 0
        self.env: dict[str, str] = {}  # variable -> SQL text it was assigned (dynamic SQL)

    # helpers ----------------------------------------------------------------------------------
    def datum_name(self, dno: int | None) -> str:
        if dno is None or not (0 <= dno < len(self.datums)):
            return ""
        d = self.datums[dno]
        kind, body = next(iter(d.items()))
        if kind == "PLpgSQL_recfield":
            parent = self.datum_name(body.get("recparentno", 0))
            return f"{parent}.{body.get('fieldname', '').lower()}"
        return body.get("refname", "").lower()

    def targets(self, target: object) -> tuple[str, ...]:
        if not isinstance(target, dict) or not target:
            return ()
        kind, body = next(iter(target.items()))
        if kind == "PLpgSQL_row":
            return tuple(f.get("name", "").lower() for f in body.get("fields", ()))
        return (body.get("refname", "").lower(),)

    def guard(self, cond: object, line: int, negated: bool = False) -> Guard:
        text = expr_text(cond)
        g = Guard(text=text, line=line + self.offset, facts=query_facts(text, 2), negated=negated)
        return g

    # walk -------------------------------------------------------------------------------------
    def walk(self, stmts: list | None, guards: tuple, depth: int, loop: str, handler: bool):
        for node in stmts or ():
            if isinstance(node, dict) and node:
                kind, body = next(iter(node.items()))
                self.stmt(kind, body, guards, depth, loop, handler)

    def add(self, kind: str, body: dict, guards, depth, loop, handler, **kw) -> Stmt:
        s = Stmt(
            kind=kind,
            line=body.get("lineno", 0) + self.offset,
            depth=depth,
            in_loop=bool(loop),
            loop_kind=loop,
            in_handler=handler,
            guards=guards,
            **kw,
        )
        self.f.statements.append(s)
        self.f.max_depth = max(self.f.max_depth, depth)
        return s

    def stmt(self, kind: str, body: dict, guards: tuple, depth: int, loop: str, handler: bool):
        short = kind.removeprefix("PLpgSQL_stmt_")
        line = body.get("lineno", 0)

        def add(stmt_kind: str, text: str = "", **kw) -> None:
            """Record this statement as ``stmt_kind`` (``text``: its first 200 characters)."""
            self.add(stmt_kind, body, guards, depth, loop, handler, text=text[:200], **kw)

        if short == "block":
            add("block")
            self.walk(body.get("body"), guards, depth + 1, loop, handler)
            exc = (body.get("exceptions") or {}).get("PLpgSQL_exception_block", {})
            for e in exc.get("exc_list", ()):
                ex = e.get("PLpgSQL_exception", {})
                for c in ex.get("conditions", ()):
                    name = c.get("PLpgSQL_condition", {}).get("condname", "")
                    self.f.exception_conditions.append(name.lower())
                self.walk(ex.get("action"), guards, depth + 1, loop, True)
        elif short == "if":
            g = self.guard(body.get("cond"), line)
            self.f.conditions.append(g)
            add("if", text=g.text, query=g.facts)
            self.walk(body.get("then_body"), (*guards, g), depth + 1, loop, handler)
            previous = [g]
            for ei in body.get("elsif_list", ()):
                b = ei.get("PLpgSQL_if_elsif", {})
                eg = self.guard(b.get("cond"), b.get("lineno", line))
                self.f.conditions.append(eg)
                negs = tuple(Guard(p.text, p.line, p.facts, True) for p in previous)
                self.walk(b.get("stmts"), (*guards, *negs, eg), depth + 1, loop, handler)
                previous.append(eg)
            if body.get("else_body"):
                negs = tuple(Guard(p.text, p.line, p.facts, True) for p in previous)
                self.walk(body.get("else_body"), (*guards, *negs), depth + 1, loop, handler)
        elif short == "case":
            t_expr = expr_text(body.get("t_expr"))
            add("case", text=t_expr)
            for cw in body.get("case_when_list", ()):
                b = cw.get("PLpgSQL_case_when", {})
                g = self.guard(b.get("expr"), b.get("lineno", line))
                if t_expr:
                    g.text = f"{t_expr} = {g.text}"
                self.f.conditions.append(g)
                self.walk(b.get("stmts"), (*guards, g), depth + 1, loop, handler)
            self.walk(body.get("else_stmts"), guards, depth + 1, loop, handler)
        elif short in ("loop", "while", "fori", "fors", "forc", "foreach_a", "dynfors"):
            g_list: tuple = guards
            q = EMPTY
            text = ""
            dynamic = False
            if short == "while":
                g = self.guard(body.get("cond"), line)
                self.f.conditions.append(g)
                g_list = (*guards, g)
                text, q = g.text, g.facts
            elif short == "fors" or short == "forc":
                text = expr_text(body.get("query"))
                q = query_facts(text, 0)
            elif short == "dynfors":
                text = expr_text(body.get("query"))
                q = dynamic_sql_facts(text, self.env)
                dynamic = True
            elif short == "foreach_a":
                text = expr_text(body.get("expr"))
                q = query_facts(text, 2)
            var = body.get("var") or {}
            targets = self.targets(var) if var else ()
            add(
                "loop" if short != "while" else "while",
                text=text,
                query=q,
                targets=targets,
                dynamic=dynamic,
            )
            inner = {
                "fors": "query",
                "forc": "query",
                "dynfors": "query",
                "fori": "range",
                "foreach_a": "array",
                "while": "while",
            }.get(short, "loop")
            self.walk(body.get("body"), g_list, depth + 1, inner, handler)
        elif short == "exit":
            if body.get("cond"):
                g = self.guard(body.get("cond"), line)
                self.f.conditions.append(g)
            add("exit")
        elif short in ("return", "return_next"):
            text = expr_text(body.get("expr"))
            if not text:
                text = self._return_word(line)
            q = query_facts(text, 2) if text and text.upper() not in ("NEW", "OLD") else EMPTY
            add(short, text=text, query=q)
        elif short == "return_query":
            text = expr_text(body.get("query"))
            if text:
                q = query_facts(text, 0)
                dyn = False
            else:
                text = expr_text(body.get("dynquery"))
                q = dynamic_sql_facts(text, self.env)
                dyn = True
            add("return_query", text=text, query=q, dynamic=dyn)
        elif short == "raise":
            level = _LEVELS.get(body.get("elog_level", 0), "")
            message = body.get("message") or body.get("condname") or ""
            if not level:
                level = "exception"  # RAISE; / RAISE condition_name: re-raise or named error
            for opt in body.get("options", ()):
                o = opt.get("PLpgSQL_raise_option", {})
                if o.get("opt_type") in (0, None) and not message:  # ERRCODE
                    message = expr_text(o.get("expr"))
            add("raise", level=level, message=message)
        elif short == "assert":
            g = self.guard(body.get("cond"), line)
            add(
                "assert",
                level="exception",
                text=g.text,
                query=g.facts,
                message=expr_text(body.get("message")),
            )
        elif short == "assign":
            text = expr_text(body.get("expr"))
            target_text, value = split_assignment(text)
            target = self.datum_name(body.get("varno")) or target_text.lower()
            if "[" in target_text and "[" not in target:
                target = target + "[]"
            q = query_facts(text, 3)
            add("assign", text=text, query=q, targets=(target,))
            rendered = render_expression(value, self.env) if "'" in value or "$" in value else None
            if rendered is not None:
                self.env[target] = rendered
                if looks_like_sql(rendered):
                    self.f.sql_variables.add(target)
        elif short in _SQL_TEXT_KEY:  # a statement that runs one SQL text (INTO targets)
            text = expr_text(body.get(_SQL_TEXT_KEY[short]))
            q = query_facts(text, 0)
            targets = self.targets(body.get("target")) if body.get("into") else ()
            add(short, text=text, query=q, targets=targets)
        elif short == "dynexecute":
            text = expr_text(body.get("query"))
            q = dynamic_sql_facts(text, self.env)
            targets = self.targets(body.get("target")) if body.get("into") else ()
            add("dynexecute", text=q.text or text, query=q, targets=targets, dynamic=True)
        elif short == "getdiag":
            for item in body.get("diag_items", ()):
                d = item.get("PLpgSQL_diag_item", {})
                self.f.diagnostics.append((d.get("kind", ""), self.datum_name(d.get("target"))))
            add("getdiag")
        else:
            add(short)

    def _return_word(self, line: int) -> str:
        """RETURN NEW / RETURN OLD / RETURN var: the AST keeps only a variable number."""
        m = re.search(r"\breturn\s+([a-z_][\w.]*)", self.f.line_text(line + self.offset), re.I)
        return m.group(1) if m else ""


def _function_dict(plpgsql: dict | list | None) -> dict | None:
    if isinstance(plpgsql, list):
        plpgsql = plpgsql[0] if plpgsql else None
    if isinstance(plpgsql, dict) and "PLpgSQL_function" in plpgsql:
        return plpgsql["PLpgSQL_function"]
    return plpgsql


def extract_facts(fn: FunctionInfo) -> FunctionFacts:
    """Facts of one function (AST path, or token-level when the body did not parse)."""
    timing = frozenset(t.timing.lower() for t in fn.triggers)
    events = frozenset(e.lower() for t in fn.triggers for e in t.events)
    facts = FunctionFacts(
        name=fn.name,
        schema=fn.schema,
        qualified_name=fn.qualified_name,
        name_tokens=tokens(fn.name),
        args=tuple((a.name or f"${i + 1}", a.sql_type) for i, a in enumerate(fn.args)),
        returns=(fn.returns or "").lower(),
        is_trigger=fn.is_trigger,
        trigger_events=events,
        trigger_timing=timing,
        comment=fn.comment or "",
        parse_path=fn.parse_path,
        body_lines=tuple(fn.body.split("\n")),
        body_line=fn.body_line,
    )
    for i, a in enumerate(fn.args):
        name = (a.name or f"${i + 1}").lower()
        facts.variables[name] = VarInfo(name, a.sql_type.lower(), a.default or "", is_arg=True)
    func = _function_dict(fn.plpgsql)
    if func is not None:
        datums = func.get("datums", [])
        arg_names = set(facts.variables)
        for d in datums:
            kind, body = next(iter(d.items()))
            if kind not in ("PLpgSQL_var", "PLpgSQL_rec"):
                continue
            name = body.get("refname", "").lower()
            if name in TRIGGER_VARIABLES or name in ("found", "new", "old") or name in arg_names:
                continue
            typ = (body.get("datatype") or {}).get("PLpgSQL_type", {}).get("typname", "")
            if kind == "PLpgSQL_rec":
                typ = "record"
            facts.variables.setdefault(
                name,
                VarInfo(
                    name,
                    typ.lower(),
                    expr_text(body.get("default_val")),
                    constant=bool(body.get("isconst")),
                ),
            )
        walker = _Walker(facts, datums)
        for d in datums:  # DECLARE x := (SELECT …): defaults run queries too
            body = d.get("PLpgSQL_var") or {}
            default = expr_text(body.get("default_val"))
            if default and body.get("lineno"):
                facts.statements.append(
                    Stmt(
                        kind="declare",
                        line=body["lineno"] + walker.offset,
                        text=default[:200],
                        query=query_facts(default, 2),
                        targets=(body.get("refname", "").lower(),),
                    )
                )
        action = func.get("action") or {}
        walker.walk([action], (), 0, "", False)
    else:
        _raw_facts(facts, fn)
    return facts


# ---------------------------------------------------------------------------------------------
# Token-level path (bodies parse_plpgsql rejects)
# ---------------------------------------------------------------------------------------------

_RAISE_RE = re.compile(
    r"^\s*raise\s+(?:(debug|log|info|notice|warning|exception)\b)?\s*(?:'((?:[^']|'')*)'|(\w+))?",
    re.I,
)
_DECL_RE = re.compile(
    r"^\s*([a-z_]\w*)\s+(?:constant\s+)?([a-z_][\w.%\[\]() ,]*?)\s*(?::=|=|default|;|$)", re.I
)
_INTO_RE = re.compile(r"\binto\s+(?:strict\s+)?([a-z_][\w.]*(?:\s*,\s*[a-z_][\w.]*)*)", re.I)


def _raw_facts(facts: FunctionFacts, fn: FunctionInfo) -> None:
    body = fn.body or "\n".join(t for t, _ in fn.raw_statements)
    offset = (fn.body_line - 1) if fn.body_line else 0
    env: dict[str, str] = {}
    m = re.search(r"\bdeclare\b(.*?)\bbegin\b", body, re.I | re.S)
    if m:
        for decl in m.group(1).split(";"):
            d = _DECL_RE.match(decl.strip())
            if d and d.group(1).lower() not in ("begin",):
                name = d.group(1).lower()
                facts.variables.setdefault(name, VarInfo(name, d.group(2).strip().lower()))
    guards_cache: dict[str, Guard] = {}

    def guard(text: str) -> Guard:
        g = guards_cache.get(text)
        if g is None:
            negated = text.startswith("NOT (") and text.endswith(")")
            inner = text[5:-1] if negated else text
            g = Guard(inner, 0, query_facts(inner, 2), negated)
            guards_cache[text] = g
        return g

    for rs in split_body(body):
        guards = tuple(guard(c) for c in rs.conditions)
        line = rs.line + offset
        common = dict(
            line=line,
            depth=rs.depth,
            in_loop=rs.in_loop,
            in_handler=rs.in_handler,
            guards=guards,
            loop_kind="loop" if rs.in_loop else "",
        )
        text = rs.text.strip()
        if rs.kind == "if":
            g = Guard(text, line, query_facts(text, 2))
            guards_cache.setdefault(text, g)
            facts.conditions.append(g)
            facts.statements.append(Stmt(kind="if", text=text[:200], query=g.facts, **common))
        elif rs.kind == "loop":
            q = EMPTY
            lm = re.search(r"\bin\s+(select\b.*|execute\b.*)$", text, re.I | re.S)
            if lm:
                q = query_facts(lm.group(1), 0)
            facts.statements.append(Stmt(kind="loop", text=text[:200], query=q, **common))
        elif rs.kind == "raise":
            r = _RAISE_RE.match(text)
            level = (r.group(1) or "exception").lower() if r else "exception"
            message = (r.group(2) or r.group(3) or "") if r else ""
            if text.lower().startswith("assert"):
                level, message = "exception", text
            facts.statements.append(Stmt(kind="raise", level=level, message=message, **common))
        elif rs.kind == "return":
            value = text[6:].strip()
            if value.lower().startswith("query"):
                sql = value[5:].strip()
                q = query_facts(sql, 0)
                facts.statements.append(
                    Stmt(kind="return_query", text=sql[:200], query=q, **common)
                )
            else:
                kind = "return"
                if value.lower().startswith("next"):
                    kind, value = "return_next", value[4:].strip()
                q = (
                    query_facts(value, 2)
                    if value and value.upper() not in ("NEW", "OLD")
                    else EMPTY
                )
                facts.statements.append(Stmt(kind=kind, text=value[:200], query=q, **common))
        elif rs.kind == "assign":
            target, value = split_assignment(text)
            q = query_facts(text, 3)
            facts.statements.append(
                Stmt(kind="assign", text=text[:200], query=q, targets=(target.lower(),), **common)
            )
            rendered = render_expression(value, env) if "'" in value else None
            if rendered is not None:
                env[target.lower()] = rendered
                if looks_like_sql(rendered):
                    facts.sql_variables.add(target.lower())
        elif rs.kind == "perform":
            sql = "SELECT " + text[7:].strip()
            facts.statements.append(
                Stmt(kind="perform", text=text[:200], query=query_facts(sql, 0), **common)
            )
        elif rs.kind == "execute":
            expr = re.split(r"\b(?:into|using)\b", text[7:], maxsplit=1, flags=re.I)[0]
            q = dynamic_sql_facts(expr.strip(), env)
            facts.statements.append(
                Stmt(
                    kind="dynexecute", text=(q.text or text)[:200], query=q, dynamic=True, **common
                )
            )
        elif rs.kind == "sql":
            targets: tuple[str, ...] = ()
            sql = text
            im = _INTO_RE.search(text) if text.lower().startswith(("select", "with")) else None
            if im is None and re.search(r"\breturning\b", text, re.I):
                im = _INTO_RE.search(text, pos=re.search(r"\breturning\b", text, re.I).end())
            if im is not None:
                targets = tuple(t.strip().lower() for t in im.group(1).split(","))
                sql = text[: im.start()] + " " + text[im.end() :]
            q = query_facts(sql, 0)
            facts.statements.append(
                Stmt(kind="execsql", text=text[:200], query=q, targets=targets, **common)
            )
        else:
            facts.statements.append(Stmt(kind="other", text=text[:200], **common))
        facts.max_depth = max(facts.max_depth, rs.depth)


def raw_statement_kinds(statements: list[RawStatement]) -> Counter:  # pragma: no cover - debug aid
    return Counter(s.kind for s in statements)
