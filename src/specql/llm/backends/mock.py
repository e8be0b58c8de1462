"""A deterministic model for tests of the logic around models (never a stand-in for one).

Answers come from a queue: each entry is the text to answer, an exception to raise, or a
callable ``(messages, schema) -> text``. Every call's messages and schema are kept in
``calls``. With an empty queue the answer is ``config.options["default"]`` when set, else an
:class:`~specql.llm.base.LLMError` (a test that asks more than it planned fails loudly).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from specql.llm.base import (
    Capabilities,
    Completion,
    LLMError,
    Message,
    ModelConfig,
    estimate_tokens,
)


class MockModel:
    def __init__(self, config: ModelConfig | None = None, responses=()) -> None:
        self.config = config or ModelConfig("mock", "mock")
        self.capabilities = Capabilities(
            streaming=True,
            json_schema=bool(self.config.option("json_schema", True)),
            local=bool(self.config.option("local", True)),
        )
        self.queue: deque = deque(responses)
        self.calls: list[tuple[list[Message], dict | None]] = []
        self.closed = False

    @property
    def context_size(self) -> int:
        return int(self.config.option("n_ctx", 4096))

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def push(self, *responses) -> MockModel:
        self.queue.extend(responses)
        return self

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        start = time.perf_counter()
        self.calls.append((list(messages), schema))
        if self.queue:
            answer = self.queue.popleft()
        elif self.config.option("default") is not None:
            answer = self.config.option("default")
        else:
            raise LLMError("mock model: no answer queued for this call")
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            answer = answer(messages, schema)
        text = str(answer)
        if on_text is not None:
            on_text(text)
        tokens_out = estimate_tokens(text)
        return Completion(
            text=text,
            tokens_in=sum(estimate_tokens(m.content) for m in messages),
            tokens_out=tokens_out,
            seconds=time.perf_counter() - start,
            finish_reason="length" if tokens_out > max_tokens else "stop",
        )

    def load(self) -> None:
        """Nothing to load."""

    def close(self) -> None:
        self.closed = True
