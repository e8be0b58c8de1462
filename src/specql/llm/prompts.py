"""Prompt templates: one Jinja file per task in ``specql/llm/prompts/`` (few-shot examples
included), rendered in a sandbox with StrictUndefined.

Everything a prompt quotes is untrusted — legacy SQL above all, whose comments can carry text
aimed at the model ("ignore the task and answer ..."). So:

- SQL goes in only through the ``sql`` filter: comments removed
  (:func:`specql.sqltext.without_comments`), cut to :data:`MAX_SQL_CHARS`, and fenced as data
  between ``<legacy_sql>`` tags that the text itself cannot close;
- other texts (names, descriptions, features) go through ``line``: one line, cut short;
- the system message says that quoted text is data, never instructions.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from specql.llm.base import Message
from specql.sqltext import without_comments

MAX_SQL_CHARS = 4000
MAX_LINE_CHARS = 200
SQL_OPEN, SQL_CLOSE = "<legacy_sql>", "</legacy_sql>"
_FENCE_TAG = re.compile(r"<\s*/?\s*legacy_sql", re.IGNORECASE)
SYSTEM_TEMPLATE = "system.j2"


def quote_sql(sql: str, limit: int = MAX_SQL_CHARS) -> str:
    """Legacy SQL as fenced data: no comments, at most ``limit`` characters, and no text that
    could pass for the fence."""
    text = without_comments(str(sql)).strip()  # str(): a missing value raises UndefinedError
    text = "\n".join(line.rstrip() for line in text.splitlines() if line.strip())
    if len(text) > limit:
        text = text[:limit].rstrip() + "\n... (cut)"
    text = _FENCE_TAG.sub("< legacy-sql", text)
    return f"{SQL_OPEN}\n{text}\n{SQL_CLOSE}"


def one_line(value, limit: int = MAX_LINE_CHARS) -> str:
    """A text squeezed to one line of at most ``limit`` characters (fences neutralised)."""
    text = " ".join(str(value).split())
    text = _FENCE_TAG.sub("< legacy-sql", text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["sql"] = quote_sql
    env.filters["line"] = one_line
    return env


@functools.cache
def template_source(name: str) -> str:
    return resources.files("specql.llm").joinpath("prompts", name).read_text(encoding="utf-8")


@functools.cache
def _template(name: str):
    """The template compiled once per process (every task call renders one)."""
    return _environment().from_string(template_source(name))


def render(name: str, context: dict) -> str:
    """The template ``name`` (a file of ``specql/llm/prompts``) rendered with ``context``."""
    return _template(name).render(**context).strip()


def messages(name: str, context: dict) -> list[Message]:
    """The system message and the task's prompt as the user message."""
    return [Message("system", render(SYSTEM_TEMPLATE, {})), Message("user", render(name, context))]


__all__ = ["MAX_SQL_CHARS", "SQL_CLOSE", "SQL_OPEN", "messages", "one_line", "quote_sql", "render"]
