"""The reverse report: triage thresholds, the JSON shape, and an HTML page that escapes the
untrusted legacy SQL it shows."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from specql.reverse.pipeline import reverse
from specql.reverse.report import (
    AUTO_ACCEPT,
    SPOT_CHECK,
    FileEntry,
    FunctionEntry,
    PatternEntry,
    ReverseReport,
    UnconvertedEntry,
    render_html,
    triage,
    truncate,
)

# What the report says of every function (issue #3): pinned once, for every test that reads one.
FUNCTION_FIELDS = frozenset(
    {
        "name",
        "file",
        "line",
        "col",
        "entity",
        "action",
        "confidence",
        "triage",
        "parse_path",
        "patterns",
        "unconverted",
        "statements_total",
        "statements_converted",
        "variable_purposes",
        "ms",
    }
)


@pytest.mark.parametrize(
    ("confidence", "decision"),
    [
        (1.0, "auto-accept"),
        (AUTO_ACCEPT, "auto-accept"),
        (0.9499, "spot-check"),
        (SPOT_CHECK, "spot-check"),
        (0.7999, "must-review"),
        (0.0, "must-review"),
    ],
)
def test_triage_thresholds(confidence: float, decision: str) -> None:
    assert triage(confidence) == decision


def test_thresholds_are_the_design_defaults() -> None:
    assert (AUTO_ACCEPT, SPOT_CHECK) == (0.95, 0.80)


def _report() -> ReverseReport:
    fn = FunctionEntry(
        name="shop.f",
        file="a.sql",
        line=3,
        col=1,
        entity="shop.Item",
        action="f",
        confidence=0.9,
        patterns=[PatternEntry("soft_delete", 0.9, ["line 5: SET deleted_at = now()"])],
        unconverted=[UnconvertedEntry(6, "x" * 1000, "dynamic SQL")],
        statements_total=4,
        statements_converted=3,
        variable_purposes={"v_n": "count"},
        ms=1.234,
    )
    return ReverseReport(
        out_dir="out",
        sources=["legacy"],
        files=[FileEntry("a.sql", functions=1, tables=1), FileEntry("b.sql", error="b.sql:1:1: x")],
        functions=[fn],
        errors=["b.sql:1:1: x"],
        warnings=["c.sql: warning: no SQL statements in this file"],
        tables=1,
    )


def test_json_shape() -> None:
    data = json.loads(_report().to_json())
    assert data["report"] == "specql-reverse" and data["version"] == 1
    s = data["summary"]
    for key in (
        "files",
        "functions",
        "tables",
        "entities",
        "specs_written",
        "errors",
        "avg_confidence",
        "triage",
        "parse_paths",
    ):
        assert key in s
    assert s["triage"] == {"auto-accept": 0, "spot-check": 1, "must-review": 0}
    assert s["files_failed"] == 1 and s["ok"] is False and s["converted_pct"] == 75.0
    (fn,) = data["functions"]
    assert set(fn) >= FUNCTION_FIELDS
    assert fn["patterns"] == [
        {"pattern": "soft_delete", "score": 0.9, "evidence": ["line 5: SET deleted_at = now()"]}
    ]
    (unconv,) = fn["unconverted"]
    assert unconv["line"] == 6 and len(unconv["sql"]) <= 300 and unconv["sql"].endswith("…")
    assert data["errors"] == ["b.sql:1:1: x"] and data["files"][1]["error"] == "b.sql:1:1: x"


def test_truncate() -> None:
    assert truncate("  short  ") == "short"
    assert len(truncate("y" * 400, 50)) == 50


def test_write_json_and_html(tmp_path) -> None:
    report = _report()
    path = report.write_json(tmp_path / "deep" / "r.json")
    assert json.loads(path.read_text(encoding="utf-8"))["summary"]["functions"] == 1
    page = report.write_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "sortable" in page
    assert "soft_delete" in page and "line 5: SET deleted_at = now()" in page
    assert not list(tmp_path.glob("**/*.tmp"))


HOSTILE = """\
CREATE TABLE notes (note_id serial PRIMARY KEY, body text);

-- <script>alert('comment')</script>
CREATE FUNCTION "x<script>alert(1)</script>"(p_id integer) RETURNS void AS $$
BEGIN
    -- <script>alert('body')</script> "quoted" & <img src=x onerror=alert(2)>
    EXECUTE 'SELECT 1 /* </script><script>alert(3)</script> */';
    UPDATE notes SET body = '<b>bold</b>' WHERE note_id = p_id;
END;
$$ LANGUAGE plpgsql;
"""


def test_html_escapes_legacy_sql(tmp_path) -> None:
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "hostile.sql").write_text(HOSTILE, encoding="utf-8")
    report = reverse([tmp_path / "legacy"], tmp_path / "out", html_path=tmp_path / "r.html")
    assert report.functions and report.functions[0].unconverted  # the EXECUTE stays raw
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    # one script element: ours; the SQL's markup is shown as text
    assert page.count("<script") == 1 and page.count("</script>") == 1
    assert "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(3)" in page
    # the CSP names exactly our script by its hash
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    assert "default-src 'none'" in page


def test_html_of_a_real_run_has_every_function(tmp_path) -> None:
    legacy = Path(__file__).resolve().parents[2] / "examples" / "legacy"
    report = reverse([legacy], None)
    page = render_html(report)
    for fn in report.functions:
        assert fn.name in page
    assert page.count('<tr id="fn-') == len(report.functions)
