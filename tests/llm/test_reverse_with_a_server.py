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


ONE_FUNCTION = """
CREATE FUNCTION crm.greeting() RETURNS text AS $$
BEGIN
    RETURN 'hello from the customer desk';
END;
$$ LANGUAGE plpgsql;
"""
CLOUD_INTENT = "Returns the greeting text of the customer desk."


def configure_cloud(home: Path, url: str, max_cost: float) -> None:
    """A weak local model (every answer is not JSON) and a cloud model on the fake server."""
    (home / "models.yaml").write_text(
        "default: weak\n"
        f"max_cost_usd: {max_cost}\n"
        "models:\n"
        "  weak: {backend: mock, default: 'not json at all'}\n"
        f"  cloud: {{backend: anthropic, model: claude-test, base_url: '{url}',"
        " price_in: 3.0, price_out: 15.0, timeout: 5}\n",
        encoding="utf-8",
    )


def anthropic_answer(text: str) -> dict:
    return {
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 900, "output_tokens": 30},
    }


def test_ai_cloud_escalates_a_failed_local_answer_and_logs_its_cost(
    home, tmp_path, fake_llm_server, monkeypatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    configure_cloud(home, fake_llm_server.url, max_cost=1.0)
    fake_llm_server.reply(anthropic_answer(f'{{"intent": "{CLOUD_INTENT}", "confidence": "high"}}'))
    sql = tmp_path / "one.sql"
    sql.write_text(ONE_FUNCTION, encoding="utf-8")
    report = api.reverse([sql], tmp_path / "out", ai="cloud", retrieval=False)
    assert report.ok and report.ai == "cloud"
    fn = report.functions[0]
    intent = next(s for s in fn.ai.suggestions if s.kind == "intent")
    assert (intent.source, intent.model, intent.applied) == ("cloud", "anthropic:claude-test", True)
    assert fn.ai.intent == CLOUD_INTENT
    assert specs(tmp_path / "out")["greeting"].description == (
        f"{CLOUD_INTENT} (suggested by anthropic:claude-test, unreviewed)"
    )
    request = fake_llm_server.received[0]
    assert request.headers["x-api-key"] == "sk-test-not-a-real-key"
    assert "<legacy_sql>" in request.body["messages"][0]["content"]
    calls = list(reversed(api.llm_calls()))
    assert [(c["backend"], c["outcome"], c["escalated"]) for c in calls] == [
        ("mock", "invalid", 0),
        ("mock", "invalid", 0),
        ("anthropic", "valid", 1),
    ]
    cost = (900 * 3.0 + 30 * 15.0) / 1_000_000
    assert calls[-1]["cost_usd"] == pytest.approx(cost)
    assert report.ai_usage["cost_usd"] == pytest.approx(cost)


def test_the_cost_cap_stops_escalation_before_any_cloud_call(
    home, tmp_path, fake_llm_server, monkeypatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    configure_cloud(home, fake_llm_server.url, max_cost=0.0001)
    sql = tmp_path / "one.sql"
    sql.write_text(ONE_FUNCTION, encoding="utf-8")
    report = api.reverse([sql], tmp_path / "out", ai="cloud", retrieval=False)
    assert report.ok and fake_llm_server.received == []
    assert report.ai_usage["cost_usd"] == 0
    skipped = [c for c in api.llm_calls() if c["outcome"] == "skipped"]
    assert skipped and "cost cap" in skipped[0]["error"]
    assert specs(tmp_path / "out")["greeting"].description is None
