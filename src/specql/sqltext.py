"""SQL as words, for search: what the pattern library indexes of its legacy examples and what
the reverse engineer asks the library with (both must see SQL the same way).

A lexical pass, not a parse: it has to work on any text (broken, truncated, any dialect).
Comments and string literals are dropped — they are data, and a comment can carry text meant
to steer a reader — as are numbers and punctuation; identifiers are split into their words
(``hr.salary_history`` -> ``hr salary history``) and lowercased.
"""

from __future__ import annotations

import re

# Order matters: comments and literals are recognised before the words inside them. A block
# comment is only opened here (``/*``): they nest in PostgreSQL, which a regex cannot follow.
# In an E'...' string a backslash escapes the next character (E'it\'s' is one literal).
_TOKENS = re.compile(
    r"""
      (?P<comment>--[^\n]*)
    | (?P<block>/\*)
    | (?P<string>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z)|[bBxXuU]?'(?:[^']|'')*(?:'|\Z))
    | (?P<dollar>\$(?:[A-Za-z_]\w*)?\$)
    | (?P<quoted>"(?:[^"]|"")*"?)
    | (?P<word>[A-Za-z_\u00C0-\uFFFF][\w$\u00C0-\uFFFF]*)
    """,
    re.VERBOSE | re.DOTALL,
)
_PART = re.compile(r"[^\W\d_]+", re.UNICODE)
_COMMENT_MARK = re.compile(r"/\*|\*/")

# Words every PL/pgSQL function has: they say nothing about what it does.
NOISE = frozenset(
    [
        "a",
        "as",
        "begin",
        "create",
        "declare",
        "end",
        "function",
        "language",
        "or",
        "plpgsql",
        "replace",
        "returns",
        "sql",
        "the",
        "then",
        "is",
        "in",
        "of",
        "on",
        "to",
        "by",
        "and",
        "not",
        "null",
        "if",
    ]
)


def sql_words(sql: str, *, limit: int | None = None) -> list[str]:
    """The words of ``sql`` in order (identifiers split, lowercased; comments, literals,
    numbers, punctuation and :data:`NOISE` left out), at most ``limit`` of them."""
    words: list[str] = []
    pos = 0
    while (match := _TOKENS.search(sql, pos)) is not None:
        kind = match.lastgroup
        pos = _block_comment_end(sql, match.start()) if kind == "block" else match.end()
        if kind in ("comment", "block", "string", "dollar"):
            continue
        for part in _PART.findall(match.group().lower()):
            if part not in NOISE and len(part) > 1:
                words.append(part)
        if limit is not None and len(words) >= limit:
            return words[:limit]
    return words


def without_comments(sql: str) -> str:
    """``sql`` with its comments removed and everything else as written (a comment becomes one
    space, or the line breaks it spanned): what goes into a prompt, where a comment could carry
    instructions aimed at the model."""
    out: list[str] = []
    pos = done = 0
    while (match := _TOKENS.search(sql, pos)) is not None:
        kind = match.lastgroup
        pos = _block_comment_end(sql, match.start()) if kind == "block" else match.end()
        if kind in ("comment", "block"):
            out.append(sql[done : match.start()])
            breaks = sql.count("\n", match.start(), pos) if kind == "block" else 0
            out.append("\n" * breaks or " ")
            done = pos
    out.append(sql[done:])
    return "".join(out)


def _block_comment_end(sql: str, start: int) -> int:
    """Where the block comment opened at ``start`` ends (nested ones included); an
    unterminated comment runs to the end of the text."""
    depth = 0
    for mark in _COMMENT_MARK.finditer(sql, start):
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return mark.end()
    return len(sql)


def identifier_words(name: str) -> str:
    """``audit_trail`` -> ``audit trail``; ``hr.leave_request`` -> ``hr leave request``."""
    return " ".join(_PART.findall(name.lower()))
