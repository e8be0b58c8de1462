"""Pattern parameters: their JSON Schema (Draft 2020-12), defaults, validation, CLI parsing.

Every pattern declares its parameters as an object schema. Before a template renders, the
parameters get the schema's ``default``s and are validated; all problems are reported in one
error so a user (or an LLM) fixes them in one go.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from specql.errors import SpecqlError

# Long values in jsonschema's messages (it quotes the instance) are cut to this.
_MAX_PROBLEM_CHARS = 200


def check_schema(schema: Any, *, what: str) -> None:
    """``schema`` is a valid Draft 2020-12 schema of an object (a pattern's parameters)."""
    _compiled(schema, what)


def _compiled(schema: Any, what: str) -> Draft202012Validator:
    if not isinstance(schema, dict):
        raise SpecqlError(f"{what}: the parameter schema must be a mapping")
    validator = _validator(json.dumps(schema, sort_keys=True, default=repr))
    if isinstance(validator, str):
        raise SpecqlError(f"{what}: {validator}")
    return validator


def _schema_problem(schema: dict) -> str | None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path)
        at = f" at {where}" if where else ""
        return f"invalid parameter schema{at}: {_cut(exc.message)}"
    if schema.get("type") != "object":
        return "the parameter schema must be an object schema (type: object)"
    return None


# Instantiating a pattern validates the same few schemas over and over, and checking a schema
# against the metaschema costs more than the validation itself: both are done once per schema
# text.
@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator | str:
    """The compiled validator of a schema, or the problem that makes the schema invalid."""
    schema = json.loads(schema_json)
    return _schema_problem(schema) or Draft202012Validator(schema)


def validate_params(schema: dict, params: Any, *, what: str) -> dict:
    """A new dict: ``params`` with the schema's defaults applied (top level and nested object
    properties), validated. Every problem goes into one SpecqlError."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise SpecqlError(f"{what}: parameters must be a mapping, got {type(params).__name__}")
    validator = _compiled(schema, what)
    result = copy.deepcopy(params)
    _apply_defaults(schema, result)
    problems = _unique(
        _describe(error)
        for error in sorted(validator.iter_errors(result), key=lambda e: list(map(str, e.path)))
    )
    if problems:
        raise SpecqlError(f"{what}: " + "; ".join(problems))
    return result


def _apply_defaults(schema: Any, value: Any) -> None:
    """Fill missing properties that have a ``default``, in objects and arrays of objects."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                _apply_defaults(prop, value[name])
    elif isinstance(value, list):
        for item in value:
            _apply_defaults(schema.get("items"), item)


def _describe(error: ValidationError) -> str:
    where = _path(error.absolute_path)
    if error.validator == "required":
        missing = next((n for n in error.validator_value if n not in error.instance), error.message)
        return f"missing required parameter {_join(where, missing)!r}"
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = set(error.schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in known)
        names = ", ".join(repr(_join(where, n)) for n in unknown)
        return f"unknown parameter{'s' if len(unknown) > 1 else ''} {names}"
    subject = f"parameter {where!r}" if where else "parameters"
    return f"{subject}: {_cut(error.message)}"


def _path(parts: Iterable[Any]) -> str:
    """``states.0.name`` -> ``states[0].name``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_PROBLEM_CHARS else text[: _MAX_PROBLEM_CHARS - 3] + "..."


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------- --param k=v


class _ParamLoader(yaml.SafeLoader):
    """YAML for one ``--param`` value: like safe_load, but a date stays text (it is not a JSON
    type) and only true/false are booleans (``--param answer=no`` is the text ``no``)."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_DROPPED_TAGS = {_BOOL_TAG, "tag:yaml.org,2002:timestamp"}
_ParamLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ParamLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

# NAME, or PATTERN.NAME where one command sets the parameters of several patterns (compose).
_PARAM_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_cli_params(items: Iterable[str]) -> dict:
    """``["states=[a, b]", "n=3", "flag=true", "label=Hello"]`` -> typed values, each value
    read as YAML (flow style for lists and mappings); an empty value is the empty text."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not _PARAM_NAME.match(name):
            raise SpecqlError(f"--param {item!r}: expected NAME=VALUE (e.g. states=[draft, done])")
        if name in params:
            raise SpecqlError(f"--param {name} given twice")
        try:
            value = yaml.load(text, Loader=_ParamLoader) if text.strip() else ""
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            raise SpecqlError(f"--param {name}: {reason} in {text!r:.80}") from None
        params[name] = value
    return params
