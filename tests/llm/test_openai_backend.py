"""The OpenAI-compatible backend against a real loopback HTTP server: the request it sends,
the answer it reads, every way a server can fail, and a task run through LLMClient."""

from __future__ import annotations

import json
import re
import time

import pytest

from specql.llm.backends.http import MAX_RESPONSE_BYTES
from specql.llm.backends.openai import ENV_BASE_URL, OpenAIModel
from specql.llm.base import LLMError, Message, ModelConfig, create_model
from specql.llm.client import LLMClient, MemoryCallStore
from specql.llm.config import LLMSettings
from specql.llm.tasks import task

MESSAGES = [Message("system", "You answer in JSON."), Message("user", "Say yes.")]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
}


def chat(content, finish="stop", usage=None) -> dict:
    answer = {"choices": [{"message": {"role": "assistant", "content": content}}]}
    answer["choices"][0]["finish_reason"] = finish
    if usage is not None:
        answer["usage"] = usage
    return answer


def model_for(url: str, **options) -> OpenAIModel:
    return OpenAIModel(
        ModelConfig("team", "openai", "llama3.1", {"base_url": f"{url}/v1", **options})
    )


def test_answer_and_request(fake_llm_server):
    fake_llm_server.reply(
        chat('{"answer": "yes"}', usage={"prompt_tokens": 31, "completion_tokens": 6})
    )
    model = model_for(fake_llm_server.url)
    completion = model.complete(MESSAGES, schema=SCHEMA, max_tokens=40, temperature=0.2)

    assert completion.text == '{"answer": "yes"}'
    assert (completion.tokens_in, completion.tokens_out) == (31, 6)
    assert completion.finish_reason == "stop"
    assert completion.seconds > 0
    (request,) = fake_llm_server.received
    assert request.path == "/v1/chat/completions"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "llama3.1",
        "messages": [
            {"role": "system", "content": "You answer in JSON."},
            {"role": "user", "content": "Say yes."},
        ],
        "max_tokens": 40,
        "temperature": 0.2,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
        },
    }


def test_registered_backend_and_defaults(monkeypatch):
    monkeypatch.delenv(ENV_BASE_URL, raising=False)
    model = create_model(ModelConfig("server", "openai", "default"))
    assert isinstance(model, OpenAIModel)
    assert model.base_url == "http://127.0.0.1:8080/v1"
    assert model.timeout == 120
    assert model.context_size == 8192
    assert model.capabilities.json_schema and model.capabilities.local
    assert not model.capabilities.streaming
    assert model.count_tokens("x" * 40) == 10


def test_base_url_option_wins_over_environment(monkeypatch):
    monkeypatch.setenv(ENV_BASE_URL, "http://gpu-box:11434/v1/")
    assert OpenAIModel(ModelConfig("s", "openai", "m")).base_url == "http://gpu-box:11434/v1"
    configured = ModelConfig("s", "openai", "m", {"base_url": "http://other:1/v1"})
    assert OpenAIModel(configured).base_url == "http://other:1/v1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "file:///etc/passwd"}, "base_url must be an http(s) URL"),
        ({"base_url": "http://gpu-box:port/v1"}, "base_url must be an http(s) URL"),
        ({"schema_mode": "grammar"}, "schema_mode 'grammar' is not one of json_schema, none"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": "soon"}, "timeout must be a positive number"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(LLMError, match=re.escape(message)):
        OpenAIModel(ModelConfig("team", "openai", "m", options))


def test_schema_mode_none_sends_no_schema(fake_llm_server):
    fake_llm_server.reply(chat("{}"))
    model = model_for(fake_llm_server.url, schema_mode="none", local=False)
    assert not model.capabilities.json_schema
    assert not model.capabilities.local
    model.complete(MESSAGES, schema=SCHEMA)
    assert "response_format" not in fake_llm_server.received[0].body


def test_length_finish_and_missing_usage_estimated(fake_llm_server):
    fake_llm_server.reply(chat('{"answer": "y', finish="length"))
    pieces: list[str] = []
    completion = model_for(fake_llm_server.url).complete(MESSAGES, on_text=pieces.append)
    assert completion.finish_reason == "length"
    assert completion.tokens_in > 0 and completion.tokens_out > 0
    assert pieces == ['{"answer": "y']


def test_api_key_sent_as_bearer(fake_llm_server, monkeypatch):
    monkeypatch.setenv("TEAM_LLM_KEY", "sk-team-123")
    fake_llm_server.reply(chat("{}"))
    model_for(fake_llm_server.url, api_key_env="TEAM_LLM_KEY").complete(MESSAGES)
    assert fake_llm_server.received[0].headers["authorization"] == "Bearer sk-team-123"


def test_named_key_variable_unset(monkeypatch):
    monkeypatch.delenv("TEAM_LLM_KEY", raising=False)
    with pytest.raises(LLMError) as caught:
        model_for("http://127.0.0.1:9", api_key_env="TEAM_LLM_KEY")
    assert str(caught.value) == "model team needs an API key: set TEAM_LLM_KEY"


# ------------------------------------------------------------------------- failures


def failure(server_url: str, **options) -> str:
    with pytest.raises(LLMError) as caught:
        model_for(server_url, **options).complete(MESSAGES, schema=SCHEMA)
    text = str(caught.value)
    assert "\n" not in text
    assert f"model server {server_url}/v1/chat/completions" in text
    return text


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("<html>Bad gateway</html>", "(<html>Bad gateway</html>)"),
        ("", "(empty body)"),
        ("[" * 100_000, "([[[["),  # nested past the parser's recursion limit
        (b"\xff\xfe{}", "(\ufffd\ufffd{})"),
    ],
    ids=["html", "empty", "deep", "not-utf8"],
)
def test_garbage_body(fake_llm_server, body, shown):
    fake_llm_server.reply(body)
    assert f"the answer is not JSON {shown}" in failure(fake_llm_server.url)


def test_json_not_an_object(fake_llm_server):
    fake_llm_server.reply("[1, 2]")
    assert "the answer is JSON but not an object" in failure(fake_llm_server.url)


@pytest.mark.parametrize(
    "body",
    [{"id": "x"}, {"choices": []}, {"choices": [{"message": {"content": None}}]}],
)
def test_missing_fields(fake_llm_server, body):
    fake_llm_server.reply(body)
    assert "has no str at choices[0].message.content" in failure(fake_llm_server.url)


def test_http_error_quotes_a_short_clean_excerpt(fake_llm_server):
    fake_llm_server.reply("model\x00 crashed:\n" + "trace " * 200, status=500)
    text = failure(fake_llm_server.url)
    assert ": HTTP 500: model crashed: trace trace" in text
    detail = text.split("HTTP 500: ", 1)[1]
    assert len(detail) <= 200
    assert "\x00" not in detail


def test_redirect_is_not_followed(fake_llm_server, monkeypatch):
    monkeypatch.setenv("TEAM_LLM_KEY", "sk-team-123")
    fake_llm_server.reply(b"", status=302, headers={"Location": "http://127.0.0.1:9/steal"})
    text = failure(fake_llm_server.url, api_key_env="TEAM_LLM_KEY")
    assert "HTTP 302" in text
    assert "sk-team-123" not in text
    assert len(fake_llm_server.received) == 1


def test_hanging_server_times_out(fake_llm_server):
    fake_llm_server.reply(hang=True)
    start = time.monotonic()
    text = failure(fake_llm_server.url, timeout=0.5)
    assert time.monotonic() - start < 2
    assert "no answer within 0.5 s (timeout)" in text


def test_connection_refused(fake_llm_server):
    url = fake_llm_server.dead_url()
    assert "connection refused" in failure(url)


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "read-until-close"])
def test_oversized_body(fake_llm_server, length):
    fake_llm_server.reply(b"x" * (MAX_RESPONSE_BYTES + 10), length=length)
    assert f"over the {MAX_RESPONSE_BYTES} byte limit" in failure(fake_llm_server.url)


def test_credentials_in_url_are_not_shown(fake_llm_server):
    host = fake_llm_server.url.removeprefix("http://")
    fake_llm_server.reply("not json")
    model = OpenAIModel(
        ModelConfig("t", "openai", "m", {"base_url": f"http://u:pw-secret@{host}/v1"})
    )
    with pytest.raises(LLMError) as caught:
        model.complete(MESSAGES)
    assert "pw-secret" not in str(caught.value)
    assert f"http://{host}/v1/chat/completions" in str(caught.value)


# ------------------------------------------------------------------------- through LLMClient


def test_client_re_asks_after_an_invalid_answer(fake_llm_server):
    probe = task("probe")
    fake_llm_server.reply(chat('{"answer": "maybe", "table": "crm.customer"}'))
    fake_llm_server.reply(chat('{"answer": "yes", "table": "crm.orders"}'))
    store = MemoryCallStore()
    client = LLMClient(LLMSettings(retries=2), store, model=model_for(fake_llm_server.url))

    result = client.run(probe, {"sql": "INSERT INTO crm.orders VALUES (1);"})

    assert result.ok
    assert (result.value.answer, result.value.table) == ("yes", "crm.orders")
    assert [r.outcome for r in store.records] == ["invalid", "valid"]
    assert {r.model for r in store.records} == {"openai:llama3.1"}
    first, second = (r.body for r in fake_llm_server.received)
    assert first["response_format"]["json_schema"]["schema"] == probe.schema({})
    assert first["max_tokens"] == probe.max_tokens
    assert second["messages"][: len(first["messages"])] == first["messages"]
    re_ask = second["messages"][len(first["messages"]) :]
    assert [m["role"] for m in re_ask] == ["assistant", "user"]
    assert json.loads(re_ask[0]["content"])["answer"] == "maybe"
    assert "answer" in re_ask[1]["content"] and "not valid" in re_ask[1]["content"]
