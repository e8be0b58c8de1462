"""Anthropic's Messages API: the cloud model escalations go to (every call is logged with its
estimated cost by the client).

Options: ``base_url`` (default :data:`DEFAULT_BASE_URL`), ``api_key_env`` (the variable
holding the key, default ``ANTHROPIC_API_KEY``; without a key the model cannot be built),
``timeout`` (seconds), ``n_ctx`` (default 200000). The API has no JSON Schema mode here: the
caller's prompt describes the answer and the client validates it. System messages go to the
request's top-level ``system`` field, the other turns to ``messages``.
"""

from __future__ import annotations

from specql.llm.backends.http import Answer, HTTPModel, Request, api_key, pick, usage_count
from specql.llm.base import Capabilities, LLMError, Message, ModelConfig

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
API_VERSION = "2023-06-01"
FINISH_REASONS = {"max_tokens": "length"}  # end_turn, stop_sequence... are "stop"


class AnthropicModel(HTTPModel):
    capabilities = Capabilities(streaming=False, json_schema=False, local=False)
    default_context = 200_000

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, config.option("base_url", DEFAULT_BASE_URL))
        self._key = api_key(config, config.option("api_key_env", DEFAULT_KEY_ENV), local=False)
        self.secrets = (self._key,)

    def request(
        self, messages: list[Message], schema: dict | None, max_tokens: int, temperature: float
    ) -> Request:
        body = {
            "model": self.config.model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
        }
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        if system:
            body["system"] = system
        headers = {"x-api-key": self._key, "anthropic-version": API_VERSION}
        return Request(f"{self.base_url}/v1/messages", body, headers)

    def parse(self, data: dict, where: str) -> Answer:
        blocks = pick(data, ("content",), where, list)
        texts = [
            pick(block, ("text",), where)
            for block in blocks
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        if not texts:
            raise LLMError(f"{where}: the answer has no text block in content")
        return Answer(
            text="".join(texts),
            finish_reason=FINISH_REASONS.get(data.get("stop_reason"), "stop"),
            tokens_in=usage_count(data, "input_tokens"),
            tokens_out=usage_count(data, "output_tokens"),
        )


__all__ = ["API_VERSION", "DEFAULT_BASE_URL", "DEFAULT_KEY_ENV", "AnthropicModel"]
