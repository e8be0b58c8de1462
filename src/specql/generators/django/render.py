"""Python source text for the generated Django modules: literals, calls, docstrings, imports.

Everything here is deterministic (no set or dict-order surprises), so generating twice gives
byte-identical files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

INDENT = "    "
LINE_WIDTH = 99

# What a generated name needs imported: symbol -> (module, imported name or None for a plain
# ``import module``). Stdlib modules sort before Django's, as isort would group them.
IMPORTS: dict[str, tuple[str, str | None]] = {
    "uuid": ("uuid", None),
    "Decimal": ("decimal", "Decimal"),
    "ArrayField": ("django.contrib.postgres.fields", "ArrayField"),
    "models": ("django.db", "models"),
    "RawSQL": ("django.db.models.expressions", "RawSQL"),
    "timezone": ("django.utils", "timezone"),
}
STDLIB_MODULES = frozenset({"uuid", "decimal"})
FUNCTIONS_MODULE = "django.db.models.functions"


@dataclass
class ModuleNeeds:
    """What a module's code uses: imports, and helper classes the module must define (see
    :mod:`specql.generators.django.helpers`). Each method records a name and returns it for
    inline use."""

    names: set[tuple[str, str | None]] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)

    def need(self, symbol: str) -> str:
        self.names.add(IMPORTS[symbol])
        return symbol

    def function(self, name: str) -> str:
        """A database function class of ``django.db.models.functions`` (``Lower``, ``Now``)."""
        self.names.add((FUNCTIONS_MODULE, name))
        return name

    def helper(self, name: str) -> str:
        self.helpers.add(name)
        return name

    def render_imports(self) -> str:
        """The import block: stdlib, a blank line, third party; ``import x`` before ``from``."""
        groups = []
        for stdlib in (True, False):
            modules = sorted({m for m, _ in self.names if (m in STDLIB_MODULES) == stdlib})
            plain = [f"import {m}" for m in modules if (m, None) in self.names]
            froms = []
            for m in modules:
                names = sorted(n for mod, n in self.names if mod == m and n is not None)
                if names:
                    froms.append(f"from {m} import {', '.join(names)}")
            if plain or froms:
                groups.append("\n".join(plain + froms))
        return "\n\n".join(groups)


def py_regex(pattern: str) -> str:
    """A regular expression as a raw string literal where one can hold it, else a plain one."""
    if '"' in pattern or "\n" in pattern or pattern.endswith("\\"):
        return py_str(pattern)
    return f'r"{pattern}"'


def py_str(value: str) -> str:
    """A Python string literal, double-quoted where possible (as ruff format writes them)."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        return '"' + text[1:-1] + '"'
    return text


@dataclass(frozen=True, slots=True)
class Call:
    """A call expression ``func(arg, ...)``; ``args`` are rendered source (``key=value`` for a
    keyword argument)."""

    func: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.func}({', '.join(self.args)})"

    def render(self, indent: str, prefix: str = "") -> str:
        """``<indent><prefix>func(a, b)`` on one line if it fits :data:`LINE_WIDTH`, else one
        argument per line with a trailing comma (as ruff format wraps)."""
        line = f"{indent}{prefix}{self}"
        if len(line) <= LINE_WIDTH or not self.args:
            return line
        body = "".join(f"{indent}{INDENT}{a},\n" for a in self.args)
        return f"{indent}{prefix}{self.func}(\n{body}{indent})"


def call(func: str, args: Iterable[str] = (), kwargs: Iterable[tuple[str, str]] = ()) -> Call:
    return Call(func, (*args, *(f"{k}={v}" for k, v in kwargs)))


def wrap_list(prefix: str, items: list[str], indent: str) -> str:
    """``<indent><prefix>[``, then the items (rendered lines, already indented one level
    deeper) each followed by a comma, then ``]``."""
    body = "".join(f"{item},\n" for item in items)
    return f"{indent}{prefix}[\n{body}{indent}]"


def docstring(text: str, indent: str) -> str:
    """A docstring for ``text``: triple-quoted when that is safe, else a plain literal."""
    clean = " ".join(text.split())
    if '"""' in clean or "\\" in clean or clean.endswith('"'):
        return f"{indent}{py_str(clean)}"
    return f'{indent}"""{clean}"""'
