"""Turning a user's words into an FTS5 query (the library's full-text table)."""

from __future__ import annotations

import re

from specql.errors import SpecqlError

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_CHARS = 2000
MAX_QUERY_TERMS = 64
# Words nearly every entry has: as OR'ed prefix terms they match the whole index and cost a
# BM25 score for every row (10x the time at 10k entries) while adding almost nothing to it.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "then",
        "this",
        "to",
        "was",
        "were",
        "when",
        "where",
        "which",
        "while",
        "with",
    ]
)


def _terms(text: str, max_chars: int) -> list[str]:
    words = _WORD.findall(text[:max_chars].lower())
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOPWORDS))


def has_search_terms(text: str, *, max_chars: int = MAX_QUERY_CHARS) -> bool:
    """Whether :func:`fts_query` finds words to search for in ``text``."""
    return isinstance(text, str) and bool(_terms(text, max_chars))


def fts_query(text: str, *, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Plain words -> an FTS5 query (each word a quoted prefix term, any may match; BM25
    ranks documents matching more of them first; one-letter words and :data:`STOPWORDS` are
    left out). Operators in the text are not honoured:
    a user's text is data. Only the first ``max_chars`` characters and
    :data:`MAX_QUERY_TERMS` distinct words count."""
    if not isinstance(text, str) or not text.strip():
        raise SpecqlError("empty search text")
    words = _terms(text, max_chars)
    if not words:
        raise SpecqlError(f"no searchable words in {text[:80]!r}")
    return " OR ".join(f'"{w}"*' for w in words[:MAX_QUERY_TERMS])
