"""Source text of PL/pgSQL statements, cut from the function body.

pglast's PL/pgSQL AST gives each statement its line (``lineno``, 1 = the body's first line) but
not where it ends, and it drops what a raw_sql step should show (``INTO`` targets, labels,
comments inside). :class:`BodyText` tokenizes the body once (strings, dollar quotes, quoted
identifiers and comments are single tokens) and finds each statement's span:

- a simple statement runs from its first token to the first ``;`` outside parentheses;
- a compound one (IF, LOOP/WHILE/FOR, CASE, BEGIN block) runs past its last nested statement
  to its closing ``END IF;`` / ``END LOOP [label];`` / ``END CASE;`` / ``END [label];``.

Statements sharing a line are told apart by walking siblings in order. Spans are computed for
the whole function on first use only (most functions never need a raw text).

:func:`declaration_type` reads a variable's declared type text (``NUMERIC(12,2)``,
``crm.tb_contact.email%TYPE``), which the AST reduces to a bare type name.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<comment>--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)
    | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
    | (?P<string>[EeBbXxNnUu]?'(?:[^']|'')*')
    | (?P<qident>"(?:[^"]|"")*")
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<label><<|>>)
    | (?P<assign>:=)
    | (?P<other>\S)
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_NEWLINE = re.compile(r"\n")

# Statement kinds whose text ends with END <keyword>.
_LOOP_KINDS = frozenset(
    {
        "PLpgSQL_stmt_loop",
        "PLpgSQL_stmt_while",
        "PLpgSQL_stmt_fori",
        "PLpgSQL_stmt_fors",
        "PLpgSQL_stmt_forc",
        "PLpgSQL_stmt_dynfors",
        "PLpgSQL_stmt_foreach_a",
    }
)
_CLOSING = {"PLpgSQL_stmt_if": "if", "PLpgSQL_stmt_case": "case"}


@dataclass(slots=True)
class Token:
    kind: str  # word | string | qident | dollar-string | label | assign | other
    text: str
    start: int
    end: int
    line: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


def tokenize(text: str) -> list[Token]:
    """Tokens of PL/pgSQL text, whitespace and comments left out."""
    newlines = [m.start() for m in _NEWLINE.finditer(text)]
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None or m.lastgroup is None:  # trailing whitespace
            break
        kind = m.lastgroup
        start = m.start(kind)
        end = m.end()
        if kind == "dollar":
            tag = m.group(kind)
            close = text.find(tag, end)
            end = n if close < 0 else close + len(tag)
            kind = "string"
        if kind != "comment":
            line = bisect.bisect_right(newlines, start) + 1
            tokens.append(Token(kind, text[start:end], start, end, line))
        pos = end
    return tokens


def children(stmt: dict) -> list[list[dict]]:
    """Nested statement lists of one statement node ``{"PLpgSQL_stmt_x": {...}}``."""
    ((_, node),) = stmt.items()
    blocks: list[list[dict]] = []
    for key in ("body", "then_body"):
        if node.get(key):
            blocks.append(node[key])
    for elsif in node.get("elsif_list") or ():
        blocks.append(elsif["PLpgSQL_if_elsif"].get("stmts") or [])
    if node.get("else_body"):
        blocks.append(node["else_body"])
    for when in node.get("case_when_list") or ():
        blocks.append(when["PLpgSQL_case_when"].get("stmts") or [])
    if node.get("else_stmts"):
        blocks.append(node["else_stmts"])
    exceptions = node.get("exceptions")
    if exceptions:
        for exc in exceptions["PLpgSQL_exception_block"].get("exc_list") or ():
            blocks.append(exc["PLpgSQL_exception"].get("action") or [])
    return blocks


def kind_of(stmt: dict) -> str:
    return next(iter(stmt))


def expr_text(node: object) -> str:
    """The SQL text of an expression node ``{"PLpgSQL_expr": {"query": ...}}``; "" for none."""
    if isinstance(node, dict):
        e = node.get("PLpgSQL_expr")
        if e is not None:
            return e.get("query", "")
    return ""


def lineno(stmt: dict) -> int:
    return stmt[kind_of(stmt)].get("lineno") or 0


class BodyText:
    """The body of one function, able to give the source text of any statement of it."""

    def __init__(self, body: str, action: dict | None) -> None:
        self.body = body
        self.action = action
        self._tokens: list[Token] | None = None
        self._lines: list[int] | None = None
        self._spans: dict[int, tuple[int, int]] | None = None

    @property
    def tokens(self) -> list[Token]:
        if self._tokens is None:
            self._tokens = tokenize(self.body)
        return self._tokens

    def first_token_of_line(self, line: int) -> int:
        """Index of the first token on ``line`` or after it."""
        if self._lines is None:
            self._lines = [t.line for t in self.tokens]
        return bisect.bisect_left(self._lines, line)

    def text(self, stmt: dict) -> str | None:
        """The statement as written (None when it cannot be located)."""
        if self._spans is None:
            self._spans = {}
            if self.action is not None and self.body:
                with contextlib.suppress(IndexError, ValueError):
                    self._span_list([self.action], 0)
        span = self._spans.get(id(stmt))
        if span is None:
            return None
        tokens = self.tokens
        start = tokens[span[0]].start
        text = self.body[start : tokens[span[1]].end]
        if "\n" not in text or any(
            t.kind in ("string", "qident") and "\n" in t.text for t in tokens[span[0] : span[1] + 1]
        ):
            return text  # (a multi-line literal must keep its text)
        # continuation lines lose the indentation the statement itself had in the body
        indent = start - (self.body.rfind("\n", 0, start) + 1)
        lines = text.split("\n")
        return "\n".join([lines[0], *(_dedent(line, indent) for line in lines[1:])])

    # ---- span computation

    def _first_on_line(self, line: int, after: int) -> int:
        tokens = self.tokens
        i = after
        while i < len(tokens) and tokens[i].line < line:
            i += 1
        if i >= len(tokens):
            raise ValueError("statement line past the end of the body")
        return i

    def _span_list(self, stmts: list[dict], after: int) -> int:
        """Spans of a statement list starting at token ``after``; returns the next free token."""
        for stmt in stmts:
            start = self._first_on_line(lineno(stmt), after)
            start = self._with_label(start)
            end = self._end_of(stmt, start)
            self._spans[id(stmt)] = (start, end)
            after = end + 1
        return after

    def _with_label(self, start: int) -> int:
        tokens = self.tokens
        if (
            start >= 3
            and tokens[start - 1].text == ">>"
            and tokens[start - 2].kind == "word"
            and tokens[start - 3].text == "<<"
        ):
            return start - 3
        return start

    def _end_of(self, stmt: dict, start: int) -> int:
        kind = kind_of(stmt)
        blocks = children(stmt)
        compound = kind in _LOOP_KINDS or kind in _CLOSING or kind == "PLpgSQL_stmt_block"
        if not compound:
            return self._semicolon(start)
        after = start + 1
        for block in blocks:
            if block:
                after = self._span_list(block, after)
        return self._closing(kind, after)

    def _semicolon(self, start: int) -> int:
        tokens = self.tokens
        depth = 0
        for i in range(start, len(tokens)):
            text = tokens[i].text
            if text in ("(", "["):
                depth += 1
            elif text in (")", "]"):
                depth -= 1
            elif text == ";" and depth <= 0:
                return i
        raise ValueError("statement without a terminating semicolon")

    def _closing(self, kind: str, after: int) -> int:
        tokens = self.tokens
        want = "loop" if kind in _LOOP_KINDS else _CLOSING.get(kind)
        for i in range(after, len(tokens)):
            if tokens[i].word != "end":
                continue
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if want is None:  # a block: END [label];
                if nxt is not None and nxt.word in ("if", "loop", "case"):
                    continue
                return self._semicolon(i)
            if nxt is not None and nxt.word == want:
                return self._semicolon(i)
        raise ValueError("no closing END found")


def declaration(body: BodyText, name: str, line: int) -> tuple[str, str | None] | None:
    """(type text, default text) of the variable ``name`` declared on body line ``line``: the
    type is what follows the name (and ``CONSTANT``) up to ``:=``, ``=``, ``DEFAULT``, ``NOT
    NULL``, ``COLLATE`` or ``;``; the default what follows ``:=``/``=``/``DEFAULT`` up to
    ``;``. None when the declaration is not found there."""
    tokens = body.tokens
    lowered = name.lower()
    for i in range(body.first_token_of_line(line), len(tokens)):
        tok = tokens[i]
        if tok.line > line:
            break
        if (tok.word or _unquote(tok)) != lowered:
            continue
        j = i + 1
        if j < len(tokens) and tokens[j].word == "constant":
            j += 1
        parts: list[Token] = []
        depth = 0
        while j < len(tokens):
            t = tokens[j]
            if depth == 0 and (
                t.text in (";", "=", ":=")
                or t.word in ("default", "collate")
                or (t.word == "not" and j + 1 < len(tokens) and tokens[j + 1].word == "null")
            ):
                break
            depth += t.text == "("
            depth -= t.text == ")"
            parts.append(t)
            j += 1
        if not parts:
            return None
        type_text = body.body[parts[0].start : parts[-1].end]
        default = None
        while j < len(tokens) and tokens[j].text != ";":
            if tokens[j].text in ("=", ":=") or tokens[j].word == "default":
                k = end = j + 1
                depth = 0
                while end < len(tokens) and not (tokens[end].text == ";" and depth == 0):
                    depth += tokens[end].text == "("
                    depth -= tokens[end].text == ")"
                    end += 1
                if end > k:
                    default = body.body[tokens[k].start : tokens[end - 1].end]
                break
            j += 1
        return type_text, default
    return None


def declaration_type(body: BodyText, name: str, line: int) -> str | None:
    """The declared type text of ``name`` (see :func:`declaration`)."""
    found = declaration(body, name, line)
    return found[0] if found is not None else None


def _dedent(line: str, width: int) -> str:
    """``line`` without up to ``width`` leading blanks (never cutting into text)."""
    cut = 0
    while cut < width and cut < len(line) and line[cut] in " \t":
        cut += 1
    return line[cut:]


def _unquote(tok: Token) -> str:
    if tok.kind == "qident":
        return tok.text[1:-1].replace('""', '"')
    return ""


__all__ = [
    "BodyText",
    "Token",
    "children",
    "declaration",
    "declaration_type",
    "kind_of",
    "lineno",
    "tokenize",
]
