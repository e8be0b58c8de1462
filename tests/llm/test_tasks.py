"""The tasks' own checks beyond their schemas (what a small model gets wrong: copying the
few-shot example, answering about something else, inventing names), and the schemas narrowed
to the context (the candidates, the names listed)."""

from __future__ import annotations

import json

import pytest

from specql.llm import prompts
from specql.llm.structured import check_bounded, output_schema, parse_answer
from specql.llm.tasks import (
    CONFIDENCE_VALUE,
    NONE_PATTERN,
    TASKS,
    BetterNames,
    FunctionIntent,
    PatternSuggestion,
    PatternVerdict,
    Rename,
    task,
)

SQL = "UPDATE sales.orders SET deleted_at = now() WHERE id = p_id"
CONTEXT = {
    "name": "sales.remove_order",
    "kind": "function",
    "features": ["updates orders"],
    "sql": SQL,
    "candidates": [
        {"name": "soft_delete", "description": "marks a row deleted"},
        {"name": "audit_trail", "description": "keeps the old and new values of a row"},
    ],
    "names": ["p1", "v_x"],
    "taken": ["p1", "v_x", "status"],
}


def intent(text: str) -> list[str]:
    # built without validation: these are the checks after the schema, tested on their own
    value = FunctionIntent.model_construct(intent=text, confidence="high")
    return task("intent").check(value, CONTEXT)


def renames(*pairs: tuple[str, str]) -> list[str]:
    value = BetterNames.model_construct(
        renames=[Rename.model_construct(old=o, new=n, reason="clearer") for o, n in pairs]
    )
    return task("names").check(value, CONTEXT)


def suggestion(pattern: str) -> list[str]:
    value = PatternSuggestion(pattern=pattern, confidence="medium", reason="it marks rows")
    return task("pattern_suggest").check(value, CONTEXT)


# --------------------------------------------------------------------------- the registry


def test_every_task_is_registered_under_its_name() -> None:
    assert set(TASKS) == {"intent", "names", "pattern_check", "pattern_suggest", "probe"}
    for name, registered in TASKS.items():
        assert registered.name == name and task(name) is registered
        assert registered.max_tokens > 0


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_few_shot_answer_is_a_valid_answer_of_its_task(name: str) -> None:
    examples = TASKS[name].examples
    assert examples, f"{TASKS[name].template} has no 'Answer: ' line"
    for example in examples:
        value, errors = parse_answer(TASKS[name].output, json.dumps(example))
        assert errors == [], example
        assert value is not None
    source = prompts.template_source(TASKS[name].template)
    assert source.count("Answer: {") == len(examples)


def test_confidence_words_are_ordered_numbers() -> None:
    assert CONFIDENCE_VALUE["low"] < CONFIDENCE_VALUE["medium"] < CONFIDENCE_VALUE["high"]
    assert all(0 < v < 1 for v in CONFIDENCE_VALUE.values())


# --------------------------------------------------------------------------- intent


def test_a_grounded_intent_is_accepted() -> None:
    assert intent("Marks an order deleted by setting its deleted_at time.") == []
    assert intent("Soft-deletes one of the sales orders by id.") == []


def test_an_intent_copied_from_the_example_is_refused() -> None:
    for example in task("intent").examples:
        copied = intent(example["intent"])
        assert "intent: copied from the example; describe this function" in copied
    reworded = intent("It returns the total of an invoice: the sum of quantity times unit price.")
    assert "intent: copied from the example; describe this function" in reworded


def test_an_intent_about_something_else_is_refused() -> None:
    errors = intent("Computes the monthly payroll for every employee.")
    assert errors == ["intent: name what this function works on (its tables, columns, values)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Updates orders\nand more.", "intent: one line, no line breaks"),
        ("sales.remove_order", "intent: say what the function does, not its name"),
        ("orders 12345678", "intent: a sentence of at least three words"),
    ],
)
def test_an_intent_must_be_one_sentence_about_what_it_does(text: str, expected: str) -> None:
    assert expected in intent(text)


# --------------------------------------------------------------------------- names


def test_good_renames_are_accepted() -> None:
    assert renames(("p1", "order_id"), ("v_x", "paid_total")) == []
    assert task("names").check(BetterNames(renames=[]), CONTEXT) == []


def test_a_rename_of_a_name_not_listed_is_refused() -> None:
    assert renames(("status", "order_status")) == [
        "renames.0.old: 'status' is not one of the names listed"
    ]


@pytest.mark.parametrize("new", ["OrderId", "order id", "1st_order", "order-id", "_order", "ordér"])
def test_a_rename_to_an_invalid_identifier_is_refused(new: str) -> None:
    [error] = renames(("p1", new))
    assert error.startswith(f"renames.0.new: {new!r} must be lower_snake_case")


def test_a_rename_that_clashes_is_refused() -> None:
    assert renames(("p1", "status")) == ["renames.0.new: 'status' is already used"]
    assert renames(("p1", "v_x")) == ["renames.0.new: 'v_x' is already used"]
    assert renames(("p1", "order_id"), ("v_x", "order_id")) == [
        "renames.1.new: 'order_id' is already used"
    ]


def test_the_names_schema_allows_only_the_names_listed() -> None:
    schema = task("names").schema(CONTEXT)
    check_bounded(schema)
    old = schema["properties"]["renames"]["items"]["properties"]["old"]
    assert old == {"type": "string", "enum": ["p1", "v_x"]}
    other = task("names").schema({**CONTEXT, "names": ["tmp"]})
    assert other["properties"]["renames"]["items"]["properties"]["old"]["enum"] == ["tmp"]


# --------------------------------------------------------------------------- patterns


def test_a_suggestion_must_be_a_candidate_or_none() -> None:
    assert suggestion("soft_delete") == []
    assert suggestion(NONE_PATTERN) == []
    assert suggestion("counter_cache") == [
        "pattern: 'counter_cache' is not one of soft_delete, audit_trail, none"
    ]


def test_the_suggestion_schema_is_the_candidates_and_none() -> None:
    schema = task("pattern_suggest").schema(CONTEXT)
    check_bounded(schema)
    assert schema["properties"]["pattern"] == {
        "type": "string",
        "enum": ["soft_delete", "audit_trail", NONE_PATTERN],
    }
    alone = task("pattern_suggest").schema({**CONTEXT, "candidates": []})
    assert alone["properties"]["pattern"]["enum"] == [NONE_PATTERN]
    # narrowing copies: one context's enum does not leak into the task's schema
    assert "enum" not in output_schema(PatternSuggestion)["properties"]["pattern"]
    assert schema["properties"]["pattern"]["enum"] == ["soft_delete", "audit_trail", NONE_PATTERN]


def test_a_verdict_needs_a_reason_in_words() -> None:
    check = task("pattern_check")
    wordless = PatternVerdict(implements=True, confidence="high", reason="...")
    assert check.check(wordless, CONTEXT) == ["reason: say why, in words"]
    worded = PatternVerdict(
        implements=True, confidence="high", reason="it sets deleted_at instead of deleting"
    )
    assert check.check(worded, CONTEXT) == []


@pytest.mark.parametrize(
    "intent, refused",
    [
        # one telling four-word run of the second example ("before it is saved"): a near copy
        ("Stamps an order with the time of shipping before it is saved.", True),
        ("Marks an order as shipped and records when it left.", False),
        # about the table the function writes (plural or not), not its name
        ("Adds a row to the shipments of a customer.", False),
        # about nothing this function touches
        ("Keeps a running balance of loyalty points.", True),
    ],
)
def test_an_intent_must_be_its_own_and_about_the_functions_name_or_tables(intent, refused):
    task = TASKS["intent"]
    context = {"name": "shop.ship_order", "tables": ["shop.shipment"]}
    errors = task.check(FunctionIntent.model_construct(intent=intent, confidence="high"), context)
    assert bool(errors) is refused, errors
