"""The Anthropic Messages backend against a real loopback HTTP server: the key (required,
sent, never shown), the request's shape, and how the answer is read."""

from __future__ import annotations

import pytest

from specql.llm.backends.anthropic import API_VERSION, AnthropicModel
from specql.llm.base import LLMError, Message, ModelConfig, create_model
from specql.llm.config import BUILTIN_MODELS

KEY = "sk-ant-test-0123456789"
MESSAGES = [
    Message("system", "You are terse."),
    Message("user", "Name the table."),
    Message("assistant", "crm."),
    Message("system", "Answer in JSON."),
    Message("user", "Again."),
]


def answer(*blocks: dict, stop="end_turn", usage=None) -> dict:
    return {
        "type": "message",
        "content": list(blocks),
        "stop_reason": stop,
        "usage": usage or {"input_tokens": 12, "output_tokens": 4},
    }


def text(value: str) -> dict:
    return {"type": "text", "text": value}


@pytest.fixture
def model(fake_llm_server, monkeypatch) -> AnthropicModel:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    config = ModelConfig(
        "cloud", "anthropic", "claude-haiku-4-5", {"base_url": fake_llm_server.url}
    )
    return AnthropicModel(config)


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_no_key_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("OTHER_SERVICE_KEY", KEY)  # a key elsewhere in the environment
    if value is None:
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    else:
        monkeypatch.setenv("ANTHROPIC_API_KEY", value)
    with pytest.raises(LLMError) as caught:
        create_model(BUILTIN_MODELS["cloud"])
    assert str(caught.value) == "cloud model cloud needs an API key: set ANTHROPIC_API_KEY"
    assert KEY not in str(caught.value)


def test_key_variable_named_by_option(monkeypatch):
    monkeypatch.delenv("TEAM_ANTHROPIC", raising=False)
    with pytest.raises(LLMError, match=r"set TEAM_ANTHROPIC$"):
        AnthropicModel(ModelConfig("escalate", "anthropic", "m", {"api_key_env": "TEAM_ANTHROPIC"}))
    monkeypatch.setenv("TEAM_ANTHROPIC", KEY)
    assert AnthropicModel(
        ModelConfig("escalate", "anthropic", "m", {"api_key_env": "TEAM_ANTHROPIC"})
    )


def test_defaults(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    model = create_model(ModelConfig("cloud", "anthropic", "claude-haiku-4-5"))
    assert isinstance(model, AnthropicModel)
    assert model.base_url == "https://api.anthropic.com"
    assert model.context_size == 200_000
    assert not model.capabilities.json_schema
    assert not model.capabilities.local


def test_request_headers_and_system_field(model, fake_llm_server):
    fake_llm_server.reply(answer(text('{"table": "crm.customer"}')))
    model.complete(MESSAGES, schema={"type": "object"}, max_tokens=64, temperature=0.0)

    (request,) = fake_llm_server.received
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == API_VERSION
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "temperature": 0.0,
        "system": "You are terse.\n\nAnswer in JSON.",
        "messages": [
            {"role": "user", "content": "Name the table."},
            {"role": "assistant", "content": "crm."},
            {"role": "user", "content": "Again."},
        ],
    }


def test_no_system_field_without_system_messages(model, fake_llm_server):
    fake_llm_server.reply(answer(text("ok")))
    model.complete([Message("user", "hi")])
    assert "system" not in fake_llm_server.received[0].body


def test_text_blocks_joined_and_tokens_read(model, fake_llm_server):
    fake_llm_server.reply(
        answer(
            text('{"table": '),
            {"type": "tool_use", "id": "t1", "name": "x", "input": {}},
            text('"crm.customer"}'),
            usage={"input_tokens": 120, "output_tokens": 9},
        )
    )
    completion = model.complete(MESSAGES)
    assert completion.text == '{"table": "crm.customer"}'
    assert (completion.tokens_in, completion.tokens_out) == (120, 9)
    assert completion.finish_reason == "stop"


def test_max_tokens_stop_reason_is_length(model, fake_llm_server):
    fake_llm_server.reply(answer(text('{"tab'), stop="max_tokens"))
    assert model.complete(MESSAGES, max_tokens=3).finish_reason == "length"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "message"}, "the answer has no list at content"),
        (answer({"type": "tool_use", "id": "t1"}), "the answer has no text block in content"),
        (answer({"type": "text", "text": 7}), "the answer has no str at text"),
    ],
)
def test_answer_without_text(model, fake_llm_server, body, message):
    fake_llm_server.reply(body)
    with pytest.raises(LLMError, match=message):
        model.complete(MESSAGES)


def test_http_error_never_shows_the_key(model, fake_llm_server):
    fake_llm_server.reply(
        {"type": "error", "error": {"type": "authentication_error", "message": f"bad key {KEY}"}},
        status=401,
    )
    with pytest.raises(LLMError) as caught:
        model.complete(MESSAGES)
    message = str(caught.value)
    assert message.startswith(f"model server {fake_llm_server.url}/v1/messages: HTTP 401: ")
    assert "authentication_error" in message
    assert KEY not in message
    assert "bad key ***" in message
