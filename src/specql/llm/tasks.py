"""The LLM tasks: what each asks, the pydantic model of its answer, and the checks an answer
must pass beyond its schema (their messages go back to the model when it is asked again).

Tasks are registered by name in :data:`TASKS`:

- ``intent``: one sentence saying what a legacy function does;
- ``names``: better names for a function's variables and parameters;
- ``pattern_check``: does this function implement library pattern X?
- ``pattern_suggest``: which library pattern (of the retrieved candidates), if any, the
  function's logic is an instance of;
- ``probe``: a tiny call for ``specql models test``.

Every string and list of an answer is bounded (:func:`specql.llm.structured.output_schema`
refuses a task otherwise). Confidence is a word (low / medium / high), not a number: a small
model under a grammar writes any digits it likes, but it must pick one of three words.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from specql.llm import prompts
from specql.llm.base import Message
from specql.llm.structured import output_schema
from specql.sqltext import identifier_words

Confidence = Literal["low", "medium", "high"]
CONFIDENCE_VALUE = {"low": 0.3, "medium": 0.6, "high": 0.9}
NONE_PATTERN = "none"
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_RENAMES = 4
EXAMPLE_ANSWER = "Answer: "  # how a template's few-shot answers start
COPY_OVERLAP = 0.5  # share of three-word runs an answer may have in common with an example
COPY_MIN_TRIGRAMS = 4
# Words of names that say nothing about what a function works on.
GENERIC_WORDS = frozenset(
    ["trg", "fn", "tg", "get", "set", "do", "run", "new", "old", "row", "the", "all", "tbl"]
)


class _Answer(BaseModel):
    model_config = {"extra": "forbid"}


# A sentence of words: under a grammar a small model otherwise fills the string with digits
# or underscores.
SENTENCE = r"^[A-Z][a-z]+( [A-Za-z_]+[,.:]?){3,28}$"


class FunctionIntent(_Answer):
    intent: Annotated[str, Field(min_length=12, max_length=160, pattern=SENTENCE)]
    confidence: Confidence


class Rename(_Answer):
    old: Annotated[str, Field(min_length=1, max_length=63)]
    new: Annotated[str, Field(min_length=1, max_length=40)]
    reason: Annotated[str, Field(max_length=60)]


class BetterNames(_Answer):
    renames: Annotated[list[Rename], Field(max_length=MAX_RENAMES)]


class PatternVerdict(_Answer):
    implements: bool
    confidence: Confidence
    reason: Annotated[str, Field(min_length=3, max_length=160)]


class PatternSuggestion(_Answer):
    pattern: Annotated[str, Field(min_length=1, max_length=63)]
    confidence: Confidence
    reason: Annotated[str, Field(max_length=160)]


class ProbeAnswer(_Answer):
    answer: Literal["yes", "no"]
    table: Annotated[str, Field(min_length=1, max_length=40)]


# --------------------------------------------------------------------------- checks


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{2,}", text)


def _check_intent(value: FunctionIntent, context: dict) -> list[str]:
    errors = []
    if "\n" in value.intent:
        errors.append("intent: one line, no line breaks")
    if len(_words(value.intent)) < 3:
        errors.append("intent: a sentence of at least three words")
    if value.intent.strip().lower() == str(context.get("name", "")).lower():
        errors.append("intent: say what the function does, not its name")
    if not _grounded(value.intent, context):
        errors.append("intent: name what this function works on (its tables, columns, values)")
    return errors


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _grounded(text: str, context: dict) -> bool:
    """Whether ``text`` names what the function works on: a word (plural or not) of its own
    name or of a table it touches, schemas left out. A sentence about something else — or a
    generic one that fits every function — is not about this one."""
    names = [str(context.get("name", "")), *context.get("tables", ())]
    subjects = {
        _stem(w) for name in names for w in identifier_words(name.rpartition(".")[2]).split()
    }
    subjects = {w for w in subjects if len(w) >= 3 and w not in GENERIC_WORDS}
    return bool(subjects & {_stem(w) for w in _words(text)})


def _check_names(value: BetterNames, context: dict) -> list[str]:
    known = set(context.get("names", ()))
    taken = known | set(context.get("taken", ()))
    errors = []
    seen: set[str] = set()
    for i, rename in enumerate(value.renames):
        where = f"renames.{i}"
        if rename.old not in known:
            errors.append(f"{where}.old: {rename.old!r} is not one of the names listed")
        if not IDENTIFIER.match(rename.new):
            errors.append(
                f"{where}.new: {rename.new!r} must be lower_snake_case letters, digits, _"
            )
        elif rename.new in taken - {rename.old} or rename.new in seen:
            errors.append(f"{where}.new: {rename.new!r} is already used")
        seen.add(rename.new)
    return errors


def _check_verdict(value: PatternVerdict, context: dict) -> list[str]:
    return [] if _words(value.reason) else ["reason: say why, in words"]


def _candidate_names(context: dict) -> list[str]:
    """The names of the retrieved patterns the prompt offers (``candidates``)."""
    return [candidate["name"] for candidate in context.get("candidates", ())]


def _check_suggestion(value: PatternSuggestion, context: dict) -> list[str]:
    allowed = [*_candidate_names(context), NONE_PATTERN]
    if value.pattern not in allowed:
        return [f"pattern: {value.pattern!r} is not one of {', '.join(allowed)}"]
    return []


def _no_checks(value, context: dict) -> list[str]:
    return []


def _texts(value, path: str = "") -> list[tuple[str, str]]:
    """Every string of an answer (or an example answer's data) with its path."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{path}.{i}")]
    return []


def _runs(text: str, n: int) -> set[tuple[str, ...]]:
    """The runs of ``n`` consecutive words of ``text``, lowercased."""
    words = [w.lower() for w in _words(text)]
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _telling(run: tuple[str, ...]) -> bool:
    """A run with a word of five letters or more: "before it is saved" says something, "the id
    of the" does not."""
    return any(len(w) >= 5 for w in run)


def copied_from_examples(value: BaseModel, examples: list[dict]) -> list[str]:
    """Free-text fields that repeat a few-shot example's text (a small model's favourite
    answer, often with a word or two changed): the same sentence, most of its three-word runs,
    or one of its telling four-word runs."""
    errors = []
    example_texts = [text for example in examples for _, text in _texts(example)]
    for path, text in _texts(value):
        if len(_words(text)) < 3:
            continue
        grams = _runs(text, 3)
        fours = {run for run in _runs(text, 4) if _telling(run)}
        for example in example_texts:
            other = _runs(example, 3)
            # short texts share a phrase by chance ("the id of the ..."): only equality counts
            long_enough = min(len(grams), len(other)) >= COPY_MIN_TRIGRAMS
            overlap = len(grams & other) / max(1, min(len(grams), len(other)))
            if (
                text.strip().lower() == example.strip().lower()
                or (long_enough and overlap >= COPY_OVERLAP)
                or fours & _runs(example, 4)
            ):
                errors.append(f"{path}: copied from the example; describe this function")
                break
    return errors


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    name: str
    output: type[BaseModel]
    template: str  # file in specql/llm/prompts
    max_tokens: int
    checks: Callable[[BaseModel, dict], list[str]] = _no_checks
    # context -> schema changes (e.g. the allowed pattern names as an enum)
    narrow: Callable[[dict, dict], dict] | None = None

    def render(self, context: dict) -> list[Message]:
        return prompts.messages(self.template, context)

    def schema(self, context: dict) -> dict:
        schema = output_schema(self.output)
        return self.narrow(schema, context) if self.narrow is not None else schema

    def check(self, value: BaseModel, context: dict) -> list[str]:
        return self.checks(value, context) + copied_from_examples(value, self.examples)

    @property
    def examples(self) -> list[dict]:
        """The answers of the template's few-shot examples (its ``Answer: {...}`` lines)."""
        return _example_answers(self.template)


@functools.cache
def _example_answers(template: str) -> list[dict]:
    answers = []
    for line in prompts.template_source(template).splitlines():
        if line.startswith(EXAMPLE_ANSWER):
            answers.append(json.loads(line.removeprefix(EXAMPLE_ANSWER)))
    return answers


def _candidate_enum(schema: dict, context: dict) -> dict:
    names = [*_candidate_names(context), NONE_PATTERN]
    properties = dict(schema["properties"])
    properties["pattern"] = {"type": "string", "enum": names}
    return {**schema, "properties": properties}


def _old_name_enum(schema: dict, context: dict) -> dict:
    rename = schema["properties"]["renames"]["items"]
    properties = {**rename["properties"], "old": {"type": "string", "enum": list(context["names"])}}
    renames = {**schema["properties"]["renames"], "items": {**rename, "properties": properties}}
    return {**schema, "properties": {**schema["properties"], "renames": renames}}


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("intent", FunctionIntent, "intent.j2", 80, _check_intent),
        Task("names", BetterNames, "names.j2", 320, _check_names, _old_name_enum),
        Task("pattern_check", PatternVerdict, "pattern_check.j2", 80, _check_verdict),
        Task(
            "pattern_suggest",
            PatternSuggestion,
            "pattern_suggest.j2",
            80,
            _check_suggestion,
            _candidate_enum,
        ),
        Task("probe", ProbeAnswer, "probe.j2", 24),
    )
}


def task(name: str) -> Task:
    return TASKS[name]


__all__ = [
    "CONFIDENCE_VALUE",
    "IDENTIFIER",
    "NONE_PATTERN",
    "TASKS",
    "BetterNames",
    "FunctionIntent",
    "PatternSuggestion",
    "PatternVerdict",
    "ProbeAnswer",
    "Rename",
    "Task",
    "task",
]
