"""What the HTTP backends share: one JSON POST to a model server, and the shape of a model
that answers through one.

:func:`post_json` turns every way a server can fail — refused connection, timeout, an error
status, a body that is not JSON or is too big — into a one-line
:class:`~specql.llm.base.LLMError` naming the server's URL (without credentials or query
string). A server's answer is untrusted: its body is read up to :data:`MAX_RESPONSE_BYTES`,
an error body is quoted only as a short excerpt with control characters and the request's
secrets removed, and redirects are not followed (a redirect would carry the API key header
to wherever the server points).

:class:`HTTPModel` is the common part of :mod:`.openai` and :mod:`.anthropic`: options,
timing, token estimates when a server reports no usage; a backend supplies the request it
sends and how it reads the answer.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from specql.llm.base import (
    Capabilities,
    Completion,
    LLMError,
    Message,
    ModelConfig,
    estimate_tokens,
)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
EXCERPT_CHARS = 200
DEFAULT_TIMEOUT = 120.0  # seconds
_CHUNK = 64 * 1024
_SCHEMES = ("http", "https")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect())


def server_url(url: str) -> str:
    """``url`` as error messages show it: scheme, host, port and path only (a user:password or
    a key in the query string stays out of logs)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: check_base_url refuses it
        port = None
    netloc = f"{host}:{port}" if port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_base_url(url: str, model: str) -> str:
    """``url`` without a trailing slash, or an LLMError when it is not an http(s) URL (urllib
    would otherwise open ``file:`` URLs)."""
    parts = urllib.parse.urlsplit(str(url).strip())
    try:
        valid = parts.scheme in _SCHEMES and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise LLMError(f"model {model}: base_url must be an http(s) URL, got {server_url(url)!r}")
    return urllib.parse.urlunsplit(parts).rstrip("/")


def excerpt(data: bytes, secrets: Iterable[str] = (), limit: int = EXCERPT_CHARS) -> str:
    """A server's text made safe to show: one line of printable characters, the request's
    secrets masked, at most ``limit`` characters."""
    text = data.decode("utf-8", errors="replace")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_capped(response, limit: int, deadline: float, where: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise LLMError(f"{where}: the answer is {int(length)} bytes, over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise LLMError(f"{where}: the answer is over the {limit} byte limit")
        if time.monotonic() > deadline:
            raise TimeoutError
        chunks.append(chunk)
    return b"".join(chunks)


def post_json(
    url: str,
    body: dict,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_RESPONSE_BYTES,
    secrets: Iterable[str] = (),
) -> dict:
    """POST ``body`` as JSON to ``url``; the JSON object answered. Every failure is an
    LLMError naming the server; ``secrets`` (header values) never appear in one."""
    where = f"model server {server_url(url)}"
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
        },
    )
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            raw = _read_capped(response, max_bytes, deadline, where)
    except urllib.error.HTTPError as exc:
        detail = excerpt(_read_error_body(exc), secrets)
        raise LLMError(f"{where}: HTTP {exc.code}" + (f": {detail}" if detail else "")) from None
    except urllib.error.URLError as exc:
        raise _unreachable(where, exc.reason, timeout) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _unreachable(where, exc, timeout) from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        shown = excerpt(raw, secrets, 60)
        raise LLMError(f"{where}: the answer is not JSON ({shown or 'empty body'})") from None
    if not isinstance(data, dict):
        raise LLMError(f"{where}: the answer is JSON but not an object")
    return data


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(EXCERPT_CHARS * 4)
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        exc.close()


def _unreachable(where: str, reason, timeout: float) -> LLMError:
    if isinstance(reason, TimeoutError):
        return LLMError(f"{where}: no answer within {timeout:g} s (timeout)")
    if isinstance(reason, ConnectionRefusedError):
        return LLMError(f"{where}: connection refused (is the server running?)")
    detail = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return LLMError(f"{where}: cannot connect: {detail}")


_MISSING = object()


def pick(data, path: tuple[str | int, ...], where: str, kind: type = str):
    """``data[path[0]][path[1]]...`` when it is a ``kind``; otherwise an LLMError saying which
    field the answer lacks (a server that is not the API it claims to be)."""
    node = data
    for step in path:
        if isinstance(step, int):
            found = isinstance(node, list) and -len(node) <= step < len(node)
        else:
            found = isinstance(node, dict) and step in node
        if not found:
            node = _MISSING
            break
        node = node[step]
    if not isinstance(node, kind):
        field = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")
        raise LLMError(f"{where}: the answer has no {kind.__name__} at {field}")
    return node


def usage_count(data: dict, key: str) -> int | None:
    """``data["usage"][key]`` when the server reported it as a count, else None."""
    usage = data.get("usage")
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class Request:
    url: str
    body: dict
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """What a backend reads from a server's JSON (token counts None when not reported)."""

    text: str
    finish_reason: str = "stop"  # stop | length
    tokens_in: int | None = None
    tokens_out: int | None = None


def api_key(config: ModelConfig, variable: str | None, local: bool) -> str | None:
    """The key in the environment variable ``variable`` (None when no variable is named); when
    it is named but unset, an LLMError naming the variable (a key's value is never shown)."""
    if not variable:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        kind = "model" if local else "cloud model"
        raise LLMError(f"{kind} {config.name} needs an API key: set {variable}")
    return key


def positive_seconds(config: ModelConfig) -> float:
    value = config.option("timeout", DEFAULT_TIMEOUT)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0:
        raise LLMError(f"model {config.name}: timeout must be a positive number, got {value!r}")
    return seconds


class HTTPModel:
    """A model behind an HTTP API: a subclass sets :attr:`capabilities`, :attr:`base_url`,
    :attr:`default_context`, and writes :meth:`request` and :meth:`parse`. Each call is one
    request (no connection is kept, so :meth:`close` has nothing to free). Not streaming: a
    given ``on_text`` receives the whole answer as one piece."""

    capabilities = Capabilities(streaming=False, json_schema=False, local=False)
    default_context = 8192

    def __init__(self, config: ModelConfig, base_url: str) -> None:
        self.config = config
        self.base_url = check_base_url(base_url, config.name)
        self.timeout = positive_seconds(config)
        self.secrets: tuple[str, ...] = ()  # header values kept out of error messages

    @property
    def context_size(self) -> int:
        return int(self.config.option("n_ctx", self.default_context))

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def request(
        self, messages: list[Message], schema: dict | None, max_tokens: int, temperature: float
    ) -> Request:
        """What to send for one call."""
        raise NotImplementedError

    def parse(self, data: dict, where: str) -> Answer:
        """The answer in the server's JSON; an LLMError naming ``where`` when it is missing."""
        raise NotImplementedError

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
        request = self.request(messages, schema, max_tokens, temperature)
        data = post_json(
            request.url,
            request.body,
            headers=request.headers,
            timeout=self.timeout,
            secrets=self.secrets,
        )
        answer = self.parse(data, f"model server {server_url(request.url)}")
        if on_text is not None:
            on_text(answer.text)
        tokens_in = answer.tokens_in
        if tokens_in is None:
            tokens_in = sum(estimate_tokens(m.content) for m in messages)
        return Completion(
            text=answer.text,
            tokens_in=tokens_in,
            tokens_out=estimate_tokens(answer.text)
            if answer.tokens_out is None
            else answer.tokens_out,
            seconds=time.perf_counter() - start,
            finish_reason=answer.finish_reason,
        )

    def load(self) -> None:
        """Nothing to load: the server holds the model."""

    def close(self) -> None:
        """Nothing to free: every call opens and closes its own connection."""


__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "Answer",
    "HTTPModel",
    "Request",
    "api_key",
    "check_base_url",
    "excerpt",
    "pick",
    "post_json",
    "server_url",
    "usage_count",
]
