"""`reverse --ai` against an OpenAI-compatible server that misbehaves (a real HTTP server on
127.0.0.1): garbage or a hang costs the AI's suggestions, with a warning naming the server,
never the run or its specs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from specql import api
from specql.dsl.loader import load_paths

CRM = Path(__file__).resolve().parents[1] / "reverse" / "fixtures" / "ai" / "crm.sql"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SPECQL_HOME", str(home))
    return home


def configure(home: Path, url: str, timeout: float = 5) -> None:
    (home / "models.yaml").write_text(
        "models:\n"
        f"  team: {{backend: openai, model: legacy-helper, base_url: '{url}/v1',"
        f" timeout: {timeout}}}\n",
        encoding="utf-8",
    )


def specs(out: Path) -> dict:
    return {a.name: a for e in load_paths(sorted(out.rglob("*.yaml"))) for a in e.actions}


@pytest.mark.parametrize(
    "reply, expected",
    [
        ({"body": b"<html>502 Bad Gateway</html>"}, "not JSON"),
        ({"body": {"choices": []}}, "choices"),
        ({"body": b"upstream exploded", "status": 500}, "500"),
        ({"body": b"", "hang": True}, "no answer within 0.3 s"),
    ],
    ids=["html", "no-choices", "http-500", "hang"],
)
def test_a_misbehaving_server_costs_the_suggestions_not_the_run(
    home, tmp_path, fake_llm_server, reply, expected
) -> None:
    configure(home, fake_llm_server.url, timeout=0.3)
    for _ in range(3):
        fake_llm_server.reply(**reply)
    start = time.perf_counter()
    report = api.reverse([CRM], tmp_path / "ai", ai="local", model="team", retrieval=False)
    assert time.perf_counter() - start < 20
    assert report.ok and report.ai == "failed"
    warning = next(w for w in report.warnings if "AI stage stopped" in w)
    assert fake_llm_server.url in warning and expected in warning
    assert len(fake_llm_server.received) == 3  # three failures in a row, then it stopped
    plain = api.reverse([CRM], tmp_path / "off", ai="off", retrieval=False)
    assert specs(tmp_path / "ai") == specs(tmp_path / "off") and plain.ok
    calls = api.llm_calls(task=None)
    assert [c["outcome"] for c in calls] == ["error"] * 3


def test_the_request_carries_the_schema_and_the_quoted_sql(home, tmp_path, fake_llm_server):
    configure(home, fake_llm_server.url)
    for _ in range(3):
        fake_llm_server.reply(b"not json")
    api.reverse([CRM], tmp_path / "ai", ai="local", model="team", retrieval=False)
    body = fake_llm_server.received[0].body
    assert body["model"] == "legacy-helper"
    assert body["response_format"]["json_schema"]["schema"]["required"] == [
        "intent",
        "confidence",
    ]
    prompt = "\n".join(m["content"] for m in body["messages"])
    assert "<legacy_sql>" in prompt and "IGNORE ALL PREVIOUS" not in prompt
