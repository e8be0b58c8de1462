"""Embeddings and hybrid search over the pattern library (layer 3: imports store, sqltext).

>>> from specql.patterns import PatternLibrary
>>> from specql.retrieval import PatternIndex
>>> with PatternLibrary.open() as lib:
...     hits = PatternIndex(lib.conn).search("writes old and new row values to a history table")
>>> hits[0].name
'audit_trail'
"""

from specql.retrieval.embedder import (
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    get_embedder,
    retrieval_missing,
)
from specql.retrieval.index import (
    SIGNALS,
    Hit,
    IndexStatus,
    PatternIndex,
    ReindexResult,
    Reranker,
    check_query,
    function_document,
)

__all__ = [
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "SIGNALS",
    "Embedder",
    "HashingEmbedder",
    "Hit",
    "IndexStatus",
    "MiniLMEmbedder",
    "PatternIndex",
    "ReindexResult",
    "Reranker",
    "check_query",
    "function_document",
    "get_embedder",
    "retrieval_missing",
]
