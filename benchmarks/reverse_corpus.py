"""Benchmark: coverage and speed of ``specql reverse`` over a directory of legacy SQL.

    python benchmarks/reverse_corpus.py ../shared/corpus/sql            # one core (jobs=1)
    python benchmarks/reverse_corpus.py ../shared/corpus/sql --profile  # + where time goes
    python benchmarks/reverse_corpus.py ../shared/corpus/sql --retrieval  # + library matches

Runs the whole pipeline (:func:`specql.reverse.pipeline.reverse`: parse, link, entities, steps,
heuristics, confidence, assemble with validation, specs written to a temporary directory) over
every ``.sql`` file under DIR, then checks the written specs independently: they are loaded
back from disk, validated together, and each must equal the assembled spec
(``load_text(dump(spec)) == spec``).

Prints the functions found, the share that ended up as an action in a valid, round-tripping
spec without error (``valid_pct``; target >= 98 %), the share of PL/pgSQL statements that
became non-raw steps, how many bodies needed the parse fallback, functions per second on one
core (target >= 300) and peak memory (process maximum RSS; target < 500 MB), the most common
failure and raw-SQL reasons, and as its LAST line one JSON object::

    {"functions": N, "valid_pct": …, "converted_statements_pct": …, "functions_per_s": …,
     "peak_mb": …, "parse_fallback": N, "files": N, "seconds": …, …, "stages": {…}, "runs": N}

``--repeat N`` runs the pipeline N times and reports the fastest run (its report, stage
times and written specs); on a shared machine one run can be 10-20% off.

``--retrieval`` runs it as ``specql reverse`` does by default (:func:`specql.api.reverse`):
every function is also searched in the pattern library (``--library PATH``, default
``$SPECQL_HOME/library.db``) and the retrieval stage's time and hit counts are printed. The
first run embeds every function; the embedding cache makes later runs over the same corpus
cheap (``--repeat 2`` shows both). Without it (the default) the pipeline runs alone.

A missing DIR is not an error: the script says so, prints ``{"skipped": true, ...}`` and
exits 0 (the corpus is optional).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from specql.api import reverse  # noqa: E402
from specql.dsl import dump, load_text, validate  # noqa: E402
from specql.dsl.loader import load_paths  # noqa: E402
from specql.errors import ErrorLevel, SpecqlError  # noqa: E402

TARGET_VALID_PCT = 98.0
TARGET_FUNCTIONS_PER_S = 300.0
TARGET_PEAK_MB = 500.0

_POSITION = re.compile(r"^.*?:\d+:\d+: ")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d+\b")


def _reason(text: str) -> str:
    """A failure or raw-SQL reason without its position and names, to count alike ones."""
    text = _POSITION.sub("", text)
    text = _QUOTED.sub("…", text)
    return text[:110]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def check_written(out_dir: Path) -> tuple[set[str], list[str]]:
    """The schema.Entity names of the written specs that load, validate together and
    round-trip; and the problems found (one line each)."""
    problems: list[str] = []
    try:
        entities = load_paths(sorted(out_dir.rglob("*.yaml")))
    except SpecqlError as exc:
        errors = getattr(exc, "errors", [exc])
        return set(), [str(e) for e in errors]
    bad: set[str] = set()
    by_file = {e.pos.file: f"{e.schema}.{e.name}" for e in entities}
    for problem in validate(entities):
        if problem.level is ErrorLevel.ERROR:
            bad.add(by_file.get(problem.pos.file, "?"))
            problems.append(str(problem))
    for entity in entities:
        key = f"{entity.schema}.{entity.name}"
        try:
            if load_text(dump(entity)) != entity:
                bad.add(key)
                problems.append(f"{entity.pos.file}: does not round-trip through dump/load")
        except SpecqlError as exc:
            bad.add(key)
            problems.append(str(exc))
    return {f"{e.schema}.{e.name}" for e in entities} - bad, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="directory of .sql files (searched recursively)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile: top functions")
    parser.add_argument("--top", type=int, default=10, help="reasons listed (default 10)")
    parser.add_argument("--out", type=Path, help="write the specs here (default: a temp dir)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run N times and report the fastest (a shared machine's noise; default 1)",
    )
    parser.add_argument(
        "--retrieval",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also search the pattern library for every function (default: off)",
    )
    parser.add_argument("--library", type=Path, help="pattern library (with --retrieval)")
    args = parser.parse_args(argv)

    if not args.dir.is_dir():
        print(f"skipped: {args.dir} does not exist (the corpus is optional)")
        print(json.dumps({"skipped": True, "dir": str(args.dir)}))
        return 0

    runs: list[float] = []
    report = None
    for run in range(max(1, args.repeat)):
        with tempfile.TemporaryDirectory(prefix="specql-reverse-bench-") as tmp:
            out = args.out or Path(tmp) / f"specs{run}"
            profiler = cProfile.Profile() if args.profile else None
            start = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            this = reverse(
                [args.dir], out, jobs=args.jobs, retrieval=args.retrieval, library=args.library
            )
            if profiler is not None:
                profiler.disable()
            runs.append(time.perf_counter() - start)
            if report is None or runs[-1] <= min(runs):
                report, seconds = this, runs[-1]
                peak = _peak_mb()
                good_specs, written_problems = check_written(out)

    functions = report.functions
    total = len(functions)
    valid = [f for f in functions if f.error is None and f.entity in good_specs]
    statements = sum(f.statements_total for f in functions)
    converted = sum(f.statements_converted for f in functions)
    paths = report.parse_path_counts()
    fallback = paths.get("rewritten", 0) + paths.get("raw", 0)
    per_s = total / seconds if seconds else 0.0
    s = report.summary()

    print(f"corpus            {args.dir} ({s['files']} files, {s['tables']} tables)")
    print(f"functions found   {total}  (parse paths: {paths})")
    print(
        f"valid specs       {len(valid)}/{total} = {100 * len(valid) / max(total, 1):.1f}% "
        f"(target >= {TARGET_VALID_PCT:.0f}%)"
    )
    print(
        f"statements        {converted}/{statements} converted to non-raw steps = "
        f"{100 * converted / max(statements, 1):.1f}%"
    )
    print(
        f"parse fallback    {fallback} ({paths.get('rewritten', 0)} rewritten, "
        f"{paths.get('raw', 0)} raw)"
    )
    print(f"triage            {s['triage']}, avg confidence {s['avg_confidence']:.2f}")
    print(
        f"speed             {per_s:.0f} functions/s with --jobs {args.jobs} "
        f"({seconds:.2f} s; target >= {TARGET_FUNCTIONS_PER_S:.0f}/s on one core)"
        + (
            f"; fastest of {len(runs)}: {', '.join(f'{r:.2f}' for r in runs)} s"
            if len(runs) > 1
            else ""
        )
    )
    stages = ", ".join(f"{k} {v:.2f}" for k, v in report.timings.items())
    print(f"time by stage (s) {stages}")
    matched = s["functions_with_similar"]
    if report.retrieval != "off":
        top = Counter(f.similar[0].name for f in functions if f.similar).most_common(5)
        print(
            f"retrieval         {report.retrieval}: {matched}/{total} functions matched "
            f"library patterns in {report.timings.get('retrieval', 0):.2f} s"
            + (f"; most often first: {', '.join(f'{n} {c}' for n, c in top)}" if top else "")
        )
    print(f"peak memory       {peak:.0f} MB (max RSS; target < {TARGET_PEAK_MB:.0f} MB)")
    print(
        f"files failed      {s['files_failed']} ({s['errors']} error lines, "
        f"{s['warnings']} warnings)"
    )
    if written_problems:
        print(f"written specs     {len(written_problems)} problem(s) on re-check, e.g.:")
        for line in written_problems[:5]:
            print(f"  {line}")

    failures = Counter(_reason(f.error) for f in functions if f.error is not None)
    failures.update(
        "(not in a valid spec)" for f in functions if f.error is None and f not in valid
    )
    if failures:
        print("top failure reasons:")
        for reason, n in failures.most_common(args.top):
            print(f"  {n:5}  {reason}")
    file_errors = Counter(_reason(e) for e in report.errors)
    if file_errors:
        print("top error lines (files and functions):")
        for reason, n in file_errors.most_common(args.top):
            print(f"  {n:5}  {reason}")
    raw = Counter(_reason(u.reason) for f in functions for u in f.unconverted)
    if raw:
        print("top reasons for raw_sql:")
        for reason, n in raw.most_common(args.top):
            print(f"  {n:5}  {reason}")

    if profiler is not None:
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        print(buf.getvalue())

    print(
        json.dumps(
            {
                "functions": total,
                "valid_pct": round(100 * len(valid) / max(total, 1), 2),
                "converted_statements_pct": round(100 * converted / max(statements, 1), 2),
                "parse_fallback": fallback,
                "functions_per_s": round(per_s, 1),
                "peak_mb": round(peak, 1),
                "files": s["files"],
                "files_failed": s["files_failed"],
                "seconds": round(seconds, 3),
                "jobs": args.jobs,
                "stages": report.timings,
                "runs": len(runs),
                "retrieval": report.retrieval,
                "functions_with_similar": matched,
                "runs_s": [round(r, 3) for r in runs],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
