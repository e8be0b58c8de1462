"""Greedy decoding that checks the grammar against the likeliest tokens first, with the real
default model: it must give exactly the answers of llama.cpp's own grammar sampler (the
whole vocabulary checked at every step), for the real task prompts and for a schema the
model's own preferences fight, and fall back to the whole vocabulary when no candidate fits."""

from __future__ import annotations

import json

import pytest

from specql.llm.backends.grammar_first import GrammarFirstGreedy
from specql.llm.backends.llamacpp import transcript
from specql.llm.base import Message
from specql.llm.tasks import TASKS
from tests.llm.conftest import needs_local_model
from tests.llm.test_prompts import context

pytestmark = needs_local_model

COLOUR = {
    "type": "object",
    "properties": {"colour": {"type": "string", "enum": ["mauve", "ochre"]}},
    "required": ["colour"],
}


def _prompts() -> list[tuple[str, list[Message], dict]]:
    cases = [("colour", [Message("user", "Pick a colour for the sky.")], COLOUR)]
    for name in ("intent", "pattern_check", "names", "probe"):
        task = TASKS[name]
        ctx = context()
        cases.append((name, task.render(ctx), task.schema(ctx)))
    return cases


def _with_llama_cpps_grammar(gemma, messages: list[Message], schema: dict, max_tokens: int):
    llm = gemma.load()
    out = llm.create_completion(
        transcript(messages), max_tokens=max_tokens, temperature=0.0, grammar=gemma._grammar(schema)
    )
    return out["choices"][0]["text"]


@pytest.mark.parametrize(("name", "messages", "schema"), _prompts(), ids=lambda v: str(v)[:20])
def test_the_same_answer_as_llama_cpps_grammar_sampler(gemma, name, messages, schema) -> None:
    max_tokens = TASKS[name].max_tokens if name in TASKS else 24
    expected = _with_llama_cpps_grammar(gemma, messages, schema, max_tokens)
    completion = gemma.complete(messages, schema=schema, max_tokens=max_tokens)
    assert completion.text == expected
    if completion.finish_reason == "stop":
        json.loads(completion.text)  # a finished answer is a whole JSON value


def test_with_one_candidate_the_whole_vocabulary_decides_and_the_answer_is_the_same(
    gemma,
) -> None:
    messages = [Message("user", "Pick a colour for the sky.")]
    expected = _with_llama_cpps_grammar(gemma, messages, COLOUR, 24)
    llm = gemma.load()
    processor = GrammarFirstGreedy(llm, gemma._grammar(COLOUR), candidates=1)
    from llama_cpp import LogitsProcessorList

    try:
        out = llm.create_completion(
            transcript(messages),
            max_tokens=24,
            temperature=0.0,
            logits_processor=LogitsProcessorList([processor]),
        )
    finally:
        processor.close()
    assert out["choices"][0]["text"] == expected
    assert json.loads(expected)["colour"] in {"mauve", "ochre"}
    assert processor.full_checks > 0  # the enum value was never the model's own first choice


def test_streaming_under_a_schema_gives_the_same_answer(gemma) -> None:
    messages = [Message("user", "Pick a colour for the sky.")]
    whole = gemma.complete(messages, schema=COLOUR, max_tokens=24)
    pieces: list[str] = []
    streamed = gemma.complete(messages, schema=COLOUR, max_tokens=24, on_text=pieces.append)
    assert "".join(pieces) == streamed.text == whole.text


def test_sampling_keeps_llama_cpps_grammar(gemma) -> None:
    completion = gemma.complete(
        [Message("user", "Pick a colour for the sky.")],
        schema=COLOUR,
        max_tokens=24,
        temperature=0.9,
    )
    assert json.loads(completion.text)["colour"] in {"mauve", "ochre"}


def test_a_grammar_that_allows_nothing_ends_the_text_without_feeding_it_a_token(
    gemma, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ctypes

    import llama_cpp
    import numpy as np

    llm = gemma.load()
    processor = GrammarFirstGreedy(llm, gemma._grammar(COLOUR))
    accepted: list[int] = []

    def refuse_everything(sampler, candidates) -> None:
        array = ctypes.cast(candidates, ctypes.POINTER(llama_cpp.llama_token_data_array))[0]
        for i in range(array.size):
            array.data[i].logit = float("-inf")

    monkeypatch.setattr(llama_cpp, "llama_sampler_apply", refuse_everything)
    monkeypatch.setattr(llama_cpp, "llama_sampler_accept", lambda s, token: accepted.append(token))
    try:
        scores = np.random.default_rng(3).normal(size=llm.n_vocab()).astype(np.single)
        chosen = processor(None, scores)
    finally:
        processor.close()
    assert np.isfinite(chosen).sum() == 1 and np.argmax(chosen) == llm.token_eos()
    assert accepted == [] and processor.full_checks == 1
