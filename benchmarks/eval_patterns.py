"""Precision / recall / F1 of the pattern heuristics on a labelled JSONL file.

    python benchmarks/eval_patterns.py ../shared/corpus/dev_labeled.jsonl [--threshold 0.5]
        [--verbose] [--ai off|local|cloud [--model REF]]

``--ai`` runs the rows through the whole reverse pipeline (retrieval, then the AI stage in
that mode) instead of the heuristics alone; ``--ai off`` and ``--ai local`` give the two
figures to compare (the AI stage must not lower macro-F1).

Each line of the file is one function: ``id``, ``function_name`` (qualified as in the SQL),
``sql`` (the CREATE FUNCTION statement) and ``patterns`` (the hand labels; ``[]`` for a
negative). Every row goes through the real reverse stages — ``specql.reverse.parse`` (with its
fallback for bodies ``parse_plpgsql`` rejects), ``facts``, ``heuristics`` — and the predicted
pattern set is compared with the labels.

Output: a table of per-pattern precision, recall, F1 and support, macro averages, with
``--verbose`` the false positives / negatives per pattern (with the evidence of each false
positive), and as the LAST line one JSON object::

    {"macro_f1": …, "macro_precision": …, "macro_recall": …, "per_pattern": {pattern:
     {"precision": …, "recall": …, "f1": …, "support": …}}, "functions": N, …}

A missing file is not an error: the script says so and exits 0 (the corpus is optional).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from specql.reverse.facts import extract_facts  # noqa: E402
from specql.reverse.heuristics import PATTERNS, THRESHOLD, detect_patterns  # noqa: E402
from specql.reverse.source import FunctionInfo  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Rows -> FunctionInfo (through the parse stage)
# ---------------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.replace('"', "").lower()


def function_for_row(row: dict) -> FunctionInfo | None:
    """The FunctionInfo the parse stage gives for ``row['sql']``, picked by function name."""
    from specql.reverse.parse import parse_sql_text

    module = parse_sql_text(row["sql"], source=row.get("id", "<row>"))
    wanted = _norm(row.get("function_name", ""))
    functions = list(module.functions)
    for fn in functions:
        if _norm(fn.qualified_name) == wanted:
            return fn
    short = wanted.rsplit(".", 1)[-1]
    for fn in functions:
        if _norm(fn.name) == short:
            return fn
    return functions[0] if len(functions) == 1 else None


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


@dataclass
class RowResult:
    id: str
    gold: set[str]
    predicted: set[str]
    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    parse_path: str = ""
    error: str | None = None

    def add_findings(self, findings, threshold: float) -> None:
        """Pattern findings (``pattern``, ``score``, ``evidence``); those >= threshold are
        the prediction."""
        for f in findings:
            self.scores[f.pattern] = f.score
            self.evidence[f.pattern] = f.evidence
            if f.score >= threshold:
                self.predicted.add(f.pattern)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1; an empty denominator counts as 0 (never as a free 1.0)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score_results(results: list[RowResult], patterns: list[str]) -> dict:
    """Per-pattern P/R/F1 (one binary decision per function and pattern) and macro averages.

    Macro averages are over the patterns that have support (at least one labelled positive)
    in the file, so that a small file does not average in patterns it cannot measure.
    """
    per: dict[str, dict] = {}
    for pat in patterns:
        tp = sum(1 for r in results if pat in r.gold and pat in r.predicted)
        fp = sum(1 for r in results if pat not in r.gold and pat in r.predicted)
        fn = sum(1 for r in results if pat in r.gold and pat not in r.predicted)
        p, rec, f = prf(tp, fp, fn)
        per[pat] = {
            "precision": round(p, 4),
            "recall": round(rec, 4),
            "f1": round(f, 4),
            "support": tp + fn,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    measured = [v for v in per.values() if v["support"]]
    n = len(measured) or 1
    exact = sum(1 for r in results if r.gold == r.predicted)
    negatives = [r for r in results if not r.gold]
    return {
        "macro_f1": round(sum(v["f1"] for v in measured) / n, 4),
        "macro_precision": round(sum(v["precision"] for v in measured) / n, 4),
        "macro_recall": round(sum(v["recall"] for v in measured) / n, 4),
        "min_recall": round(min((v["recall"] for v in measured), default=0.0), 4),
        "per_pattern": per,
        "functions": len(results),
        "exact_match": exact,
        "negatives_clean": sum(1 for r in negatives if not r.predicted),
        "negatives": len(negatives),
    }


def evaluate_rows(rows: list[dict], threshold: float = THRESHOLD) -> tuple[list[RowResult], dict]:
    results = []
    analysed, analysis_seconds = 0, 0.0
    for row in rows:
        gold = set(row.get("patterns") or ())
        res = RowResult(id=row.get("id", "?"), gold=gold, predicted=set())
        try:
            fn = function_for_row(row)
        except Exception as exc:  # the parse stage must not take the benchmark down
            fn, res.error = None, f"parse: {exc}"
        if fn is None:
            res.error = res.error or "function not found by the parse stage"
        else:
            res.parse_path = fn.parse_path
            started = time.perf_counter()
            findings = detect_patterns(extract_facts(fn), threshold=0.0)
            analysis_seconds += time.perf_counter() - started
            analysed += 1
            res.add_findings(findings, threshold)
        results.append(res)
    summary = score_results(results, list(PATTERNS))
    # facts + heuristics only (the parse stage is timed by its own benchmark)
    summary["analysis_ms_per_function"] = round(1000 * analysis_seconds / max(analysed, 1), 3)
    return results, summary


def evaluate_through_reverse(
    rows: list[dict], ai: str, threshold: float = THRESHOLD, model: str | None = None
) -> tuple[list[RowResult], dict]:
    """The same rows through the whole reverse pipeline (``api.reverse``: retrieval when the
    extra is installed, and the AI stage when ``ai`` is local or cloud, whose validated
    verdicts can raise a finding's score): predictions are the report's findings >= threshold.
    Each row is its own .sql file; the pattern library is a fresh one in a temporary home."""
    import os
    import tempfile

    from specql import api

    results: list[RowResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "rows"
        src.mkdir()
        files: dict[str, dict] = {}
        for i, row in enumerate(rows):
            path = src / f"row{i:05d}.sql"
            path.write_text(row["sql"], encoding="utf-8")
            files[str(path)] = row
        saved_home = os.environ.get("SPECQL_HOME")
        os.environ.setdefault("SPECQL_HOME", str(Path(tmp) / "home"))
        try:
            started = time.perf_counter()
            report = api.reverse([src], None, ai=ai, model=model)
            seconds = time.perf_counter() - started
        finally:
            if saved_home is None:
                os.environ.pop("SPECQL_HOME", None)
        by_file: dict[str, list] = {}
        for fn in report.functions:
            by_file.setdefault(fn.file, []).append(fn)
        for path, row in files.items():
            res = RowResult(
                id=row.get("id", "?"), gold=set(row.get("patterns") or ()), predicted=set()
            )
            found = by_file.get(path, [])
            wanted = _norm(row.get("function_name", ""))
            fn = next((f for f in found if _norm(f.name) == wanted), None)
            if fn is None and len(found) == 1:
                fn = found[0]
            if fn is None:
                res.error = "function not found by the reverse pipeline"
            else:
                res.parse_path = fn.parse_path
                res.add_findings(fn.patterns, threshold)
            results.append(res)
    summary = score_results(results, list(PATTERNS))
    summary["ai"] = report.ai
    summary["ai_usage"] = report.ai_usage
    summary["ai_changes"] = report.ai_change_counts()
    summary["reverse_seconds"] = round(seconds, 2)
    return results, summary


def load_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def _print_table(summary: dict) -> None:
    print(
        f"{'pattern':<22} {'prec':>6} {'recall':>6} {'f1':>6} {'supp':>5} {'tp':>4} {'fp':>4} {'fn':>4}"
    )
    for pat, v in summary["per_pattern"].items():
        print(
            f"{pat:<22} {v['precision']:>6.2f} {v['recall']:>6.2f} {v['f1']:>6.2f} "
            f"{v['support']:>5} {v['tp']:>4} {v['fp']:>4} {v['fn']:>4}"
        )
    print(
        f"{'macro':<22} {summary['macro_precision']:>6.2f} {summary['macro_recall']:>6.2f} "
        f"{summary['macro_f1']:>6.2f}"
    )
    speed = (
        f"facts+heuristics: {summary['analysis_ms_per_function']} ms/function"
        if "analysis_ms_per_function" in summary
        else f"reverse --ai {summary['ai']}: {summary['reverse_seconds']} s, "
        f"AI tasks {summary['ai_usage'].get('tasks', 0)}, changes {summary['ai_changes']}"
    )
    print(
        f"functions: {summary['functions']}, exact label-set matches: {summary['exact_match']}, "
        f"negatives with no finding: {summary['negatives_clean']}/{summary['negatives']}, {speed}"
    )


def _print_errors(results: list[RowResult], threshold: float) -> None:
    for pat in PATTERNS:
        fps = [r for r in results if pat in r.predicted and pat not in r.gold]
        fns = [r for r in results if pat in r.gold and pat not in r.predicted]
        if not fps and not fns:
            continue
        print(f"\n== {pat}")
        for r in fps:
            print(f"  FP {r.id} score={r.scores.get(pat, 0):.2f}")
            for e in r.evidence.get(pat, [])[:4]:
                print(f"       - {e}")
        for r in fns:
            extra = f" ({r.error})" if r.error else ""
            print(f"  FN {r.id} score={r.scores.get(pat, 0):.2f} path={r.parse_path}{extra}")
            for e in r.evidence.get(pat, [])[:3]:
                print(f"       - {e}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", type=Path, help="labelled JSONL (format of dev_labeled.jsonl)")
    ap.add_argument("--threshold", type=float, default=THRESHOLD, help="report findings >= this")
    ap.add_argument("--verbose", action="store_true", help="list false positives / negatives")
    ap.add_argument(
        "--ai",
        choices=("off", "local", "cloud"),
        help="run the rows through the whole reverse pipeline with this AI mode (default: "
        "the heuristics alone, without reverse)",
    )
    ap.add_argument("--model", help="with --ai: the model (a configured name, backend:model)")
    args = ap.parse_args(argv)
    if not args.path.exists():
        print(f"skipped: {args.path} does not exist (the evaluation corpus is optional)")
        return 0
    rows = load_rows(args.path)
    start = time.perf_counter()
    if args.ai is None:
        results, summary = evaluate_rows(rows, args.threshold)
    else:
        results, summary = evaluate_through_reverse(rows, args.ai, args.threshold, args.model)
    elapsed = time.perf_counter() - start
    summary["threshold"] = args.threshold
    summary["seconds"] = round(elapsed, 3)
    summary["parse_paths"] = {
        p: sum(1 for r in results if r.parse_path == p) for p in ("ast", "rewritten", "raw")
    }
    summary["errors"] = [f"{r.id}: {r.error}" for r in results if r.error]
    _print_table(summary)
    if args.verbose:
        _print_errors(results, args.threshold)
        print()
    print(json.dumps(summary, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
