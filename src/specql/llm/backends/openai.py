"""Any OpenAI-compatible chat server: Ollama, llama-server, vLLM, LM Studio (or OpenAI).

Options: ``base_url`` (else ``$SPECQL_OPENAI_BASE_URL``, else :data:`DEFAULT_BASE_URL`),
``timeout`` (seconds), ``api_key_env`` (the variable holding a key sent as a Bearer token),
``n_ctx`` (the context size the server's model has), ``schema_mode`` and ``local`` (false for
a server that is not this machine's or the team's: its calls then count as cloud calls).

``schema_mode``:

- ``json_schema`` (default): the schema goes in ``response_format`` and a server that
  supports it constrains the answer (llama-server, vLLM, Ollama, OpenAI);
- ``none``: nothing is sent; the prompt describes the answer and validation does the rest
  (servers that reject ``response_format``).
"""

from __future__ import annotations

import os

from specql.llm.backends.http import Answer, HTTPModel, Request, api_key, pick, usage_count
from specql.llm.base import Capabilities, LLMError, Message, ModelConfig

DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"
ENV_BASE_URL = "SPECQL_OPENAI_BASE_URL"
SCHEMA_MODES = ("json_schema", "none")
FINISH_REASONS = {"length": "length"}  # everything else (stop, content_filter...) is "stop"


class OpenAIModel(HTTPModel):
    def __init__(self, config: ModelConfig) -> None:
        base_url = config.option("base_url") or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        super().__init__(config, base_url)
        self.schema_mode = str(config.option("schema_mode", "json_schema"))
        if self.schema_mode not in SCHEMA_MODES:
            raise LLMError(
                f"model {config.name}: schema_mode {self.schema_mode!r} is not one of"
                f" {', '.join(SCHEMA_MODES)}"
            )
        self.capabilities = Capabilities(
            streaming=False,
            json_schema=self.schema_mode != "none",
            local=bool(config.option("local", True)),
        )
        self._key = api_key(config, config.option("api_key_env"), self.capabilities.local)
        self.secrets = (self._key,) if self._key else ()

    def request(
        self, messages: list[Message], schema: dict | None, max_tokens: int, temperature: float
    ) -> Request:
        body = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if schema is not None and self.capabilities.json_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        return Request(f"{self.base_url}/chat/completions", body, headers)

    def parse(self, data: dict, where: str) -> Answer:
        text = pick(data, ("choices", 0, "message", "content"), where)
        finish = data["choices"][0].get("finish_reason")
        return Answer(
            text=text,
            finish_reason=FINISH_REASONS.get(finish, "stop"),
            tokens_in=usage_count(data, "prompt_tokens"),
            tokens_out=usage_count(data, "completion_tokens"),
        )


__all__ = ["DEFAULT_BASE_URL", "ENV_BASE_URL", "SCHEMA_MODES", "OpenAIModel"]
