"""Pattern parameters: schema check, defaults, validation with all problems at once, --param."""

from __future__ import annotations

import time

import pytest

from specql.errors import SpecqlError
from specql.patterns.params import check_schema, parse_cli_params, validate_params

WHAT = "pattern state_machine"

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["states", "transitions"],
    "properties": {
        "field": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$", "default": "status"},
        "states": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "transitions": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "mode": {"enum": ["strict", "lenient"], "default": "strict"},
        "history": {
            "type": "object",
            "default": {},
            "properties": {
                "enabled": {"type": "boolean", "default": True},
                "table": {"type": "string"},
            },
        },
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"op": {"enum": ["eq", "ne"], "default": "eq"}},
            },
        },
    },
}

GOOD = {"states": ["draft", "done"], "transitions": {"draft": ["done"]}}


def problems(params) -> str:
    with pytest.raises(SpecqlError) as caught:
        validate_params(SCHEMA, params, what=WHAT)
    return str(caught.value)


def test_defaults_are_applied_at_top_level_and_nested():
    result = validate_params(SCHEMA, {**GOOD, "steps": [{}, {"op": "ne"}]}, what=WHAT)
    assert result == {
        **GOOD,
        "field": "status",
        "mode": "strict",
        "history": {"enabled": True},
        "steps": [{"op": "eq"}, {"op": "ne"}],
    }


def test_given_values_win_over_defaults_and_the_input_is_not_changed():
    params = {**GOOD, "history": {"enabled": False}}
    result = validate_params(SCHEMA, params, what=WHAT)
    assert result["history"] == {"enabled": False}
    assert params == {**GOOD, "history": {"enabled": False}}
    result["states"].append("x")
    assert params["states"] == ["draft", "done"], "a new dict, not a shallow copy"


def test_missing_required_parameter():
    assert problems({"states": ["a", "b"]}) == (f"{WHAT}: missing required parameter 'transitions'")


def test_wrong_type():
    message = problems({**GOOD, "states": "x"})
    assert message == f"{WHAT}: parameter 'states': 'x' is not of type 'array'"


def test_enum():
    assert "parameter 'mode': 'fast' is not one of ['strict', 'lenient']" in problems(
        {**GOOD, "mode": "fast"}
    )


def test_nested_paths_are_named():
    assert "parameter 'transitions.draft[0]': 3 is not of type 'string'" in problems(
        {**GOOD, "transitions": {"draft": [3]}}
    )


def test_unknown_parameters_are_errors_when_the_schema_closes_the_object():
    assert problems({**GOOD, "colour": 1, "size": 2}) == (
        f"{WHAT}: unknown parameters 'colour', 'size'"
    )


def test_every_problem_is_in_one_message():
    message = problems({"states": "x", "colour": 1})
    assert message.startswith(f"{WHAT}: ")
    assert "missing required parameter 'transitions'" in message
    assert "parameter 'states': 'x' is not of type 'array'" in message
    assert "unknown parameter 'colour'" in message
    assert message.count(";") == 2


def test_a_default_that_breaks_the_schema_is_reported():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": "x"}}}
    with pytest.raises(SpecqlError, match="parameter 'n': 'x' is not of type 'integer'"):
        validate_params(schema, {}, what=WHAT)


def test_parameters_must_be_a_mapping():
    with pytest.raises(SpecqlError, match="parameters must be a mapping"):
        validate_params(SCHEMA, ["a"], what=WHAT)


def test_no_parameters_means_an_empty_mapping():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}}
    assert validate_params(schema, None, what=WHAT) == {"n": 1}


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "properties": {"n": {"type": "integr"}}}, "invalid parameter schema"),
        ({"type": "object", "required": "n"}, "invalid parameter schema"),
        ({"type": "array"}, "must be an object schema"),
        ({"properties": {}}, "must be an object schema"),
        ([], "must be a mapping"),
    ],
)
def test_bad_schemas_are_refused(schema, reason):
    with pytest.raises(SpecqlError, match=reason):
        check_schema(schema, what=WHAT)
    with pytest.raises(SpecqlError, match=reason):
        validate_params(schema, {}, what=WHAT)


def test_check_schema_accepts_an_object_schema():
    check_schema(SCHEMA, what=WHAT)


# --------------------------------------------------------------------------- --param


def test_cli_params_are_typed_by_yaml():
    assert parse_cli_params(
        [
            "states=[draft, done]",
            "n=3",
            "rate=0.5",
            "flag=true",
            "transitions={draft: [done]}",
            "label=Hello world",
            "quoted='3'",
            "empty=",
            "nothing=null",
        ]
    ) == {
        "states": ["draft", "done"],
        "n": 3,
        "rate": 0.5,
        "flag": True,
        "transitions": {"draft": ["done"]},
        "label": "Hello world",
        "quoted": "3",
        "empty": "",
        "nothing": None,
    }


def test_cli_params_keep_dates_and_yes_no_as_text():
    # YAML 1.1 would make these a date and a boolean: neither is what a user typed.
    assert parse_cli_params(["day=2024-01-31", "answer=no", "on_off=on"]) == {
        "day": "2024-01-31",
        "answer": "no",
        "on_off": "on",
    }


def test_cli_value_may_contain_equals_signs():
    assert parse_cli_params(["expr=a=b"]) == {"expr": "a=b"}


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        (["states"], "expected NAME=VALUE"),
        (["=3"], "expected NAME=VALUE"),
        (["1n=3"], "expected NAME=VALUE"),
        (["states=[a, b"], "--param states:"),
        (["n=1", "n=2"], "given twice"),
    ],
)
def test_malformed_cli_params(items, reason):
    with pytest.raises(SpecqlError, match=reason.replace("[", r"\[")):
        parse_cli_params(items)


def test_a_schema_is_checked_and_compiled_once():
    # Checking a schema against the metaschema takes milliseconds; instantiation validates the
    # same schema again and again, so repeated validations must not pay for it each time.
    validate_params(SCHEMA, GOOD, what=WHAT)
    started = time.perf_counter()
    for _ in range(200):
        validate_params(SCHEMA, GOOD, what=WHAT)
        check_schema(SCHEMA, what=WHAT)
    assert time.perf_counter() - started < 0.5
