"""`specql models list | test | default` and the AI options of `specql reverse`, without the
real model (its own tests are in tests/llm/test_llamacpp_backend.py): settings precedence as
the user sees it, one-line errors, and a model that cannot answer costing only the advice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from specql.cli.main import cli

CRM = Path(__file__).resolve().parents[1] / "reverse" / "fixtures" / "ai" / "crm.sql"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SPECQL_HOME", str(home))
    monkeypatch.delenv("SPECQL_MODEL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return home


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_models_list_shows_the_builtin_models_and_the_default(home) -> None:
    result = invoke("models", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = {row["name"]: row for row in data["models"]}
    assert {"local", "server", "cloud", "mock"} <= names.keys()
    assert names["local"]["default"] and data["default_from"] == "builtin"
    assert names["cloud"]["cloud"] and "ANTHROPIC_API_KEY" in names["cloud"]["missing"]
    assert names["local"]["model"] == "(packaged Gemma 3 270M)"
    assert names["mock"]["model"] == "-" and names["mock"]["missing"] is None
    text = invoke("models", "list")
    assert text.exit_code == 0 and "default local (from builtin)" in text.output


def test_models_default_writes_the_config_and_the_environment_overrides_it(
    home, monkeypatch
) -> None:
    result = invoke("models", "default", "mock")
    assert result.exit_code == 0, result.output
    assert "default: mock" in (home / "models.yaml").read_text(encoding="utf-8")
    data = json.loads(invoke("models", "list", "--json").stdout)
    assert (data["default"], data["default_from"]) == ("mock", "file")
    monkeypatch.setenv("SPECQL_MODEL", "local")
    data = json.loads(invoke("models", "list", "--json").stdout)
    assert (data["default"], data["default_from"]) == ("local", "env")


def test_an_unknown_model_is_one_line_and_exit_1(home) -> None:
    for args in (("models", "default", "gpt-9"), ("models", "test", "--model", "gpt-9")):
        result = invoke(*args)
        assert result.exit_code == 1
        assert "unknown model 'gpt-9'" in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_broken_config_file_names_its_line(home) -> None:
    home.mkdir(parents=True)
    (home / "models.yaml").write_text("default: local\nmodels: [unclosed\n", encoding="utf-8")
    result = invoke("models", "list")
    assert result.exit_code == 1
    assert f"{home / 'models.yaml'}:" in result.output and "Traceback" not in result.output


def test_models_test_fails_when_the_model_gives_no_valid_answer(home) -> None:
    result = invoke("models", "test", "--model", "mock")  # the mock has nothing queued
    assert result.exit_code == 1
    assert "no valid answer from mock" in result.output


def test_reverse_ai_cloud_without_a_key_is_one_line(home, tmp_path) -> None:
    result = invoke("reverse", str(CRM), "-o", str(tmp_path / "out"), "--ai", "cloud")
    assert result.exit_code == 1
    assert "--ai cloud" in result.output and "ANTHROPIC_API_KEY" in result.output
    assert not (tmp_path / "out").exists()


def test_reverse_ai_rejects_an_unknown_mode(home, tmp_path) -> None:
    result = invoke("reverse", str(CRM), "-o", str(tmp_path / "out"), "--ai", "maybe")
    assert result.exit_code == 2


def test_reverse_with_a_model_that_cannot_answer_warns_and_succeeds(home, tmp_path) -> None:
    result = invoke(
        "reverse",
        str(CRM),
        "-o",
        str(tmp_path / "out"),
        "--ai",
        "local",
        "--model",
        "mock",
        "--no-retrieval",
        "--report",
        str(tmp_path / "report.json"),
    )
    assert result.exit_code == 0, result.output
    assert "warning: AI stage stopped" in result.output
    assert "ai          failed" in result.output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["ai"] == "failed" and report["summary"]["ok"]
    assert list((tmp_path / "out").rglob("*.yaml"))
    logged = invoke("logs", "list", "--json")
    assert [c["outcome"] for c in json.loads(logged.stdout)] == ["error"] * 3


def test_reverse_without_the_ai_never_reads_the_model_settings(home, tmp_path) -> None:
    home.mkdir(parents=True)
    (home / "models.yaml").write_text("default: [broken\n", encoding="utf-8")
    off = invoke("reverse", str(CRM), "-o", str(tmp_path / "out"), "--ai", "off")
    assert off.exit_code == 0, off.output
    local = invoke("reverse", str(CRM), "-o", str(tmp_path / "out2"), "--ai", "local")
    assert local.exit_code == 1 and "models.yaml:2:1: invalid YAML" in local.output


def test_models_list_says_which_configured_model_lacks_its_key(home) -> None:
    """The backend's own check decides: an anthropic entry without api_key_env still needs
    ANTHROPIC_API_KEY."""
    home.mkdir(parents=True)
    (home / "models.yaml").write_text(
        "models:\n  mine: {backend: anthropic, model: claude-test}\n", encoding="utf-8"
    )
    rows = {r["name"]: r for r in json.loads(invoke("models", "list", "--json").stdout)["models"]}
    assert "set ANTHROPIC_API_KEY" in rows["mine"]["missing"]
