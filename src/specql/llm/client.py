"""Running a task on a model: prompt, cache, call, validate, re-ask, log, escalate.

:meth:`LLMClient.run` renders the task's prompt, then per attempt:

1. answers from the cache when this model already answered this exact prompt under this
   schema (key: model, prompt hash, schema hash, max_tokens) — without touching the model;
2. otherwise refuses a prompt that does not fit the model's context (an ``error`` outcome,
   no call) and a cloud call that could pass the run's cost cap (``skipped``);
3. otherwise calls the model;
4. validates the answer (schema, then the task's own checks); on failure the errors go back
   to the model in a new message, up to ``retries`` times.

Every attempt is one record in the call log (:class:`CallRecord`): task, backend, model, prompt
hash, tokens in/out, latency, cache hit, outcome, cost. A local result that failed or is
below ``min_confidence`` is escalated to the cloud model only when the settings allow it
(``use_cloud``), the cloud model has its key, and the cost cap is not reached.

The store behind the cache and the log is anything with the :class:`CallStore` methods (the
SQLite store implements them; :class:`MemoryCallStore` is for runs without one).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from specql.llm.base import LLMError, Message, Model, create_model
from specql.llm.config import LLMSettings
from specql.llm.structured import parse_answer
from specql.llm.tasks import CONFIDENCE_VALUE

if TYPE_CHECKING:
    from specql.llm.tasks import Task

OUTCOMES = ("valid", "invalid", "error", "skipped")


@dataclass
class CallRecord:
    task: str
    backend: str
    model: str
    prompt_hash: str
    outcome: str  # valid | invalid | error | skipped
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float | None = None  # None: no model was called (cache hit, refused)
    cache_hit: bool = False
    cost_usd: float = 0.0
    attempt: int = 1
    escalated: bool = False
    error: str | None = None  # one line: why the answer was refused or the call failed
    run_id: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class CallStore(Protocol):
    def cached_answer(self, key: str) -> str | None: ...

    def cache_answer(self, key: str, model: str, text: str) -> None: ...

    def log_call(self, record: CallRecord) -> None: ...


class MemoryCallStore:
    """A cache and log that live as long as the object (tests, runs without a store)."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.records: list[CallRecord] = []

    def cached_answer(self, key: str) -> str | None:
        return self.answers.get(key)

    def cache_answer(self, key: str, model: str, text: str) -> None:
        self.answers[key] = text

    def log_call(self, record: CallRecord) -> None:
        self.records.append(record)


@dataclass
class TaskResult:
    task: str
    value: BaseModel | None  # the validated answer; None when there is none
    outcome: str  # valid | invalid | error | skipped
    model: str = ""  # backend:model that gave the final answer
    source: str = "local"  # local | cloud
    attempts: int = 0
    cached: bool = False  # every attempt came from the cache
    errors: list[str] = field(default_factory=list)
    cost_usd: float = 0.0

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def confidence(self) -> float | None:
        """The answer's own confidence as a number (the tasks ask for a word)."""
        return CONFIDENCE_VALUE.get(getattr(self.value, "confidence", None))


def _hash(data) -> str:
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


RETRY_PROMPT = (
    "Your answer was not valid:\n{errors}\n"
    "Answer again with only the JSON object, following the schema."
)


class LLMClient:
    """Runs tasks for one run (the cost cap and the run id are per client)."""

    def __init__(
        self,
        settings: LLMSettings,
        store: CallStore | None = None,
        *,
        model: Model | None = None,
        cloud: Model | None = None,
        run_id: str | None = None,
        use_cache: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store if store is not None else MemoryCallStore()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.spent_usd = 0.0
        self._model = model
        self._cloud = cloud
        self.use_cache = use_cache  # False: always ask the model (still logged)
        self.cloud_unavailable: str | None = None  # why escalation cannot happen, once known
        self._created: list[Model] = []  # models this client made (and so closes)

    # ------------------------------------------------------------------ models

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = create_model(self.settings.model())
            self._created.append(self._model)
        return self._model

    def cloud_model(self) -> Model | None:
        """The escalation model, or None (with :attr:`cloud_unavailable` saying why)."""
        if not self.settings.use_cloud:
            self.cloud_unavailable = "cloud escalation is off (--use-cloud or use_cloud: true)"
            return None
        if self._cloud is None and self.cloud_unavailable is None:
            try:
                self._cloud = create_model(self.settings.cloud_model)
                self._created.append(self._cloud)
            except LLMError as exc:  # e.g. no key: the run goes on with local answers
                self.cloud_unavailable = exc.message
        return self._cloud

    def close(self) -> None:
        """Close the models this client made (a model passed in stays the caller's)."""
        for model in self._created:
            model.close()
        self._created.clear()

    # ------------------------------------------------------------------ running tasks

    def run(self, task: Task, context: dict) -> TaskResult:
        """The task's validated answer for ``context``, escalated when the policy says so.
        Never raises for a model's failure: the result's outcome and errors say what went
        wrong (a missing local model is an ``error`` outcome like a dead server)."""
        messages = task.render(context)
        try:
            model = self.model
        except LLMError as exc:
            result = TaskResult(task.name, None, "error", errors=[exc.message])
            self._log(task, None, messages, "error", error=exc.message)
        else:
            result = self._attempts(model, task, context, messages, escalated=False)
        if self._should_escalate(result):
            cloud = self.cloud_model()
            if cloud is not None:
                escalated = self._attempts(cloud, task, context, messages, escalated=True)
                escalated.source = "cloud"
                if escalated.ok or not result.ok:
                    escalated.errors = result.errors + escalated.errors
                    return escalated
        return result

    def _should_escalate(self, result: TaskResult) -> bool:
        if not self.settings.use_cloud:
            return False
        if not result.ok:
            return result.outcome != "skipped"
        confidence = result.confidence
        return confidence is not None and confidence < self.settings.min_confidence

    def _attempts(
        self, model: Model, task: Task, context: dict, messages: list[Message], escalated: bool
    ) -> TaskResult:
        schema = task.schema(context)
        config = model.config
        result = TaskResult(task.name, None, "invalid", model=config.ident)
        all_cached = True
        conversation = list(messages)
        for attempt in range(1, self.settings.retries + 2):
            result.attempts = attempt
            key = _hash(
                {
                    "model": config.cache_ident,
                    "prompt": [[m.role, m.content] for m in conversation],
                    "schema": _hash(schema),
                    "max_tokens": task.max_tokens,
                }
            )
            # A cached answer needs no model: it is looked up before the prompt is measured
            # (counting tokens loads a local model).
            text = self.store.cached_answer(key) if self.use_cache else None
            cache_hit = text is not None
            tokens_in = tokens_out = 0
            cost = 0.0
            start = time.perf_counter()
            if text is None:
                all_cached = False
                refused, error = self._refusal(model, conversation, task.max_tokens)
                if refused is not None:
                    self._log(task, model, conversation, refused, attempt, escalated, error=error)
                    result.outcome, result.errors = refused, [*result.errors, error]
                    break
                try:
                    completion = model.complete(
                        conversation,
                        schema=schema if model.capabilities.json_schema else None,
                        max_tokens=task.max_tokens,
                    )
                except LLMError as exc:
                    self._log(
                        task,
                        model,
                        conversation,
                        "error",
                        attempt,
                        escalated,
                        error=exc.message,
                        seconds=time.perf_counter() - start,
                    )
                    result.outcome, result.errors = "error", [*result.errors, exc.message]
                    break
                text = completion.text
                tokens_in, tokens_out = completion.tokens_in, completion.tokens_out
                cost = config.cost(tokens_in, tokens_out)
                self.spent_usd += cost
                result.cost_usd += cost
                self.store.cache_answer(key, config.ident, text)
            value, errors = parse_answer(task.output, text)
            if value is not None:
                errors = task.check(value, context)
            seconds = None if cache_hit else time.perf_counter() - start
            outcome = "valid" if not errors else "invalid"
            self._log(
                task,
                model,
                conversation,
                outcome,
                attempt,
                escalated,
                error="; ".join(errors)[:500] or None,
                seconds=seconds,
                cache_hit=cache_hit,
                tokens=(tokens_in, tokens_out),
                cost=cost,
            )
            if not errors:
                result.value, result.outcome = value, "valid"
                break
            result.errors = [*result.errors, *errors]
            conversation = [
                *conversation,
                Message("assistant", text[:2000]),
                Message("user", RETRY_PROMPT.format(errors="\n".join(f"- {e}" for e in errors))),
            ]
        result.cached = all_cached and result.attempts > 0
        return result

    def _refusal(
        self, model: Model, conversation: list[Message], max_tokens: int
    ) -> tuple[str | None, str]:
        """Why a call must not be made: ``("error", why)`` for a prompt that does not fit the
        model's context, ``("skipped", why)`` for one that could pass the run's cost cap;
        ``(None, "")`` when it may be made."""
        prompt_tokens = sum(model.count_tokens(m.content) for m in conversation)
        if prompt_tokens + max_tokens > model.context_size:
            return "error", (
                f"the prompt is {prompt_tokens} tokens; with {max_tokens} for the answer"
                f" it does not fit the model's context of {model.context_size}"
            )
        estimate = model.config.cost(prompt_tokens, max_tokens)
        if estimate and self.spent_usd + estimate > self.settings.max_cost_usd:
            return "skipped", (
                f"the run's cost cap of ${self.settings.max_cost_usd:.4f} is reached"
                f" (spent ${self.spent_usd:.4f}; this call could cost ${estimate:.4f})"
            )
        return None, ""

    def _log(
        self,
        task: Task,
        model: Model | None,
        messages: list[Message],
        outcome: str,
        attempt: int = 1,
        escalated: bool = False,
        *,
        error: str | None = None,
        seconds: float | None = None,
        cache_hit: bool = False,
        tokens: tuple[int, int] = (0, 0),
        cost: float = 0.0,
    ) -> None:
        config = model.config if model is not None else self.settings.model()
        self.store.log_call(
            CallRecord(
                task=task.name,
                backend=config.backend,
                model=config.ident,
                prompt_hash=_hash([[m.role, m.content] for m in messages])[:16],
                outcome=outcome,
                tokens_in=tokens[0],
                tokens_out=tokens[1],
                latency_ms=None if seconds is None else round(seconds * 1000, 2),
                cache_hit=cache_hit,
                cost_usd=cost,
                attempt=attempt,
                escalated=escalated,
                error=error,
                run_id=self.run_id,
            )
        )


ClientFactory = Callable[[], LLMClient]

__all__ = [
    "OUTCOMES",
    "CallRecord",
    "CallStore",
    "ClientFactory",
    "LLMClient",
    "MemoryCallStore",
    "TaskResult",
]
