"""The one model interface every LLM feature uses, and the registry of backends.

A :class:`Model` turns chat messages into text. When it has the ``json_schema`` capability and
a schema is given, the text is constrained to that schema (a llama.cpp grammar, a server's
schema mode); otherwise the schema is only described in the prompt and the caller's
validation does all the work. Either way the answer is untrusted: :mod:`specql.llm.client`
validates it.

Backends are registered by name in :data:`BACKENDS` (``llamacpp``, ``openai``, ``anthropic``,
``mock``); :func:`create_model` builds one from a :class:`ModelConfig`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from specql.errors import SpecqlError


class LLMError(SpecqlError):
    """A model could not answer: not installed, missing file, no key, server down or garbage,
    timeout, prompt over the context size. One line, like every SpecqlError."""


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool = False  # complete() calls on_text with pieces as they are made
    json_schema: bool = False  # output constrained to a JSON Schema (not only asked for)
    local: bool = True  # runs on this machine (no per-token cost, no data leaves it)


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    finish_reason: str = "stop"  # stop | length


@dataclass(frozen=True)
class ModelConfig:
    """One configured model: a name (a key of the ``models:`` map of the config file), its
    backend, what the backend loads or asks for (a GGUF path, a server's model name) and the
    backend's options (context size, threads, base URL, timeout, prices...)."""

    name: str
    backend: str
    model: str = ""  # llamacpp: GGUF path ('' = the packaged default); HTTP: the model's name
    options: dict = field(default_factory=dict)

    def option(self, key: str, default=None):
        value = self.options.get(key)
        return default if value is None else value

    @property
    def ident(self) -> str:
        """What the log calls this model: backend and model."""
        return f"{self.backend}:{self.model or 'default'}"

    @property
    def cache_ident(self) -> str:
        """What the cache calls this model: two servers may serve models of one name."""
        base_url = self.option("base_url")
        return f"{self.ident}@{base_url}" if base_url else self.ident

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """Estimated US dollars of one call (``price_in`` / ``price_out`` are per million
        tokens; local models cost nothing)."""
        price_in = float(self.option("price_in", 0.0))
        price_out = float(self.option("price_out", 0.0))
        return (tokens_in * price_in + tokens_out * price_out) / 1_000_000


class Model(Protocol):
    config: ModelConfig
    capabilities: Capabilities

    @property
    def context_size(self) -> int:
        """Tokens the model sees at once, prompt and answer together."""

    def load(self) -> None:
        """Load the model now (``specql models test`` times it); the first call does it
        otherwise. Nothing to do for a server."""

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (an estimate where the backend cannot count)."""

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        """The model's answer to ``messages``; raises :class:`LLMError` when it cannot."""

    def close(self) -> None:
        """Free what the model holds (a loaded model, a connection pool)."""


def estimate_tokens(text: str) -> int:
    """A rough token count for backends that cannot count (about 4 characters a token)."""
    return max(1, (len(text) + 3) // 4)


# name -> "module:Class" (imported when first used: a backend's dependencies load only then)
BACKENDS: dict[str, str] = {
    "llamacpp": "specql.llm.backends.llamacpp:LlamaCppModel",
    "openai": "specql.llm.backends.openai:OpenAIModel",
    "anthropic": "specql.llm.backends.anthropic:AnthropicModel",
    "mock": "specql.llm.backends.mock:MockModel",
}


def register_backend(name: str, target: str | Callable[[ModelConfig], Model]) -> None:
    """Add a backend: ``target`` is ``"module:Class"`` or a factory taking a ModelConfig."""
    BACKENDS[name] = target  # type: ignore[assignment]


def backend_factory(name: str) -> Callable[[ModelConfig], Model]:
    target = BACKENDS.get(name)
    if target is None:
        raise LLMError(f"unknown model backend {name!r}; one of {', '.join(sorted(BACKENDS))}")
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def create_model(config: ModelConfig) -> Model:
    """The model ``config`` describes (loaded or connected lazily where the backend can)."""
    return backend_factory(config.backend)(config)


__all__ = [
    "BACKENDS",
    "Capabilities",
    "Completion",
    "LLMError",
    "Message",
    "Model",
    "ModelConfig",
    "backend_factory",
    "create_model",
    "estimate_tokens",
    "register_backend",
]
