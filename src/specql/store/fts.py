"""Turning a user's words into an FTS5 query (the library's full-text table)."""

from __future__ import annotations

import re

from specql.errors import SpecqlError

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_CHARS = 2000
MAX_QUERY_TERMS = 64


def fts_query(text: str, *, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Plain words -> an FTS5 query (each word a quoted prefix term, any may match; BM25
    ranks documents matching more of them first). Operators in the text are not honoured:
    a user's text is data. Only the first ``max_chars`` characters and
    :data:`MAX_QUERY_TERMS` distinct words count."""
    if not isinstance(text, str) or not text.strip():
        raise SpecqlError("empty search text")
    words = _WORD.findall(text[:max_chars].lower())
    if not words:
        raise SpecqlError(f"no searchable words in {text[:80]!r}")
    return " OR ".join(f'"{w}"*' for w in list(dict.fromkeys(words))[:MAX_QUERY_TERMS])
