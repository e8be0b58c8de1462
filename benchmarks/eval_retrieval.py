"""Recall and MRR of pattern retrieval (embedding, BM25, hybrid) on a labelled JSONL file.

    python benchmarks/eval_retrieval.py ../shared/corpus/dev_labeled.jsonl [--library PATH]
        [--verbose]

Each line of the file is one function: ``id``, ``function_name`` (qualified as in the SQL),
``sql`` (the CREATE FUNCTION statement) and ``patterns`` (the hand labels; ``[]`` for a
negative). Each function is searched for exactly as ``specql reverse`` searches: its SQL is
written to a temporary ``.sql`` file and :func:`specql.api.similar_patterns` reverses it (parse,
facts, retrieval features) and asks the library for domain patterns (tier 2), once per signal.
The whole ranking is kept (up to :data:`RANK_DEPTH`), so ranks past 5 count for MRR.

The library is a private one in a temporary directory, freshly seeded, unless ``--library``
names one; it is indexed first (``reindex``: the embedding of what has no current vector).

Output: per function, how many of its labelled patterns each signal ranks in the top 1 / 3 / 5
(``--verbose``: the rank of every label and each signal's top 5); then per signal recall@1,
recall@3, recall@5 and MRR over the positive functions, and for the negatives (no label) the
best score they get (cosine; BM25; for hybrid the best cosine among the top 5), beside the
positives' best scores (what a "no pattern above a threshold" rule must separate). As the LAST line one JSON object::

    {"embedding": {"recall@1": …, "recall@3": …, "recall@5": …, "mrr": …, …},
     "bm25": {…}, "hybrid": {…}, "functions": N, "positives": N, "negatives": N, …}

recall@k is the mean over positive functions of |labels ∩ top k| / |labels|; MRR the mean of
1 / rank of the best-ranked label (0 when no label is ranked). The issue's target: hybrid
recall@5 >= 0.85 and better than either signal alone.

A missing file (or retrieval not installed) is not an error: the script says so, prints
``{"skipped": true, ...}`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from specql import api  # noqa: E402
from specql.errors import SpecqlError  # noqa: E402
from specql.retrieval import get_embedder, retrieval_missing  # noqa: E402

# Signals in the order they are printed: each alone, then their fusion.
ORDER = ("embedding", "bm25", "hybrid")
TOP_KS = (1, 3, 5)
RANK_DEPTH = 50  # hits asked for per function: the whole ranking of any realistic library
TIER = 2  # domain patterns, as reverse searches
TARGET_HYBRID_RECALL_AT_5 = 0.85
REPORTED = 5  # hits reverse reports per function


def _best_cosine(hits) -> float | None:
    cosines = [h.cosine for h in hits[:REPORTED] if h.cosine is not None]
    return max(cosines, default=None)


# A function's best score, as a threshold would see it: the top cosine; the top BM25 score;
# for hybrid, whose fused (rank) score says nothing on its own, the best cosine among the
# hits reverse reports (``min_score`` filters hybrid hits by cosine).
BEST_SCORE = {
    "embedding": lambda hits: hits[0].cosine if hits else None,
    "bm25": lambda hits: hits[0].bm25 if hits else None,
    "hybrid": _best_cosine,
}


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


@dataclass
class Ranking:
    """What one signal returned for one function: names best first, and its best score
    (:data:`BEST_SCORE`; ``None``: nothing found)."""

    names: list[str] = field(default_factory=list)
    top_score: float | None = None


@dataclass
class RowResult:
    id: str
    labels: list[str]
    rankings: dict[str, Ranking] = field(default_factory=dict)
    error: str | None = None

    def rank(self, signal: str, label: str) -> int | None:
        """1-based rank of ``label`` under ``signal``, None when not ranked."""
        names = self.rankings.get(signal, Ranking()).names
        return names.index(label) + 1 if label in names else None

    def found(self, signal: str, k: int) -> int:
        """How many labels are in the top ``k``."""
        top = set(self.rankings.get(signal, Ranking()).names[:k])
        return len(top & set(self.labels))


def reciprocal_rank(row: RowResult, signal: str) -> float:
    ranks = [r for r in (row.rank(signal, label) for label in row.labels) if r is not None]
    return 1.0 / min(ranks) if ranks else 0.0


def score_stats(scores: list[float | None]) -> dict:
    values = [s for s in scores if s is not None]
    if not values:
        return {"mean": None, "max": None, "min": None}
    return {
        "mean": round(statistics.mean(values), 4),
        "max": round(max(values), 4),
        "min": round(min(values), 4),
    }


def summarise(results: list[RowResult]) -> dict:
    """Per signal: recall@k, MRR over the positives; top-score statistics of the negatives
    and of the positives."""
    positives = [r for r in results if r.labels]
    negatives = [r for r in results if not r.labels]
    n = len(positives) or 1
    summary: dict = {}
    for signal in ORDER:
        figures = {
            f"recall@{k}": round(sum(r.found(signal, k) / len(r.labels) for r in positives) / n, 4)
            for k in TOP_KS
        }
        figures["mrr"] = round(sum(reciprocal_rank(r, signal) for r in positives) / n, 4)
        figures["negatives_top_score"] = score_stats(
            [r.rankings[signal].top_score for r in negatives if signal in r.rankings]
        )
        figures["positives_top_score"] = score_stats(
            [r.rankings[signal].top_score for r in positives if signal in r.rankings]
        )
        summary[signal] = figures
    hybrid = summary["hybrid"]["recall@5"]
    summary["target"] = {
        "hybrid_recall@5": TARGET_HYBRID_RECALL_AT_5,
        "met": hybrid >= TARGET_HYBRID_RECALL_AT_5
        and all(hybrid > summary[s]["recall@5"] for s in ("embedding", "bm25")),
    }
    summary["functions"] = len(results)
    summary["positives"] = len(positives)
    summary["negatives"] = len(negatives)
    return summary


# ---------------------------------------------------------------------------------------------
# Searching as reverse does
# ---------------------------------------------------------------------------------------------


def load_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _file_name(row_id: str) -> str:
    return re.sub(r"[^\w.-]+", "_", row_id) + ".sql"


def evaluate_row(row: dict, sql_dir: Path, library: Path, embedder) -> RowResult:
    """The row's function searched with each signal, through ``api.similar_patterns``."""
    result = RowResult(id=row.get("id", "?"), labels=list(dict.fromkeys(row.get("patterns") or ())))
    path = sql_dir / _file_name(result.id)
    path.write_text(row["sql"], encoding="utf-8")
    for signal in ORDER:
        try:
            matches = api.similar_patterns(
                path,
                function=row.get("function_name") or None,
                k=RANK_DEPTH,
                tier=TIER,
                signal=signal,
                library=library,
                embedder=embedder,
            )
        except SpecqlError as exc:  # a row reverse cannot read counts as found nothing
            result.error = str(exc)
            return result
        hits = matches[0].hits if matches else []
        result.rankings[signal] = Ranking(
            names=[h.name for h in hits], top_score=BEST_SCORE[signal](hits)
        )
    return result


def evaluate(rows: list[dict], library: Path, embedder) -> tuple[list[RowResult], dict]:
    """Index the library, search every row; the summary carries the index and time figures."""
    indexed = api.reindex_patterns(library=library, embedder=embedder)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="specql-eval-") as tmp:
        results = [evaluate_row(row, Path(tmp), library, embedder) for row in rows]
    summary = summarise(results)
    summary["search_seconds"] = round(time.perf_counter() - started, 3)
    summary["index"] = indexed.to_json()
    summary["errors"] = [f"{r.id}: {r.error}" for r in results if r.error]
    return results, summary


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def _cell(row: RowResult, signal: str) -> str:
    if signal not in row.rankings:
        return "-"
    return "/".join(str(row.found(signal, k)) for k in TOP_KS)


def _print_rows(results: list[RowResult], verbose: bool) -> None:
    print(
        f"{'function':<34} {'labels':>6}  "
        + "  ".join(f"{s:>9}" for s in ORDER)
        + "   (labels in the top 1/3/5)"
    )
    for r in results:
        if not r.labels:
            continue
        cells = "  ".join(f"{_cell(r, s):>9}" for s in ORDER)
        print(
            f"{r.id:<34} {len(r.labels):>6}  {cells}" + (f"   error: {r.error}" if r.error else "")
        )
        if verbose and r.rankings:
            for label in r.labels:
                ranks = ", ".join(
                    f"{s} {r.rank(s, label) or '-'}" for s in ORDER if s in r.rankings
                )
                print(f"    {label:<24} rank: {ranks}")
            for s in ORDER:
                if s in r.rankings:
                    print(f"    {s:<9} top 5: {', '.join(r.rankings[s].names[:5])}")
    print("\nnegatives (no labelled pattern): per signal the top hit and the best score")
    for r in results:
        if r.labels:
            continue
        cells = "  ".join(
            f"{s} {r.rankings[s].names[0]} {r.rankings[s].top_score:.3f}"
            if r.rankings.get(s) and r.rankings[s].top_score is not None
            else f"{s} -"
            for s in ORDER
        )
        print(f"{r.id:<20} {cells}" + (f"   error: {r.error}" if r.error else ""))


def _print_summary(summary: dict) -> None:
    print(
        f"\n{summary['functions']} functions: {summary['positives']} labelled, "
        f"{summary['negatives']} negatives; library {summary['index']['documents']} entries "
        f"({summary['index']['embedded']} embedded now in {summary['index']['seconds']} s); "
        f"searches {summary['search_seconds']} s"
    )
    print(
        f"{'signal':<10} {'recall@1':>8} {'recall@3':>8} {'recall@5':>8} {'MRR':>6}   "
        "best score: positives mean | negatives mean / max"
    )
    for signal in ORDER:
        f = summary[signal]
        pos, neg = f["positives_top_score"], f["negatives_top_score"]
        print(
            f"{signal:<10} {f['recall@1']:>8.3f} {f['recall@3']:>8.3f} {f['recall@5']:>8.3f} "
            f"{f['mrr']:>6.3f}   {pos['mean']} | {neg['mean']} / {neg['max']}"
        )
    target = summary["target"]
    print(
        f"target: hybrid recall@5 >= {target['hybrid_recall@5']} and above either signal "
        f"alone -> {'met' if target['met'] else 'MISSED'}"
    )
    for error in summary["errors"]:
        print(f"error {error}")


def _skip(reason: str) -> int:
    print(f"skipped: {reason}")
    print(json.dumps({"skipped": True, "reason": reason}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", type=Path, help="labelled JSONL (format of dev_labeled.jsonl)")
    ap.add_argument(
        "--library", type=Path, help="library file to search (default: a fresh private one)"
    )
    ap.add_argument("--verbose", action="store_true", help="ranks of every label, top 5s")
    args = ap.parse_args(argv)
    if args.library is not None and not args.library.is_file():
        ap.error(f"--library {args.library} does not exist (leave it out for a fresh one)")
    if not args.path.exists():
        return _skip(f"{args.path} does not exist (the evaluation corpus is optional)")
    missing = retrieval_missing()
    if missing is not None:
        return _skip(f"retrieval is not available: {missing}")
    rows = load_rows(args.path)
    embedder = get_embedder()  # one model for every search, loaded once
    with tempfile.TemporaryDirectory(prefix="specql-eval-lib-") as tmp:
        library = args.library or Path(tmp) / "library.db"
        results, summary = evaluate(rows, library, embedder)
    summary["library"] = str(args.library) if args.library else "fresh seed"
    _print_rows(results, args.verbose)
    _print_summary(summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
