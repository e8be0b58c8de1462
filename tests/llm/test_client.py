"""Running a task with LLMClient on scripted mock models: validation and re-asking with the
errors, never raising for a model's failure, the context check before a call, the answer
cache, the call log, and escalation to the cloud model (only when allowed, under the run's
cost cap)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from specql.llm.backends.mock import MockModel
from specql.llm.base import BACKENDS, LLMError, ModelConfig
from specql.llm.client import OUTCOMES, LLMClient, MemoryCallStore
from specql.llm.config import CONFIG_FILE, LLMSettings, load_settings
from specql.llm.tasks import TASKS

PROBE = TASKS["probe"]
CHECK = TASKS["pattern_check"]
SQL = "UPDATE sales.orders SET deleted_at = now() WHERE id = p_id"
PROBE_CONTEXT = {"sql": SQL}
CHECK_CONTEXT = {
    "sql": SQL,
    "name": "sales.remove_order",
    "kind": "function",
    "features": ["updates orders"],
    "pattern": "soft_delete",
    "description": "marks a row deleted with a timestamp instead of removing it",
}
YES = json.dumps({"answer": "yes", "table": "sales.orders"})
NOT_YES_OR_NO = json.dumps({"answer": "maybe", "table": "sales.orders"})
CLOUD_PRICES = {"local": False, "price_in": 1000, "price_out": 1000}  # $0.001 a token


def verdict(confidence: str) -> str:
    return json.dumps(
        {
            "implements": True,
            "confidence": confidence,
            "reason": "it sets deleted_at on the order instead of removing the row",
        }
    )


def make_settings(tmp_path: Path, file: str = "retries: 2\n", **cli) -> LLMSettings:
    """Settings from a config file in ``tmp_path`` (two re-asks unless the file says)."""
    if file:
        (tmp_path / CONFIG_FILE).write_text(file, encoding="utf-8")
    return load_settings(tmp_path, env={}, **cli)


def local(*answers, **options) -> MockModel:
    return MockModel(ModelConfig("local", "mock", "local", options), answers)


def cloud(*answers, **options) -> MockModel:
    return MockModel(ModelConfig("c", "mock", "cloud", {**CLOUD_PRICES, **options}), answers)


def failing_local() -> MockModel:
    return local(default="not an answer")


# --------------------------------------------------------------------------- one task


def test_a_valid_first_answer(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(YES)
    client = LLMClient(make_settings(tmp_path), store=store, model=model)
    result = client.run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.ok, result.attempts) == ("valid", True, 1)
    assert (result.value.answer, result.value.table) == ("yes", "sales.orders")
    assert (result.model, result.source, result.cached, result.errors) == (
        "mock:local",
        "local",
        False,
        [],
    )
    messages, schema = model.calls[0]
    assert [m.role for m in messages] == ["system", "user"]
    assert schema == PROBE.schema(PROBE_CONTEXT)  # the mock has the json_schema capability
    [record] = store.records
    assert (record.task, record.backend, record.model) == ("probe", "mock", "mock:local")
    assert (record.outcome, record.attempt, record.cache_hit, record.escalated) == (
        "valid",
        1,
        False,
        False,
    )
    assert record.tokens_in > 0 and record.tokens_out > 0
    assert record.error is None and record.cost_usd == 0.0
    assert record.run_id == client.run_id


def test_a_model_without_schema_support_gets_no_schema(tmp_path: Path) -> None:
    model = local(YES, json_schema=False)
    assert LLMClient(make_settings(tmp_path), model=model).run(PROBE, PROBE_CONTEXT).ok
    assert model.calls[0][1] is None


def test_an_invalid_answer_is_asked_again_with_its_errors(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(NOT_YES_OR_NO, YES)
    result = LLMClient(make_settings(tmp_path), store=store, model=model).run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.attempts, result.value.answer) == ("valid", 2, "yes")
    assert result.errors == ["answer: Input should be 'yes' or 'no'"]
    first, second = (messages for messages, _ in model.calls)
    assert second[: len(first)] == first
    assistant, retry = second[len(first) :]
    assert (assistant.role, assistant.content) == ("assistant", NOT_YES_OR_NO)
    assert retry.role == "user"
    assert "- answer: Input should be 'yes' or 'no'" in retry.content
    assert [r.outcome for r in store.records] == ["invalid", "valid"]
    assert [r.attempt for r in store.records] == [1, 2]
    assert store.records[0].error == "answer: Input should be 'yes' or 'no'"
    hashes = [r.prompt_hash for r in store.records]
    assert hashes[0] != hashes[1]  # the second prompt is a longer conversation
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in hashes)


def test_a_task_check_failure_is_asked_again_like_a_schema_error(tmp_path: Path) -> None:
    copied = json.dumps(TASKS["intent"].examples[0])
    good = json.dumps(
        {"intent": "Marks an order deleted by setting its deleted_at time.", "confidence": "high"}
    )
    model = local(copied, good)
    context = {**CHECK_CONTEXT, "candidates": []}
    result = LLMClient(make_settings(tmp_path), model=model).run(TASKS["intent"], context)
    assert result.outcome == "valid"
    assert any("copied from the example" in e for e in result.errors)
    assert "copied from the example" in model.calls[1][0][-1].content


def test_a_never_valid_answer_ends_invalid_after_the_retries(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = failing_local()
    result = LLMClient(make_settings(tmp_path), store=store, model=model).run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.value, result.ok, result.attempts) == ("invalid", None, False, 3)
    assert len(model.calls) == 3
    assert [r.outcome for r in store.records] == ["invalid"] * 3
    assert len(result.errors) == 3 and all("not JSON" in e for e in result.errors)


def test_the_number_of_retries_comes_from_the_settings(tmp_path: Path) -> None:
    model = failing_local()
    settings = make_settings(tmp_path, "retries: 0\n")
    assert LLMClient(settings, model=model).run(PROBE, PROBE_CONTEXT).attempts == 1
    assert len(model.calls) == 1


def test_a_model_error_is_an_error_outcome_not_an_exception(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(LLMError("server at http://127.0.0.1:1 is down"))
    result = LLMClient(make_settings(tmp_path), store=store, model=model).run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.value) == ("error", None)
    assert result.errors == ["server at http://127.0.0.1:1 is down"]
    assert len(model.calls) == 1  # a failed call is not re-asked
    [record] = store.records
    assert (record.outcome, record.error) == ("error", "server at http://127.0.0.1:1 is down")


def test_a_model_that_cannot_be_built_is_an_error_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(config: ModelConfig):
        raise LLMError(f"model file {config.model} not found")

    monkeypatch.setitem(BACKENDS, "broken", missing)
    store = MemoryCallStore()
    client = LLMClient(make_settings(tmp_path, model="broken:/m/x.gguf"), store=store)
    result = client.run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.errors) == ("error", ["model file /m/x.gguf not found"])
    [record] = store.records
    assert (record.backend, record.model, record.outcome) == ("broken", "broken:/m/x.gguf", "error")
    assert record.latency_ms is None  # no model was called: no latency to count in the stats


def test_a_prompt_over_the_context_is_refused_without_a_call(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(YES, n_ctx=100)
    result = LLMClient(make_settings(tmp_path), store=store, model=model).run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.value) == ("error", None)
    assert model.calls == []
    [error] = result.errors
    assert "does not fit the model's context of 100" in error
    assert f"with {PROBE.max_tokens} for the answer" in error
    assert [(r.outcome, r.latency_ms) for r in store.records] == [("error", None)]


def test_a_re_ask_that_outgrows_the_context_stops(tmp_path: Path) -> None:
    model = local("nope", YES)
    first_prompt = sum(model.count_tokens(m.content) for m in PROBE.render(PROBE_CONTEXT))
    model.config.options["n_ctx"] = first_prompt + PROBE.max_tokens + 5
    result = LLMClient(make_settings(tmp_path), model=model).run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.attempts, len(model.calls)) == ("error", 2, 1)
    assert "does not fit" in result.errors[-1]


# --------------------------------------------------------------------------- cache


def test_the_same_task_and_context_is_answered_from_the_cache(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(YES)
    client = LLMClient(make_settings(tmp_path), store=store, model=model)
    first = client.run(PROBE, PROBE_CONTEXT)
    second = client.run(PROBE, PROBE_CONTEXT)
    assert len(model.calls) == 1
    assert second.value == first.value
    assert (first.cached, second.cached) == (False, True)
    assert [r.cache_hit for r in store.records] == [False, True]
    assert store.records[1].tokens_in == store.records[1].tokens_out == 0
    assert store.records[0].latency_ms >= 0 and store.records[1].latency_ms is None
    assert store.records[0].prompt_hash == store.records[1].prompt_hash
    # the cache is the store's: another client (another run) with the same store hits it too
    again = LLMClient(make_settings(tmp_path), store=store, model=model).run(PROBE, PROBE_CONTEXT)
    assert again.cached and len(model.calls) == 1


def test_a_re_asked_conversation_is_replayed_from_the_cache(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(NOT_YES_OR_NO, YES)
    client = LLMClient(make_settings(tmp_path), store=store, model=model)
    client.run(PROBE, PROBE_CONTEXT)
    replay = client.run(PROBE, PROBE_CONTEXT)
    assert (replay.outcome, replay.attempts, replay.cached) == ("valid", 2, True)
    assert len(model.calls) == 2
    assert [r.cache_hit for r in store.records[2:]] == [True, True]


def test_another_model_or_schema_or_context_misses_the_cache(tmp_path: Path) -> None:
    store = MemoryCallStore()
    settings = make_settings(tmp_path)
    LLMClient(settings, store=store, model=local(YES)).run(PROBE, PROBE_CONTEXT)

    other_model = MockModel(ModelConfig("other", "mock", "other"), [YES])
    assert not LLMClient(settings, store=store, model=other_model).run(PROBE, PROBE_CONTEXT).cached
    assert len(other_model.calls) == 1

    narrowed = replace(PROBE, narrow=lambda schema, context: {**schema, "maxProperties": 2})
    same = local(YES)
    assert not LLMClient(settings, store=store, model=same).run(narrowed, PROBE_CONTEXT).cached
    assert len(same.calls) == 1  # same prompt, same model, another schema

    other_sql = local(YES)
    LLMClient(settings, store=store, model=other_sql).run(PROBE, {"sql": "SELECT 1"})
    assert len(other_sql.calls) == 1


def test_use_cache_false_always_asks_the_model(tmp_path: Path) -> None:
    store = MemoryCallStore()
    model = local(YES, YES)
    client = LLMClient(make_settings(tmp_path), store=store, model=model, use_cache=False)
    results = [client.run(PROBE, PROBE_CONTEXT) for _ in range(2)]
    assert len(model.calls) == 2
    assert [r.cached for r in results] == [False, False]
    assert [r.cache_hit for r in store.records] == [False, False]


# --------------------------------------------------------------------------- escalation


def test_without_use_cloud_nothing_is_escalated(tmp_path: Path) -> None:
    remote = cloud(default=YES)
    client = LLMClient(make_settings(tmp_path), model=failing_local(), cloud=remote)
    result = client.run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.source) == ("invalid", "local")
    assert remote.calls == []
    assert client.cloud_model() is None
    assert "cloud escalation is off" in client.cloud_unavailable


def test_a_failed_local_answer_goes_to_the_cloud_when_allowed(tmp_path: Path) -> None:
    store = MemoryCallStore()
    remote = cloud(YES)
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=10.0)
    client = LLMClient(settings, store=store, model=failing_local(), cloud=remote)
    result = client.run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.source, result.model) == ("valid", "cloud", "mock:cloud")
    assert result.value.answer == "yes"
    assert len(result.errors) == 3  # the local attempts' errors are kept
    assert [(r.model, r.escalated) for r in store.records] == [
        *[("mock:local", False)] * 3,
        ("mock:cloud", True),
    ]
    cloud_record = store.records[-1]
    expected = cloud_record.tokens_in * 0.001 + cloud_record.tokens_out * 0.001
    assert cloud_record.cost_usd == pytest.approx(expected)
    assert result.cost_usd == client.spent_usd == pytest.approx(expected)


def test_a_failed_escalation_keeps_both_errors(tmp_path: Path) -> None:
    remote = cloud(LLMError("cloud is down"))
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=10.0)
    result = LLMClient(settings, model=local(LLMError("local is down")), cloud=remote).run(
        PROBE, PROBE_CONTEXT
    )
    assert (result.outcome, result.source) == ("error", "cloud")
    assert result.errors == ["local is down", "cloud is down"]


@pytest.mark.parametrize(
    ("confidence", "escalated"), [("low", True), ("medium", False), ("high", False)]
)
def test_a_valid_answer_below_min_confidence_is_escalated(
    tmp_path: Path, confidence: str, escalated: bool
) -> None:
    remote = cloud(verdict("high"))
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=10.0)
    result = LLMClient(settings, model=local(verdict(confidence)), cloud=remote).run(
        CHECK, CHECK_CONTEXT
    )
    assert result.outcome == "valid"
    assert len(remote.calls) == int(escalated)
    assert result.source == ("cloud" if escalated else "local")
    assert result.value.confidence == ("high" if escalated else confidence)


def test_min_confidence_comes_from_the_settings(tmp_path: Path) -> None:
    remote = cloud(verdict("high"))
    settings = make_settings(tmp_path, "min_confidence: 0.7\n", use_cloud=True, max_cost_usd=10.0)
    result = LLMClient(settings, model=local(verdict("medium")), cloud=remote).run(
        CHECK, CHECK_CONTEXT
    )
    assert result.source == "cloud" and len(remote.calls) == 1


def test_a_low_local_answer_is_kept_when_the_cloud_fails(tmp_path: Path) -> None:
    remote = cloud(LLMError("cloud is down"))
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=10.0)
    result = LLMClient(settings, model=local(verdict("low")), cloud=remote).run(
        CHECK, CHECK_CONTEXT
    )
    assert (result.outcome, result.source, result.value.confidence) == ("valid", "local", "low")


def test_the_cost_cap_skips_a_cloud_call_that_could_pass_it(tmp_path: Path) -> None:
    store = MemoryCallStore()
    remote = cloud(default=YES)
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=0.01)
    client = LLMClient(settings, store=store, model=failing_local(), cloud=remote)
    result = client.run(PROBE, PROBE_CONTEXT)
    assert remote.calls == []
    assert (result.outcome, result.source, result.value) == ("skipped", "cloud", None)
    assert "the run's cost cap of $0.0100 is reached" in result.errors[-1]
    assert (store.records[-1].outcome, store.records[-1].escalated) == ("skipped", True)
    assert client.spent_usd == 0.0


def test_spending_never_passes_the_cap(tmp_path: Path) -> None:
    remote = cloud(default=YES)
    prompt = sum(remote.count_tokens(m.content) for m in PROBE.render(PROBE_CONTEXT))
    one_call = remote.config.cost(prompt, PROBE.max_tokens)
    cap = round(2.5 * one_call, 4)  # room for two calls' estimates, not three
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=cap)
    client = LLMClient(settings, model=failing_local(), cloud=remote)
    outcomes = []
    for n in range(5):
        result = client.run(PROBE, {"sql": f"{SQL} AND n = {n}"})  # no cache hits
        outcomes.append(result.outcome)
        assert client.spent_usd <= cap
    assert outcomes[:2] == ["valid", "valid"]
    assert "skipped" in outcomes
    assert len(remote.calls) == outcomes.count("valid")


def test_a_skipped_local_call_is_not_escalated(tmp_path: Path) -> None:
    remote = cloud(default=YES)
    priced = local(default=YES, price_in=1000, price_out=1000)
    settings = make_settings(tmp_path, use_cloud=True, max_cost_usd=0.01)
    result = LLMClient(settings, model=priced, cloud=remote).run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.source) == ("skipped", "local")
    assert priced.calls == remote.calls == []


def test_a_cloud_model_without_its_key_keeps_the_local_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = make_settings(tmp_path, use_cloud=True)
    assert settings.cloud_model.backend == "anthropic"
    client = LLMClient(settings, model=failing_local())
    result = client.run(PROBE, PROBE_CONTEXT)
    assert (result.outcome, result.source, result.attempts) == ("invalid", "local", 3)
    assert client.cloud_model() is None
    assert "ANTHROPIC_API_KEY" in client.cloud_unavailable
    assert "needs an API key" in client.cloud_unavailable


# --------------------------------------------------------------------------- log and lifetime


def test_every_attempt_is_logged_with_the_run_id(tmp_path: Path) -> None:
    store = MemoryCallStore()
    client = LLMClient(
        make_settings(tmp_path), store=store, model=local(NOT_YES_OR_NO, YES), run_id="run-7"
    )
    client.run(PROBE, PROBE_CONTEXT)
    client.run(PROBE, {"sql": "SELECT 1"})  # nothing queued: an error, logged too
    assert [r.outcome for r in store.records] == ["invalid", "valid", "error"]
    for record in store.records:
        data = record.to_dict()
        assert data["run_id"] == "run-7"
        assert data["task"] == "probe"
        assert data["outcome"] in OUTCOMES
        assert (data["backend"], data["model"]) == ("mock", "mock:local")
        assert data["latency_ms"] >= 0  # each reached the model (the mock), even the error


def test_close_closes_only_the_models_the_client_made(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path, env={"SPECQL_CLOUD_MODEL": "mock"}, model="mock", use_cloud=True
    )
    made = LLMClient(settings)
    own_local, own_cloud = made.model, made.cloud_model()
    made.close()
    assert own_local.closed and own_cloud.closed

    given_local, given_cloud = local(), cloud()
    lent = LLMClient(settings, model=given_local, cloud=given_cloud)
    assert lent.model is given_local and lent.cloud_model() is given_cloud
    lent.close()
    assert not given_local.closed and not given_cloud.closed
