"""Property: whatever text arrives, load_text returns an Entity or raises SpecqlError."""

from __future__ import annotations

import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specql.dsl import model as m
from specql.dsl.loader import load_text
from specql.dsl.validator import validate
from specql.errors import SpecqlError

# 300 keeps the suite fast; raise it (e.g. 5000) when hunting for crashes.
EXAMPLES = int(os.environ.get("SPECQL_FUZZ_EXAMPLES", "300"))

KEYS = [
    "entity", "schema", "subdomain", "description", "fields", "patterns", "actions", "name",
    "params", "steps", "type", "nullable", "default", "pattern", *m.STEP_TYPES, "error",
    "message", "then", "else", "values", "as", "hard", "into", "store", "channel", "payload",
    "reason", "in", "do",
]  # fmt: skip
WORDS = [
    "Contact", "crm", "text", "email!", "enum(a, b) = a", "ref(Company)", "list(text)",
    "numeric(12,2)", "numeric(0)", "X SET a = 1", "X WHERE a = $id", "a = 1", "$id", "true",
    "null", "~", "0x1F", "1_000", "'q'", '"dq"', "|", ">", "&a", "*a", "!!str", "!tag", "?",
    "- ", "-", ":", "{", "}", "[", "]", ",", "#", "%YAML 1.1", "---", "...", "é", "\u2028",
    "\x85", "\t", "\\", "SELECT 1", "count(*)", "((", "))", "=", "!",
]  # fmt: skip
INDENTS = ["", " ", "  ", "    ", "      ", "\t"]

token = st.one_of(
    st.sampled_from(KEYS).map(lambda k: k + ":"),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
line = st.tuples(st.sampled_from(INDENTS), st.lists(token, max_size=6)).map(
    lambda t: t[0] + " ".join(t[1])
)
document = st.lists(line, max_size=25).map("\n".join)


def _structured(draw_lines: list[str]) -> str:
    return "entity: Thing\nschema: crm\n" + "\n".join(draw_lines)


structured = st.lists(line, max_size=25).map(_structured)


def _check(text: str) -> None:
    try:
        result = load_text(text, "fuzz.yaml")
    except SpecqlError as err:
        rendered = str(err)
        assert rendered.startswith("fuzz.yaml:")
        for one in getattr(err, "errors", [err]):
            assert "\n" not in str(one)
        return
    assert isinstance(result, m.Entity)
    # Whatever loads must also validate without crashing (problems are fine).
    for problem in validate([result]):
        assert "\n" not in str(problem)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_random_yamlish_text_never_crashes_the_loader(text: str) -> None:
    _check(text)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured)
def test_random_spec_bodies_never_crash_the_loader(text: str) -> None:
    _check(text)


# Well-formed YAML of the right overall shape with random content: reaches the step,
# field and pattern readers rather than stopping at the YAML parser.
leaf = st.one_of(
    st.sampled_from(WORDS), st.text(max_size=8), st.integers(), st.booleans(), st.none()
)
tree = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    ),
    max_leaves=20,
)
step = st.dictionaries(st.sampled_from(KEYS), tree, min_size=1, max_size=4)
spec = st.fixed_dictionaries(
    {"entity": st.sampled_from(["Thing", "thing", "X"]), "schema": st.just("crm")},
    optional={
        "fields": st.dictionaries(st.sampled_from(["a", "b", "no"]), tree, max_size=3),
        "patterns": st.lists(tree, max_size=2),
        "actions": st.lists(
            st.fixed_dictionaries(
                {"name": st.just("act"), "steps": st.lists(step, max_size=4)},
                optional={"params": tree},
            ),
            max_size=2,
        ),
        "description": tree,
    },
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec, st.sampled_from([None, True]))
def test_random_well_formed_specs_never_crash_the_loader(data: dict, flow: bool | None) -> None:
    _check(yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True, sort_keys=False))
