"""Which model to use: built-ins < models.yaml in the specql home < environment < CLI flags,
each setting remembering where it came from; model references (configured names,
``backend:model``, ``.gguf`` paths); every bad file or value a one-line SpecqlError."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.errors import SpecqlError
from specql.llm.base import BACKENDS
from specql.llm.config import (
    BUILTIN_MODELS,
    CONFIG_FILE,
    config_path,
    load_settings,
    resolve_model,
    save_default,
)

FILE = """\
default: team
use_cloud: true
min_confidence: 0.7
max_cost_usd: 2.5
retries: 1
models:
  team: {backend: openai, model: llama3.1, base_url: "http://gpu-box:11434/v1", timeout: 60}
  big: {backend: llamacpp, model: ~/models/big.gguf, n_ctx: 8192}
"""


def write_config(home: Path, text: str) -> Path:
    path = home / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- precedence


def test_without_a_file_every_setting_is_builtin(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert (settings.default, settings.cloud, settings.use_cloud) == ("local", "cloud", False)
    assert (settings.min_confidence, settings.max_cost_usd, settings.retries) == (0.5, 0.5, 1)
    assert set(settings.origin.values()) == {"builtin"}
    assert set(BUILTIN_MODELS) <= set(settings.models)


def test_the_file_overrides_builtins_and_adds_models(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    settings = load_settings(tmp_path, env={})
    assert settings.default == "team"
    assert settings.use_cloud is True
    assert (settings.min_confidence, settings.max_cost_usd, settings.retries) == (0.7, 2.5, 1)
    assert settings.origin == {
        "default": "file",
        "cloud": "builtin",
        "use_cloud": "file",
        "min_confidence": "file",
        "max_cost_usd": "file",
        "retries": "file",
    }
    team = settings.model()
    assert (team.name, team.backend, team.model) == ("team", "openai", "llama3.1")
    assert team.option("base_url") == "http://gpu-box:11434/v1"
    assert team.option("timeout") == 60
    assert settings.models["big"].model == str(Path("~/models/big.gguf").expanduser())
    assert "local" in settings.models  # built-ins stay beside the file's models


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    env = {
        "SPECQL_MODEL": "big",
        "SPECQL_CLOUD_MODEL": "mock",
        "SPECQL_USE_CLOUD": "no",
        "SPECQL_MAX_COST": "0.25",
        "SPECQL_LLM_RETRIES": "4",
    }
    settings = load_settings(tmp_path, env=env)
    assert (settings.default, settings.cloud, settings.use_cloud) == ("big", "mock", False)
    assert (settings.max_cost_usd, settings.retries) == (0.25, 4)
    assert settings.origin["min_confidence"] == "file"  # no variable for it
    for key in ("default", "cloud", "use_cloud", "max_cost_usd", "retries"):
        assert settings.origin[key] == "env", key


def test_an_empty_variable_is_not_a_setting(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    settings = load_settings(tmp_path, env={"SPECQL_MODEL": "", "SPECQL_USE_CLOUD": ""})
    assert (settings.default, settings.use_cloud) == ("team", True)
    assert settings.origin["default"] == settings.origin["use_cloud"] == "file"


def test_cli_values_override_the_environment(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    env = {"SPECQL_MODEL": "big", "SPECQL_USE_CLOUD": "0", "SPECQL_MAX_COST": "9"}
    settings = load_settings(tmp_path, env=env, model="mock", use_cloud=True, max_cost_usd=0.1)
    assert (settings.default, settings.use_cloud, settings.max_cost_usd) == ("mock", True, 0.1)
    assert settings.origin["default"] == settings.origin["use_cloud"] == "cli"
    assert settings.origin["max_cost_usd"] == "cli"
    assert settings.origin["retries"] == "file"


def test_a_cli_false_is_a_value_not_an_absence(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    settings = load_settings(tmp_path, env={"SPECQL_USE_CLOUD": "1"}, use_cloud=False)
    assert settings.use_cloud is False
    assert settings.origin["use_cloud"] == "cli"


@pytest.mark.parametrize(
    ("text", "expected"), [("1", True), ("TRUE", True), ("on", True), ("off", False)]
)
def test_boolean_words_from_the_environment(tmp_path: Path, text: str, expected: bool) -> None:
    assert load_settings(tmp_path, env={"SPECQL_USE_CLOUD": text}).use_cloud is expected


# --------------------------------------------------------------------------- model references


def test_a_configured_name_resolves_to_its_entry(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    settings = load_settings(tmp_path, env={})
    assert resolve_model(settings, "team") == settings.models["team"]
    assert resolve_model(settings, "  team  ").name == "team"


def test_backend_colon_model_starts_from_that_backends_builtin(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    config = resolve_model(settings, "openai:qwen2.5")
    assert (config.name, config.backend, config.model) == ("openai:qwen2.5", "openai", "qwen2.5")
    assert config.option("base_url") == BUILTIN_MODELS["server"].option("base_url")
    cloud = resolve_model(settings, "anthropic:claude-sonnet-4-5")
    assert cloud.model == "claude-sonnet-4-5"
    assert cloud.option("api_key_env") == "ANTHROPIC_API_KEY"  # the built-in's options kept
    assert resolve_model(settings, "mock:scripted").ident == "mock:scripted"


def test_a_gguf_path_is_a_local_llamacpp_model(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    config = resolve_model(settings, "~/models/Tiny.GGUF")
    assert config.backend == "llamacpp"
    assert config.model == str(Path("~/models/Tiny.GGUF").expanduser())
    assert config.option("n_ctx") == BUILTIN_MODELS["local"].option("n_ctx")
    explicit = resolve_model(settings, "llamacpp:~/models/x.gguf")
    assert explicit.model == str(Path("~/models/x.gguf").expanduser())


def test_llamacpp_models_get_the_specql_home(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    settings = load_settings(tmp_path, env={})
    for ref in ("local", "big", "/m/tiny.gguf", "llamacpp:"):
        assert resolve_model(settings, ref).option("home") == str(tmp_path), ref
    for ref in ("team", "mock", "openai:x", "cloud"):
        assert resolve_model(settings, ref).option("home") is None, ref


def test_a_home_set_in_the_file_is_kept(tmp_path: Path) -> None:
    write_config(tmp_path, "models:\n  mine: {backend: llamacpp, home: /elsewhere}\n")
    settings = load_settings(tmp_path, env={})
    assert settings.model("mine").option("home") == "/elsewhere"


def test_an_unknown_model_lists_the_choices(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    settings = load_settings(tmp_path, env={})
    for ref in ("nosuch", "nobackend:model"):
        with pytest.raises(SpecqlError) as exc:
            resolve_model(settings, ref)
        message = one_line(exc)
        assert repr(ref) in message
        for choice in ("big", "cloud", "local", "team", *BACKENDS, ".gguf"):
            assert choice in message
    with pytest.raises(SpecqlError, match="empty model name"):
        resolve_model(settings, "  ")


def test_an_unknown_default_fails_at_load_time(tmp_path: Path) -> None:
    with pytest.raises(SpecqlError, match="unknown model 'nosuch'"):
        load_settings(tmp_path, env={"SPECQL_MODEL": "nosuch"})
    write_config(tmp_path, "default: ghost\n")
    with pytest.raises(SpecqlError, match="unknown model 'ghost'"):
        load_settings(tmp_path, env={})


# --------------------------------------------------------------------------- bad files and values


def test_bad_yaml_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write_config(tmp_path, "default: local\nmodels:\n  x: {backend: mock\n")
    with pytest.raises(SpecqlError) as exc:
        load_settings(tmp_path, env={})
    message = one_line(exc)
    assert message.startswith(f"{path}:")
    assert exc.value.pos.file == str(path)
    assert exc.value.pos.line >= 3 and exc.value.pos.col > 0
    assert "invalid YAML" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a list\n- of things\n", "expected a mapping of settings"),
        ("defualt: local\n", "unknown setting 'defualt'; known: default, cloud"),
        ("models: [a, b]\n", "models: expected a mapping"),
        ("models:\n  x: {model: y}\n", "models.x: needs a backend"),
        ("models:\n  x: {backend: ollama}\n", "models.x: unknown backend 'ollama'; one of"),
        ("use_cloud: perhaps\n", "use_cloud: expected true or false, got 'perhaps'"),
        ("min_confidence: high\n", "min_confidence: expected a number, got 'high'"),
        ("min_confidence: 1.5\n", "min_confidence must be at most 1"),
        ("max_cost_usd: -1\n", "max_cost_usd: must be at least 0"),
        ("retries: many\n", "retries: expected a number, got 'many'"),
    ],
)
def test_bad_settings_in_the_file_are_one_line_errors(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(SpecqlError) as exc:
        load_settings(tmp_path, env={})
    message = one_line(exc)
    assert expected in message
    assert str(path) in message or expected.startswith(("max_cost", "retries"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SPECQL_USE_CLOUD": "maybe"}, "use_cloud: expected true or false, got 'maybe'"),
        ({"SPECQL_MAX_COST": "lots"}, "max_cost_usd: expected a number, got 'lots'"),
        ({"SPECQL_LLM_RETRIES": "1.5"}, "retries: expected a number, got '1.5'"),
        ({"SPECQL_LLM_RETRIES": "-1"}, "retries: must be at least 0"),
    ],
)
def test_bad_values_in_the_environment_are_one_line_errors(
    tmp_path: Path, env: dict, expected: str
) -> None:
    with pytest.raises(SpecqlError) as exc:
        load_settings(tmp_path, env=env)
    assert expected in one_line(exc)


def test_an_empty_file_is_no_settings(tmp_path: Path) -> None:
    write_config(tmp_path, "# nothing yet\n")
    assert set(load_settings(tmp_path, env={}).origin.values()) == {"builtin"}


# --------------------------------------------------------------------------- save_default


def test_save_default_keeps_the_other_settings_and_models(tmp_path: Path) -> None:
    write_config(tmp_path, FILE)
    path = save_default("big", tmp_path)
    assert path == config_path(tmp_path)
    settings = load_settings(tmp_path, env={})
    assert settings.default == "big"
    assert (settings.use_cloud, settings.min_confidence, settings.retries) == (True, 0.7, 1)
    assert settings.models["team"].option("base_url") == "http://gpu-box:11434/v1"
    assert [p.name for p in tmp_path.iterdir()] == [CONFIG_FILE]  # no temp file left


def test_save_default_creates_the_home_and_the_file(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    save_default("openai:llama3.1", home)
    assert load_settings(home, env={}).model().model == "llama3.1"
    assert [p.name for p in home.iterdir()] == [CONFIG_FILE]


def test_save_default_refuses_an_unknown_model_and_changes_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path, FILE)
    with pytest.raises(SpecqlError, match="unknown model 'ghost'"):
        save_default("ghost", tmp_path)
    assert path.read_text(encoding="utf-8") == FILE
    assert [p.name for p in tmp_path.iterdir()] == [CONFIG_FILE]


def test_save_default_refuses_a_broken_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "models: {x: {backend: mock\n")
    with pytest.raises(SpecqlError, match="invalid YAML"):
        save_default("mock", tmp_path)
    assert path.read_text(encoding="utf-8") == "models: {x: {backend: mock\n"
