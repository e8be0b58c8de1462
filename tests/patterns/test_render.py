"""The template sandbox: filters, what may be printed, caps, escapes, render_tree."""

from __future__ import annotations

import time

import pytest

from specql.errors import SpecqlError
from specql.patterns.expressions import EXPRESSION_PATTERNS, TEMPLATE_LANGUAGES, seed_rows
from specql.patterns.render import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    render_template,
    render_tree,
)

WHAT = "pattern state_machine, postgresql template"


def render(source: str, **context) -> str:
    return render_template(source, context, what=WHAT)


def render_error(source: str, **context) -> str:
    with pytest.raises(SpecqlError) as caught:
        render(source, **context)
    return str(caught.value)


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status", "status"),
        ("_private2", "_private2"),
        ("Order", '"Order"'),  # upper case is folded unless quoted
        ("select", '"select"'),  # reserved
        ("user", '"user"'),
        ("2fa", '"2fa"'),
        ('we"ird name', '"we""ird name"'),
    ],
)
def test_sql_ident_quotes_only_when_needed(name, expected):
    assert render("{{ n | sql_ident }}", n=name) == expected


@pytest.mark.parametrize("name", ["", "x" * 64, 3])
def test_sql_ident_refuses_non_identifiers(name):
    assert "sql_ident" in render_error("{{ n | sql_ident }}", n=name)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("it's", "'it''s'"),
        (42, "42"),
        (-1.5, "-1.5"),
        (True, "TRUE"),
        (False, "FALSE"),
        (None, "NULL"),
    ],
)
def test_sql_literal(value, expected):
    assert render("{{ v | sql_literal }}", v=value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["a"], "sql_list / sql_array"),
        (float("inf"), "no SQL literal"),
        ("a\x00b", "NUL"),
        ({"a": 1}, "no SQL literal"),
    ],
)
def test_sql_literal_refuses(value, reason):
    assert reason in render_error("{{ v | sql_literal }}", v=value)


def test_sql_list_and_array():
    assert render("IN ({{ v | sql_list }})", v=["a", "it's", 3]) == "IN ('a', 'it''s', 3)"
    assert render("{{ v | sql_array }}", v=["draft", "done"]) == "ARRAY['draft', 'done']"


@pytest.mark.parametrize("filter_name", ["sql_list", "sql_array"])
@pytest.mark.parametrize(("value", "reason"), [([], "empty list"), ("ab", "needs a list")])
def test_sql_list_and_array_refuse(filter_name, value, reason):
    assert reason in render_error(f"{{{{ v | {filter_name} }}}}", v=value)


@pytest.mark.parametrize(
    ("spec_type", "expected"),
    [
        ("numeric(12,2)", "NUMERIC(12,2)"),
        ("text", "TEXT"),
        ("email", "TEXT"),
        ("enum(a, b)", "TEXT"),
        ("datetime", "TIMESTAMPTZ"),
        ("ip_address", "INET"),
        ("ref(Company)", "UUID"),  # a variable holds the referenced row's public id
        ("list(integer)", "INTEGER[]"),
    ],
)
def test_sql_type_is_the_postgres_generators(spec_type, expected):
    assert render("{{ t | sql_type }}", t=spec_type) == expected


def test_sql_type_refuses_unknown_types():
    assert "unknown type 'strnig'" in render_error("{{ t | sql_type }}", t="strnig")


def test_py_ident():
    assert render("{{ n | py_ident }}", n="order_total") == "order_total"
    for bad in ("class", "2x", "a-b", "naïve", ""):
        assert "not a Python identifier" in render_error("{{ n | py_ident }}", n=bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("it's", '"it\'s"'),
        (42, "42"),
        (True, "True"),
        (None, "None"),
        (["a", 1], "['a', 1]"),
        ({"k": [None, 2.5]}, "{'k': [None, 2.5]}"),
    ],
)
def test_py_literal(value, expected):
    assert render("{{ v | py_literal }}", v=value) == expected


@pytest.mark.parametrize(("value", "reason"), [(float("nan"), "read back"), (object(), "plain")])
def test_py_literal_refuses(value, reason):
    assert reason in render_error("{{ v | py_literal }}", v=value)


def test_py_list():
    assert render("f({{ v | py_list }})", v=["a", 2, None]) == "f('a', 2, None)"
    assert render("[{{ v | py_list }}]", v=[]) == "[]"
    assert "needs a list" in render_error("{{ v | py_list }}", v="ab")


def test_snake_and_pascal():
    assert render("{{ 'OrderLine' | snake }} {{ 'order_line' | pascal }}") == "order_line OrderLine"
    assert render("{{ 'tier_2' | pascal }} {{ 'HTTPServer' | snake }}") == "Tier2 http_server"


@pytest.mark.parametrize(
    ("name", "language", "expected"),
    [
        ("eq", "postgresql", "="),
        ("ne", "postgresql", "<>"),
        ("ge", "django", "gte"),
        ("in", "sqlalchemy", "in_"),
        ("is_null", "python", "is None"),
        ("sum", "django", "Sum"),
    ],
)
def test_op(name, language, expected):
    assert render(f"{{{{ '{name}' | op('{language}') }}}}") == expected


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 'equals' | op('postgresql') }}", "unknown operator 'equals'"),
        ("{{ 'eq' | op('cobol') }}", "unknown language 'cobol'"),
        ("{{ 'ne' | op('django') }}", "no django spelling"),
    ],
)
def test_op_refuses(source, reason):
    assert reason in render_error(source)


def test_expression_seed_rows_cover_the_template_languages_only():
    rows = seed_rows()
    assert {language for _, language, _ in rows} == set(TEMPLATE_LANGUAGES)
    assert ("eq", "postgresql", "=") in rows
    assert len({(name, language) for name, language, _ in rows}) == len(rows)
    assert {"eq", "and", "coalesce", "count"} <= EXPRESSION_PATTERNS.keys()


def test_jinja_indent_is_available():
    assert render("x\n    {{ body | indent(4) }}", body="a\nb") == "x\n    a\n    b"


# --------------------------------------------------------------------------- printing


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (["a", "b"], "render lists with sql_list / py_list"),
        (("a",), "render lists with sql_list / py_list"),
        ({"a": 1}, "dicts with py_literal"),
        (True, "booleans with sql_literal / py_literal"),
        (None, "None with sql_literal / py_literal"),
        (float("nan"), "strings and numbers only"),
    ],
)
def test_printing_anything_but_strings_and_numbers_is_refused(value, hint):
    message = render_error("x = {{ v }}", v=value)
    assert message.startswith(f"{WHAT}, line 1: cannot print")
    assert hint in message


def test_strings_and_numbers_print():
    assert render("{{ s }} {{ i }} {{ f }}", s="a", i=3, f=1.5) == "a 3 1.5"


def test_undefined_names_are_errors_with_their_line():
    message = render_error("first\nsecond {{ missing }}")
    assert message == f"{WHAT}, line 2: 'missing' is undefined"


def test_undefined_attribute_is_an_error():
    assert "has no attribute 'nope'" in render_error("{{ entity.nope }}", entity={"name": "X"})


def test_syntax_errors_carry_their_line():
    message = render_error("a\nb\n{% if %}")
    assert message.startswith(f"{WHAT}, line 3: syntax error:")


def test_runtime_errors_become_specql_errors():
    assert "division by zero" in render_error("{{ 1 / n }}", n=0)


def test_trailing_newline_is_kept():
    assert render("a\n") == "a\n"


# --------------------------------------------------------------------------- caps and escapes


def test_template_size_is_capped():
    message = render_error("x" * (MAX_TEMPLATE_CHARS + 1))
    assert f"cap {MAX_TEMPLATE_CHARS}" in message


def test_output_size_is_capped():
    message = render_error("{% for i in range(n) %}xxxxxxxxxx{% endfor %}", n=100_000)
    assert f"output longer than {MAX_OUTPUT_CHARS} characters" in message


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ [1] * 1000000000 }}",
        "{{ 2 ** 100000 }}",
        "{{ '%999999999s' % 1 }}",
        "{{ '%.999999999f' | format(1) }}",
    ],
)
def test_operators_cannot_build_huge_values(source):
    started = time.perf_counter()
    render_error(source)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__ }}",
        "{{ x.__globals__ }}",
        "{{ entity.__class__ }}",
    ],
)
def test_python_internals_are_out_of_reach(source):
    message = render_error(source, x=render, entity={"name": "X"})
    assert "the template tried to reach Python internals" in message


def test_range_self_is_out_of_reach():
    # Jinja's range is its own function (no __self__ pointing at builtins): still an error.
    render_error("{{ range.__self__ }}")


def test_containers_are_immutable():
    message = render_error("{{ xs.append(1) }}{{ xs | py_literal }}", xs=[])
    assert "append" in message


# --------------------------------------------------------------------------- render_tree


def test_render_tree_renders_keys_and_values_and_drops_empty_keys():
    body = {
        "fields": {
            "{{ field }}": "enum({{ states | join(', ') }})",
            "{% if with_note %}note{% endif %}": "text",
        },
        "indexes": [{"fields": ["{{ field }}"], "unique": False}],
        "limit": 10,
        "plain": "no template here",
    }
    out = render_tree(
        body, {"field": "status", "states": ["a", "b"], "with_note": False}, what=WHAT
    )
    assert out == {
        "fields": {"status": "enum(a, b)"},
        "indexes": [{"fields": ["status"], "unique": False}],
        "limit": 10,
        "plain": "no template here",
    }
    assert body["fields"]["{{ field }}"] == "enum({{ states | join(', ') }})", "input untouched"


def test_render_tree_names_where_an_error_is():
    with pytest.raises(SpecqlError) as caught:
        render_tree({"actions": [{"name": "{{ nope }}"}]}, {}, what=WHAT)
    assert str(caught.value) == f"{WHAT} at actions.0.name, line 1: 'nope' is undefined"


def test_render_tree_refuses_keys_that_collide_once_rendered():
    with pytest.raises(SpecqlError, match="key 'status' appears twice"):
        render_tree({"{{ a }}": 1, "status": 2}, {"a": "status"}, what=WHAT)


def test_render_tree_returns_plain_strings_without_rendering():
    text = "{ not jinja } and a } brace"
    assert render_tree([text], {}, what=WHAT)[0] is text
