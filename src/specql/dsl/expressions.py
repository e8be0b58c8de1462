"""SQL expressions inside specs, parsed with PostgreSQL's own parser (pglast).

Spec expressions are SQL plus ``$name`` parameters. ``$name`` is not SQL, so before parsing
each one becomes the quoted identifier ``"$name"`` (a lexer that skips string literals,
quoted identifiers and comments does this, not a regex over the whole text). After parsing,
a parameter is a ``ColumnRef`` whose single name starts with ``$``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pglast
from pglast import ast
from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from pglast.stream import RawStream
from pglast.visitors import Visitor

from specql.errors import SourcePos, SpecqlError

PARAM_PREFIX = "$"

# pglast's C parser and its AST conversion recurse per nesting level and crash the process (a
# segfault, not an exception) somewhere past ~30,000 levels; specs are untrusted input, so no
# text that long reaches the parser. 20,000 characters is far beyond any real expression.
MAX_EXPRESSION_CHARS = 20_000


def _is_ident_char(ch: str, first: bool) -> bool:
    return ch == "_" or ch.isalpha() or (not first and ch.isdigit())


def quote_params(text: str) -> str:
    """Turn every ``$name`` outside literals/comments into ``"$name"``; ``$1`` stays as is."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":  # string literal, '' escapes a quote
            j = i + 1
            while j < n:
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch == '"':  # quoted identifier
            j = text.find('"', i + 1)
            j = n - 1 if j < 0 else j
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(text[i:j])
            i = j
        elif ch == "$" and i + 1 < n and _is_ident_char(text[i + 1], first=True):
            j = i + 1
            while j < n and _is_ident_char(text[j], first=False):
                j += 1
            if j < n and text[j] == "$":  # a dollar-quote tag like $body$: leave it
                out.append(text[i : j + 1])
                i = j + 1
                continue
            out.append(f'"{text[i:j]}"')
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def unquote_params(text: str) -> str:
    """Inverse of :func:`quote_params` for deparsed SQL: ``"$name"`` -> ``$name``.

    Only quoted identifiers spelling a parameter change; string literals and comments are
    copied as they are, so ``'"$x"'`` stays a string.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            j = i + 1
            while j < n:
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch == '"':
            j = text.find('"', i + 1)
            j = n - 1 if j < 0 else j
            inner = text[i + 1 : j]
            if (
                len(inner) > 1
                and inner[0] == PARAM_PREFIX
                and _is_ident_char(inner[1], first=True)
                and all(_is_ident_char(c, first=False) for c in inner[2:])
            ):
                out.append(inner)
            else:
                out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(text[i:j])
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_SAFE_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def quote_ident(name: str) -> str:
    """An identifier as SQL text: quoted only when PostgreSQL would not read it back as is
    (upper case, odd characters, a leading digit, a reserved word)."""
    if (
        name
        and not name[0].isdigit()
        and set(name) <= _SAFE_IDENT_CHARS
        and name not in RESERVED_KEYWORDS
        and name not in TYPE_FUNC_NAME_KEYWORDS
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


def _error(message: str, text: str, offset: int | None, pos: SourcePos | None) -> SpecqlError:
    base = pos or SourcePos()
    col = base.col + (offset or 0) if base.line else base.col
    return SpecqlError(f"{message} in {text!r}", SourcePos(base.file, base.line, col))


def _parse(sql: str, original: str, prefix_len: int, pos: SourcePos | None):
    if len(original) > MAX_EXPRESSION_CHARS:
        raise _error(
            f"SQL text longer than {MAX_EXPRESSION_CHARS} characters", original[:40] + "...", 0, pos
        )
    try:
        stmts = pglast.parse_sql(sql)
    except RecursionError:
        raise _error("SQL nested too deeply", original[:40] + "...", 0, pos) from None
    except pglast.parser.ParseError as exc:
        # pglast gives the 0-based character offset of the error as the second argument.
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        offset = max(0, location - prefix_len) if location is not None else None
        raise _error(f"invalid SQL: {exc.args[0]}", original, offset, pos) from None
    if len(stmts) != 1:
        raise _error("expected exactly one statement", original, 0, pos)
    return stmts[0].stmt


def parse_expression(text: str, pos: SourcePos | None = None) -> ast.Node:
    """Parse one SQL expression (with ``$params``) and return its AST node."""
    if not isinstance(text, str) or not text.strip():
        raise _error("empty expression", str(text), 0, pos)
    prefix = "SELECT "
    stmt = _parse(prefix + quote_params(text), text, len(prefix), pos)
    if (
        not isinstance(stmt, ast.SelectStmt)
        or stmt.fromClause
        or not stmt.targetList
        or len(stmt.targetList) != 1
        or stmt.targetList[0].name
    ):
        raise _error("expected a single expression", text, 0, pos)
    return stmt.targetList[0].val


def parse_statement(text: str, pos: SourcePos | None = None, prefix: str = "") -> ast.Node:
    """Parse one SQL statement (``prefix`` is prepended, e.g. ``"UPDATE "``)."""
    if not isinstance(text, str) or not text.strip():
        raise _error("empty statement", str(text), 0, pos)
    return _parse(prefix + quote_params(text), text, len(prefix), pos)


def deparse(node: ast.Node) -> str:
    """SQL text of an AST node (``"$name"`` params come out quoted).

    Raises SpecqlError (without a position) when the tree is too deep for the deparser's
    recursion; callers that know where the text came from re-raise it there.
    """
    try:
        return RawStream()(node)
    except RecursionError:
        raise SpecqlError("SQL nested too deeply to rewrite") from None


def deparse_spec(node: ast.Node) -> str:
    """SQL text of an AST node in spec form: parameters written back as ``$name``."""
    return unquote_params(deparse(node))


@dataclass
class References:
    """Names an expression or query refers to."""

    columns: set[tuple[str, ...]] = field(default_factory=set)  # ('status',) or ('c', 'status')
    params: set[str] = field(default_factory=set)  # without the '$'
    functions: set[str] = field(default_factory=set)  # dotted names, lower case
    tables: set[str] = field(default_factory=set)  # relation names as written (alias-free)
    aliases: set[str] = field(default_factory=set)  # range aliases defined in the query


class _RefCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.refs = References()

    def visit_ColumnRef(self, ancestors, node):
        parts = []
        for f in node.fields:
            if isinstance(f, ast.String):
                parts.append(f.sval)
            else:  # A_Star
                parts.append("*")
        if len(parts) == 1 and parts[0].startswith(PARAM_PREFIX):
            self.refs.params.add(parts[0][1:])
        else:
            self.refs.columns.add(tuple(parts))

    def visit_FuncCall(self, ancestors, node):
        self.refs.functions.add(".".join(n.sval for n in node.funcname))

    def visit_RangeVar(self, ancestors, node):
        self.refs.tables.add(
            f"{node.schemaname}.{node.relname}" if node.schemaname else node.relname
        )
        if node.alias is not None:
            self.refs.aliases.add(node.alias.aliasname)


def references(node: ast.Node) -> References:
    collector = _RefCollector()
    collector(node)
    return collector.refs


@dataclass
class Relation:
    """A table in a FROM clause as written: ``crm.Contact c`` -> ("crm", "contact", "c")."""

    schema: str | None
    name: str
    alias: str | None


@dataclass
class QueryShape:
    """What a query reads from and what it yields, for name checking.

    ``opaque``: some FROM item (subquery, function, CTE reference) has columns we cannot know
    without executing, so bare column names cannot be checked. ``opaque_aliases`` are the
    aliases of such items. ``outputs``: the top-level select list's column names (None for an
    unnamed expression), or None altogether when it contains ``*``.
    """

    relations: list[Relation] = field(default_factory=list)
    ctes: set[str] = field(default_factory=set)
    opaque: bool = False
    opaque_aliases: set[str] = field(default_factory=set)
    output_names: set[str] = field(default_factory=set)  # every select-list alias, nested too
    outputs: list[str | None] | None = None


class _ShapeCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.shape = QueryShape()

    def visit_RangeVar(self, ancestors, node):
        alias = node.alias.aliasname if node.alias is not None else None
        self.shape.relations.append(Relation(node.schemaname, node.relname, alias))

    def visit_CommonTableExpr(self, ancestors, node):
        self.shape.ctes.add(node.ctename)

    def visit_RangeSubselect(self, ancestors, node):
        self._opaque(node.alias)

    def visit_RangeFunction(self, ancestors, node):
        self._opaque(node.alias)

    def visit_ResTarget(self, ancestors, node):
        if node.name:
            self.shape.output_names.add(node.name)

    def _opaque(self, alias) -> None:
        self.shape.opaque = True
        if alias is not None:
            self.shape.opaque_aliases.add(alias.aliasname)


def _is_star(target: ast.ResTarget) -> bool:
    val = target.val
    return isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star)


def _output_name(target: ast.ResTarget) -> str | None:
    """PostgreSQL's name for a select-list column (None: it would be ``?column?``)."""
    if target.name:
        return target.name
    val = target.val
    if isinstance(val, ast.TypeCast):
        val = val.arg
    if isinstance(val, ast.ColumnRef):
        last = val.fields[-1]
        return last.sval if isinstance(last, ast.String) else None
    if isinstance(val, ast.FuncCall):
        return val.funcname[-1].sval
    return None


def query_shape(node: ast.Node) -> QueryShape:
    collector = _ShapeCollector()
    collector(node)
    shape = collector.shape
    for rel in shape.relations:
        if rel.schema is None and rel.name in shape.ctes:
            shape.opaque = True
            shape.opaque_aliases.add(rel.alias or rel.name)
    shape.relations = [
        r for r in shape.relations if not (r.schema is None and r.name in shape.ctes)
    ]
    targets = node.targetList if isinstance(node, ast.SelectStmt) else None
    if targets and not any(_is_star(t) for t in targets):
        shape.outputs = [_output_name(t) for t in node.targetList]
    return shape
