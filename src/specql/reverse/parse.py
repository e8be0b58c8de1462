"""Parse stage: legacy SQL text -> :class:`~specql.reverse.source.SqlModule`.

The only module of ``reverse`` that imports pglast (with ``parse_queries``, its second half).
Later stages see plain data: tables, functions with their PL/pgSQL body AST (pglast's
``PLpgSQL_function`` dict), triggers, user types.

How a file is read (:func:`parse_sql_file`):

1. **Bytes.** Files larger than ``max_bytes`` (default 64 MB) are refused with one positioned
   error. The text is decoded as UTF-8 (a BOM is dropped); invalid bytes give one warning with
   the byte offset and are replaced by U+FFFD so the rest still parses. NUL characters, which
   would silently end the text for the C parser, are replaced by spaces with a warning.
2. **psql.** Meta-commands (``\\connect``, ``\\set``, ``\\i`` ...) and the data blocks of
   ``COPY ... FROM stdin`` (up to ``\\.``) are blanked out (offsets and line numbers stay
   unchanged) and recorded in ``skipped``. A statement that fails to parse only because of psql
   variables (``:schema``, ``:'value'``) is parsed again with the variable read as its name.
3. **Statements.** The whole text is split with PostgreSQL's parser (``pglast.parser.split``),
   which also checks every statement's syntax. When that fails, the scanner splits it instead
   and each statement after the first error is checked on its own, so one broken statement is
   one error at its ``file:line:col`` while the others still count. Only statements that can
   define what ``reverse`` needs (CREATE TABLE/INDEX/FUNCTION/PROCEDURE/TRIGGER/TYPE/DOMAIN,
   ALTER TABLE, COMMENT ON, DO, SET search_path) are turned into a Python AST: ``parse_sql`` on a
   50 MB dump of INSERTs costs a minute and 3 GB, the split a few seconds.
4. **Objects.** CREATE TABLE (+ ALTER TABLE ADD CONSTRAINT/COLUMN, ALTER COLUMN SET DEFAULT/NOT
   NULL/TYPE, ADD GENERATED AS IDENTITY, DROP COLUMN, COMMENT ON TABLE/COLUMN, CREATE INDEX:
   its key columns or its one key expression, and what a spec cannot say about it), CREATE TYPE AS
   ENUM / AS (...) and CREATE DOMAIN, functions and procedures, DO blocks (functions named
   ``do_block_<line>``), triggers (attached to the function they execute). Statements that
   change an object the file does not define wait in ``SqlModule.pending`` until
   :func:`link_modules` sees every file of the run. Unqualified names take the first schema of
   a preceding ``SET search_path``.

PL/pgSQL bodies are parsed with ``pglast.parse_plpgsql`` on the CREATE statement. When it fails,
the **fallback** rewrites what libpg_query cannot resolve without a catalogue and tries again
(parse_path ``'rewritten'``, each rewrite listed in ``rewrites``):

- ``x%ROWTYPE`` in a declaration -> ``record`` (libpg_query cannot look up a table in a
  non-public schema, and even a public one gives a scalar, so ``r.field := ...`` fails);
- a declared type ``schema.type`` -> ``type`` (an unknown unqualified type reads as a row
  variable, which is what a composite type is); arrays of unknown types -> ``text[]``;
- in the header: ``x.y%TYPE`` parameter/return types -> ``text``, ``schema.type`` -> ``type``,
  OUT/INOUT/TABLE parameters of unknown types -> ``text``, ``VARIADIC`` dropped;
- second try, when the first still fails: every declared or parameter type libpg_query does not
  know -> ``text`` (a variable of a domain type used in ``SELECT ... INTO a, b``).

Rewrites keep every newline, so the AST's line numbers still map to the file. When no rewrite
helps, the body is split into its top-level statements with pglast's scanner and kept in
``raw_statements`` (parse_path ``'raw'``, the error in ``parse_error``): nothing is dropped.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from collections.abc import Iterable
from pathlib import Path

import pglast
from pglast import ast, parser
from pglast.enums import (
    A_Expr_Kind,
    AlterTableType,
    BoolExprType,
    ConstrType,
    FunctionParameterMode,
    ObjectType,
    SortByDir,
    SortByNulls,
)
from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from pglast.stream import RawStream

from specql.errors import ErrorLevel, SourcePos, SpecqlError
from specql.reverse.source import (
    ArgInfo,
    ColumnInfo,
    ForeignKeyInfo,
    FunctionInfo,
    IndexInfo,
    PendingStatement,
    SqlModule,
    TableInfo,
    TriggerInfo,
    TypeInfo,
)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024

__all__ = [
    "DEFAULT_MAX_BYTES",
    "attach_triggers",
    "format_type_text",
    "link_modules",
    "parse_paths",
    "parse_sql_bytes",
    "parse_sql_file",
    "parse_sql_text",
    "scan_split",
    "split_plpgsql_body",
    "sql_files",
]


# --------------------------------------------------------------------------- positions


class _Lines:
    """Character offset -> 1-based line and column, built once per text."""

    __slots__ = ("file", "starts")

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", text))

    def pos(self, offset: int) -> SourcePos:
        i = bisect.bisect_right(self.starts, offset) - 1
        return SourcePos(self.file, i + 1, offset - self.starts[i] + 1)

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --------------------------------------------------------------------------- lexical helpers

_WS = re.compile(r"\s+")
_COMMENT_EDGE = re.compile(r"/\*|\*/")


def _skip_lead(text: str, i: int, end: int) -> int:
    """Offset of the first character at or after ``i`` that is not whitespace or a comment."""
    while i < end:
        m = _WS.match(text, i, end)
        if m:
            i = m.end()
            continue
        if text.startswith("--", i):
            j = text.find("\n", i, end)
            i = end if j < 0 else j + 1
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while depth:
                m = _COMMENT_EDGE.search(text, j, end)
                if m is None:
                    return end
                depth += 1 if m.group() == "/*" else -1
                j = m.end()
            i = j
        else:
            break
    return i


_IDENT_CHAR = re.compile(r"[\w$\x80-\U0010ffff]")
_SQ = re.compile(r"'(?:[^']|'')*'")
_ESQ = re.compile(r"'(?:[^'\\]|\\.|'')*'", re.S)
_DQ = re.compile(r'"(?:[^"]|"")*"')
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*)?\$")


def _string_end(text: str, start: int) -> int | None:
    """End (exclusive) of the string literal or dollar-quoted string starting at ``start``."""
    ch = text[start]
    if ch == "$":
        m = _DOLLAR_TAG.match(text, start)
        if not m:
            return None
        close = text.find(m.group(), m.end())
        return None if close < 0 else close + len(m.group())
    if ch in "eE" and text.startswith("'", start + 1):
        m = _ESQ.match(text, start + 1)
    else:
        if ch in "bBxXnNuU":
            start = text.find("'", start)
        m = _SQ.match(text, start)
    return m.end() if m else None


def _string_inner(text: str, start: int) -> tuple[int, int] | None:
    """(start, end) of the content of the string starting at ``start`` (quotes excluded)."""
    end = _string_end(text, start)
    if end is None:
        return None
    if text[start] == "$":
        tag = _DOLLAR_TAG.match(text, start).group()
        return start + len(tag), end - len(tag)
    quote = text.index("'", start)
    return quote + 1, end - 1


def _blank(segment: str) -> str:
    """Spaces in place of everything but line breaks: offsets and line numbers stay valid."""
    return re.sub(r"[^\n]+", lambda m: " " * len(m.group()), segment)


# --------------------------------------------------------------------------- psql input

_PSQL_HINT = re.compile(r"^[ \t]*\\|\\g(?:set|exec|x|desc)?\b|\bstdin\b", re.M | re.I)
_PSQL_TOKEN = re.compile(r"""['"$;\\]|--|/\*""")
_COPY_STDIN = re.compile(r"COPY\b[^;]*?\bFROM\s+STDIN\b", re.I | re.S)
_COPY_END = re.compile(r"^\\\.[ \t]*\r?$", re.M)
_PSQL_GO = re.compile(r"\\(?:g|gx|gset|gexec|gdesc|crosstabview|watch)\b")


def _strip_psql(text: str, lines: _Lines) -> tuple[str, list[tuple[SourcePos, str]]]:
    """Blank out psql meta-commands and COPY ... FROM stdin data (a small lexer keeps strings,
    dollar quotes, quoted identifiers and comments intact)."""
    edits: list[tuple[int, int, str]] = []
    skipped: list[tuple[SourcePos, str]] = []
    i, n, stmt_start = 0, len(text), 0
    while True:
        m = _PSQL_TOKEN.search(text, i)
        if m is None:
            break
        j, tok = m.start(), m.group()
        if tok == "'" or tok == '"':
            if (
                tok == "'"
                and j > 0
                and text[j - 1] in "eE"
                and not (j > 1 and _IDENT_CHAR.match(text[j - 2]))
            ):
                mm = _ESQ.match(text, j)
            else:
                mm = (_SQ if tok == "'" else _DQ).match(text, j)
            if mm is None:
                break  # unterminated: the parser reports it
            i = mm.end()
        elif tok == "$":
            if j > 0 and _IDENT_CHAR.match(text[j - 1]):
                i = j + 1
                continue
            end = _string_end(text, j)
            if end is None:
                if _DOLLAR_TAG.match(text, j):
                    break  # unterminated dollar quote
                i = j + 1
                continue
            i = end
        elif tok == "--":
            k = text.find("\n", j)
            i = n if k < 0 else k
        elif tok == "/*":
            i = _skip_lead(text, j, n)
            if i == j:
                i = j + 2
        elif tok == ";":
            i = j + 1
            lead = _skip_lead(text, stmt_start, j)
            if _COPY_STDIN.match(text, lead, j):
                nl = text.find("\n", j)
                data_start = n if nl < 0 else nl + 1
                end_m = _COPY_END.search(text, data_start)
                data_end = end_m.end() if end_m else n
                if data_end > data_start:
                    edits.append((data_start, data_end, ""))
                    count = text.count("\n", data_start, data_end)
                    skipped.append(
                        (
                            lines.pos(data_start),
                            f"COPY data ({count} lines) of {_one_line(text[lead:j], 50)}",
                        )
                    )
                i = data_end
            stmt_start = i
        else:  # backslash outside quotes: a psql meta-command, to the end of the line
            k = text.find("\n", j)
            k = n if k < 0 else k
            command = text[j:k].rstrip()
            go = _PSQL_GO.match(command) is not None
            ends_statement = go and _skip_lead(text, stmt_start, j) < j
            edits.append((j, k, ";" if ends_statement else ""))
            skipped.append((lines.pos(j), f"psql meta-command {_one_line(command, 50)}"))
            i = k
            if ends_statement:
                stmt_start = k
    if not edits:
        return text, skipped
    parts: list[str] = []
    last = 0
    for start, end, replacement in edits:
        parts.append(text[last:start])
        parts.append(replacement + _blank(text[start + len(replacement) : end]))
        last = end
    parts.append(text[last:])
    return "".join(parts), skipped


def _psql_variables(stmt: str) -> tuple[str, list[str]] | None:
    """``stmt`` with psql variables (``:name``, ``:'name'``, ``:"name"``) read as their name,
    or None when it has none. Token-aware: ``::`` casts and ``:=`` are other tokens."""
    try:
        tokens = parser.scan(stmt)
    except parser.ParseError:
        return None
    spots: list[int] = []
    names: list[str] = []
    for a, b in itertools.pairwise(tokens):
        if a.name == "ASCII_58" and b.start == a.end + 1 and b.name not in ("ICONST", "FCONST"):
            spots.append(a.start)
            names.append(stmt[a.start : b.end + 1])
    if not spots:
        return None
    chars = list(stmt)
    for s in spots:
        chars[s] = " "
    return "".join(chars), names


# --------------------------------------------------------------------------- types

_PG_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "int": "integer",
    "integer": "integer",
    "smallint": "smallint",
    "bigint": "bigint",
    "float4": "real",
    "float8": "double precision",
    "real": "real",
    "bool": "boolean",
    "boolean": "boolean",
    "varchar": "character varying",
    "bpchar": "character",
    "numeric": "numeric",
    "decimal": "numeric",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "varbit": "bit varying",
}
_TIME_TYPES = frozenset({"timestamp", "timestamptz", "time", "timetz"})
_SERIAL_TYPES = {
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
    "smallserial": "smallint",
    "serial2": "smallint",
}
# Type names libpg_query knows without a catalogue (first word of multi-word names).
_BUILTIN_TYPE_WORDS = frozenset(
    [
        "int",
        "int2",
        "int4",
        "int8",
        "integer",
        "smallint",
        "bigint",
        "numeric",
        "decimal",
        "real",
        "float",
        "float4",
        "float8",
        "double",
        "text",
        "varchar",
        "char",
        "character",
        "bpchar",
        "bool",
        "boolean",
        "date",
        "time",
        "timetz",
        "timestamp",
        "timestamptz",
        "interval",
        "uuid",
        "json",
        "jsonb",
        "bytea",
        "inet",
        "cidr",
        "macaddr",
        "macaddr8",
        "money",
        "xml",
        "oid",
        "regclass",
        "regproc",
        "regprocedure",
        "regtype",
        "regnamespace",
        "name",
        "bit",
        "varbit",
        "tsvector",
        "tsquery",
        "point",
        "line",
        "lseg",
        "box",
        "path",
        "polygon",
        "circle",
        "record",
        "void",
        "trigger",
        "event_trigger",
        "refcursor",
        "anyelement",
        "anyarray",
        "anynonarray",
        "anyenum",
        "anyrange",
        "anycompatible",
        "cstring",
        "int4range",
        "int8range",
        "numrange",
        "tsrange",
        "tstzrange",
        "daterange",
        "serial",
        "bigserial",
        "smallserial",
        "national",
        "pg_lsn",
        "txid_snapshot",
    ]
)
_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_$]*\Z")


def _quote_ident(name: str) -> str:
    if (
        _SAFE_IDENT.match(name)
        and name not in RESERVED_KEYWORDS
        and name not in TYPE_FUNC_NAME_KEYWORDS
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


def _typmod_text(node) -> str:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
        return str(node.val.ival)
    return _deparse(node)


def _format_type(tn: ast.TypeName) -> str:
    """A TypeName as PostgreSQL's ``format_type`` prints it (``integer``, ``numeric(12,2)``,
    ``character varying(20)``, ``timestamp with time zone``, ``text[]``); user types keep
    their schema unless it is ``public``."""
    names = [n.sval for n in tn.names]
    if tn.pct_type:
        return ".".join(names) + "%TYPE"
    mods = [_typmod_text(m) for m in tn.typmods or ()]
    builtin = len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
    base = names[-1]
    if builtin and base in _PG_TYPE_NAMES:
        name = _PG_TYPE_NAMES[base]
        if base in _TIME_TYPES and mods:
            head, _, tail = name.partition(" ")
            text = f"{head}({mods[0]}) {tail}"
        elif name == "numeric" and len(mods) == 1:
            text = f"numeric({mods[0]},0)"
        elif name == "interval" or not mods:
            text = name
        else:
            text = f"{name}({','.join(mods)})"
    else:
        if names[0] in ("pg_catalog", "public") and len(names) > 1:
            names = names[1:]
        text = ".".join(_quote_ident(n) for n in names)
        if mods:
            text += f"({','.join(mods)})"
    if tn.arrayBounds:
        text += "[]"
    return text


def format_type_text(type_text: str) -> str:
    """Normalise a type written in SQL (``int4``, ``varchar(20)``, ``pg_catalog.float8``) the
    way :class:`ColumnInfo` stores types; unparsable text is returned unchanged."""
    try:
        stmt = pglast.parse_sql(f"SELECT NULL::{type_text}")[0].stmt
        return _format_type(stmt.targetList[0].val.typeName)
    except (parser.ParseError, AttributeError, IndexError):
        return type_text


def _deparse(node) -> str:
    """SQL text of an expression node. Constants, casts, column references and calls over
    them (most defaults: ``0``, ``'open'``, ``now()``, ``nextval('s'::regclass)``) are written
    the way PostgreSQL prints them; anything else by pglast's printer."""
    text = _simple_sql(node)
    return text if text is not None else RawStream()(node)


def _simple_sql(node) -> str | None:
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return "NULL"
        v = node.val
        if isinstance(v, ast.String):
            return "'" + v.sval.replace("'", "''") + "'"
        if isinstance(v, ast.Integer):
            return str(v.ival)
        if isinstance(v, ast.Float):
            return v.fval
        if isinstance(v, ast.Boolean):
            return "true" if v.boolval else "false"
        return None
    if isinstance(node, ast.TypeCast):
        inner = _simple_sql(node.arg)
        if inner is None:
            return None
        if inner.startswith("-") or not isinstance(node.arg, ast.A_Const | ast.ColumnRef):
            inner = f"({inner})"
        return f"{inner}::{_format_type(node.typeName)}"
    if isinstance(node, ast.ColumnRef):
        if all(isinstance(f, ast.String) for f in node.fields):
            return ".".join(_quote_ident(f.sval) for f in node.fields)
        return None
    if (
        isinstance(node, ast.FuncCall)
        and not node.agg_star
        and not node.agg_distinct
        and not node.func_variadic
        and node.over is None
        and node.agg_filter is None
        and not node.agg_order
        and all(isinstance(n, ast.String) for n in node.funcname)
    ):
        args = [_simple_sql(a) for a in node.args or ()]
        if any(a is None for a in args):
            return None
        return ".".join(n.sval for n in node.funcname) + "(" + ", ".join(args) + ")"
    return None


# --------------------------------------------------------------------------- CHECK analysis


def _unwrap(node):
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node


def _column_of(node) -> str | None:
    return _bare_column(_unwrap(node))


def _bare_column(node) -> str | None:
    """The column a one-name column reference names (None for anything else)."""
    if isinstance(node, ast.ColumnRef) and len(node.fields) == 1:
        f = node.fields[0]
        if isinstance(f, ast.String):
            return f.sval
    return None


def _const(node):
    node = _unwrap(node)
    if isinstance(node, ast.A_Const) and not node.isnull:
        v = node.val
        if isinstance(v, ast.String):
            return v.sval
        if isinstance(v, ast.Integer):
            return v.ival
        if isinstance(v, ast.Float):
            return _number(v.fval)
        if isinstance(v, ast.Boolean):
            return v.boolval
    return None


def _number(value) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f
    return None


def _labels(node) -> tuple[str, ...] | None:
    node = _unwrap(node)
    if isinstance(node, ast.A_ArrayExpr):
        items = node.elements or ()
    elif isinstance(node, tuple | list):
        items = node
    else:
        return None
    labels = []
    for item in items:
        value = _const(item)
        if not isinstance(value, str):
            return None
        labels.append(value)
    return tuple(labels) if labels else None


def _conjuncts(node) -> list:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        out = []
        for arg in node.args:
            out.extend(_conjuncts(arg))
        return out
    return [node]


_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}


def _check_part(node) -> tuple[str, str, object] | None:
    """(column, what, value) for one conjunct the entity stage understands."""
    if not isinstance(node, ast.A_Expr) or not node.name:
        return None
    op = node.name[-1].sval
    kind = node.kind
    if op == "=" and kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY):
        column, labels = _column_of(node.lexpr), _labels(node.rexpr)
        return (column, "values", labels) if column and labels else None
    if kind == A_Expr_Kind.AEXPR_BETWEEN:
        column = _column_of(node.lexpr)
        bounds = node.rexpr if isinstance(node.rexpr, tuple | list) else ()
        if column and len(bounds) == 2:
            lo, hi = _number(_const(bounds[0])), _number(_const(bounds[1]))
            if lo is not None and hi is not None:
                return column, "range", (lo, hi)
        return None
    if kind != A_Expr_Kind.AEXPR_OP:
        return None
    if op == "<@":
        column, labels = _column_of(node.lexpr), _labels(node.rexpr)
        return (column, "values", labels) if column and labels else None
    if op == "~":
        column, regex = _column_of(node.lexpr), _const(node.rexpr)
        return (column, "regex", regex) if column and isinstance(regex, str) else None
    if op in (">=", "<="):
        column, value = _column_of(node.lexpr), _number(_const(node.rexpr))
        if column is None:
            column, value, op = _column_of(node.rexpr), _number(_const(node.lexpr)), _FLIP[op]
        if column and value is not None:
            return column, "range", (value, None) if op == ">=" else (None, value)
    return None


def _check_facts(expr) -> tuple[str, dict] | None:
    """The column a CHECK constrains and what it says (IN-list, regex, bounds), when every
    conjunct is one of those forms on the same column."""
    column = None
    facts: dict[str, object] = {}
    for part in _conjuncts(expr):
        found = _check_part(part)
        if found is None or (column is not None and found[0] != column):
            return None
        column, what, value = found
        if what == "range":
            lo, hi = value
            if lo is not None:
                facts["min"] = lo
            if hi is not None:
                facts["max"] = hi
        else:
            facts[what] = value
    return (column, facts) if column else None


def _apply_check_facts(col: ColumnInfo, facts: dict) -> None:
    if "values" in facts:
        col.check_values = facts["values"]
    if "regex" in facts:
        col.check_regex = facts["regex"]
    if "min" in facts:
        col.check_min = facts["min"]
    if "max" in facts:
        col.check_max = facts["max"]


# --------------------------------------------------------------------------- tables


def _default_text(expr, sql_type: str) -> str | None:
    """Default expression text; a constant cast to the column's own type (or to text, as
    pg_dump prints ``'lead'::text``) loses the cast."""
    if isinstance(expr, ast.A_Const) and expr.isnull:
        return None
    if isinstance(expr, ast.TypeCast) and isinstance(expr.arg, ast.A_Const):
        cast = _format_type(expr.typeName)
        if (
            cast == sql_type
            or cast in ("text", "character varying")
            or (cast.split("(")[0] == sql_type.split("(")[0])
        ):
            return _deparse(expr.arg)
    return _deparse(expr)


def _arg_default(expr, sql_type: str) -> str:
    """A parameter default; ``NULL::text`` (as pg_get_functiondef prints it) is ``NULL``."""
    if isinstance(expr, ast.TypeCast) and isinstance(expr.arg, ast.A_Const) and expr.arg.isnull:
        return "NULL"
    return _default_text(expr, sql_type) or "NULL"


def _serial_default(table: TableInfo, column: str) -> str:
    seq = f"{table.name}_{column}_seq"
    if table.schema and table.schema != "public":
        seq = f"{table.schema}.{seq}"
    return f"nextval('{seq}'::regclass)"


def _rangevar_parts(rv: ast.RangeVar) -> tuple[str | None, str]:
    return rv.schemaname, rv.relname


def _column_from_def(cd: ast.ColumnDef, table: TableInfo) -> ColumnInfo:
    tn = cd.typeName
    names = [n.sval for n in tn.names]
    col = ColumnInfo(cd.colname, _format_type(tn))
    if len(names) == 1 and names[0] in _SERIAL_TYPES and not tn.arrayBounds:
        col.sql_type = _SERIAL_TYPES[names[0]]
        col.not_null = True
        col.default = _serial_default(table, cd.colname)
    if cd.is_not_null:
        col.not_null = True
    for c in cd.constraints or ():
        _column_constraint(table, col, c)
    return col


def _column_constraint(table: TableInfo, col: ColumnInfo, c: ast.Constraint) -> None:
    t = c.contype
    if t == ConstrType.CONSTR_NOTNULL:
        col.not_null = True
    elif t == ConstrType.CONSTR_DEFAULT and c.raw_expr is not None:
        col.default = _default_text(c.raw_expr, col.sql_type)
    elif t == ConstrType.CONSTR_IDENTITY:
        col.is_identity = True
        col.not_null = True
    elif t == ConstrType.CONSTR_GENERATED and c.raw_expr is not None:
        col.generated = _deparse(c.raw_expr)
    elif t == ConstrType.CONSTR_CHECK and c.raw_expr is not None:
        _add_check(table, c.raw_expr, col)
    elif t == ConstrType.CONSTR_PRIMARY:
        col.primary_key = True
        col.not_null = True
        table.primary_key = (col.name,)
    elif t == ConstrType.CONSTR_UNIQUE:
        col.unique = True
        table.unique_keys.append((col.name,))
    elif t == ConstrType.CONSTR_FOREIGN and c.pktable is not None:
        schema, name = _rangevar_parts(c.pktable)
        ref_cols = tuple(s.sval for s in c.pk_attrs or ())
        col.references = (schema, name, ref_cols[0] if ref_cols else None)
        table.foreign_keys.append(
            ForeignKeyInfo((col.name,), schema, name, ref_cols, c.conname or None)
        )


def _add_check(table: TableInfo, expr, col: ColumnInfo | None = None) -> None:
    found = _check_facts(expr)
    if found is not None:
        target = table.column(found[0])
        if target is None and col is not None and found[0] in (col.name, "value"):
            target = col  # a column's own CHECK, or a domain's CHECK (VALUE ...)
        if target is not None:
            _apply_check_facts(target, found[1])
            return
    table.checks.append(_deparse(expr))


def _table_constraint(table: TableInfo, c: ast.Constraint) -> None:
    t = c.contype
    keys = tuple(s.sval for s in c.keys or ())
    if t == ConstrType.CONSTR_PRIMARY:
        table.primary_key = keys
        for name in keys:
            col = table.column(name)
            if col is not None:
                col.primary_key = True
                col.not_null = True
    elif t == ConstrType.CONSTR_UNIQUE:
        table.unique_keys.append(keys)
        if len(keys) == 1 and (col := table.column(keys[0])) is not None:
            col.unique = True
    elif t == ConstrType.CONSTR_CHECK and c.raw_expr is not None:
        _add_check(table, c.raw_expr)
    elif t == ConstrType.CONSTR_FOREIGN and c.pktable is not None:
        schema, name = _rangevar_parts(c.pktable)
        fk_cols = tuple(s.sval for s in c.fk_attrs or ())
        ref_cols = tuple(s.sval for s in c.pk_attrs or ())
        table.foreign_keys.append(ForeignKeyInfo(fk_cols, schema, name, ref_cols, c.conname))
        if len(fk_cols) == 1 and (col := table.column(fk_cols[0])) is not None:
            col.references = (schema, name, ref_cols[0] if ref_cols else None)
    elif t == ConstrType.CONSTR_NOTNULL:
        for name in keys:
            if (col := table.column(name)) is not None:
                col.not_null = True
    elif t == ConstrType.CONSTR_EXCLUSION:
        table.notes.append(f"EXCLUDE constraint {c.conname or ''} not modelled".replace("  ", " "))


def _apply_alter_table(table: TableInfo, node: ast.AlterTableStmt) -> None:
    for cmd in node.cmds or ():
        st = cmd.subtype
        if st == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            _table_constraint(table, cmd.def_)
        elif st == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            if table.column(cmd.def_.colname) is None:
                col = _column_from_def(cmd.def_, table)
                table.columns.append(col)
        elif st == AlterTableType.AT_DropColumn and cmd.name:
            table.columns = [c for c in table.columns if c.name != cmd.name]
        elif (col := table.column(cmd.name or "")) is not None:
            if st == AlterTableType.AT_ColumnDefault:
                col.default = None if cmd.def_ is None else _default_text(cmd.def_, col.sql_type)
            elif st == AlterTableType.AT_SetNotNull:
                col.not_null = True
            elif st == AlterTableType.AT_DropNotNull:
                col.not_null = False
            elif st == AlterTableType.AT_AddIdentity:
                col.is_identity = True
                col.not_null = True
            elif st == AlterTableType.AT_DropIdentity:
                col.is_identity = False
            elif st == AlterTableType.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
                col.sql_type = _format_type(cmd.def_.typeName)


def _index_unsupported(node: ast.IndexStmt) -> list[str]:
    """What a spec's ``indexes:`` cannot say about a CREATE INDEX (empty: it has a form)."""
    found = []
    if (node.accessMethod or "btree") != "btree":
        found.append(f"USING {node.accessMethod}")
    if node.whereClause is not None:
        found.append("a partial index (WHERE)")
    if node.indexIncludingParams:
        found.append("INCLUDE")
    if node.nulls_not_distinct:
        found.append("NULLS NOT DISTINCT")
    for elem in node.indexParams:
        if elem.opclass:
            found.append(f"operator class {'.'.join(s.sval for s in elem.opclass)}")
        if elem.collation:
            found.append(f"COLLATE {'.'.join(s.sval for s in elem.collation)}")
        if elem.ordering == SortByDir.SORTBY_DESC:
            found.append("DESC")
        if elem.nulls_ordering == SortByNulls.SORTBY_NULLS_FIRST:
            found.append("NULLS FIRST")
    return found


def _add_index(table: TableInfo, node: ast.IndexStmt, pos: SourcePos) -> None:
    info = IndexInfo(node.idxname or None, unique=bool(node.unique), pos=pos)
    columns, expressions = [], []
    for elem in node.indexParams:
        column = elem.name or _bare_column(elem.expr)  # ((email)) is the column
        if column is not None:
            columns.append(column)
        else:
            expressions.append(_deparse(elem.expr))
    unsupported = _index_unsupported(node)
    if expressions and len(columns) + len(expressions) > 1:
        unsupported.append("an expression among several keys")
    if unsupported:
        info.unsupported = ", ".join(unsupported)
    info.columns = tuple(columns)
    info.expression = expressions[0] if expressions else None
    table.indexes.append(info)
    physical = [
        what
        for what, given in (("WITH (...)", node.options), ("TABLESPACE", node.tableSpace))
        if given
    ]
    if physical and not unsupported:
        table.notes.append(f"index {info.name or '(unnamed)'}: {' and '.join(physical)} not kept")


# --------------------------------------------------------------------------- object index


class _Index:
    """Tables, functions and types by name, resolved the way PostgreSQL would (qualified
    exactly; unqualified through the search path, then public, then a unique name)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str | None, str], object] = {}
        self.by_name: dict[tuple[str, str], list] = {}

    def add(self, kind: str, schema: str | None, name: str, obj) -> None:
        self.by_key[(kind, schema, name)] = obj
        self.by_name.setdefault((kind, name), []).append(obj)

    def find(self, kind: str, schema: str | None, name: str, default_schema: str | None = None):
        get = self.by_key.get
        if schema is not None:
            found = get((kind, schema, name))
            if found is None and schema == "public":
                found = get((kind, None, name))
            if found is None and schema == default_schema:
                found = get((kind, None, name))
            return found
        for key in (default_schema, None, "public"):
            found = get((kind, key, name))
            if found is not None:
                return found
        same = self.by_name.get((kind, name), [])
        return same[-1] if len(same) == 1 else None


def _split_name(qualified: str) -> tuple[str | None, str]:
    schema, _, name = qualified.rpartition(".")
    return schema or None, name


def attach_triggers(functions: Iterable[FunctionInfo], triggers: Iterable[TriggerInfo]) -> list:
    """Attach each trigger to the function it executes (the last definition of that name wins,
    as in PostgreSQL); returns the triggers whose function is not among ``functions``."""
    index = _Index()
    for fn in functions:
        index.add("function", fn.schema, fn.name, fn)
    unmatched = []
    for trig in triggers:
        schema, name = _split_name(trig.function)
        fn = index.find("function", schema, name)
        if fn is None:
            unmatched.append(trig)
        elif not any(t is trig for t in fn.triggers):
            fn.triggers.append(trig)
    return unmatched


# Statements that never occur inside parentheses: after a ';' they end a runaway '(' .
_TOP_LEVEL_KEYWORDS = frozenset(
    {"CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE", "SET", "DO", "COPY", "TRUNCATE"}
)


_BEGIN_ATOMIC = re.compile(r"\bbegin\s+atomic\b", re.I)


def _fallback_split(text: str) -> list[slice]:
    """Statements of a text the parser rejects. pglast's scanner split (C, fast) covers the
    common case; what it drops after an unbalanced parenthesis, and texts with ``BEGIN
    ATOMIC`` bodies (which it cuts at every ``;``), go through :func:`scan_split`."""
    if _BEGIN_ATOMIC.search(text):
        done, last = scan_split(text)
        return [*done, last] if last is not None else done
    slices = list(parser.split(text, with_parser=False, only_slices=True))
    n = len(text)
    rest = slices[-1].stop if slices else 0
    while True:
        rest = _skip_lead(text, rest, n)
        if rest < n and text[rest] == ";":
            rest += 1
            continue
        break
    if rest < n:
        done, last = scan_split(text[rest:])
        slices += [slice(s.start + rest, s.stop + rest) for s in done]
        if last is not None:
            slices.append(slice(last.start + rest, last.stop + rest))
    return slices


def scan_split(text: str) -> tuple[list[slice], slice | None]:
    """Split SQL text into statements on pglast's scanner tokens (strings, dollar quotes,
    comments are single tokens): ``;`` outside parentheses and ``BEGIN ATOMIC ... END``.

    Returns the statements ended by ``;`` and the last statement when the text ends without
    one. Unlike ``pglast.parser.split(with_parser=False)``, which silently drops everything
    after an unbalanced parenthesis, a ``;`` followed by a keyword that only starts a statement
    (CREATE, ALTER, ...) at the beginning of a line ends a runaway parenthesis. Raises
    ParseError for an unterminated literal (its offset in ``args[1]``)."""
    tokens = parser.scan(text)
    done: list[slice] = []
    start = None
    depth = atomic = 0
    prev = None
    for i, tok in enumerate(tokens):
        name = tok.name
        if name in ("SQL_COMMENT", "C_COMMENT"):
            continue
        if start is None:
            if name == "ASCII_59":
                continue
            start = tok.start
        if name == "ASCII_40":
            depth += 1
        elif name == "ASCII_41":
            depth = max(0, depth - 1)
        elif (name == "ATOMIC" and prev == "BEGIN_P") or (atomic and name == "CASE"):
            atomic += 1
        elif atomic and name == "END_P":
            atomic -= 1
        elif name == "ASCII_59" and not atomic:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            runaway = (
                depth
                and following is not None
                and following.name in _TOP_LEVEL_KEYWORDS
                and text.rfind("\n", 0, following.start) >= tok.end
            )
            if not depth or runaway:
                done.append(slice(start, tok.start))
                start, depth = None, 0
        prev = name
    last = None
    if start is not None:
        end = max(t.end for t in tokens if t.start >= start) + 1
        last = slice(start, end)
    return done, last


# --------------------------------------------------------------------------- the builder

_HEAD = re.compile(
    r"""(?:
        (?P<table>create\s+(?:or\s+replace\s+)?(?:(?:global|local)\s+)?
            (?:(?:temp|temporary|unlogged)\s+)?table)
      | (?P<function>create\s+(?:or\s+replace\s+)?(?:function|procedure))
      | (?P<trigger>create\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger)
      | (?P<type>create\s+(?:type|domain))
      | (?P<index>create\s+(?:unique\s+)?index)
      | (?P<alter>alter\s+table)
      | (?P<comment>comment\s+on)
      | (?P<do>do)
      | (?P<set>set\s+(?:(?:session|local)\s+)?search_path)
    )\b""",
    re.I | re.X,
)
_ALTER_USEFUL = re.compile(r"\b(?:add|set|drop|type)\b", re.I)

_PARAM_MODES = {
    FunctionParameterMode.FUNC_PARAM_IN: "in",
    FunctionParameterMode.FUNC_PARAM_DEFAULT: "in",
    FunctionParameterMode.FUNC_PARAM_OUT: "out",
    FunctionParameterMode.FUNC_PARAM_INOUT: "inout",
    FunctionParameterMode.FUNC_PARAM_VARIADIC: "variadic",
    FunctionParameterMode.FUNC_PARAM_TABLE: "table",
}

# CreateTrigStmt bits (PostgreSQL's trigger.h)
_TRIGGER_BEFORE, _TRIGGER_INSTEAD = 1 << 1, 1 << 6
_TRIGGER_EVENTS = ((1 << 2, "insert"), (1 << 4, "update"), (1 << 3, "delete"), (1 << 5, "truncate"))


class _Builder:
    def __init__(self, text: str, source: str, module: SqlModule) -> None:
        self.text = text
        self.source = source
        self.module = module
        self.lines = _Lines(text, source)
        self.index = _Index()
        self.search_schema: str | None = None
        self.deferred: list[tuple[object, PendingStatement]] = []  # in statement order

    # -- errors and notes

    def pos(self, offset: int) -> SourcePos:
        return self.lines.pos(offset)

    def error(self, message: str, offset: int, level: ErrorLevel = ErrorLevel.ERROR) -> None:
        self.module.errors.append(SpecqlError(message, self.pos(offset), level))

    def skip(self, offset: int, why: str) -> None:
        self.module.skipped.append((self.pos(offset), why))

    # -- statements

    def run(self) -> None:
        text = self.text
        slices, valid_until = self.split(text)
        for sl in slices:
            start = _skip_lead(text, sl.start, sl.stop)
            if start >= sl.stop:
                continue
            self.module.statements += 1
            # the parser reports an error at the token after the last one it accepted: a
            # statement ending exactly there (before its ";") is the broken one
            self.statement(start, sl.stop, checked=sl.stop < valid_until)
        self.finish()

    def split(self, text: str) -> tuple[list[slice], int]:
        """Statement slices and the offset up to which the parser has checked them."""
        try:
            return list(parser.split(text, only_slices=True)), len(text)
        except parser.ParseError as e:
            valid_until = _error_offset(e, 0)
        try:
            return _fallback_split(text), valid_until
        except parser.ParseError as e:
            loc = _error_offset(e, 0)
        # An unterminated literal: the statements before the one it starts in still count.
        try:
            done, last = scan_split(text[:loc])
        except parser.ParseError:
            done, last = [], None
        rest = last.start if last is not None else _skip_lead(text, loc, len(text))
        lines = text.count("\n", rest) + 1
        self.error(
            f"unterminated string or quoted identifier at line {self.lines.line(loc)}: "
            f"the rest of the file ({lines} lines) cannot be split into statements",
            rest,
        )
        return done, min(valid_until, rest)

    def statement(self, start: int, end: int, checked: bool) -> None:
        text = self.text
        m = _HEAD.match(text, start, min(end, start + 200))
        kind = m.lastgroup if m else None
        if kind == "alter" and not _ALTER_USEFUL.search(text, start, end):
            kind = None
        if kind is None:
            if not checked:
                self.check(start, end)
            return
        try:
            node = self.parse(start, end)
            handler = _HANDLERS.get(type(node)) if node is not None else None
            if handler is not None:
                handler(self, node, start, end)
        except RecursionError:
            self.error(
                f"statement nested too deeply to read (in statement {_one_line(text[start:end], 50)!r})",
                start,
            )
        except Exception as e:  # a statement reverse cannot read is reported, never fatal
            self.error(
                f"cannot read statement {_one_line(text[start:end], 50)!r}: "
                f"{type(e).__name__}: {e}",
                start,
            )

    def check(self, start: int, end: int) -> None:
        stmt = self.text[start:end]
        try:
            parser.split(stmt, only_slices=True)
        except parser.ParseError as e:
            fixed = _psql_variables(stmt)
            if fixed is not None:
                try:
                    parser.split(fixed[0], only_slices=True)
                except parser.ParseError:
                    pass
                else:
                    self.skip(start, f"psql variables read as names: {', '.join(fixed[1])}")
                    return
            self.statement_error(e, start, stmt)

    def parse(self, start: int, end: int):
        stmt = self.text[start:end]
        try:
            parsed = pglast.parse_sql(stmt)
        except parser.ParseError as e:
            fixed = _psql_variables(stmt)
            parsed = None
            if fixed is not None:
                try:
                    parsed = pglast.parse_sql(fixed[0])
                except parser.ParseError:
                    parsed = None
                else:
                    self.skip(start, f"psql variables read as names: {', '.join(fixed[1])}")
            if parsed is None:
                self.statement_error(e, start, stmt)
                return None
        return parsed[0].stmt if parsed else None

    def statement_error(self, e: parser.ParseError, start: int, stmt: str) -> None:
        message = e.args[0] if e.args else str(e)
        offset = start + _error_offset(e, 0)
        self.error(f"{message} (in statement {_one_line(stmt, 50)!r})", offset)

    # -- search path

    def set_stmt(self, node: ast.VariableSetStmt, start: int, end: int) -> None:
        if (node.name or "").lower() != "search_path":
            return
        schema = None
        for arg in node.args or ():
            value = _const(arg)
            if isinstance(value, str) and value != "$user":
                schema = value.split(",")[0].strip() or None
                break
        self.search_schema = schema

    # -- tables and types

    def create_table(self, node: ast.CreateStmt, start: int, end: int) -> None:
        rel = node.relation
        qualified = rel.relname if not rel.schemaname else f"{rel.schemaname}.{rel.relname}"
        if rel.relpersistence == "t":
            self.skip(start, f"temporary table {qualified}")
            return
        if node.partbound is not None:
            self.skip(start, f"partition {qualified} (its parent table is the entity)")
            return
        table = TableInfo(rel.schemaname or self.search_schema, rel.relname, pos=self.pos(start))
        for elt in node.tableElts or ():
            if isinstance(elt, ast.ColumnDef):
                table.columns.append(_column_from_def(elt, table))
        for elt in node.tableElts or ():  # table constraints see every column
            if isinstance(elt, ast.Constraint):
                _table_constraint(table, elt)
            elif isinstance(elt, ast.TableLikeClause):
                table.notes.append(f"LIKE {_deparse(elt.relation)} not expanded")
        if node.inhRelations:
            parents = ", ".join(_deparse(r) for r in node.inhRelations)
            table.notes.append(f"INHERITS ({parents}): inherited columns not included")
        self.module.tables.append(table)
        self.index.add("table", table.schema, table.name, table)

    def create_enum(self, node: ast.CreateEnumStmt, start: int, end: int) -> None:
        schema, name = _qualified(node.typeName, self.search_schema)
        values = tuple(v.sval for v in node.vals or ())
        self.add_type(TypeInfo(schema, name, "enum", values=values, pos=self.pos(start)))

    def create_domain(self, node: ast.CreateDomainStmt, start: int, end: int) -> None:
        schema, name = _qualified(node.domainname, self.search_schema)
        base = ColumnInfo(name, _format_type(node.typeName))
        holder = TableInfo(schema, name, columns=[base])
        for c in node.constraints or ():
            if c.contype == ConstrType.CONSTR_CHECK and c.raw_expr is not None:
                _add_check(holder, c.raw_expr, base)
            else:
                _column_constraint(holder, base, c)
        info = TypeInfo(schema, name, "domain", base=base, pos=self.pos(start))
        info.checks = holder.checks
        self.add_type(info)

    def create_composite(self, node: ast.CompositeTypeStmt, start: int, end: int) -> None:
        rv = node.typevar
        holder = TableInfo(rv.schemaname or self.search_schema, rv.relname)
        attrs = [_column_from_def(cd, holder) for cd in node.coldeflist or ()]
        info = TypeInfo(holder.schema, rv.relname, "composite", attributes=attrs)
        info.pos = self.pos(start)
        self.add_type(info)

    def add_type(self, info: TypeInfo) -> None:
        self.module.types.append(info)
        self.index.add("type", info.schema, info.name, info)

    # -- changes to other objects (maybe defined later or in another file)

    def alter_table(self, node: ast.AlterTableStmt, start: int, end: int) -> None:
        if node.objtype != ObjectType.OBJECT_TABLE:
            return
        self.defer(node, start, end)

    def comment(self, node: ast.CommentStmt, start: int, end: int) -> None:
        if node.objtype in (
            ObjectType.OBJECT_TABLE,
            ObjectType.OBJECT_COLUMN,
            ObjectType.OBJECT_FUNCTION,
            ObjectType.OBJECT_PROCEDURE,
            ObjectType.OBJECT_TYPE,
            ObjectType.OBJECT_DOMAIN,
        ):
            self.defer(node, start, end)

    def defer(self, node, start: int, end: int) -> None:
        pending = PendingStatement(self.text[start:end], self.pos(start), self.search_schema)
        self.deferred.append((node, pending))

    def finish(self) -> None:
        for node, pending in self.deferred:
            if not _apply_change(node, self.index, pending):
                self.module.pending.append(pending)
        self.deferred.clear()
        attach_triggers(self.module.functions, self.module.triggers)

    # -- functions, DO blocks, triggers

    def create_function(self, node: ast.CreateFunctionStmt, start: int, end: int) -> None:
        names = [s.sval for s in node.funcname]
        schema = names[-2] if len(names) > 1 else self.search_schema
        fn = FunctionInfo(schema, names[-1], pos=self.pos(start), source=self.text[start:end])
        table_cols = []
        for p in node.parameters or ():
            mode = _PARAM_MODES.get(p.mode, "in")
            arg_type = _format_type(p.argType)
            default = _arg_default(p.defexpr, arg_type) if p.defexpr is not None else None
            arg = ArgInfo(p.name, arg_type, mode, default)
            fn.args.append(arg)
            if mode == "table":
                table_cols.append(arg)
        if table_cols:
            fn.returns = "TABLE(" + ", ".join(f"{a.name} {a.sql_type}" for a in table_cols) + ")"
        elif node.returnType is not None:
            rt = _format_type(node.returnType)
            fn.returns = f"SETOF {rt}" if node.returnType.setof else rt
        elif node.is_procedure:
            fn.returns = None
        language = None
        body_at = None
        for opt in node.options or ():
            if opt.defname == "language":
                language = opt.arg.sval.lower()
            elif opt.defname == "as":
                parts = opt.arg if isinstance(opt.arg, tuple | list) else (opt.arg,)
                if len(parts) == 1 and isinstance(parts[0], ast.String):
                    fn.body, body_at = parts[0].sval, opt.arg_location  # else C: obj, symbol
        fn.language = language or "sql"
        self.body(fn, start, end, body_at, node)
        self.module.functions.append(fn)
        self.index.add("function", fn.schema, fn.name, fn)

    def do_block(self, node: ast.DoStmt, start: int, end: int) -> None:
        language, body_at, body = "plpgsql", None, ""
        for opt in node.args or ():
            if opt.defname == "language":
                language = opt.arg.sval.lower()
            elif opt.defname == "as":
                body, body_at = opt.arg.sval, opt.arg_location
        line = self.lines.line(start)
        fn = FunctionInfo(None, f"do_block_{line}", returns="void", language=language)
        fn.pos, fn.source, fn.body = self.pos(start), self.text[start:end], body
        self.body(fn, start, end, body_at, None)
        self.module.functions.append(fn)
        if fn.plpgsql is not None and body_at is not None and self.text[start + body_at] == "$":
            self.do_block_ddl(fn, start + body_at)

    def do_block_ddl(self, fn: FunctionInfo, quote_at: int) -> None:
        """DDL a DO block runs as it is loaded (``IF NOT EXISTS (...) THEN CREATE TYPE ...``,
        the idempotent-migration idiom) defines objects like top-level statements do."""
        body_start = quote_at + len(_DOLLAR_TAG.match(self.text, quote_at).group())
        body_end = body_start + len(fn.body)
        search_from = body_start
        for query in _static_sql(fn.plpgsql):
            at = self.text.find(query, search_from, body_end)
            if at < 0:
                continue
            search_from = at + len(query)
            m = _HEAD.match(self.text, at, min(search_from, at + 200))
            if m is None or m.lastgroup in ("do", "set"):
                continue
            self.statement(at, search_from, checked=True)

    def body(self, fn: FunctionInfo, start: int, end: int, body_at: int | None, node) -> None:
        """Body position, then the PL/pgSQL AST (with the fallback) or the raw statements."""
        stmt = self.text[start:end]
        inner = _string_inner(stmt, body_at) if body_at is not None else None
        if inner is None and fn.language == "sql" and node is not None and node.sql_body:
            inner = _sql_body_span(stmt)
        if inner is not None:
            body_start = start + inner[0]
            fn.body_line = self.lines.line(body_start)
            if not fn.body:
                fn.body = stmt[inner[0] : inner[1]]
        else:
            body_start = start
            fn.body_line = fn.pos.line
        body_src = stmt[inner[0] : inner[1]] if inner else ""
        if fn.language != "plpgsql":
            fn.parse_path = "raw"
            if fn.language == "sql" and body_src.strip():
                fn.raw_statements = self.raw_sql_statements(body_src, body_start)
                fn.parse_error = "LANGUAGE sql: statements kept as SQL (no PL/pgSQL AST)"
            else:
                fn.parse_error = f"LANGUAGE {fn.language}: no PL/pgSQL body to parse"
            return
        _plpgsql(fn, stmt, node, inner, self.lines, body_start)
        if fn.parse_path == "raw":
            dollar = inner is not None and stmt[inner[0] - 1] == "$"
            # a quoted body ('...''x''...') is split as PL/pgSQL reads it, undoubled
            text = body_src if dollar or not fn.body else fn.body
            fn.raw_statements = self.raw_plpgsql_statements(text, body_start)

    def raw_sql_statements(self, body: str, body_start: int) -> list[tuple[str, SourcePos]]:
        try:
            done, last = scan_split(body)
            slices = [*done, last] if last is not None else done
        except parser.ParseError:
            slices = [slice(0, len(body))]
        out = []
        for sl in slices:
            s = _skip_lead(body, sl.start, sl.stop)
            if s < sl.stop:
                out.append((body[s : sl.stop], self.pos(body_start + s)))
        return out

    def raw_plpgsql_statements(self, body: str, body_start: int) -> list[tuple[str, SourcePos]]:
        start = self.pos(body_start)
        breaks = [m.start() for m in re.finditer("\n", body)]
        out = []
        for off, txt in split_plpgsql_body(body):
            k = bisect.bisect_left(breaks, off)  # line breaks before the statement
            col = start.col + off if k == 0 else off - breaks[k - 1]
            out.append((txt, SourcePos(start.file, start.line + k, col)))
        return out

    def create_trigger(self, node: ast.CreateTrigStmt, start: int, end: int) -> None:
        rel = node.relation
        schema = rel.schemaname or self.search_schema
        table = f"{schema}.{rel.relname}" if schema else rel.relname
        timing = (
            "before"
            if node.timing & _TRIGGER_BEFORE
            else "instead of"
            if node.timing & _TRIGGER_INSTEAD
            else "after"
        )
        events = tuple(name for bit, name in _TRIGGER_EVENTS if node.events & bit)
        function = ".".join(s.sval for s in node.funcname)
        trig = TriggerInfo(
            node.trigname,
            table,
            timing,
            events,
            "row" if node.row else "statement",
            function,
            pos=self.pos(start),
        )
        self.module.triggers.append(trig)


def _static_sql(node) -> list[str]:
    """The SQL text of every static SQL statement (PLpgSQL_stmt_execsql) of a PL/pgSQL AST,
    in body order."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            execsql = item.get("PLpgSQL_stmt_execsql")
            if isinstance(execsql, dict):
                expr = (execsql.get("sqlstmt") or {}).get("PLpgSQL_expr") or {}
                if isinstance(expr.get("query"), str):
                    found.append((execsql.get("lineno", 0), expr["query"]))
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return [q for _, q in sorted(found, key=lambda lq: lq[0])]


def _qualified(names, default_schema: str | None) -> tuple[str | None, str]:
    parts = [n.sval for n in names]
    return (parts[-2] if len(parts) > 1 else default_schema), parts[-1]


def _error_offset(e: parser.ParseError, default: int) -> int:
    loc = e.args[1] if len(e.args) > 1 else None
    return loc if isinstance(loc, int) and loc >= 0 else default


_HANDLERS = {
    ast.CreateStmt: _Builder.create_table,
    ast.AlterTableStmt: _Builder.alter_table,
    ast.IndexStmt: _Builder.defer,  # its table may come later, or in another file
    ast.CommentStmt: _Builder.comment,
    ast.CreateFunctionStmt: _Builder.create_function,
    ast.DoStmt: _Builder.do_block,
    ast.CreateTrigStmt: _Builder.create_trigger,
    ast.CreateEnumStmt: _Builder.create_enum,
    ast.CreateDomainStmt: _Builder.create_domain,
    ast.CompositeTypeStmt: _Builder.create_composite,
    ast.VariableSetStmt: _Builder.set_stmt,
}


def _apply_change(node, index: _Index, pending: PendingStatement) -> bool:
    """Apply an ALTER TABLE / CREATE INDEX / COMMENT ON to the object it names; False when not
    found."""
    default_schema = pending.default_schema
    if isinstance(node, ast.AlterTableStmt | ast.IndexStmt):
        rel = node.relation
        table = index.find("table", rel.schemaname, rel.relname, default_schema)
        if table is None:
            return False
        if isinstance(node, ast.IndexStmt):
            _add_index(table, node, pending.pos)
        else:
            _apply_alter_table(table, node)
        return True
    if isinstance(node, ast.CommentStmt):
        t = node.objtype
        if t == ObjectType.OBJECT_TABLE:
            schema, name = _qualified(node.object, None)
            table = index.find("table", schema, name, default_schema)
            if table is None:
                return False
            table.comment = node.comment
            return True
        if t == ObjectType.OBJECT_COLUMN:
            parts = [s.sval for s in node.object]
            schema = parts[-3] if len(parts) > 2 else None
            table = index.find("table", schema, parts[-2], default_schema)
            col = table.column(parts[-1]) if table is not None else None
            if col is None:
                return False
            col.comment = node.comment
            return True
        if t in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_PROCEDURE):
            schema, name = _qualified(node.object.objname, None)
            fn = index.find("function", schema, name, default_schema)
            if fn is None:
                return False
            fn.comment = node.comment
            return True
        if t in (ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN):
            names = node.object.names if isinstance(node.object, ast.TypeName) else node.object
            schema, name = _qualified(names, None)
            info = index.find("type", schema, name, default_schema)
            if info is None:
                return False
            info.comment = node.comment
            return True
    return False


def _sql_body_span(stmt: str) -> tuple[int, int] | None:
    """Span of a SQL-standard body (``BEGIN ATOMIC ... END`` or ``RETURN expr``)."""
    try:
        tokens = parser.scan(stmt)
    except parser.ParseError:
        return None
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.name == "ASCII_40":
            depth += 1
        elif tok.name == "ASCII_41":
            depth -= 1
        elif depth == 0 and (
            tok.name == "RETURN"
            or (tok.name == "BEGIN_P" and i + 1 < len(tokens) and tokens[i + 1].name == "ATOMIC")
        ):
            return tok.start, len(stmt)
    return None


# --------------------------------------------------------------------------- PL/pgSQL


def _plpgsql_function(result) -> dict:
    return result[0]["PLpgSQL_function"]


def _plpgsql(
    fn: FunctionInfo,
    stmt: str,
    node,
    inner: tuple[int, int] | None,
    lines: _Lines,
    body_start: int,
) -> None:
    try:
        fn.plpgsql = _plpgsql_function(pglast.parse_plpgsql(stmt))
        fn.parse_path = "ast"
        return
    except parser.ParseError as e:
        first_error = e.args[0] if e.args else str(e)
    except Exception as e:  # libpg_query reports some failures as other errors
        first_error = f"{type(e).__name__}: {e}"
    stmt_start = body_start - (inner[0] if inner else 0)
    tried: list[tuple[str, ...]] = []
    last_error = None
    if inner is not None:
        colon = _colon_variable_edits(stmt[: inner[0]], 0)
        colon += _colon_variable_edits(stmt[inner[0] : inner[1]], inner[0])
    else:
        colon = _colon_variable_edits(stmt, 0)
    # every rewrite keeps the text's length, so later edits can be found on the earlier result
    plain = _apply_edits(stmt, colon) if colon else stmt
    for attempt in (1, 2):
        edits = list(colon)
        if node is not None:
            edits += _header_edits(plain, node, attempt)
        if inner is not None:
            edits += _declaration_edits(plain, inner, attempt)
        key = tuple(f"{s}:{e}:{r}" for s, e, r in sorted(edits))
        if not edits or key in tried:
            continue
        tried.append(key)
        rewritten = _apply_edits(stmt, edits)
        try:
            fn.plpgsql = _plpgsql_function(pglast.parse_plpgsql(rewritten))
        except parser.ParseError as e:
            last_error = e.args[0] if e.args else str(e)
            continue
        except Exception as e:
            last_error = f"{type(e).__name__}: {e}"
            continue
        fn.parse_path = "rewritten"
        fn.rewrites = [
            f"line {lines.line(stmt_start + s)}: {_one_line(stmt[s:e], 80)} -> {r}"
            for s, e, r in sorted(edits)
        ]
        return
    fn.parse_path = "raw"
    fn.plpgsql = None
    fn.parse_error = first_error
    if last_error is not None and last_error != first_error:
        fn.parse_error += f" (after rewriting: {last_error})"


def _apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    parts, last = [], 0
    for start, end, replacement in sorted(edits):
        if start < last:
            continue
        span = text[start:end]
        parts.append(text[last:start])
        # keep the span's line breaks, so AST line numbers keep mapping to the file
        pad = "\n" * span.count("\n")
        filler = " " * max(0, len(span) - len(replacement) - len(pad)) if not pad else ""
        parts.append(replacement + pad + filler)
        last = end
    parts.append(text[last:])
    return "".join(parts)


_NAME_RE = r'(?:"(?:[^"]|"")*"|[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*)'
_TYPE_SPAN = re.compile(
    rf"{_NAME_RE}(?:\s*\.\s*{_NAME_RE})*(?:\s*%\s*(?:ROW)?TYPE\b)?(?:\s*\([^()]*\))?"
    r"(?:\s*\[\s*\d*\s*\])*",
    re.I,
)
_VARIADIC = re.compile(r"VARIADIC\b", re.I)


def _known_type(names: list[str]) -> bool:
    if names and names[0] == "pg_catalog":
        return True
    return len(names) == 1 and names[0].lower() in _BUILTIN_TYPE_WORDS


def _header_type_fix(tn: ast.TypeName, mode: str, attempt: int) -> str | None:
    names = [n.sval for n in tn.names]
    array = bool(tn.arrayBounds)
    if tn.pct_type:
        return "text[]" if array else "text"
    if _known_type(names):
        return None
    if array:
        return "text[]"
    user_schema = len(names) > 1 and names[0] != "public"
    if mode in ("out", "inout", "table") or attempt == 2:
        return "text"
    return _quote_ident(names[-1]) if user_schema else None


def _header_edits(stmt: str, node, attempt: int) -> list[tuple[int, int, str]]:
    edits = []
    for p in node.parameters or ():
        mode = _PARAM_MODES.get(p.mode, "in")
        fix = _header_type_fix(p.argType, mode, attempt)
        if fix is not None and (m := _TYPE_SPAN.match(stmt, p.argType.location)):
            edits.append((m.start(), m.end(), fix))
        if mode == "variadic" and (m := _VARIADIC.match(stmt, p.location)):
            edits.append((m.start(), m.end(), ""))
    rt = node.returnType
    if rt is not None and not any(
        _PARAM_MODES.get(p.mode) == "table" for p in node.parameters or ()
    ):
        fix = _header_type_fix(rt, "in", 1)
        if fix is not None and (m := _TYPE_SPAN.match(stmt, rt.location)):
            edits.append((m.start(), m.end(), fix))
    return edits


def _colon_variable_edits(src: str, base: int) -> list[tuple[int, int, str]]:
    """``:name`` placeholders that migration tools substitute textually (graphile-worker's
    ``:GRAPHILE_WORKER_SCHEMA.jobs``, also inside bodies): the colon is dropped, so the name
    reads as an identifier. ``::`` and ``:=`` are other tokens; colons inside brackets are
    array slices (``a[1:n]``) and stay."""
    try:
        tokens = parser.scan(src)
    except parser.ParseError as e:  # the header up to the body's opening quote
        try:
            tokens = parser.scan(src[: _error_offset(e, 0)])
        except parser.ParseError:
            return []
    edits, brackets, prev = [], 0, None
    for a, b in itertools.pairwise(tokens):
        if a.name == "ASCII_91":
            brackets += 1
        elif a.name == "ASCII_93":
            brackets = max(0, brackets - 1)
        elif (
            a.name == "ASCII_58"
            and (not brackets or prev == "TYPECAST")  # arr[lo:hi] is a slice; x:::v is not
            and b.start == a.end + 1
            and b.name not in ("ICONST", "FCONST", "PARAM", "SCONST")
            and _IDENT_CHAR.match(src[b.start])
        ):
            edits.append((base + a.start, base + a.start + 1, ""))
        prev = a.name
    return edits


def _tok_text(src: str, tok) -> str:
    return src[tok.start : tok.end + 1]


def _declaration_edits(stmt: str, inner: tuple[int, int], attempt: int) -> list:
    """Rewrites of declared types in every DECLARE section of the body (token-aware)."""
    base, src = inner[0], stmt[inner[0] : inner[1]]
    try:
        tokens = [t for t in parser.scan(src) if t.name not in ("SQL_COMMENT", "C_COMMENT")]
    except parser.ParseError:
        return []
    edits = []
    i, n = 0, len(tokens)
    while i < n:
        if tokens[i].name != "DECLARE":
            i += 1
            continue
        i += 1
        while i < n and tokens[i].name != "BEGIN_P":
            j, depth = i, 0
            while j < n and not (tokens[j].name == "ASCII_59" and depth == 0):
                if tokens[j].name == "ASCII_40":
                    depth += 1
                elif tokens[j].name == "ASCII_41":
                    depth -= 1
                elif tokens[j].name == "BEGIN_P" and depth == 0:
                    break
                j += 1
            first = i + 1 if tokens[i].name == "DECLARE" else i  # DECLARE may repeat
            fix = _declared_type_fix(src, tokens[first:j], attempt)
            if fix is not None:
                s, e, r = fix
                edits.append((base + s, base + e, r))
            i = j + 1 if j < n and tokens[j].name == "ASCII_59" else j
    return edits


_DECL_STOP = frozenset({"COLLATE", "NOT", "COLON_EQUALS", "ASCII_61", "DEFAULT"})


def _declared_type_fix(src: str, decl: list, attempt: int) -> tuple[int, int, str] | None:
    """The rewrite of one declaration's type (``name [CONSTANT] type [COLLATE ...] [NOT NULL]
    [:= | = | DEFAULT expr]``), or None when it stays as written."""
    if len(decl) < 2:
        return None
    k = 2 if _tok_text(src, decl[1]).lower() == "constant" else 1
    if k >= len(decl) or _tok_text(src, decl[k]).lower() in ("alias", "cursor", "no", "scroll"):
        return None
    stop = k
    while stop < len(decl) and decl[stop].name not in _DECL_STOP:
        stop += 1
    type_tokens = decl[k:stop]
    if not type_tokens:
        return None
    words = [_tok_text(src, t).lower() for t in type_tokens]
    start, end = type_tokens[0].start, type_tokens[-1].end + 1
    if len(words) >= 2 and words[-2] == "%" and words[-1] == "rowtype":
        return start, end, "record"
    if "%" in words:
        return None  # x.y%TYPE reads fine in a declaration
    parts, idx = [words[0].strip('"')], 1
    while idx + 1 < len(words) and words[idx] == ".":
        parts.append(words[idx + 1].strip('"'))
        idx += 2
    rest = words[idx:]
    if parts[0] == "pg_catalog" or (len(parts) == 1 and parts[0] in _BUILTIN_TYPE_WORDS):
        return None
    if any(w not in ("(", ")", "[", "]", ",", "array") and not w.isdigit() for w in rest):
        return None  # a multi-word type we do not know: leave it
    if "[" in rest or "array" in rest:
        return start, end, "text[]"
    if attempt == 2:
        return start, end, "text"
    if len(parts) > 1 and parts[0] != "public":
        return start, end, _tok_text(src, type_tokens[idx - 1])
    return None


def split_plpgsql_body(body: str) -> list[tuple[int, str]]:
    """Top-level statements of a PL/pgSQL body as (offset, text), with pglast's scanner.

    The DECLARE section is one item (``DECLARE ...``), each statement of the outer BEGIN ...
    END block is one item (a nested IF/LOOP/CASE/BEGIN block with everything inside it), the
    EXCEPTION section is one item. A body the scanner cannot read is one item.
    """
    try:
        tokens = [t for t in parser.scan(body) if t.name not in ("SQL_COMMENT", "C_COMMENT")]
    except parser.ParseError:
        stripped = body.strip()
        return [(body.find(stripped), stripped)] if stripped else []
    if not tokens:
        return []
    words = [body[t.start : t.end + 1].lower() for t in tokens]
    out: list[tuple[int, str]] = []

    def emit(first: int, last: int) -> None:
        if first <= last:
            s, e = tokens[first].start, tokens[last].end + 1
            out.append((s, body[s:e]))

    begin = next((i for i, w in enumerate(words) if w == "begin"), None)
    if begin is None:
        emit(0, len(tokens) - 1)
        return out
    decl = next((i for i in range(begin) if words[i] == "declare"), None)
    if decl is not None:
        emit(decl, begin - 1)
    depth, first, prev = 1, begin + 1, "begin"
    i = begin + 1
    starts = {";", "then", "else", "loop", "begin", ">>", "declare", "exception"}
    while i < len(tokens):
        w = words[i]
        at_start = prev in starts
        if w == "end":
            depth -= 1
            if depth == 0:
                emit(first, i - 1)
                return out
            if i + 1 < len(tokens) and words[i + 1] in ("if", "loop", "case"):
                i += 1
                w = words[i]
        elif w in ("begin", "case") or (w == "if" and at_start) or (w == "loop" and prev != "end"):
            depth += 1
        elif w == "exception" and depth == 1 and at_start:
            emit(first, i - 1)
            first = i
            # the rest up to the block's END is the handler section
            prev = w
            i += 1
            continue
        elif w == ";" and depth == 1 and words[first] != "exception":
            emit(first, i)
            first = i + 1
        prev = w
        i += 1
    emit(first, len(tokens) - 1)  # unterminated block: keep what is left
    return out


# --------------------------------------------------------------------------- public API


def parse_sql_text(text: str, source: str = "<string>") -> SqlModule:
    """Parse SQL text (DDL, functions, triggers, DO blocks, pg_dump output) into a module."""
    module = SqlModule(source)
    if "\x00" in text:
        first = text.index("\x00")
        pos = _Lines(text, source).pos(first)
        module.errors.append(
            SpecqlError(
                f"{text.count(chr(0))} NUL character(s) replaced by spaces",
                pos,
                ErrorLevel.WARNING,
            )
        )
        text = text.replace("\x00", " ")
    builder = _Builder(text, source, module)
    if _PSQL_HINT.search(text):
        stripped, skipped = _strip_psql(text, builder.lines)
        module.skipped.extend(skipped)
        builder.text = stripped
    builder.run()
    return module


def parse_sql_bytes(data: bytes, source: str = "<bytes>") -> SqlModule:
    """Decode (UTF-8, a positioned warning and U+FFFD for invalid bytes) and parse."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
        warning = None
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace")
        line = data.count(b"\n", 0, e.start) + 1
        line_start = data.rfind(b"\n", 0, e.start) + 1
        col = len(data[line_start : e.start].decode("utf-8", errors="replace")) + 1
        bad = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
        warning = SpecqlError(
            f"invalid UTF-8 at byte {e.start} ({bad} undecodable sequence(s) replaced by "
            "U+FFFD; the rest of the file is parsed)",
            SourcePos(source, line, col),
            ErrorLevel.WARNING,
        )
    module = parse_sql_text(text, source)
    if warning is not None:
        module.errors.insert(0, warning)
    return module


def parse_sql_file(path, max_bytes: int = DEFAULT_MAX_BYTES) -> SqlModule:
    """Parse one ``.sql`` file. Never raises for bad content: problems are ``errors``."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        return SqlModule(
            source, errors=[SpecqlError(f"cannot read file: {e.strerror}", SourcePos(source))]
        )
    if size > max_bytes:
        return SqlModule(
            source,
            errors=[
                SpecqlError(
                    f"file is {size:,} bytes, over the limit of {max_bytes:,} bytes "
                    "(raise max_bytes to read it)",
                    SourcePos(source, 1, 1),
                )
            ],
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        return SqlModule(
            source, errors=[SpecqlError(f"cannot read file: {e.strerror}", SourcePos(source))]
        )
    return parse_sql_bytes(data, source)


def sql_files(paths: Iterable) -> list[Path]:
    """The ``.sql`` files under ``paths`` (directories recursively, sorted; files as given).
    A path that does not exist is a SpecqlError."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = [
                Path(root) / f
                for root, _, files in os.walk(path)
                for f in files
                if f.lower().endswith(".sql")
            ]
            out.extend(sorted(found, key=lambda f: f.relative_to(path).parts))
        elif path.exists():
            out.append(path)
        else:
            raise SpecqlError("no such file or directory", SourcePos(str(path)))
    return out


def parse_paths(paths: Iterable, max_bytes: int = DEFAULT_MAX_BYTES) -> list[SqlModule]:
    """Parse every ``.sql`` file under ``paths`` and :func:`link_modules` them."""
    modules = [parse_sql_file(f, max_bytes=max_bytes) for f in sql_files(paths)]
    link_modules(modules)
    return modules


def link_modules(modules: list[SqlModule]) -> None:
    """Resolve what crosses files: pending ALTER TABLE / COMMENT ON statements are applied to
    the tables, functions and types of any module, and triggers are attached to functions of
    any module. Statements whose object no module defines stay in ``pending``, each also
    recorded in ``skipped``. Idempotent."""
    index = _Index()
    functions: list[FunctionInfo] = []
    triggers: list[TriggerInfo] = []
    for m in modules:
        for t in m.tables:
            index.add("table", t.schema, t.name, t)
        for f in m.functions:
            index.add("function", f.schema, f.name, f)
        for ty in m.types:
            index.add("type", ty.schema, ty.name, ty)
        functions.extend(m.functions)
        triggers.extend(m.triggers)
    for m in modules:
        still = []
        for pending in m.pending:
            try:
                node = pglast.parse_sql(pending.sql)[0].stmt
            except (parser.ParseError, IndexError):
                still.append(pending)
                continue
            if not _apply_change(node, index, pending):
                still.append(pending)
                note = (pending.pos, f"{_one_line(pending.sql, 60)}: its object is not defined")
                if note not in m.skipped:
                    m.skipped.append(note)
        m.pending = still
    attach_triggers(functions, triggers)
