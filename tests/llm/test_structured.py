"""Output schemas are bounded (a grammar-constrained small model otherwise writes until
max_tokens) and self-contained; answers are parsed leniently around the JSON object and
strictly inside it, every problem one short line the model can be shown."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from specql.llm.structured import (
    MAX_ANSWER_CHARS,
    UnboundedSchema,
    check_bounded,
    output_schema,
    parse_answer,
)
from specql.llm.tasks import TASKS

Short = Annotated[str, Field(max_length=20)]


class Inner(BaseModel):
    text: Short
    kind: Annotated[str, Field(max_length=10)] = "x"


class Outer(BaseModel):
    inner: Inner
    items: Annotated[list[Inner], Field(max_length=3)]
    note: Short | None = None


class FreeText(BaseModel):
    title: Short
    body: str


class FreeList(BaseModel):
    tags: list[Short]


class NestedFree(BaseModel):
    inner: Annotated[list[FreeText], Field(max_length=2)]


class MaybeText(BaseModel):
    maybe: str | None = None


class Node(BaseModel):
    name: Short
    children: Annotated[list[Node], Field(max_length=2)]


class Answer(BaseModel):
    model_config = {"extra": "forbid"}
    answer: Annotated[str, Field(max_length=10)]
    count: int


def nodes(schema) -> list[dict]:
    """Every mapping in a schema, depth first."""
    if isinstance(schema, dict):
        return [schema, *(n for v in schema.values() for n in nodes(v))]
    if isinstance(schema, list):
        return [n for v in schema for n in nodes(v)]
    return []


# --------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_output_schema_is_bounded_and_self_contained(name: str) -> None:
    schema = output_schema(TASKS[name].output)
    check_bounded(schema)
    for node in nodes(schema):
        assert not {"$ref", "$defs", "title"} & set(node), node
        types = node.get("type")
        if types == "string":
            assert "maxLength" in node or "enum" in node, node
        if types == "array":
            assert "maxItems" in node, node


def test_defs_are_inlined() -> None:
    raw = Outer.model_json_schema()
    assert "$defs" in raw  # pydantic refers to Inner; the output schema must not
    schema = output_schema(Outer)
    assert "$defs" not in json.dumps(schema) and "$ref" not in json.dumps(schema)
    inner = schema["properties"]["inner"]
    assert inner["properties"]["text"] == {"maxLength": 20, "type": "string"}
    assert schema["properties"]["items"]["items"] == inner
    assert schema["properties"]["items"]["maxItems"] == 3


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (FreeText, "$.body: string without maxLength"),
        (FreeList, "$.tags: array without maxItems"),
        (NestedFree, "$.inner[].body: string without maxLength"),
        (MaybeText, "$.maybe: string without maxLength"),
    ],
)
def test_an_unbounded_string_or_list_is_refused_with_its_path(
    model: type[BaseModel], path: str
) -> None:
    with pytest.raises(UnboundedSchema) as exc:
        output_schema(model)
    assert str(exc.value) == path


def test_a_recursive_model_is_refused() -> None:
    with pytest.raises(UnboundedSchema, match="recursive output schema at Node"):
        output_schema(Node)


def test_enums_and_consts_count_as_bounded() -> None:
    check_bounded({"type": "string", "enum": ["a", "b"]})
    check_bounded({"type": "string", "const": "a"})
    with pytest.raises(UnboundedSchema, match=r"^\$: string"):
        check_bounded({"type": ["string", "null"]})


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    "text",
    [
        '{"answer": "yes", "count": 2}',
        '  {"answer": "yes", "count": 2}\n',
        '```json\n{"answer": "yes", "count": 2}\n```',
        '```\n{"answer": "yes", "count": 2}\n```',
        'Sure! Here is the JSON: {"answer": "yes", "count": 2} Hope this helps.',
    ],
)
def test_a_valid_answer_is_found_around_fences_and_chatter(text: str) -> None:
    value, errors = parse_answer(Answer, text)
    assert errors == []
    assert value == Answer(answer="yes", count=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the answer is empty; a JSON object is expected"),
        ("   \n ", "the answer is empty; a JSON object is expected"),
        ("yes, two", "the answer is not JSON: "),
        ('{"answer": "yes", "count": 2', "the answer is not JSON: "),
        ("[1, 2]", "expected a JSON object, got list"),
        ('"yes"', "expected a JSON object, got str"),
        ("42", "expected a JSON object, got int"),
    ],
)
def test_an_answer_that_is_no_object_says_why(text: str, expected: str) -> None:
    value, errors = parse_answer(Answer, text)
    assert value is None
    assert len(errors) == 1
    assert errors[0].startswith(expected)
    assert "\n" not in errors[0]


def test_schema_errors_are_field_colon_message_lines() -> None:
    value, errors = parse_answer(Answer, '{"answer": "far too long an answer", "extra": 1}')
    assert value is None
    assert sorted(errors) == [
        "answer: String should have at most 10 characters",
        "count: Field required",
        "extra: Extra inputs are not permitted",
    ]


def test_nested_errors_name_the_whole_path() -> None:
    value, errors = parse_answer(Outer, '{"inner": {"text": 5}, "items": [{"kind": "k"}]}')
    assert value is None
    assert sorted(errors) == [
        "inner.text: Input should be a valid string",
        "items.0.text: Field required",
    ]


def test_an_answer_over_the_limit_is_not_parsed() -> None:
    text = '{"answer": "yes", "count": 2}' + " " * MAX_ANSWER_CHARS
    value, errors = parse_answer(Answer, text)
    assert value is None
    assert errors == [f"the answer is {len(text)} characters; at most {MAX_ANSWER_CHARS}"]
    at_limit = '{"answer": "yes", "count": 2}'.ljust(MAX_ANSWER_CHARS)
    assert parse_answer(Answer, at_limit)[0] is not None
