"""Writing Python source: literals, docstrings, calls that wrap the way ``ruff format`` wraps
them, and the import block a generated module needs."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

INDENT = "    "
LINE_WIDTH = 100

# The import line of each module alias the generated code may use, in the order the import
# block lists them (standard library first, then SQLAlchemy).
MODULE_IMPORTS: dict[str, str] = {
    "datetime": "import datetime",
    "decimal": "import decimal",
    "enum": "import enum",
    "ipaddress": "import ipaddress",
    "typing": "import typing",
    "uuid": "import uuid",
    "sa": "import sqlalchemy as sa",
    "pg": "from sqlalchemy.dialects import postgresql as pg",
}
_STDLIB = ("datetime", "decimal", "enum", "ipaddress", "typing", "uuid")


def py_str(value: str) -> str:
    """A Python string literal, double-quoted where possible (as ruff format writes them)."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        return '"' + text[1:-1] + '"'
    return text


def docstring(text: str, indent: str) -> list[str]:
    """Docstring lines for ``text`` (whitespace folded, wrapped to the line width); a plain
    literal when the text would end or break a triple-quoted one."""
    clean = " ".join(text.split())
    if '"""' in clean or "\\" in clean or clean.endswith('"'):
        return [f"{indent}{py_str(clean)}"]
    lines = textwrap.wrap(clean, LINE_WIDTH - len(indent) - 3, break_long_words=False)
    if len(lines) == 1:  # ruff keeps a one-line docstring on one line, however long
        return [f'{indent}"""{clean}"""']
    return [f'{indent}"""{lines[0]}'] + [indent + line for line in lines[1:]] + [f'{indent}"""']


def call(func: str, args: list[str]) -> str:
    """``func(a, b)``: the arguments are rendered source (keywords as ``key=value``)."""
    return f"{func}({', '.join(args)})"


def statement(
    prefix: str, func: str, args: list[str], indent: str, brackets: str = "()", suffix: str = ""
) -> list[str]:
    """``<indent><prefix>func(a, b)<suffix>`` as ``ruff format`` lays it out: on one line when
    it fits, else a call's arguments on one indented line, else one argument per line with a
    trailing comma. With no ``func`` it writes a display (``brackets`` ``"[]"``, ``"{}"``, or
    ``"()"`` for a parenthesized import list), which is never put on one indented line."""
    opening, closing = brackets
    joined = ", ".join(args)
    line = f"{indent}{prefix}{func}{opening}{joined}{closing}{suffix}"
    if len(line) <= LINE_WIDTH or not args:
        return [line]
    inner = indent + INDENT
    head, tail = f"{indent}{prefix}{func}{opening}", indent + closing + suffix
    if func and len(inner + joined) <= LINE_WIDTH:
        return [head, inner + joined, tail]
    return [head, *(f"{inner}{a}," for a in args), tail]


@dataclass
class Imports:
    """What one generated module imports: module aliases (``sa``, ``datetime``...), names from
    ``sqlalchemy.orm`` and from sibling modules, and sibling names needed only by type
    checkers (cross-schema relationship annotations)."""

    modules: set[str] = field(default_factory=set)
    orm: set[str] = field(default_factory=set)
    siblings: dict[str, set[str]] = field(default_factory=dict)
    type_checking: dict[str, set[str]] = field(default_factory=dict)

    def render(self) -> list[str]:
        modules = set(self.modules)
        if self.type_checking:
            modules.add("typing")
        groups = [
            ["from __future__ import annotations"],
            [MODULE_IMPORTS[m] for m in _STDLIB if m in modules],
            [MODULE_IMPORTS[m] for m in ("sa", "pg") if m in modules]
            + ([f"from sqlalchemy.orm import {', '.join(sorted(self.orm))}"] if self.orm else []),
            _from_lines(self.siblings, ""),
        ]
        lines: list[str] = []
        for group in groups:
            if group:
                lines.extend([*group, ""])
        if self.type_checking:
            lines.extend(["if typing.TYPE_CHECKING:", *_from_lines(self.type_checking, INDENT)])
            lines.append("")
        return lines


def _from_lines(names_by_module: dict[str, set[str]], indent: str) -> list[str]:
    return [
        f"{indent}from .{module} import {', '.join(sorted(names))}"
        for module, names in sorted(names_by_module.items())
    ]
