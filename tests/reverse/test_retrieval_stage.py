"""The retrieval stage of the reverse pipeline: one lookup for every function of a run, its
answers in the report (JSON and HTML), resume, and a failing lookup costing only the matches.

The lookup here is the pipeline's own protocol (a function of FunctionQuery lists), answering
from the queries it is given; the lookup over the real pattern library is tested in
tests/test_api.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from specql.errors import SpecqlError
from specql.reverse import pipeline, state
from specql.reverse.pipeline import RETRIEVAL_SKIPPED, FunctionQuery, reverse
from specql.reverse.report import SimilarEntry, render_html
from tests.reverse.test_pipeline import comparable, written_specs

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "examples" / "legacy"


class RecordingLookup:
    """Answers each query with one entry named after the function's first feature word, and
    keeps every batch of queries it was asked."""

    def __init__(self) -> None:
        self.batches: list[list[FunctionQuery]] = []

    def __call__(self, queries: list[FunctionQuery]) -> list[list[SimilarEntry]]:
        self.batches.append(list(queries))
        return [
            [
                SimilarEntry(
                    f"like_{q.name.rpartition('.')[2]}", 2, 0.5, 0.8, 12.5, ["embedding", "bm25"]
                ),
                SimilarEntry("second", 2, 0.25, None, 3.0, ["bm25"]),
            ]
            for q in queries
        ]


@pytest.fixture(scope="module")
def looked_up(tmp_path_factory):
    lookup = RecordingLookup()
    stages: list[str] = []
    out = tmp_path_factory.mktemp("retrieval") / "specs"
    report = reverse([LEGACY], out, lookup=lookup, progress=lambda stage, *_: stages.append(stage))
    return report, lookup, stages, out


def test_one_lookup_for_every_function_in_report_order(looked_up) -> None:
    report, lookup, _, _ = looked_up
    (batch,) = lookup.batches
    assert [q.name for q in batch] == [f.name for f in report.functions]
    audit = next(q for q in batch if q.name == "shop.trg_orders_audit")
    assert audit.kind == "trigger"
    assert "INSERT INTO shop.order_history" in audit.body
    assert "after row trigger" in audit.features and isinstance(audit.features, tuple)


def test_large_runs_are_looked_up_in_batches_with_progress(monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "RETRIEVAL_BATCH", 4)
    lookup = RecordingLookup()
    told: list[tuple[int, int, str]] = []

    def progress(stage: str, done: int, total: int, item: str) -> None:
        if stage == "retrieval":
            told.append((done, total, item))

    report = reverse([LEGACY], None, lookup=lookup, progress=progress)
    assert [len(b) for b in lookup.batches] == [4, 4, 4, 3]
    assert [q.name for b in lookup.batches for q in b] == [f.name for f in report.functions]
    assert [(done, total) for done, total, _ in told] == [
        (0, 15),
        (4, 15),
        (8, 15),
        (12, 15),
        (15, 15),
    ]
    assert told[-1][2] == report.functions[-1].name
    for fn in report.functions:  # each answer went to its own function
        assert fn.similar[0].name == f"like_{fn.name.rpartition('.')[2]}"


def test_the_report_carries_each_functions_matches(looked_up) -> None:
    report, _, stages, _ = looked_up
    assert report.ok and report.retrieval == "on"
    for fn in report.functions:
        assert [s.name for s in fn.similar] == [f"like_{fn.name.rpartition('.')[2]}", "second"]
    data = report.to_dict()
    assert data["summary"]["retrieval"] == "on"
    assert data["summary"]["functions_with_similar"] == len(report.functions) == 15
    audit = next(f for f in data["functions"] if f["name"] == "shop.trg_orders_audit")
    assert audit["similar"][0] == {
        "name": "like_trg_orders_audit",
        "tier": 2,
        "score": 0.5,
        "cosine": 0.8,
        "bm25": 12.5,
        "signals": ["embedding", "bm25"],
    }
    assert audit["similar"][1]["cosine"] is None
    assert "compares old and new values of status" in audit["features"]
    assert "retrieval" in data["timings"]
    assert stages.index("map") < stages.index("retrieval") < stages.index("assemble")


def test_the_html_report_shows_the_matches(looked_up) -> None:
    report, *_ = looked_up
    page = render_html(report)
    assert "similar library patterns" in page and "Closest library pattern" in page
    assert page.count('<span class="sim"') == 2 * len(report.functions)
    assert "like_trg_orders_audit <small>0.80</small>" in page
    assert "cosine 0.800 · bm25 12.50 · found by embedding, bm25" in page
    assert "15/15 matched" in page


def test_names_in_matches_are_escaped() -> None:
    from specql.reverse.report import FunctionEntry, ReverseReport

    fn = FunctionEntry("f", "a.sql", 1, 1, None, None)
    fn.similar = [SimilarEntry("<script>x</script>", 2, 1.0, 1.0, None, ["<img src=y>"])]
    page = render_html(ReverseReport(functions=[fn]))
    assert page.count("<script") == 1 and "&lt;script&gt;x" in page
    assert "<img" not in page and "found by &lt;img src=y&gt;" in page


def test_without_a_lookup_there_are_no_matches(tmp_path) -> None:
    report = reverse([LEGACY], None)
    assert report.retrieval == "off" and "retrieval" not in report.timings
    assert all(f.similar == [] and f.features for f in report.functions if f.statements_total)
    assert report.summary()["functions_with_similar"] == 0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            SpecqlError("library x has no embeddings yet: run `specql patterns reindex`"),
            f"{RETRIEVAL_SKIPPED}: library x has no embeddings yet: run `specql patterns reindex`",
        ),
        (
            KeyError("boom"),
            f"{RETRIEVAL_SKIPPED}: internal error in the retrieval stage: KeyError: 'boom'",
        ),
    ],
)
def test_a_failing_lookup_is_a_warning_not_a_failure(tmp_path, error, expected) -> None:
    def lookup(queries):
        raise error

    plain = reverse([LEGACY], tmp_path / "plain")
    report = reverse([LEGACY], tmp_path / "out", lookup=lookup)
    assert report.ok and report.retrieval == "failed"
    assert report.warnings[0] == expected
    assert not any(f.similar for f in report.functions)
    assert written_specs(tmp_path / "out") == written_specs(tmp_path / "plain")
    assert len(report.functions) == len(plain.functions)


def test_a_lookup_answering_too_few_functions_is_a_warning(tmp_path) -> None:
    report = reverse([LEGACY], None, lookup=lambda queries: [[]])
    assert report.ok and report.retrieval == "failed"
    assert report.warnings[0] == f"{RETRIEVAL_SKIPPED}: the lookup answered 1 of 15 functions"


def test_a_lookup_failing_on_a_later_batch_drops_every_match(monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "RETRIEVAL_BATCH", 8)
    lookup = RecordingLookup()

    def second_fails(queries):
        if lookup.batches:
            raise SpecqlError("gone")
        return lookup(queries)

    report = reverse([LEGACY], None, lookup=second_fails)
    assert report.retrieval == "failed" and not any(f.similar for f in report.functions)
    assert report.warnings[0] == f"{RETRIEVAL_SKIPPED}: gone"


def test_no_functions_no_lookup(tmp_path) -> None:
    sql = tmp_path / "tables.sql"
    sql.write_text("CREATE TABLE t (id serial PRIMARY KEY, name text);\n", encoding="utf-8")
    lookup = RecordingLookup()
    report = reverse([sql], None, lookup=lookup)
    assert report.ok and report.retrieval == "on" and lookup.batches == []


def test_resume_looks_up_resumed_functions_too(tmp_path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    out = tmp_path / "out"
    first_lookup = RecordingLookup()
    full = reverse([legacy], out, lookup=first_lookup)
    journal = out / state.STATE_NAME
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert any(o["features"] for r in records for o in r["outcomes"])  # kept for resuming
    journal.write_text(
        "".join(journal.read_text(encoding="utf-8").splitlines(keepends=True)[:3]),
        encoding="utf-8",
    )
    lookup = RecordingLookup()
    resumed = reverse([legacy], out, resume=True, lookup=lookup)
    assert resumed.summary()["files_resumed"] == 3
    assert lookup.batches == first_lookup.batches  # same queries, resumed or not
    assert comparable(resumed) == comparable(full)


def test_jobs_2_asks_the_same_queries(tmp_path) -> None:
    one, two = RecordingLookup(), RecordingLookup()
    reverse([LEGACY], tmp_path / "one", lookup=one, jobs=1)
    reverse([LEGACY], tmp_path / "two", lookup=two, jobs=2)
    assert one.batches == two.batches
