"""Benchmark: speed and memory of pattern retrieval (the embedder and the hybrid index).

    python benchmarks/retrieval_speed.py
    python benchmarks/retrieval_speed.py --sizes 1000,10000 --samples 50 --cold 1

Prints:

- cold start: in a fresh process, the time from the start of ``import specql.retrieval`` to
  the first vector (model and tokenizer load included), and the whole process's wall time;
- query latency p50/p99 with 1k, 10k and 100k synthetic domain patterns on top of the seeded
  library, through :class:`~specql.retrieval.PatternIndex`: (a) exact vector search alone,
  given the query's vector (``signal='embedding'`` with an embedder that hands back vectors
  computed beforehand), (b) BM25 alone (``signal='bm25'``), (c) both fused, given the query
  vector (``signal='hybrid'``: the index's own cost) and (d) hybrid end to end, the query
  embedded by the real model — each for short queries (plain words) and long ones (a legacy
  function's search text, :func:`~specql.retrieval.function_document`, as reverse sends);
  with the time to load the vector matrix, its size and the process's RSS (each latency is
  over ``--samples`` searches, cut short after ``--budget`` seconds but never below 10; the
  JSON also has the fastest search, a figure other processes' load hardly moves);
- embedding throughput of the real model (all-MiniLM-L6-v2 int8 ONNX), texts/s batched (one
  ``embed`` call for all texts, the embedder's batch size) and one by one (one call per
  text), for short texts (~10 words) and long ones (~256 tokens, the model's maximum), and
  for long texts by batch size, with the peak RSS each reaches (measured last, because
  onnxruntime keeps the memory it grew to);

and as its LAST line one JSON object with the figures and the issue's targets, each with its
value and whether it is met: p50 <= 2 ms at 10k (vector, BM25 and fused searches), exact
search p50 <= 20 ms at 100k, first embedding <= 1 s.

How the synthetic libraries are built: going through ``PatternLibrary.add_domain_pattern``
costs ~1.5 ms an entry (validation, versions, references), so 100k would take minutes and
measure the wrong thing. Instead the rows search reads are written straight into a fresh
library file, as the library writes them: ``pattern_documents`` (tier 2, chunks, content
hash), ``patterns_fts`` (name, category, description and the chunks as one text) and
``pattern_embeddings`` (random unit vectors, one per chunk, under the real model's name, so
the index takes them as current). The texts are shaped like the seeded domain patterns':
random words with the frequencies of the seeded summaries and legacy examples, lengths and
examples per pattern drawn from theirs. The seeded entries get random vectors too, so no
search runs the model over the library. Sizes grow in one file (1k, then 9k more, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from specql.patterns import PatternLibrary  # noqa: E402
from specql.patterns.definitions import LANGUAGES  # noqa: E402
from specql.patterns.documents import chunks_hash  # noqa: E402
from specql.retrieval import MiniLMEmbedder, PatternIndex, function_document  # noqa: E402

TARGET_P50_10K_MS = 2.0
TARGET_EXACT_P50_100K_MS = 20.0
TARGET_FIRST_EMBEDDING_S = 1.0

SHORT_QUERIES = [
    "writes old and new row values to a history table",
    "status transitions between allowed states",
    "soft delete and restore a row",
    "approve or reject a request",
    "keep a count of child rows on the parent",
    "rows belong to a tenant",
    "send a reminder on a schedule",
    "insert or update when the key exists",
]
SHORT_WORDS = 10
LONG_WORDS = 240  # SQL words of the seeded examples: ~256 tokens (measured and printed)
SEARCH_K = 5
MIN_SAMPLES = 10  # searches per measurement even past the time budget
# Latency columns: vector search given the query vector, BM25, both fused given the query
# vector (the index's own cost), and hybrid end to end (the query embedded by the model).
COLUMNS = ("vector", "bm25", "fused", "hybrid")
EXTRA_CATEGORIES = {"billing", "inventory", "scheduling"}

# A fresh process: from the first import to the first vector, as a user's first search sees it.
COLD_START = """
import json, time
t0 = time.perf_counter()
from specql.retrieval import get_embedder
t1 = time.perf_counter()
get_embedder().embed(["writes old and new row values to a history table"])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_vector_s": t2 - t0}))
"""


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def max_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not every platform has one
        return None


def rss_mb() -> float | None:
    """The process's resident memory now (Linux), None where /proc is absent."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


# ---------------------------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------------------------


class Words:
    """Random word sequences with the word frequencies of some texts."""

    def __init__(self, texts: list[str], rng: random.Random) -> None:
        counts = Counter(w for text in texts for w in re.findall(r"[a-z]+", text.lower()))
        self.words = list(counts)
        self.weights = list(counts.values())
        self.rng = rng

    def sentence(self, words: int) -> str:
        return " ".join(self.rng.choices(self.words, self.weights, k=words))


class SyntheticDocuments:
    """Domain pattern documents shaped like the seeded ones: summaries and legacy examples
    with their vocabularies, their lengths and the number of examples per pattern."""

    def __init__(self, seeded_chunks: list[list[str]], seed: int = 42) -> None:
        self.rng = random.Random(seed)
        summaries = [chunks[0] for chunks in seeded_chunks]
        examples = [text for chunks in seeded_chunks for text in chunks[1:]]
        self.summary_words = Words(summaries, self.rng)
        self.example_words = Words(examples, self.rng)
        self.summary_lengths = [len(t.split()) for t in summaries]
        self.example_lengths = [len(t.split()) for t in examples]
        self.example_counts = [len(chunks) - 1 for chunks in seeded_chunks]

    def entry(self, number: int, categories: list[str]) -> tuple[str, str, str, list[str]]:
        """(name, category, description, chunks) of synthetic pattern ``number``."""
        rng = self.rng
        name = f"synthetic_{self.summary_words.sentence(2).replace(' ', '_')}_{number}"
        category = rng.choice(categories)
        description = self.summary_words.sentence(rng.choice(self.summary_lengths) - 4)
        chunks = [f"{name.replace('_', ' ')} ({category}): {description}"]
        chunks += [
            self.example_words.sentence(rng.choice(self.example_lengths))
            for _ in range(rng.choice(self.example_counts))
        ]
        return name, category, description, chunks


def seeded_documents(lib: PatternLibrary) -> list[list[str]]:
    """The chunks of each seeded domain pattern's document."""
    return [
        json.loads(raw)
        for (raw,) in lib.conn.execute("SELECT chunks FROM pattern_documents WHERE tier = 2")
    ]


def legacy_examples(lib: PatternLibrary) -> list[str]:
    """The seeded domain patterns' legacy SQL examples (``tests.matches``)."""
    return [
        sql
        for summary in lib.list_patterns(tier=2)
        for sql in lib.get_pattern(summary.name, tier=2).tests.get("matches", [])
        if isinstance(sql, str)
    ]


# ---------------------------------------------------------------------------------------------
# Cold start and embedding throughput
# ---------------------------------------------------------------------------------------------


def cold_start(repeat: int) -> dict[str, float]:
    """Medians over ``repeat`` fresh interpreters (the first may read the files from disk)."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD_START],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        wall = time.perf_counter() - start
        runs.append({**json.loads(out.stdout.strip().splitlines()[-1]), "process_s": wall})
    return {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in ("import_s", "first_vector_s", "process_s")
    } | {"first_vector_max_s": round(max(r["first_vector_s"] for r in runs), 3), "runs": repeat}


def mean_tokens(embedder: MiniLMEmbedder, texts: list[str]) -> float:
    """Mean tokens per text as the model sees them (cut at its maximum length)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(embedder.tokenizer_path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    counts = [min(len(e.ids), embedder.max_tokens) for e in tokenizer.encode_batch(texts)]
    return round(statistics.mean(counts), 1)


def per_second(embedder: MiniLMEmbedder, texts: list[str], *, one_by_one: bool) -> float:
    start = time.perf_counter()
    if one_by_one:
        for text in texts:
            embedder.embed([text])
    else:
        embedder.embed(texts)
    return round(len(texts) / (time.perf_counter() - start), 1)


def throughput(
    embedder: MiniLMEmbedder, texts: dict[str, list[str]], singles: int, batch_sizes: list[int]
) -> dict:
    """Texts/s batched and one by one for each kind of text; for long texts also by batch
    size (ascending, so each peak RSS is the most that batch size needed)."""
    figures = {}
    for kind, kind_texts in texts.items():
        figures[kind] = {
            "tokens": mean_tokens(embedder, kind_texts),
            "single_per_s": per_second(embedder, kind_texts[:singles], one_by_one=True),
        }
    default = embedder.batch_size
    by_batch = {}
    for size in sorted(batch_sizes):
        embedder.batch_size = size
        by_batch[size] = {
            "per_s": per_second(embedder, texts["long"], one_by_one=False),
            "max_rss_mb": max_rss_mb(),
        }
    embedder.batch_size = default
    figures["long"]["by_batch"] = by_batch
    for kind, kind_texts in texts.items():
        figures[kind]["batched_per_s"] = per_second(embedder, kind_texts, one_by_one=False)
    figures["batch_size"] = default
    figures["max_rss_mb"] = max_rss_mb()
    return figures


# ---------------------------------------------------------------------------------------------
# Synthetic library
# ---------------------------------------------------------------------------------------------


def unit_vectors(rng: np.random.Generator, rows: int, dims: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, dims), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def embed_seeded_randomly(
    lib: PatternLibrary, rng: np.random.Generator, model: str, dims: int
) -> int:
    """Random vectors for the seeded entries, so that no search embeds the library with the
    model; returns their chunk count."""
    docs = lib.conn.execute("SELECT tier, name, chunks, content_hash FROM pattern_documents")
    rows, chunks_total = [], 0
    for tier, name, chunks, digest in docs.fetchall():
        n = len(json.loads(chunks))
        chunks_total += n
        rows.append((tier, name, model, digest, dims, unit_vectors(rng, n, dims).tobytes()))
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO pattern_embeddings "
            "(tier, name, model, content_hash, dims, vector) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    return chunks_total


def add_synthetic(
    lib: PatternLibrary,
    documents: SyntheticDocuments,
    rng: np.random.Generator,
    model: MiniLMEmbedder,
    numbers: range,
) -> int:
    """Write synthetic domain patterns (one per number) straight into the tables search reads;
    returns the number of chunks (matrix rows) written."""
    categories = sorted({s.category for s in lib.list_patterns(tier=2)} | EXTRA_CATEGORIES)
    languages = " ".join(sorted(LANGUAGES))
    docs, fts, embeddings = [], [], []
    rows = 0
    for number in numbers:
        name, category, description, chunks = documents.entry(number, categories)
        digest = chunks_hash(chunks)
        blob = unit_vectors(rng, len(chunks), model.dims).astype("<f4").tobytes()
        docs.append((2, name, category, languages, json.dumps(chunks), digest))
        fts.append(("2", name, category, description, " ".join(chunks)))
        embeddings.append((2, name, model.name, digest, model.dims, blob))
        rows += len(chunks)
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT INTO pattern_documents (tier, name, category, languages, chunks, "
            "content_hash) VALUES (?, ?, ?, ?, ?, ?)",
            docs,
        )
        conn.executemany(
            "INSERT INTO patterns_fts (tier, name, category, description, body_text) "
            "VALUES (?, ?, ?, ?, ?)",
            fts,
        )
        conn.executemany(
            "INSERT INTO pattern_embeddings (tier, name, model, content_hash, dims, vector) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            embeddings,
        )
        conn.execute("UPDATE library_generation SET generation = generation + 1")
    return rows


# ---------------------------------------------------------------------------------------------
# Query latency
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Samples:
    most: int
    least: int
    budget_s: float


class GivenVectors:
    """An embedder that hands back query vectors computed beforehand: times the index's
    search without the model. Same name as the model, so the stored vectors count."""

    def __init__(self, name: str, dims: int, vectors: dict[str, np.ndarray]) -> None:
        self.name = name
        self.dims = dims
        self.vectors = vectors

    def embed(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def latencies(index: PatternIndex, queries: list[str], signal: str, samples: Samples) -> dict:
    """p50/p99 over ``samples.most`` searches (the queries in turn), or fewer when they take
    longer than ``samples.budget_s`` (never fewer than ``samples.least``)."""
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < samples.most and (
        len(times) < samples.least or time.perf_counter() - began < samples.budget_s
    ):
        query = queries[len(times) % len(queries)]
        start = time.perf_counter()
        index.search(query, k=SEARCH_K, signal=signal)
        times.append(time.perf_counter() - start)
    return {
        # the fastest search: what the code costs when no other process takes the CPU
        "min_ms": ms(min(times)),
        "p50_ms": ms(percentile(times, 0.5)),
        "p99_ms": ms(percentile(times, 0.99)),
        "n": len(times),
    }


def time_size(
    lib: PatternLibrary,
    model: MiniLMEmbedder,
    given: GivenVectors,
    queries: dict[str, list[str]],
    samples: Samples,
) -> dict:
    before = rss_mb()
    exact = PatternIndex(lib.conn, given)
    start = time.perf_counter()
    exact.search(queries["short"][0], signal="embedding")  # loads the matrix
    figures = {"matrix_load_ms": ms(time.perf_counter() - start), "rss_mb": rss_mb()}
    if before is not None:
        figures["rss_growth_mb"] = round(figures["rss_mb"] - before, 1)
    for kind, texts in queries.items():
        figures[f"vector_{kind}"] = latencies(exact, texts, "embedding", samples)
        figures[f"bm25_{kind}"] = latencies(exact, texts, "bm25", samples)
        figures[f"fused_{kind}"] = latencies(exact, texts, "hybrid", samples)
    del exact  # one matrix in memory at a time
    hybrid = PatternIndex(lib.conn, model)
    hybrid.search(queries["short"][0], signal="embedding")
    for kind, texts in queries.items():
        figures[f"hybrid_{kind}"] = latencies(hybrid, texts, "hybrid", samples)
    return figures


def time_sizes(
    lib: PatternLibrary,
    path: Path,
    model: MiniLMEmbedder,
    sizes: list[int],
    queries: dict[str, list[str]],
    samples: Samples,
) -> dict[int, dict]:
    """Grow the library through ``sizes`` synthetic patterns and time searches at each."""
    rng = np.random.default_rng(42)
    documents = SyntheticDocuments(seeded_documents(lib))
    given = GivenVectors(
        model.name,
        model.dims,
        # one at a time: a batch of long texts would grow onnxruntime's memory before the
        # library's is measured
        {t: model.embed([t])[0] for texts in queries.values() for t in texts},
    )
    rows = embed_seeded_randomly(lib, rng, model.name, model.dims)
    seeded = lib.conn.execute("SELECT count(*) FROM pattern_documents").fetchone()[0]
    by_size: dict[int, dict] = {}
    written = 0
    for size in sizes:
        start = time.perf_counter()
        rows += add_synthetic(lib, documents, rng, model, range(written, size))
        written = size
        build = time.perf_counter() - start
        by_size[size] = {
            "entries": seeded + size,
            "matrix_rows": rows,
            "matrix_mb": round(rows * model.dims * 4 / 2**20, 1),
            "build_s": round(build, 2),
            **time_size(lib, model, given, queries, samples),
            "file_mb": round(path.stat().st_size / 2**20, 1),
        }
    return by_size


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="synthetic patterns, comma-separated"
    )
    parser.add_argument("--samples", type=int, default=100, help="searches per measurement")
    parser.add_argument(
        "--budget",
        type=float,
        default=5.0,
        help="seconds per measurement, after which it stops early (at least 10 searches)",
    )
    parser.add_argument("--texts", type=int, default=64, help="texts per throughput run")
    parser.add_argument("--singles", type=int, default=32, help="texts embedded one by one")
    parser.add_argument("--batch-sizes", default="8,16,32", help="batch sizes tried on long texts")
    parser.add_argument("--cold", type=int, default=3, help="fresh processes for cold start")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    batch_sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]

    load_start = _load_average()
    cold = cold_start(args.cold) if args.cold else {}
    model = MiniLMEmbedder()
    model.load()
    with tempfile.TemporaryDirectory(prefix="specql-bench-") as tmp:
        path = Path(tmp) / "retrieval.db"
        with PatternLibrary.open(path) as lib:
            examples = legacy_examples(lib)
            queries = {
                "short": SHORT_QUERIES,
                "long": [
                    function_document(f"legacy_fn_{i}", sql) for i, sql in enumerate(examples)
                ],
            }
            documents = SyntheticDocuments(seeded_documents(lib), seed=7)
            texts = {
                "short": [documents.summary_words.sentence(SHORT_WORDS) for _ in range(args.texts)],
                "long": [documents.example_words.sentence(LONG_WORDS) for _ in range(args.texts)],
            }
            samples = Samples(args.samples, min(MIN_SAMPLES, args.samples), args.budget)
            by_size = time_sizes(lib, path, model, sizes, queries, samples)
    embedding = throughput(model, texts, args.singles, batch_sizes)

    figures = {
        "cold_start": cold,
        "sizes": by_size,
        "embedding": embedding,
        "cpus": os.cpu_count(),
        # other processes' load skews every figure: shown so that a noisy run can be told
        "load_average": {"start": load_start, "end": _load_average()},
        "samples": args.samples,
        "budget_s": args.budget,
        "targets": targets(cold, by_size),
        "max_rss_mb": max_rss_mb(),
    }
    _print(figures, queries, model)
    print(json.dumps(figures))
    return 0


def targets(cold: dict, by_size: dict[int, dict]) -> dict:
    """The issue's targets that this run measured, each with its figure and whether it is met."""
    checks = {}
    if 10_000 in by_size:
        for column in ("vector", "bm25", "fused"):
            for kind in ("short", "long"):
                p50 = by_size[10_000][f"{column}_{kind}"]["p50_ms"]
                checks[f"{column}_{kind}_p50_10k_ms"] = (p50, p50 <= TARGET_P50_10K_MS)
    if 100_000 in by_size:
        for kind in ("short", "long"):
            p50 = by_size[100_000][f"vector_{kind}"]["p50_ms"]
            checks[f"exact_{kind}_p50_100k_ms"] = (p50, p50 <= TARGET_EXACT_P50_100K_MS)
    if cold:
        first = cold["first_vector_s"]
        checks["first_embedding_s"] = (first, first <= TARGET_FIRST_EMBEDDING_S)
    return {name: {"value": value, "met": met} for name, (value, met) in checks.items()}


def _print(figures: dict, queries: dict[str, list[str]], model: MiniLMEmbedder) -> None:
    cold, by_size, embedding = figures["cold_start"], figures["sizes"], figures["embedding"]
    load = figures["load_average"]
    print(
        f"model {model.name}; {figures['cpus']} CPUs, 1-minute load average "
        f"{load['start']} at the start, {load['end']} at the end"
    )
    if cold:
        print(
            f"cold start (median of {cold['runs']} fresh processes): import "
            f"{ms(cold['import_s'])} ms, first vector {ms(cold['first_vector_s'])} ms after the "
            f"import began (max {ms(cold['first_vector_max_s'])} ms); whole process "
            f"{ms(cold['process_s'])} ms"
        )
    print(
        f"search latency, p50/p99 ms, k={SEARCH_K}: {len(queries['short'])} short queries "
        f"(plain words), {len(queries['long'])} long (legacy functions' search text), "
        f"searched in turn {figures['samples']} times or for {figures['budget_s']} s"
    )
    head = f"{'patterns':>9} {'rows':>7} {'matrix':>7} {'load':>6}"
    for column in COLUMNS:
        head += f" | {column + ' short':>13} {column + ' long':>13}"
    print(head + f" | {'RSS MB':>6}")
    for size, f in by_size.items():
        line = (
            f"{size:>9} {f['matrix_rows']:>7} {f['matrix_mb']:>5}MB {f['matrix_load_ms']:>4.0f}ms"
        )
        for column in COLUMNS:
            for kind in ("short", "long"):
                cell = (
                    f"{f[f'{column}_{kind}']['p50_ms']:.2f}/{f[f'{column}_{kind}']['p99_ms']:.2f}"
                )
                line += f" {cell:>13}" if kind == "long" else f" | {cell:>13}"
        print(line + f" | {f['rss_mb'] or 0:>6.0f}")
    for size, f in by_size.items():
        print(
            f"  {size} synthetic: written in {f['build_s']} s, library file {f['file_mb']} MB, "
            f"RSS +{f.get('rss_growth_mb', '?')} MB when the matrix loaded"
        )
    for kind in ("short", "long"):
        f = embedding[kind]
        print(
            f"embedding {kind} texts (~{f['tokens']} tokens): {f['batched_per_s']} texts/s "
            f"batched ({embedding['batch_size']} a batch), {f['single_per_s']} texts/s one by one"
        )
    sweep = ", ".join(
        f"{size}: {b['per_s']}/s (peak RSS {b['max_rss_mb']:.0f} MB)"
        for size, b in embedding["long"]["by_batch"].items()
    )
    print(f"long texts by batch size: {sweep}")
    for name, check in figures["targets"].items():
        print(f"target {name}: {check['value']} -> {'met' if check['met'] else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
