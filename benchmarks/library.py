"""Benchmark: the pattern library.

Prints, for a library in a temporary directory:

- seed time: creating a fresh library file and seeding it from the package's seed files
  (median of ``--repeat`` fresh files), and reopening an up-to-date library;
- per domain pattern: instantiate (parameters checked, expansion proven) + expand for
  generation, using each pattern's own example; per primitive: compile in each language;
- search time with ``--synthetic`` (default 10,000) synthetic domain patterns added: full-text
  search (p50/p99 over a set of queries), a category listing, and a language filter;

and as its LAST line one JSON object with the figures.

    python benchmarks/library.py
    python benchmarks/library.py --synthetic 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from specql.dsl.loader import load_text
from specql.patterns import PatternLibrary
from specql.patterns.seed import ensure_seeded

WORDS = [
    "order",
    "invoice",
    "payment",
    "customer",
    "ledger",
    "shipment",
    "approval",
    "review",
    "ticket",
    "status",
    "audit",
    "history",
    "version",
    "tenant",
    "account",
    "balance",
    "stock",
    "reservation",
    "schedule",
    "reminder",
    "comment",
    "tag",
    "hierarchy",
    "parent",
    "counter",
    "total",
    "discount",
    "refund",
    "subscription",
    "renewal",
    "escalation",
]
QUERIES = [
    "writes old and new row values to a history table",
    "status transitions",
    "soft delete restore",
    "approval reject",
    "count children",
    "tenant",
    "schedule reminder",
    "tag",
]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_seed(root: Path, repeat: int) -> tuple[float, float]:
    fresh = []
    for i in range(repeat):
        start = time.perf_counter()
        PatternLibrary.open(root / f"fresh{i}.db").close()
        fresh.append(time.perf_counter() - start)
    start = time.perf_counter()
    PatternLibrary.open(root / "fresh0.db").close()
    return statistics.median(fresh), time.perf_counter() - start


def time_patterns(lib: PatternLibrary) -> tuple[dict[str, float], dict[str, float]]:
    instantiate: dict[str, float] = {}
    for summary in lib.list_patterns(tier=2):
        pattern = lib.get_pattern(summary.name, tier=2)
        example = pattern.tests.get("example") or {}
        start = time.perf_counter()
        entity = lib.instantiate_domain_pattern(
            pattern.name,
            example.get("entity", "Probe"),
            example.get("params") or {},
            schema=example.get("schema", "catalog"),
            record=False,
        )
        lib.expand([entity])
        instantiate[pattern.name] = time.perf_counter() - start
    compile_: dict[str, float] = {}
    for summary in lib.list_patterns(tier=1):
        primitive = lib.get_pattern(summary.name, tier=1)
        params = primitive.examples[0].get("params", {})
        start = time.perf_counter()
        for language in primitive.implementations:
            lib.compile_pattern(primitive.name, language, params)
        compile_[primitive.name] = time.perf_counter() - start
    return instantiate, compile_


def add_synthetic(lib: PatternLibrary, count: int) -> float:
    """``count`` domain patterns with random words, in one transaction; returns seconds."""
    rng = random.Random(42)
    start = time.perf_counter()
    with lib.transaction():
        for i in range(count):
            words = rng.sample(WORDS, 6)
            lib.add_domain_pattern(
                {
                    "name": f"synthetic_{i}",
                    "category": rng.choice(["workflow", "data", "audit", "synthetic"]),
                    "description": " ".join(words),
                    "parameters": {"type": "object", "properties": {}},
                    "implementation": {"fields": {f"{words[0]}_{i % 7}": "text"}},
                    "tests": {"example": {"entity": "Probe", "schema": "catalog"}},
                }
            )
    return time.perf_counter() - start


def time_search(lib: PatternLibrary, rounds: int) -> dict[str, float]:
    text_times = []
    for _ in range(rounds):
        for query in QUERIES:
            start = time.perf_counter()
            lib.search_patterns(text=query, limit=10)
            text_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    listed = lib.search_patterns(category="workflow", limit=None)
    category = time.perf_counter() - start
    start = time.perf_counter()
    lib.search_patterns(language="django", tier=1, limit=None)
    language = time.perf_counter() - start
    return {
        "text_p50_ms": ms(percentile(text_times, 0.5)),
        "text_p99_ms": ms(percentile(text_times, 0.99)),
        "category_listing_ms": ms(category),
        "category_rows": len(listed),
        "language_filter_ms": ms(language),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="fresh libraries to seed")
    parser.add_argument("--rounds", type=int, default=20, help="search rounds over the queries")
    args = parser.parse_args(argv)
    load_text("entity: Warm\nschema: catalog\n")  # import and parser warm-up, not measured

    with tempfile.TemporaryDirectory(prefix="specql-bench-") as tmp:
        root = Path(tmp)
        seed_s, reopen_s = time_seed(root, args.repeat)
        with PatternLibrary.open(root / "bench.db") as lib:
            tiers = {t: len(lib.list_patterns(tier=t)) for t in (1, 2, 3)}
            instantiate, compile_ = time_patterns(lib)
            add_s = add_synthetic(lib, args.synthetic)
            search = time_search(lib, args.rounds)
            start = time.perf_counter()
            ensure_seeded(lib)
            seeded_check = time.perf_counter() - start
            size = (root / "bench.db").stat().st_size

    print(
        f"seed a fresh library ({tiers[1]} primitives, {tiers[2]} domain patterns, "
        f"{tiers[3]} entity templates): {ms(seed_s)} ms (median of {args.repeat})"
    )
    print(f"reopen an up-to-date library: {ms(reopen_s)} ms; seed check: {ms(seeded_check)} ms")
    print("instantiate + expand, per domain pattern (ms):")
    for name, seconds in sorted(instantiate.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<24} {ms(seconds):8.2f}")
    print(
        f"compile in every language, per primitive: median "
        f"{ms(statistics.median(compile_.values())) if compile_ else 0} ms, "
        f"max {ms(max(compile_.values())) if compile_ else 0} ms over {len(compile_)}"
    )
    print(
        f"add {args.synthetic} synthetic domain patterns: {round(add_s, 2)} s "
        f"({ms(add_s / max(args.synthetic, 1))} ms each); library file {size // 1024} KiB"
    )
    print(
        f"search with {args.synthetic} synthetic patterns: text p50 {search['text_p50_ms']} ms,"
        f" p99 {search['text_p99_ms']} ms; category listing {search['category_listing_ms']} ms"
        f" ({search['category_rows']} rows); language filter {search['language_filter_ms']} ms"
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {rss_mb:.0f} MB")
    figures = {
        "seed_ms": ms(seed_s),
        "reopen_ms": ms(reopen_s),
        "entries": {"primitives": tiers[1], "domain": tiers[2], "templates": tiers[3]},
        "instantiate_ms": {k: ms(v) for k, v in sorted(instantiate.items())},
        "instantiate_median_ms": ms(statistics.median(instantiate.values()))
        if instantiate
        else None,
        "compile_median_ms": ms(statistics.median(compile_.values())) if compile_ else None,
        "compile_max_ms": ms(max(compile_.values())) if compile_ else None,
        "synthetic": args.synthetic,
        "add_synthetic_s": round(add_s, 3),
        "search": search,
        "max_rss_mb": round(rss_mb, 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
