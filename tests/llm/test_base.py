"""The model interface: configs (options, ident, cost), the backend registry, and the mock
backend the other LLM tests rely on (answers from a queue, calls kept, fails loudly when a
test asks more than it planned)."""

from __future__ import annotations

import pytest

from specql.errors import SpecqlError
from specql.llm.backends.mock import MockModel
from specql.llm.base import (
    BACKENDS,
    Completion,
    LLMError,
    Message,
    ModelConfig,
    backend_factory,
    create_model,
    estimate_tokens,
    register_backend,
)

HELLO = [Message("system", "be brief"), Message("user", "say hi")]


def test_option_falls_back_to_the_default_for_missing_and_null_values() -> None:
    config = ModelConfig("m", "mock", options={"n_ctx": 512, "timeout": None})
    assert config.option("n_ctx", 4096) == 512
    assert config.option("timeout", 30) == 30
    assert config.option("absent") is None


def test_ident_is_backend_and_model() -> None:
    assert ModelConfig("x", "openai", "llama3.1").ident == "openai:llama3.1"
    assert ModelConfig("x", "llamacpp").ident == "llamacpp:default"


def test_cost_is_per_million_tokens_and_zero_without_prices() -> None:
    priced = ModelConfig("c", "anthropic", options={"price_in": 1.0, "price_out": 5.0})
    assert priced.cost(1_000_000, 0) == pytest.approx(1.0)
    assert priced.cost(2000, 400) == pytest.approx(0.002 + 0.002)
    assert ModelConfig("l", "llamacpp").cost(10_000, 10_000) == 0.0


def test_estimate_tokens_is_about_four_characters_a_token() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("x" * 400) == 100


def test_llm_errors_are_one_line_specql_errors() -> None:
    error = LLMError("server down:\n  connection refused")
    assert isinstance(error, SpecqlError)
    assert str(error) == "server down: connection refused"


def test_every_registered_backend_is_importable() -> None:
    assert {"llamacpp", "openai", "anthropic", "mock"} <= set(BACKENDS)
    for name in BACKENDS:
        assert callable(backend_factory(name)), name


def test_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(LLMError) as exc:
        create_model(ModelConfig("x", "ollama"))
    assert "unknown model backend 'ollama'" in str(exc.value)
    assert "anthropic, llamacpp, mock, openai" in str(exc.value)


def test_a_backend_can_be_registered_as_a_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "scripted", BACKENDS["mock"])  # restored after the test
    register_backend("scripted", lambda config: MockModel(config, ['{"ok": true}']))
    model = create_model(ModelConfig("s", "scripted"))
    assert model.config.backend == "scripted"
    assert model.complete(HELLO).text == '{"ok": true}'


def test_create_model_builds_the_mock_from_its_config() -> None:
    model = create_model(ModelConfig("m", "mock", options={"n_ctx": 300, "local": False}))
    assert isinstance(model, MockModel)
    assert model.context_size == 300
    assert model.capabilities.local is False
    assert model.capabilities.json_schema is True


# --------------------------------------------------------------------------- the mock backend


def test_mock_answers_from_its_queue_and_keeps_every_call() -> None:
    model = MockModel(responses=["first"]).push("second")
    schema = {"type": "object"}
    streamed: list[str] = []
    one = model.complete(HELLO, schema=schema, on_text=streamed.append)
    two = model.complete(HELLO)
    assert (one.text, two.text) == ("first", "second")
    assert streamed == ["first"]
    assert model.calls == [(HELLO, schema), (HELLO, None)]
    assert isinstance(one, Completion)
    assert one.tokens_in == estimate_tokens("be brief") + estimate_tokens("say hi")
    assert one.tokens_out == estimate_tokens("first")


def test_mock_raises_queued_exceptions_and_calls_queued_functions() -> None:
    model = MockModel(
        responses=[LLMError("boom"), lambda messages, schema: f"{len(messages)} messages"]
    )
    with pytest.raises(LLMError, match="boom"):
        model.complete(HELLO)
    assert model.complete(HELLO).text == "2 messages"


def test_mock_fails_loudly_when_the_queue_is_empty_unless_it_has_a_default() -> None:
    with pytest.raises(LLMError, match="no answer queued"):
        MockModel().complete(HELLO)
    patient = MockModel(ModelConfig("m", "mock", options={"default": "again"}))
    assert [patient.complete(HELLO).text for _ in range(3)] == ["again"] * 3


def test_mock_reports_a_length_finish_past_max_tokens() -> None:
    model = MockModel(responses=["x" * 40, "x" * 40])
    assert model.complete(HELLO, max_tokens=5).finish_reason == "length"
    assert model.complete(HELLO, max_tokens=50).finish_reason == "stop"


def test_mock_close_is_recorded() -> None:
    model = MockModel()
    model.close()
    assert model.closed is True
