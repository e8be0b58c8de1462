"""benchmarks/eval_retrieval.py: its metric arithmetic on rankings with known answers, and the
script on a small labelled file and on the dev set, searching with the real model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from specql.retrieval import retrieval_missing
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parents[2]
SMALL = Path(__file__).parent / "fixtures" / "retrieval_small.jsonl"
DEV_SET = CORPUS / "dev_labeled.jsonl"
needs_model = pytest.mark.skipif(retrieval_missing() is not None, reason=str(retrieval_missing()))


@pytest.fixture(scope="module")
def ev():
    spec = importlib.util.spec_from_file_location(
        "eval_retrieval", ROOT / "benchmarks" / "eval_retrieval.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def _row(ev, id_, labels, **rankings):
    return ev.RowResult(
        id_, labels, {s: ev.Ranking(names, score) for s, (names, score) in rankings.items()}
    )


def test_ranks_and_reciprocal_rank(ev) -> None:
    row = _row(ev, "a", ["x", "y"], hybrid=(["p", "y", "q", "r", "x", "s"], 0.5))
    assert row.rank("hybrid", "y") == 2 and row.rank("hybrid", "x") == 5
    assert row.rank("hybrid", "z") is None and row.rank("bm25", "x") is None
    assert [row.found("hybrid", k) for k in (1, 3, 5)] == [0, 1, 2]
    assert ev.reciprocal_rank(row, "hybrid") == 0.5  # the best-ranked label counts
    assert ev.reciprocal_rank(row, "embedding") == 0.0  # nothing ranked: no credit


def test_summary_known_figures(ev) -> None:
    every = ("embedding", "bm25", "hybrid")
    results = [
        _row(ev, "a", ["x"], **{s: (["x", "y"], 0.8) for s in every}),
        _row(ev, "b", ["x", "y"], **{s: (["z", "y", "q", "r", "x"], 0.6) for s in every}),
        _row(ev, "c", ["x"], **{s: (["q"], 0.4) for s in every}),
        _row(ev, "n1", [], **{s: (["x"], 0.3) for s in every}),
        _row(ev, "n2", [], **{s: (["y"], 0.5) for s in every}),
    ]
    summary = ev.summarise(results)
    hybrid = summary["hybrid"]
    assert hybrid["recall@1"] == round((1 + 0 + 0) / 3, 4)
    assert hybrid["recall@3"] == round((1 + 0.5 + 0) / 3, 4)
    assert hybrid["recall@5"] == round((1 + 1 + 0) / 3, 4)
    assert hybrid["mrr"] == round((1 + 0.5 + 0) / 3, 4)
    assert hybrid["negatives_top_score"] == {"mean": 0.4, "max": 0.5, "min": 0.3}
    assert hybrid["positives_top_score"]["max"] == 0.8
    assert (summary["functions"], summary["positives"], summary["negatives"]) == (5, 3, 2)
    # equal to the single signals, so not better than them: the issue's target is missed
    assert summary["target"]["met"] is False


def test_script_skips_a_missing_file(ev, capsys, tmp_path) -> None:
    assert ev.main([str(tmp_path / "nope.jsonl")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("skipped:")
    assert json.loads(out[-1])["skipped"] is True


@needs_model
def test_script_on_a_small_labelled_file(ev, capsys) -> None:
    assert ev.main([str(SMALL), "--verbose"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    for signal in ("embedding", "bm25", "hybrid"):
        assert {"recall@1", "recall@5", "mrr"} <= set(summary[signal])
    assert (summary["functions"], summary["positives"], summary["negatives"]) == (4, 3, 1)
    assert summary["library"] == "fresh seed" and summary["index"]["documents"] > 0
    # a row reverse cannot find its function in is an error and a miss, not a crash
    assert [e.split(":")[0] for e in summary["errors"]] == ["t-missing-function"]
    # the price-history trigger is the audit trail, first by every signal
    line = next(line for line in out if line.startswith("t-audit "))
    assert line.split()[2:5] == ["1/1/1", "1/1/1", "1/1/1"]
    assert any(line.startswith("t-negative ") for line in out)
    assert summary["hybrid"]["negatives_top_score"]["max"] is not None


@needs_model
@pytest.mark.skipif(not DEV_SET.is_file(), reason=f"labelled dev set not found at {DEV_SET}")
def test_dev_set_meets_the_issue_target(ev, capsys) -> None:
    """Issue #5's target: hybrid recall@5 >= 0.85 on the hand-labelled dev set, and above
    each signal alone (the script prints the figures)."""
    assert ev.main([str(DEV_SET)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["functions"] == 100 and not summary["errors"]
    assert summary["hybrid"]["recall@5"] >= 0.85, summary["hybrid"]
    assert summary["target"]["met"], {s: summary[s]["recall@5"] for s in ("embedding", "bm25")}
