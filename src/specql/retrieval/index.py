"""Hybrid search over the pattern library: exact cosine over embeddings, BM25 over FTS5, and
reciprocal-rank fusion of the two.

The library writes a document for every entry (``pattern_documents``: a summary chunk and one
chunk per legacy example) and bumps ``library_generation`` on every change. This index embeds
documents whose content hash has no vector yet for its model (``pattern_embeddings``: the
chunks' vectors as one float32 blob), holds every current vector in one in-memory matrix, and
refreshes when the generation moves — so an added, edited or deprecated pattern is searched
as it is now. An entry scores as its best chunk.

Small gaps (a few changed entries, a freshly seeded library) are embedded on the fly; a large
library that was never indexed is a clear error asking for ``specql patterns reindex``, so a
search never silently turns into an hour of embedding.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from specql.errors import SpecqlError
from specql.retrieval.embedder import Embedder, get_embedder
from specql.sqltext import identifier_words, sql_words
from specql.store import fts_query, has_search_terms, write

SIGNALS = ("hybrid", "embedding", "bm25")
AUTO_INDEX_LIMIT = 200  # entries embedded on the fly by a search; more need `reindex`
MAX_QUERY_CHARS = 10_000
RRF_K = 60  # the usual constant of reciprocal-rank fusion: damps the weight of top ranks
CANDIDATES = 50  # hits taken from each signal before fusion
EMBED_BATCH = 64  # texts per call to the embedder while indexing (progress granularity)
CACHE_ROWS = 100_000  # embeddings of non-library texts kept; the least recently used go first
FUNCTION_WORDS = 400  # words of a function's body that make its query

ProgressFn = Callable[[int, int], None]  # (done, total)
Reranker = Callable[[str, list["Hit"]], list["Hit"]]
TIER_KINDS = {1: "primitive", 2: "domain", 3: "template"}


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. ``score`` is what the ranking used (cosine for ``embedding``, BM25
    for ``bm25``, the fused score for ``hybrid``); ``signals`` says which of the two signals
    had it among their candidates."""

    tier: int
    name: str
    category: str
    score: float
    cosine: float | None = None
    bm25: float | None = None
    signals: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "tier": self.tier,
            "kind": TIER_KINDS.get(self.tier, str(self.tier)),
            "category": self.category,
            "score": round(self.score, 4),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
            "bm25": None if self.bm25 is None else round(self.bm25, 4),
            "signals": list(self.signals),
        }


@dataclass(frozen=True, slots=True)
class Filters:
    tier: int | None = None
    category: str | None = None
    language: str | None = None


@dataclass(slots=True)
class IndexStatus:
    model: str
    documents: int  # entries not deprecated
    embedded: int  # of those, with a current vector

    @property
    def stale(self) -> int:
        return self.documents - self.embedded

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "documents": self.documents,
            "embedded": self.embedded,
            "stale": self.stale,
        }


@dataclass(slots=True)
class ReindexResult:
    model: str
    documents: int
    embedded: int  # entries whose chunks went through the model
    reused: int  # entries whose vector was already stored (same content, same model)
    texts: int  # chunks embedded
    seconds: float

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "documents": self.documents,
            "embedded": self.embedded,
            "reused": self.reused,
            "texts": self.texts,
            "seconds": round(self.seconds, 3),
        }


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def function_document(
    name: str, body: str, *, kind: str = "function", features: Iterable[str] = ()
) -> str:
    """What a legacy function is searched with: its name, kind and extracted features as
    words, then the words of its body (identifiers and statement keywords; comments and
    literals dropped), each distinct word once, in order of first use."""
    head = " ".join([identifier_words(name), kind, *features])
    words = dict.fromkeys(sql_words(body, limit=FUNCTION_WORDS * 4))
    return f"{head}. {' '.join(list(words)[:FUNCTION_WORDS])}"


def check_query(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise SpecqlError("empty search query: say what the pattern does, in a few words")
    if len(text) > MAX_QUERY_CHARS:
        raise SpecqlError(
            f"search query is {len(text):,} characters; at most {MAX_QUERY_CHARS:,} "
            "(describe what you look for in a few sentences)"
        )
    return text


@dataclass(slots=True)
class _Matrix:
    """Every current vector, one row per chunk, rows of an entry contiguous."""

    generation: int
    tiers: object  # np.ndarray[int8], per entry
    names: list[str]
    categories: list[str]
    category_codes: object  # np.ndarray[int32], per entry
    category_index: dict[str, int]
    languages: dict[str, object]  # language -> bool mask per entry
    vectors: object  # np.ndarray[float32], chunks x dims
    starts: object | None  # first row of each entry (None: one row each)
    by_key: dict[tuple[int, str], int] = field(default_factory=dict)


class PatternIndex:
    """Search the library open on ``conn`` (a :class:`specql.patterns.PatternLibrary`'s
    connection). ``embedder`` defaults to the registered ``minilm``, created on first need:
    a BM25-only search never loads the model."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        embedder: Embedder | None = None,
        *,
        auto_index_limit: int = AUTO_INDEX_LIMIT,
        where: str = "the library",
    ) -> None:
        self.conn = conn
        self._embedder = embedder
        self.auto_index_limit = auto_index_limit
        self.where = where
        self._matrix: _Matrix | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    # ------------------------------------------------------------------ indexing

    def _generation(self) -> int:
        return self.conn.execute("SELECT generation FROM library_generation").fetchone()[0]

    def _stale(self) -> list[sqlite3.Row]:
        """Documents (not deprecated) without a vector of their current content."""
        return self.conn.execute(
            "SELECT d.tier, d.name, d.chunks, d.content_hash FROM pattern_documents AS d "
            "LEFT JOIN pattern_embeddings AS e "
            "ON e.tier = d.tier AND e.name = d.name AND e.model = ? "
            "WHERE d.deprecated = 0 AND e.content_hash IS NOT d.content_hash "
            "ORDER BY d.tier, d.name",
            (self.embedder.name,),
        ).fetchall()

    def status(self) -> IndexStatus:
        model = self.embedder.name
        documents, embedded = self.conn.execute(
            "SELECT count(*), count(e.name) FROM pattern_documents AS d "
            "LEFT JOIN pattern_embeddings AS e ON e.tier = d.tier AND e.name = d.name "
            "AND e.model = ? AND e.content_hash = d.content_hash WHERE d.deprecated = 0",
            (model,),
        ).fetchone()
        return IndexStatus(model=model, documents=documents, embedded=embedded)

    def reindex(self, *, force: bool = False, progress: ProgressFn | None = None) -> ReindexResult:
        """Embed every document without a current vector (``force``: every document). An
        unchanged library costs one query; vectors of identical content are reused."""
        started = time.perf_counter()
        model = self.embedder.name
        if force:
            docs = self.conn.execute(
                "SELECT tier, name, chunks, content_hash FROM pattern_documents "
                "WHERE deprecated = 0 ORDER BY tier, name"
            ).fetchall()
        else:
            docs = self._stale()
        embedded, reused, texts = self._embed_documents(docs, reuse=not force, progress=progress)
        total = self.conn.execute(
            "SELECT count(*) FROM pattern_documents WHERE deprecated = 0"
        ).fetchone()[0]
        self._matrix = None
        return ReindexResult(model, total, embedded, reused, texts, time.perf_counter() - started)

    def _embed_documents(
        self, docs: Sequence[sqlite3.Row], *, reuse: bool, progress: ProgressFn | None
    ) -> tuple[int, int, int]:
        import numpy as np

        model = self.embedder.name
        dims = self.embedder.dims
        rows: list[tuple] = []
        todo: list[sqlite3.Row] = []
        stored = (
            self._vectors_by_hash("pattern_embeddings", [d["content_hash"] for d in docs])
            if reuse
            else {}
        )
        for doc in docs:
            found = stored.get(doc["content_hash"])
            if found is not None:
                rows.append((doc["tier"], doc["name"], model, doc["content_hash"], dims, found))
            else:
                todo.append(doc)
        chunks = [json.loads(doc["chunks"]) for doc in todo]
        texts = [text for doc_chunks in chunks for text in doc_chunks]
        vectors = np.empty((len(texts), dims), dtype=np.float32)
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            vectors[start : start + len(batch)] = self.embedder.embed(batch)
            if progress is not None:
                progress(start + len(batch), len(texts))
        at = 0
        for doc, doc_chunks in zip(todo, chunks, strict=True):
            blob = vectors[at : at + len(doc_chunks)].astype("<f4").tobytes()
            at += len(doc_chunks)
            rows.append((doc["tier"], doc["name"], model, doc["content_hash"], dims, blob))
        if rows:
            with write(self.conn):
                self.conn.executemany(
                    "INSERT OR REPLACE INTO pattern_embeddings "
                    "(tier, name, model, content_hash, dims, vector) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(todo), len(docs) - len(todo), len(texts)

    def _fresh(self) -> _Matrix:
        """The in-memory matrix as of the library's current generation, after embedding
        what changed (when it is a small gap)."""
        generation = self._generation()
        if self._matrix is not None and self._matrix.generation == generation:
            return self._matrix
        stale = self._stale()
        if stale:
            if len(stale) > self.auto_index_limit:
                status = self.status()
                what = (
                    "has no embeddings yet"
                    if status.embedded == 0
                    else f"has {len(stale):,} entries changed since it was indexed"
                )
                raise SpecqlError(
                    f"{self.where} {what} for model {status.model}: "
                    "run `specql patterns reindex` (or search with --signal bm25)"
                )
            self._embed_documents(stale, reuse=True, progress=None)
        self._matrix = self._load(generation)
        return self._matrix

    def _load(self, generation: int) -> _Matrix:
        import numpy as np

        model = self.embedder.name
        dims = self.embedder.dims
        rows = self.conn.execute(
            "SELECT d.tier, d.name, d.category, d.languages, e.vector "
            "FROM pattern_documents AS d JOIN pattern_embeddings AS e "
            "ON e.tier = d.tier AND e.name = d.name AND e.model = ? "
            "AND e.content_hash = d.content_hash "
            "WHERE d.deprecated = 0 ORDER BY d.tier, d.name",
            (model,),
        ).fetchall()
        blobs = [r["vector"] for r in rows]
        counts = np.array([len(b) // (4 * dims) for b in blobs], dtype=np.int64)
        vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dims)
        category_index: dict[str, int] = {}
        codes = np.array(
            [category_index.setdefault(r["category"], len(category_index)) for r in rows],
            dtype=np.int32,
        )
        languages: dict[str, object] = {}
        for i, r in enumerate(rows):
            for lang in r["languages"].split():
                mask = languages.get(lang)
                if mask is None:
                    mask = languages[lang] = np.zeros(len(rows), dtype=bool)
                mask[i] = True
        one_each = bool(len(counts)) and bool((counts == 1).all())
        starts = (
            None if one_each or not len(counts) else np.concatenate(([0], np.cumsum(counts)[:-1]))
        )
        names = [r["name"] for r in rows]
        tiers = np.array([r["tier"] for r in rows], dtype=np.int8)
        return _Matrix(
            generation=generation,
            tiers=tiers,
            names=names,
            categories=[r["category"] for r in rows],
            category_codes=codes,
            category_index=category_index,
            languages=languages,
            vectors=vectors,
            starts=starts,
            by_key={(int(t), n): i for i, (t, n) in enumerate(zip(tiers, names, strict=True))},
        )

    # ------------------------------------------------------------------ searching

    def _mask(self, m: _Matrix, filters: Filters):
        import numpy as np

        mask = np.ones(len(m.names), dtype=bool)
        if filters.tier is not None:
            mask &= m.tiers == filters.tier
        if filters.category is not None:
            code = m.category_index.get(filters.category)
            mask &= m.category_codes == (-1 if code is None else code)
        if filters.language is not None:
            lang = m.languages.get(filters.language)
            mask &= lang if lang is not None else False
        return mask

    def _cosines(self, m: _Matrix, query_vector):
        """Each entry's best chunk similarity to the query."""
        import numpy as np

        sims = m.vectors @ query_vector
        if m.starts is None:
            return sims
        if not len(sims):
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(sims, m.starts)

    def embed_queries(self, texts: Sequence[str], *, cache: bool = False):
        """Vectors of query texts; ``cache``: look them up / keep them in the embedding
        cache by content (worth it for function texts, which repeat across runs)."""
        import numpy as np

        model = self.embedder.name
        dims = self.embedder.dims
        out = np.empty((len(texts), dims), dtype=np.float32)
        missing = list(range(len(texts)))
        hashes = [text_hash(t) for t in texts] if cache else []
        if cache and texts:
            known = self._vectors_by_hash("embedding_cache", hashes)
            missing = [i for i, h in enumerate(hashes) if h not in known]
            for i, h in enumerate(hashes):
                if h in known:
                    out[i] = np.frombuffer(known[h], dtype="<f4")
        if missing:
            out[missing] = self.embedder.embed([texts[i] for i in missing])
        if cache and texts:
            with write(self.conn):
                self.conn.executemany(
                    "INSERT OR REPLACE INTO embedding_cache (model, content_hash, dims, vector) "
                    "VALUES (?, ?, ?, ?)",
                    [(model, hashes[i], dims, out[i].astype("<f4").tobytes()) for i in missing],
                )
                self.conn.executemany(
                    "UPDATE embedding_cache SET used_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                    "WHERE model = ? AND content_hash = ?",
                    [(model, hashes[i]) for i in set(range(len(texts))) - set(missing)],
                )
                self._prune_cache()
        return out

    def _vectors_by_hash(self, table: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored vectors of this model by content hash (``table``: pattern_embeddings or
        embedding_cache), looked up in chunks that stay under SQLite's parameter limit."""
        model = self.embedder.name
        found: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            marks = ", ".join("?" * len(part))
            found.update(
                self.conn.execute(
                    f"SELECT content_hash, vector FROM {table} "
                    f"WHERE model = ? AND content_hash IN ({marks})",
                    (model, *part),
                ).fetchall()
            )
        return found

    def _prune_cache(self) -> None:
        over = self.conn.execute("SELECT count(*) FROM embedding_cache").fetchone()[0] - CACHE_ROWS
        if over > 0:
            # By key: the table is WITHOUT ROWID.
            self.conn.execute(
                "DELETE FROM embedding_cache WHERE (model, content_hash) IN "
                "(SELECT model, content_hash FROM embedding_cache ORDER BY used_at LIMIT ?)",
                (over,),
            )

    def bm25(self, text: str, filters: Filters | None = None, limit: int = CANDIDATES):
        """(tier, name, category, score) best first, BM25 over name, category, description
        and the document text (higher is better)."""
        filters = filters or Filters()
        where = ["d.deprecated = 0"]
        args: list = [fts_query(text, max_chars=MAX_QUERY_CHARS)]
        if filters.tier is not None:
            where.append("d.tier = ?")
            args.append(filters.tier)
        if filters.category is not None:
            where.append("d.category = ?")
            args.append(filters.category)
        if filters.language is not None:
            where.append("(' ' || d.languages || ' ') LIKE ?")
            args.append(f"% {filters.language} %")
        args.append(limit)
        return self.conn.execute(
            "WITH hits AS MATERIALIZED (SELECT CAST(tier AS INTEGER) AS tier, name, "
            "-bm25(patterns_fts, 0.0, 4.0, 2.0, 1.0, 1.0) AS score FROM patterns_fts "
            "WHERE patterns_fts MATCH ?) "
            "SELECT hits.tier, hits.name, d.category, hits.score FROM hits "
            "JOIN pattern_documents AS d ON d.tier = hits.tier AND d.name = hits.name "
            f"WHERE {' AND '.join(where)} ORDER BY hits.score DESC, hits.tier, hits.name LIMIT ?",
            args,
        ).fetchall()

    def search(
        self,
        text: str,
        *,
        k: int = 5,
        signal: str = "hybrid",
        tier: int | None = None,
        category: str | None = None,
        language: str | None = None,
        min_score: float | None = None,
        rerank: Reranker | None = None,
    ) -> list[Hit]:
        """The ``k`` best entries for plain-words ``text``. ``min_score`` drops hits below a
        cosine similarity (``embedding``, ``hybrid``) or BM25 score (``bm25``). ``rerank``
        may reorder (or drop) the fused candidates before the cut to ``k``; what it returns
        must be among them (it may be a model's answer: it is checked, not trusted)."""
        check_query(text)
        return self._search_many(
            [text], k, signal, Filters(tier, category, language), min_score, rerank, cache=False
        )[0]

    def search_many(
        self,
        texts: Sequence[str],
        *,
        k: int = 5,
        signal: str = "hybrid",
        tier: int | None = None,
        category: str | None = None,
        language: str | None = None,
        min_score: float | None = None,
        rerank: Reranker | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for many texts at once (one embedding pass, cached by content):
        the reverse engineer's per-function lookup."""
        return self._search_many(
            list(texts), k, signal, Filters(tier, category, language), min_score, rerank, cache=True
        )

    def _search_many(self, texts, k, signal, filters, min_score, rerank, *, cache):
        import numpy as np

        if signal not in SIGNALS:
            raise SpecqlError(f"unknown signal {signal!r}; one of {', '.join(SIGNALS)}")
        if k < 1:
            raise SpecqlError(f"k must be at least 1 (got {k})")
        use_vectors = signal != "bm25"
        m = self._fresh() if use_vectors else None
        vectors = self.embed_queries(texts, cache=cache) if use_vectors and texts else None
        mask = self._mask(m, filters) if m is not None else None
        depth = max(CANDIDATES, k)
        results: list[list[Hit]] = []
        for qi, text in enumerate(texts):
            cosine = None
            ranked_vec: list[int] = []
            if m is not None:
                cosine = self._cosines(m, vectors[qi])
                scores = np.where(mask, cosine, -np.inf)
                top = min(depth, int(mask.sum()))
                if top:
                    part = np.argpartition(-scores, top - 1)[:top]
                    ranked_vec = [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]
            lexical = self._lexical(text, filters, depth, signal)
            hits = self._fuse(m, cosine, ranked_vec, lexical, signal)
            if min_score is not None:
                gated = "bm25" if signal == "bm25" else "cosine"
                hits = [
                    h
                    for h in hits
                    if getattr(h, gated) is not None and getattr(h, gated) >= min_score
                ]
            if rerank is not None:
                hits = _checked_rerank(rerank, text, hits[: max(3 * k, 10)])
            results.append(hits[:k])
        return results

    def _lexical(self, text: str, filters: Filters, depth: int, signal: str) -> list:
        if signal == "embedding":
            return []
        if signal == "hybrid" and not has_search_terms(text):
            return []  # only common words: the embedding alone ranks
        return self.bm25(text, filters, depth)

    @staticmethod
    def _fuse(m, cosine, ranked_vec, lexical, signal) -> list[Hit]:
        entries: dict[tuple[int, str], dict] = {}
        for rank, i in enumerate(ranked_vec):
            key = (int(m.tiers[i]), m.names[i])
            entries[key] = {
                "category": m.categories[i],
                "cosine": float(cosine[i]),
                "bm25": None,
                "rrf": 1.0 / (RRF_K + rank + 1),
                "signals": ["embedding"],
            }
        for rank, row in enumerate(lexical):
            key = (row["tier"], row["name"])
            entry = entries.get(key)
            if entry is None:
                i = m.by_key.get(key) if m is not None else None
                entry = entries[key] = {
                    "category": row["category"],
                    "cosine": float(cosine[i]) if i is not None else None,
                    "bm25": None,
                    "rrf": 0.0,
                    "signals": [],
                }
            entry["bm25"] = float(row["score"])
            entry["rrf"] += 1.0 / (RRF_K + rank + 1)
            entry["signals"].append("bm25")
        score_of = {
            "hybrid": lambda e: e["rrf"],
            "embedding": lambda e: e["cosine"],
            "bm25": lambda e: e["bm25"],
        }[signal]
        hits = [
            Hit(
                tier=key[0],
                name=key[1],
                category=e["category"],
                score=score_of(e),
                cosine=e["cosine"],
                bm25=e["bm25"],
                signals=tuple(e["signals"]),
            )
            for key, e in entries.items()
        ]
        # Ties (equal fused scores) go to the better cosine, then the name: stable output.
        hits.sort(key=lambda h: (-h.score, -(h.cosine or 0.0), h.tier, h.name))
        return hits


def _checked_rerank(rerank: Reranker, text: str, hits: list[Hit]) -> list[Hit]:
    """A reranker's order, keeping only hits it was given (each once)."""
    given = {(h.tier, h.name): h for h in hits}
    out: list[Hit] = []
    for hit in rerank(text, list(hits)):
        key = (getattr(hit, "tier", None), getattr(hit, "name", None))
        if key in given:
            out.append(given.pop(key))
    return out
