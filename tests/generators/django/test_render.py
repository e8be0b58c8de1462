"""Python source helpers: literals, calls, docstrings, imports."""

from __future__ import annotations

import ast

import pytest

from specql.generators.django.render import (
    LINE_WIDTH,
    ModuleNeeds,
    call,
    docstring,
    py_regex,
    py_str,
)

TRICKY = ["plain", "it's", 'say "hi"', "both ' and \"", "back\\slash", "tab\there", "é ü", ""]


@pytest.mark.parametrize("text", TRICKY)
def test_py_str_reads_back_as_the_same_text(text):
    assert ast.literal_eval(py_str(text)) == text


def test_py_str_prefers_double_quotes():
    assert py_str("crm") == '"crm"'
    assert py_str("it's") == '"it\'s"'
    assert py_str('crm"."tb_contact') == '\'crm""."tb_contact\''.replace('""', '"')


@pytest.mark.parametrize("pattern", [r"^\+[1-9][0-9]{1,14}$", r"^[a-z]'(x)$", 'a"b', "ends\\"])
def test_py_regex_reads_back_as_the_same_pattern(pattern):
    assert ast.literal_eval(py_regex(pattern)) == pattern


def test_py_regex_is_raw_where_it_can_be():
    assert py_regex(r"^\+[0-9]$") == r'r"^\+[0-9]$"'


def test_call_stays_on_one_line_when_it_fits():
    c = call("models.TextField", [], [("null", "True")])
    assert str(c) == "models.TextField(null=True)"
    assert c.render("    ", "name = ") == "    name = models.TextField(null=True)"


def test_long_call_is_wrapped_one_argument_per_line():
    c = call("models.ForeignKey", ['"crm.Company"'], [("help_text", py_str("x" * LINE_WIDTH))])
    rendered = c.render("    ", "company = ")
    assert rendered.splitlines() == [
        "    company = models.ForeignKey(",
        '        "crm.Company",',
        f'        help_text="{"x" * LINE_WIDTH}",',
        "    )",
    ]
    ast.parse(rendered.strip())


def test_docstring_is_safe_for_any_text():
    assert docstring("A person.", "    ") == '    """A person."""'
    for text in ['ends with "quote"', 'has """ inside', "back\\slash"]:
        source = docstring(text, "")
        assert ast.literal_eval(source) == text


def test_imports_grouped_sorted_and_aliased_when_a_field_hides_them():
    needs = ModuleNeeds(shadowed=frozenset({"timezone", "uuid"}))
    assert needs.need("models") == "models"
    assert needs.need("timezone") == "timezone_"
    assert needs.need("uuid") == "uuid_"
    needs.need("Decimal")
    needs.function("Lower")
    needs.function("Coalesce")
    assert needs.render_imports() == (
        "import uuid as uuid_\n"
        "from decimal import Decimal\n"
        "\n"
        "from django.db import models\n"
        "from django.db.models.functions import Coalesce, Lower\n"
        "from django.utils import timezone as timezone_"
    )
    assert {"models", "timezone_", "uuid_", "Decimal", "Lower"} <= needs.defined()
