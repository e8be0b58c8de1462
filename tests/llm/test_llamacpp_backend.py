"""The llamacpp backend with the real default model (Gemma 3 270M from its PyPI package):
assembling and loading it, a grammar-constrained call that validates, `specql models test`,
the AI stage of reverse end to end, and the ways a model file can be wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specql.llm import LLMClient, LLMError, MemoryCallStore, ModelConfig, load_settings
from specql.llm.backends.llamacpp import LlamaCppModel, default_model_path
from specql.llm.base import Message
from specql.llm.tasks import TASKS
from tests.llm.conftest import needs_local_model

pytestmark = needs_local_model

REPO = Path(__file__).resolve().parents[2]
CRM = REPO / "tests" / "reverse" / "fixtures" / "ai" / "crm.sql"


def test_the_default_model_is_assembled_once_into_the_home(gemma, model_home) -> None:
    path = default_model_path(model_home)
    assert path.parent == model_home / "models" and path.stat().st_size > 100_000_000
    first = path.stat().st_mtime_ns
    assert default_model_path(model_home).stat().st_mtime_ns == first  # not assembled again
    assert not list(path.parent.glob(".*.part"))


def test_a_grammar_constrained_call_returns_a_valid_object(gemma, model_home) -> None:
    client = LLMClient(load_settings(model_home, env={}), MemoryCallStore(), model=gemma)
    result = client.run(TASKS["probe"], {"sql": "UPDATE crm.customer SET name = 'x'"})
    assert result.ok, result.errors
    assert result.value.answer in {"yes", "no"} and result.value.table
    record = client.store.records[0]
    assert record.backend == "llamacpp" and record.tokens_in > 50 and record.tokens_out > 0
    assert record.outcome == "valid" and record.latency_ms > 0


def test_the_grammar_keeps_the_answer_inside_its_schema(gemma) -> None:
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string", "enum": ["red", "green"]}},
        "required": ["colour"],
    }
    completion = gemma.complete([Message("user", "Pick a colour.")], schema=schema, max_tokens=20)
    assert json.loads(completion.text)["colour"] in {"red", "green"}


def test_streaming_hands_over_the_pieces(gemma) -> None:
    pieces: list[str] = []
    completion = gemma.complete(
        [Message("user", "Count: one, two,")], max_tokens=8, on_text=pieces.append
    )
    assert pieces and "".join(pieces) == completion.text


def test_a_prompt_over_the_context_size_is_an_error_outcome_not_a_crash(gemma, model_home) -> None:
    settings = load_settings(model_home, env={})
    small = LlamaCppModel(ModelConfig("small", "llamacpp", str(gemma.path), {"n_ctx": 256}))
    client = LLMClient(settings, MemoryCallStore(), model=small)
    sql = "SELECT " + ", ".join(f"column_{i}" for i in range(300)) + " FROM t"
    result = client.run(TASKS["probe"], {"sql": sql})
    assert result.outcome == "error" and "does not fit" in result.errors[0]
    assert client.store.records[0].outcome == "error"
    with pytest.raises(LLMError):  # asked directly, the backend refuses it too
        small.complete([Message("user", "word " * 600)], max_tokens=8)
    small.close()


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "model file not found"),
        (b"", "not a GGUF model file"),
        (b"PK\x03\x04 a zip, not a model", "not a GGUF model file"),
        (b"GGUF" + os.urandom(4096), "cannot load model"),
    ],
)
def test_a_bad_model_file_is_one_clear_line(tmp_path, content, expected) -> None:
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    model = LlamaCppModel(ModelConfig("bad", "llamacpp", str(path)))
    with pytest.raises(LLMError) as info:
        model.load()
    assert expected in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def _specql(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "SPECQL_HOME": str(home), **env}
    return subprocess.run(
        [sys.executable, "-m", "specql.cli.main", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=600,
    )


def test_models_test_loads_the_default_and_exits_0_on_a_valid_answer(model_home) -> None:
    done = _specql("models", "test", "--json", home=model_home)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["grammar"] and result["backend"] == "llamacpp"
    logged = _specql("logs", "list", "--task", "probe", "--json", home=model_home)
    assert logged.returncode == 0, logged.stderr
    assert "probe" in logged.stdout


def test_models_test_with_a_corrupt_model_fails_in_one_line(tmp_path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    done = _specql("models", "test", "--model", str(bad), home=tmp_path / "home")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]


def test_reverse_with_the_local_model_validates_and_records_every_suggestion(tmp_path) -> None:
    """The AI stage end to end with the real model: whatever a 270M model says, the spec's
    steps stay those of the non-AI run, and each suggestion says whether it passed."""
    home = tmp_path / "home"
    ai = _specql(
        "reverse",
        str(CRM),
        "-o",
        str(tmp_path / "ai"),
        "--ai",
        "local",
        "--no-retrieval",
        "--json",
        home=home,
    )
    assert ai.returncode == 0, ai.stderr
    report = json.loads(ai.stdout)
    assert report["summary"]["ai"] == "local"
    usage = report["summary"]["ai_usage"]
    assert usage["tasks"] >= 3 and usage["cost_usd"] == 0
    for fn in report["functions"]:
        for s in fn["ai"]["suggestions"]:
            assert s["source"] == "local" and s["model"] == "llamacpp:default"
            assert not s["applied"] or s["valid"]
        intent = fn["ai"]["intent"] or ""
        assert "admin mode" not in intent.lower() and "ignore" not in intent.lower()

    off = _specql(
        "reverse",
        str(CRM),
        "-o",
        str(tmp_path / "off"),
        "--ai",
        "off",
        "--no-retrieval",
        "--json",
        home=home,
    )
    from specql.dsl.loader import load_paths

    def steps(out: Path) -> dict:
        return {a.name: a.steps for e in load_paths(sorted(out.rglob("*.yaml"))) for a in e.actions}

    assert off.returncode == 0
    assert steps(tmp_path / "ai") == steps(tmp_path / "off")

    again = _specql(
        "reverse",
        str(CRM),
        "-o",
        str(tmp_path / "again"),
        "--ai",
        "local",
        "--no-retrieval",
        "--json",
        home=home,
    )
    usage = json.loads(again.stdout)["summary"]["ai_usage"]
    assert usage["tasks_cached"] == usage["tasks"]  # the rerun is answered from the cache
