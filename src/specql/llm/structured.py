"""Structured output: task answers are pydantic models; their JSON Schema constrains the model
(a llama.cpp grammar or a server's schema mode) and every answer is validated against them.

Every array and string of an output schema must be bounded (``maxItems`` / ``maxLength``, or
an ``enum`` / ``const``): under a grammar a small base model otherwise goes on producing a
string or a list until ``max_tokens``. :func:`output_schema` refuses an unbounded one.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ValidationError

# An answer longer than this is not parsed at all (a runaway model, a hostile server).
MAX_ANSWER_CHARS = 32_000

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class UnboundedSchema(ValueError):
    """A task's output model has an array or string without a bound (a programming error)."""


def _inline(node, defs: dict, seen: tuple[str, ...] = ()):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen:
                raise UnboundedSchema(f"recursive output schema at {name}")
            return _inline(defs[name], defs, (*seen, name))
        return {
            key: _inline(value, defs, seen)
            for key, value in node.items()
            if key not in {"$defs", "title"}
        }
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    return node


def check_bounded(schema: dict, path: str = "$") -> None:
    """Raise :class:`UnboundedSchema` naming the first array or string without a bound."""
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    fixed = "enum" in schema or "const" in schema
    if "array" in kinds and "maxItems" not in schema:
        raise UnboundedSchema(f"{path}: array without maxItems")
    if "string" in kinds and not fixed and "maxLength" not in schema:
        raise UnboundedSchema(f"{path}: string without maxLength")
    for key, value in (schema.get("properties") or {}).items():
        check_bounded(value, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        check_bounded(schema["items"], f"{path}[]")
    for keyword in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(keyword) or []:
            check_bounded(option, path)


def output_schema(model: type[BaseModel]) -> dict:
    """The JSON Schema of ``model`` with references inlined and titles dropped (what grammar
    converters and servers handle best), checked to be bounded."""
    raw = model.model_json_schema()
    schema = _inline(raw, raw.get("$defs", {}))
    check_bounded(schema)
    return schema


def _json_text(text: str) -> str:
    """The JSON object in an answer: code fences and text around the outer braces dropped
    (models without a grammar like to add them)."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def _error_lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "answer"
        lines.append(f"{where}: {error['msg']}")
    return lines


def parse_answer(model: type[BaseModel], text: str) -> tuple[BaseModel | None, list[str]]:
    """``(value, [])`` for a valid answer, else ``(None, errors)``: one short line each, ready
    to be shown to the model when asking again."""
    if len(text) > MAX_ANSWER_CHARS:
        return None, [f"the answer is {len(text)} characters; at most {MAX_ANSWER_CHARS}"]
    body = _json_text(text.strip())
    if not body:
        return None, ["the answer is empty; a JSON object is expected"]
    try:
        data = json.loads(body)
    except ValueError as exc:
        return None, [f"the answer is not JSON: {exc}"]
    if not isinstance(data, dict):
        return None, [f"expected a JSON object, got {type(data).__name__}"]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, _error_lines(exc)


__all__ = [
    "MAX_ANSWER_CHARS",
    "UnboundedSchema",
    "check_bounded",
    "output_schema",
    "parse_answer",
]
