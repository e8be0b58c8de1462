"""``specql reverse``: output, reports, exit codes (0 all converted, 1 a problem, 2 misuse), one
line per problem and never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specql.cli.main import cli
from specql.reverse import state

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "examples" / "legacy"

GOOD = """\
CREATE TABLE items (item_id serial PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
CREATE FUNCTION restock(p_id integer, p_qty integer) RETURNS void AS $$
BEGIN
    UPDATE items SET qty = qty + p_qty WHERE item_id = p_id;
END;
$$ LANGUAGE plpgsql;
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _stderr(result) -> str:
    return result.stderr if result.stderr_bytes is not None else result.output


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output and "Traceback" not in _stderr(result)


def test_reverse_the_legacy_example(runner, tmp_path) -> None:
    out = tmp_path / "specs"
    result = runner.invoke(
        cli,
        [
            "reverse",
            str(LEGACY),
            "-o",
            str(out),
            "--report",
            str(tmp_path / "r.json"),
            "--html",
            str(tmp_path / "r.html"),
        ],
    )
    assert result.exit_code == 0, _stderr(result)
    assert "shop.create_customer" in result.stdout and "auto-accept" in result.stdout
    assert "functions      15" in result.stdout
    assert f"written to {out}" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["summary"]["functions"] == 15 and report["summary"]["ok"] is True
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # the specs are valid for `specql validate`
    check = runner.invoke(cli, ["validate", str(out)])
    assert check.exit_code == 0, _stderr(check)


def test_json_output(runner, tmp_path) -> None:
    result = runner.invoke(cli, ["reverse", str(LEGACY), "-o", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, _stderr(result)
    data = json.loads(result.stdout)
    assert data["summary"]["functions"] == 15
    assert {f["name"] for f in data["functions"]} >= {"shop.place_order", "shop.trg_orders_audit"}


def test_problems_are_one_line_each_and_exit_1(runner, tmp_path) -> None:
    d = tmp_path / "legacy"
    d.mkdir()
    (d / "good.sql").write_text(GOOD, encoding="utf-8")
    (d / "broken.sql").write_text("CREATE TABLE x (a int,, b int);\n", encoding="utf-8")
    (d / "empty.sql").write_text("", encoding="utf-8")
    (d / "latin1.sql").write_bytes("-- Grüße\nSELECT 1;\n".encode("latin-1"))
    result = runner.invoke(cli, ["reverse", str(d), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    _no_traceback(result)
    err = _stderr(result).splitlines()
    assert any(line.startswith(f"{d / 'broken.sql'}:1:") for line in err), err
    assert any("empty.sql" in line and "no SQL statements" in line for line in err)
    assert any("latin1.sql:1:" in line and "UTF-8" in line for line in err)
    assert err[-1].startswith("reverse: 1 error(s) (1 file(s) failed")
    assert "restock" in result.stdout  # the good file was still reversed


def test_usage_errors_exit_2(runner, tmp_path) -> None:
    out = str(tmp_path / "o")
    for args in (
        ["reverse", "-o", out],  # neither PATH nor --dsn
        ["reverse", str(LEGACY), "--dsn", "postgresql://x@y/z", "-o", out],  # both
        ["reverse", str(LEGACY), "-o", out, "--jobs", "0"],
        ["reverse", str(LEGACY)],  # no -o
        ["reverse", str(LEGACY), "-o", out, "--schema", "shop"],  # --schema without --dsn
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        _no_traceback(result)


def test_a_missing_path_is_one_line_and_exit_1(runner, tmp_path) -> None:
    result = runner.invoke(cli, ["reverse", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    _no_traceback(result)
    (line,) = _stderr(result).strip().splitlines()
    assert "no such file or directory" in line


def test_help_has_an_example(runner) -> None:
    result = runner.invoke(cli, ["reverse", "--help"])
    assert result.exit_code == 0
    assert "specql reverse examples/legacy -o build/legacy-specs" in result.output
    for option in ("--dsn", "--json", "--report", "--html", "--jobs", "--resume"):
        assert option in result.output


def _report_without_times(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("timings")
    data.pop("out_dir")
    data["summary"].pop("seconds")
    for fn in data["functions"]:
        fn.pop("ms")
    for f in data["files"]:
        f.pop("ms")
    return data


def test_jobs_2_equals_jobs_1(runner, tmp_path) -> None:
    for jobs in ("1", "2"):
        result = runner.invoke(
            cli,
            [
                "reverse",
                str(LEGACY),
                "-o",
                str(tmp_path / jobs),
                "--jobs",
                jobs,
                "--report",
                str(tmp_path / f"{jobs}.json"),
            ],
        )
        assert result.exit_code == 0, _stderr(result)
    assert _report_without_times(tmp_path / "1.json") == _report_without_times(tmp_path / "2.json")
    one = {p.relative_to(tmp_path / "1"): p.read_bytes() for p in (tmp_path / "1").rglob("*.yaml")}
    two = {p.relative_to(tmp_path / "2"): p.read_bytes() for p in (tmp_path / "2").rglob("*.yaml")}
    assert one == two


def test_resume(runner, tmp_path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    out = tmp_path / "out"
    first = runner.invoke(cli, ["reverse", str(legacy), "-o", str(out)])
    assert first.exit_code == 0
    journal = out / state.STATE_NAME
    journal.write_text(
        "".join(journal.read_text(encoding="utf-8").splitlines(keepends=True)[:4]),
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["reverse", str(legacy), "-o", str(out), "--resume", "--json"])
    assert result.exit_code == 0, _stderr(result)
    data = json.loads(result.stdout)
    assert data["summary"]["files_resumed"] == 4 and data["summary"]["functions"] == 15


def test_installed_script(tmp_path) -> None:
    script = Path(sys.executable).parent / "specql"
    if not script.exists():
        pytest.skip("specql script not installed in this environment")
    out = tmp_path / "specs"
    done = subprocess.run(
        [str(script), "reverse", str(LEGACY), "-o", str(out), "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "avg confidence" in done.stdout
    assert sorted(p.name for p in (out / "shop").glob("*.yaml"))


def test_reverse_a_live_database(runner, pg_database, tmp_path) -> None:
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop; CREATE SCHEMA other;")
        conn.execute(GOOD.replace("items", "shop.items").replace("restock", "shop.restock"))
        conn.execute("CREATE TABLE other.ignored (a integer)")
    out = tmp_path / "specs"
    result = runner.invoke(
        cli, ["reverse", "--dsn", pg_database, "--schema", "shop", "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, _stderr(result)
    data = json.loads(result.stdout)
    assert [f["name"] for f in data["functions"]] == ["shop.restock"]
    assert [e["table"] for e in data["entities"]] == ["shop.items"]
    assert (out / "shop" / "item.yaml").exists()


# --------------------------------------------------------------------------- retrieval


@pytest.fixture
def real_model() -> None:
    from specql.retrieval import retrieval_missing

    missing = retrieval_missing()
    if missing is not None:
        pytest.skip(f"the embedding model is not installed: {missing}")


def test_retrieval_is_on_by_default(runner, tmp_path, real_model) -> None:
    library = tmp_path / "team.db"
    result = runner.invoke(
        cli,
        ["reverse", str(LEGACY), "-o", str(tmp_path / "o"), "--library", str(library), "--json"],
    )
    assert result.exit_code == 0, _stderr(result)
    data = json.loads(result.stdout)
    assert data["summary"]["retrieval"] == "on" and library.exists()
    assert all(len(f["similar"]) == 5 for f in data["functions"])
    text = runner.invoke(cli, ["reverse", str(LEGACY), "-o", str(tmp_path / "t")])
    assert "retrieval      15  function(s) matched library patterns" in text.stdout


def test_no_retrieval(runner, tmp_path) -> None:
    out = str(tmp_path / "o")
    result = runner.invoke(cli, ["reverse", str(LEGACY), "-o", out, "--no-retrieval"])
    assert result.exit_code == 0, _stderr(result)
    assert "retrieval     off  (--retrieval to turn it on)" in result.stdout
    data = json.loads(
        runner.invoke(cli, ["reverse", str(LEGACY), "-o", out, "--no-retrieval", "--json"]).stdout
    )
    assert data["summary"]["retrieval"] == "off" and not any(
        f["similar"] for f in data["functions"]
    )


def test_a_library_that_cannot_be_searched_is_a_warning(runner, tmp_path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database", encoding="utf-8")
    result = runner.invoke(
        cli, ["reverse", str(LEGACY), "-o", str(tmp_path / "o"), "--library", str(garbage)]
    )
    assert result.exit_code == 0, _stderr(result)
    _no_traceback(result)
    (line,) = [x for x in _stderr(result).splitlines() if "retrieval" in x]
    assert (
        line
        == f"warning: pattern retrieval skipped: {garbage}: cannot open: file is not a database"
    )
    assert "retrieval   failed  (see the warning above)" in result.stdout


def test_retrieval_asked_for_but_missing_is_one_line(runner, tmp_path, monkeypatch) -> None:
    import specql.retrieval

    monkeypatch.setattr(specql.retrieval, "retrieval_missing", lambda: "no embedding model")
    result = runner.invoke(cli, ["reverse", str(LEGACY), "-o", str(tmp_path / "o"), "--retrieval"])
    assert result.exit_code == 1
    _no_traceback(result)
    assert _stderr(result).strip() == (
        "error: pattern retrieval is not available: no embedding model"
    )


def test_help_names_the_retrieval_options(runner) -> None:
    result = runner.invoke(cli, ["reverse", "--help"])
    for option in ("--retrieval / --no-retrieval", "--library"):
        assert option in result.output
