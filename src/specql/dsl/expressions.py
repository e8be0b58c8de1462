"""SQL expressions inside specs, parsed with PostgreSQL's own parser (pglast).

Spec expressions are SQL plus ``$name`` parameters. ``$name`` is not SQL, so before parsing
each one becomes the quoted identifier ``"$name"`` (a lexer that skips string literals,
quoted identifiers and comments does this, not a regex over the whole text). After parsing,
a parameter is a ``ColumnRef`` whose single name starts with ``$``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

import pglast
from pglast import ast
from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from pglast.stream import RawStream
from pglast.visitors import Ancestor

from specql.errors import SourcePos, SpecqlError

PARAM_PREFIX = "$"

NodeT = TypeVar("NodeT", bound=ast.Node)

# pglast's C parser and its AST conversion recurse per nesting level and crash the process (a
# segfault, not an exception) somewhere past ~30,000 levels; specs are untrusted input, so no
# text that long reaches the parser. 20,000 characters is far beyond any real expression.
MAX_EXPRESSION_CHARS = 20_000


def _is_ident_char(ch: str, first: bool) -> bool:
    return ch == "_" or ch.isalpha() or (not first and ch.isdigit())


def _skipped_end(text: str, i: int) -> int:
    """The end (exclusive) of the string literal or comment that starts at ``text[i]``, to be
    copied as it is; ``i`` when none starts there. An unterminated one runs to the end."""
    ch = text[i]
    if ch == "'":  # string literal, '' escapes a quote
        n = len(text)
        j = i + 1
        while j < n:
            if text[j] == "'":
                if j + 1 < n and text[j + 1] == "'":
                    j += 2
                    continue
                break
            j += 1
        return j + 1
    if text.startswith("--", i):
        j = text.find("\n", i)
        return len(text) if j < 0 else j
    if text.startswith("/*", i):
        j = text.find("*/", i + 2)
        return len(text) if j < 0 else j + 2
    return i


def _quoted_end(text: str, i: int) -> int:
    """The end (exclusive) of the quoted identifier that starts at ``text[i]``."""
    j = text.find('"', i + 1)
    return len(text) if j < 0 else j + 1


def quote_params(text: str) -> str:
    """Turn every ``$name`` outside literals/comments into ``"$name"``; ``$1`` stays as is."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'-/":
            end = _skipped_end(text, i)
            if end > i:
                out.append(text[i:end])
                i = end
                continue
        if ch == '"':  # quoted identifier
            end = _quoted_end(text, i)
            out.append(text[i:end])
            i = end
        elif ch == "$" and out and out[-1] and _is_ident_char(out[-1][-1], first=False):
            out.append(ch)  # '$' inside an identifier (PostgreSQL allows a$b)
            i += 1
        elif ch == "$" and i + 1 < n and (text[i + 1] == "$" or _is_ident_char(text[i + 1], True)):
            j = i + 1
            while j < n and _is_ident_char(text[j], first=False):
                j += 1
            if j < n and text[j] == "$":  # dollar-quoted string $$...$$ / $tag$...$tag$
                tag = text[i : j + 1]
                end = text.find(tag, j + 1)
                end = n if end < 0 else end + len(tag)
                out.append(text[i:end])
                i = end
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
        if ch in "'-/":
            end = _skipped_end(text, i)
            if end > i:
                out.append(text[i:end])
                i = end
                continue
        if ch == '"':
            end = _quoted_end(text, i)
            inner = text[i + 1 : end - 1]
            if (
                len(inner) > 1
                and inner[0] == PARAM_PREFIX
                and _is_ident_char(inner[1], first=True)
                and all(_is_ident_char(c, first=False) for c in inner[2:])
            ):
                out.append(inner)
            else:
                out.append(text[i:end])
            i = end
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


# Each spec text is parsed by the loader, the validator and the generator, and many texts
# recur across entities and actions ("status = 'draft'", "id = $id"): the parse of a text is
# kept (the most recent ones). parse_expression/parse_statement hand out a copy, the caller's
# to rewrite, which costs a fraction of a parse (that builds every node through pglast's
# validating __setattr__); readers that change nothing can have the kept tree itself
# (read_expression/read_statement). 4096 texts (200 entities of 5 actions have about 600
# distinct ones) hold about 10 MB of typical queries.
PARSE_CACHE_SIZE = 4096


def _parse_sql(prefix: str, text: str) -> tuple[ast.RawStmt, ...]:
    return pglast.parse_sql(prefix + quote_params(text))


# Errors are not kept: they are raised again on every call.
_parse_cached = lru_cache(maxsize=PARSE_CACHE_SIZE)(_parse_sql)


def _statement(prefix: str, text: str, pos: SourcePos | None, parse=_parse_cached) -> ast.Node:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _error(
            f"SQL text longer than {MAX_EXPRESSION_CHARS} characters", text[:40] + "...", 0, pos
        )
    try:
        stmts = parse(prefix, text)
    except RecursionError:
        raise _error("SQL nested too deeply", text[:40] + "...", 0, pos) from None
    except pglast.parser.ParseError as exc:
        # pglast gives the 0-based character offset of the error as the second argument.
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        offset = max(0, location - len(prefix)) if location is not None else None
        raise _error(f"invalid SQL: {exc.args[0]}", text, offset, pos) from None
    if len(stmts) != 1:
        raise _error("expected exactly one statement", text, 0, pos)
    return stmts[0].stmt


def _expression(text: str, pos: SourcePos | None, parse=_parse_cached) -> ast.Node:
    stmt = _statement("SELECT ", text, pos, parse)
    if (
        not isinstance(stmt, ast.SelectStmt)
        or stmt.fromClause
        or not stmt.targetList
        or len(stmt.targetList) != 1
        or stmt.targetList[0].name
    ):
        raise _error("expected a single expression", text, 0, pos)
    return stmt.targetList[0].val


_set_slot = object.__setattr__
_Node = ast.Node


def _copy(node: ast.Node) -> ast.Node:
    """A deep copy of an AST node: nodes and tuples are copied, other values (str, int, enums,
    None) are immutable and shared.

    Slots are set directly: the values were validated when the original was built.
    ``ancestors`` is not copied; the deparser sets it on the tree it prints.
    """
    cls = type(node)
    new = cls.__new__(cls)
    for name in cls.__slots__:
        value = getattr(node, name)
        if type(value) is tuple:
            value = _copy_tuple(value)
        elif isinstance(value, _Node):
            value = _copy(value)
        _set_slot(new, name, value)
    return new


def _copy_tuple(items: tuple) -> tuple:
    return tuple(
        [
            _copy_tuple(item)
            if type(item) is tuple
            else _copy(item)
            if isinstance(item, _Node)
            else item
            for item in items
        ]
    )


def new_node(cls: type[NodeT], **fields) -> NodeT:
    """``cls(**fields)`` without pglast's per-attribute checks and coercions (its __setattr__
    costs about a microsecond per attribute, and compiling an action builds thousands of
    nodes). Only for values already in their final form: tuples (not lists), enum members,
    bools, strings, nodes; attributes not given are None, as with ``cls()``."""
    if not fields.keys() <= cls.__slots__.keys():
        unknown = ", ".join(sorted(fields.keys() - cls.__slots__.keys()))
        raise TypeError(f"{cls.__name__} has no attribute {unknown}")
    node = cls.__new__(cls)
    for name in cls.__slots__:
        _set_slot(node, name, fields.get(name))
    return node


def _check_text(text: str, what: str, pos: SourcePos | None) -> None:
    if not isinstance(text, str) or not text.strip():
        raise _error(f"empty {what}", str(text), 0, pos)


def parse_expression(text: str, pos: SourcePos | None = None) -> ast.Node:
    """Parse one SQL expression (with ``$params``) and return its AST node (the caller's own:
    free to change)."""
    _check_text(text, "expression", pos)
    try:
        return _copy(_expression(text, pos))
    except RecursionError:  # deeper than the copy recurses: a parse of its own
        return _expression(text, pos, parse=_parse_sql)


def parse_statement(text: str, pos: SourcePos | None = None, prefix: str = "") -> ast.Node:
    """Parse one SQL statement (``prefix`` is prepended, e.g. ``"UPDATE "``); the AST is the
    caller's own."""
    _check_text(text, "statement", pos)
    try:
        return _copy(_statement(prefix, text, pos))
    except RecursionError:
        return _statement(prefix, text, pos, parse=_parse_sql)


def read_expression(text: str, pos: SourcePos | None = None) -> ast.Node:
    """:func:`parse_expression` for readers: the kept tree itself, shared with every other
    caller, so it must not be changed, nor deparsed (that sets the nodes' ``ancestors``)."""
    _check_text(text, "expression", pos)
    return _expression(text, pos)


def read_statement(text: str, pos: SourcePos | None = None, prefix: str = "") -> ast.Node:
    """:func:`parse_statement` for readers; the same terms as :func:`read_expression`."""
    _check_text(text, "statement", pos)
    return _statement(prefix, text, pos)


def _walk(root, track: bool = False):
    """Every AST node under ``root`` (a node or a tuple of them), as ``(node, ancestors)``, in
    the breadth-first order of :class:`pglast.visitors.Visitor`; ``ancestors`` is the node's
    :class:`~pglast.visitors.Ancestor` chain as the Visitor builds it, or None unless
    ``track``.

    A plain loop instead of a Visitor: the Visitor reflects over its own methods (``inspect``)
    on every call, which cost more than the walks specs need (name collection, the deparser's
    ancestor links).
    """
    if not isinstance(root, _Node | tuple):
        raise ValueError("Bad argument, expected a ast.Node instance or a tuple")
    todo = deque([(root, Ancestor() if track else None)])
    push, pop = todo.append, todo.popleft
    while todo:
        value, ancestors = pop()
        if isinstance(value, _Node):
            yield value, ancestors
            for member in value.__slots__:
                child = getattr(value, member)
                if isinstance(child, _Node | tuple):
                    push((child, Ancestor(ancestors, value, member) if track else None))
            continue
        # As in the Visitor, the nodes of a dequeued tuple are visited right away (the same
        # steps as above, inlined: this loop is hot) and a tuple inside it has its items queued.
        for i, item in enumerate(value):
            item_ancestors = Ancestor(ancestors, value, i) if track else None
            if isinstance(item, _Node):
                yield item, item_ancestors
                for member in item.__slots__:
                    child = getattr(item, member)
                    if isinstance(child, _Node | tuple):
                        push((child, Ancestor(item_ancestors, item, member) if track else None))
            elif isinstance(item, tuple):
                for j, child in enumerate(item):
                    if isinstance(child, _Node | tuple):
                        push((child, Ancestor(item_ancestors, item, j) if track else None))


def colref_parts(node: ast.ColumnRef) -> list[str]:
    """The names of a column reference (``c.status`` -> ``["c", "status"]``, ``*`` for a star)."""
    return [f.sval if isinstance(f, ast.String) else "*" for f in node.fields]


class NodeRewriter:
    """The skeleton of a rewriting walk over a pglast AST, for subclasses to fill in.

    :meth:`_node` rewrites a value: a node of class ``X`` goes to the subclass's handler
    ``<handler_prefix>X(node, scopes)`` when it has one, else :meth:`_children` rewrites the
    node's children in place; a list or tuple is rewritten item by item; anything else (str,
    int, enum, None) is returned as it is. ``scopes`` is the subclass's own context (the names
    in scope), handed down unchanged; handlers call :meth:`_node`/:meth:`_children` to go on.
    """

    handler_prefix = "_rw_"

    def _node(self, node, scopes):
        if isinstance(node, tuple | list):
            return type(node)(self._node(n, scopes) for n in node)
        if not isinstance(node, _Node):
            return node
        handler = getattr(self, f"{self.handler_prefix}{type(node).__name__}", None)
        if handler is not None:
            return handler(node, scopes)
        return self._children(node, scopes)

    def _children(self, node: ast.Node, scopes) -> ast.Node:
        for attr in node.__slots__:
            value = getattr(node, attr)
            if isinstance(value, _Node | tuple | list):
                setattr(node, attr, self._node(value, scopes))
        return node

    def _ordering(self, item, scopes, outputs: set[str]):
        """A GROUP BY / ORDER BY / DISTINCT ON item: one naming an output column of the query
        (``ORDER BY total``, ``outputs`` holds their names) stays as it is, any other is
        rewritten."""
        target = item.node if isinstance(item, ast.SortBy) else item
        if isinstance(target, ast.ColumnRef):
            parts = colref_parts(target)
            if len(parts) == 1 and parts[0] in outputs:
                return item
        return self._node(item, scopes)


def _populate_ancestors(root: ast.Node) -> None:
    """Set ``ancestors`` on every node under ``root``, which the deparser's printers read,
    exactly as :func:`pglast.visitors.populate_ancestors` does for ``(root,)`` (same chains,
    same order, so even a node that appears twice ends with the same chain)."""
    for node, ancestors in _walk((root,), track=True):
        _set_slot(node, "ancestors", ancestors)


class _Stream(RawStream):
    """pglast's RawStream printing one node, with :func:`_populate_ancestors`."""

    def __call__(self, node: ast.Node) -> str:
        _populate_ancestors(node)
        if not (isinstance(node, ast.RawStmt) and node.stmt is None):
            self.print_node(node)
        return self.getvalue()


def deparse(node: ast.Node) -> str:
    """SQL text of an AST node (``"$name"`` params come out quoted).

    Raises SpecqlError (without a position) when the tree is too deep for the deparser's
    recursion; callers that know where the text came from re-raise it there.
    """
    try:
        if isinstance(node, ast.Node):
            return _Stream()(node)
        return RawStream()(node)  # a tuple of statements: separators between them
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


def references(node: ast.Node) -> References:
    refs = References()
    for n, _ in _walk(node):
        kind = type(n)
        if kind is ast.ColumnRef:
            parts = tuple(f.sval if isinstance(f, ast.String) else "*" for f in n.fields)
            if len(parts) == 1 and parts[0].startswith(PARAM_PREFIX):
                refs.params.add(parts[0][1:])
            else:
                refs.columns.add(parts)
        elif kind is ast.FuncCall:
            refs.functions.add(".".join(name.sval for name in n.funcname))
        elif kind is ast.RangeVar:
            refs.tables.add(f"{n.schemaname}.{n.relname}" if n.schemaname else n.relname)
            if n.alias is not None:
                refs.aliases.add(n.alias.aliasname)
    return refs


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


def _collect_shape(node: ast.Node) -> QueryShape:
    shape = QueryShape()
    for n, _ in _walk(node):
        kind = type(n)
        if kind is ast.RangeVar:
            alias = n.alias.aliasname if n.alias is not None else None
            shape.relations.append(Relation(n.schemaname, n.relname, alias))
        elif kind is ast.CommonTableExpr:
            shape.ctes.add(n.ctename)
        elif kind is ast.RangeSubselect or kind is ast.RangeFunction:
            shape.opaque = True
            if n.alias is not None:
                shape.opaque_aliases.add(n.alias.aliasname)
        elif kind is ast.ResTarget and n.name:
            shape.output_names.add(n.name)
    return shape


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
    shape = _collect_shape(node)
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
