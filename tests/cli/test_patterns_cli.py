"""`specql patterns …` and `specql templates …` as a user runs them: JSON listings, specs that
`specql generate` accepts, and one-line errors that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from specql.cli.main import cli

FIXTURES = Path(__file__).parents[1] / "patterns" / "fixtures"


@pytest.fixture
def run(tmp_path):
    library = str(tmp_path / "library.db")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, [*args, "--library", library])

    return invoke


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_lists_as_json(run) -> None:
    listed = json.loads(run("patterns", "list", "--json").stdout)
    tiers = {row["name"]: row["tier"] for row in listed}
    assert tiers["state_machine"] == 2 and tiers["audit_trail"] == 2
    assert all({"name", "tier", "category"} <= row.keys() for row in listed)
    assert {row["tier"] for row in listed} == {1, 2, 3}
    templates = json.loads(run("templates", "list", "--json").stdout)
    assert len(templates) >= 20
    assert all(row["name"].startswith(row["namespace"] + ".") for row in templates)
    crm = json.loads(run("templates", "list", "--namespace", "crm", "--json").stdout)
    assert crm and {row["namespace"] for row in crm} == {"crm"}


def test_show(run) -> None:
    shown = json.loads(run("patterns", "show", "state_machine", "--json").stdout)
    assert shown["definition"]["name"] == "state_machine" and shown["tier"] == 2
    assert shown["versions"][0]["version"] == 1
    text = run("patterns", "show", "state_machine").stdout
    assert text.startswith("name: state_machine")


def test_instantiate_writes_a_spec_generate_accepts(run, tmp_path, registry_copy) -> None:
    spec = tmp_path / "ticket.yaml"
    result = run(
        "patterns",
        "instantiate",
        "state_machine",
        "--entity",
        "Ticket",
        "--schema",
        "catalog",
        "--field",
        "title:text!",
        "--param",
        "states=[open, closed]",
        "--param",
        "transitions={open: [closed]}",
        "-o",
        str(spec),
    )
    assert result.exit_code == 0, result.output
    assert "pattern: state_machine" in spec.read_text()
    assert run("validate", str(spec)).exit_code == 0
    out = tmp_path / "out"
    generated = run(
        "generate",
        str(spec),
        "--target",
        "postgres,django,sqlalchemy",
        "-o",
        str(out),
        "--registry",
        str(registry_copy),
        "--json",
    )
    assert generated.exit_code == 0, generated.output
    paths = [f["path"] for f in json.loads(generated.stdout)["files"]]
    assert any("fn_catalog_transition" in p for p in paths)
    assert any(p.endswith("models.py") for p in paths)


def test_bad_input_is_one_line_and_writes_nothing(run, tmp_path) -> None:
    spec = tmp_path / "w.yaml"
    base = ("patterns", "instantiate")
    where = ("--entity", "Widget", "--schema", "catalog", "-o", str(spec))
    assert "unknown domain pattern 'no_such'" in one_line_error(run(*base, "no_such", *where))
    assert "states" in one_line_error(run(*base, "state_machine", *where))
    wrong = run(*base, "state_machine", *where, "--param", "states=3", "--param", "transitions={}")
    assert "states" in one_line_error(wrong)
    assert not spec.exists()
    spec.write_text("keep me\n")
    exists = one_line_error(run(*base, "soft_delete", *where))
    assert "--force" in exists and spec.read_text() == "keep me\n"
    assert run(*base, "soft_delete", *where, "--force").exit_code == 0
    assert "keep me" not in spec.read_text()


def test_compose_refuses_conflicts_and_prints_a_spec(run) -> None:
    ok = run(
        "patterns",
        "compose",
        "audit_trail",
        "soft_delete",
        "--entity",
        "Note",
        "--schema",
        "catalog",
        "--field",
        "body:text!",
    )
    assert ok.exit_code == 0, ok.output
    assert "pattern: audit_trail" in ok.stdout and "pattern: soft_delete" in ok.stdout
    listed = json.loads(run("patterns", "list", "--tier", "domain", "--json").stdout)
    shown = {
        row["name"]: json.loads(run("patterns", "show", row["name"], "--json").stdout)
        for row in listed
    }
    pair = next(
        (name, other) for name, info in shown.items() for other in info["definition"]["conflicts"]
    )
    params = [  # each pattern's own example parameters, so only the conflict can fail
        f"--param={name}.{key}={json.dumps(value)}"
        for name in pair
        for key, value in shown[name]["definition"]["tests"]["example"].get("params", {}).items()
    ]
    clash = run("patterns", "compose", *pair, *params, "--entity", "Note", "--schema", "catalog")
    assert "conflicts with" in one_line_error(clash)


def test_validate_definition_files(run, tmp_path) -> None:
    good = run("patterns", "validate", str(FIXTURES / "greet.yaml"), "--json")
    assert good.exit_code == 0 and json.loads(good.stdout)[0]["valid"]
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        (FIXTURES / "greet.yaml")
        .read_text()
        .replace("RAISE NOTICE 'hello {{ who }} x{{ times }}';", "{{ ''.__class__ }}")
    )
    bad = run("patterns", "validate", str(evil))
    assert bad.exit_code == 1 and "Python internals" in bad.stderr


def test_templates_instantiate_with_dependencies(run, tmp_path, registry_copy) -> None:
    templates = json.loads(run("templates", "list", "--json").stdout)
    out = tmp_path / "specs"
    name = next(t["name"] for t in templates if t["name"] == "crm.contact")
    result = run("templates", "instantiate", name, "--schema", "crm", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert files[0]["entity"] == "Contact" and len(files) >= 2  # contact needs its company
    generated = run(
        "generate",
        str(out),
        "--target",
        "postgres,django,sqlalchemy",
        "-o",
        str(tmp_path / "out"),
        "--registry",
        str(registry_copy),
    )
    assert generated.exit_code == 0, generated.output
    again = run("templates", "instantiate", name, "--schema", "crm", "-o", str(out))
    assert "--force" in one_line_error(again)


@pytest.mark.parametrize(
    "command",
    [
        ("patterns",),
        ("patterns", "list"),
        ("patterns", "show"),
        ("patterns", "instantiate"),
        ("patterns", "compose"),
        ("patterns", "validate"),
        ("patterns", "deprecate"),
        ("templates",),
        ("templates", "list"),
        ("templates", "instantiate"),
    ],
)
def test_help_has_an_example(command) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "specql " in result.output
