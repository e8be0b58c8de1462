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
    inline use.

    ``shadowed``: attribute names of the module's models. Inside a class body a field named
    ``timezone`` hides the module ``timezone`` from the lines after it (``created_at``'s
    ``default=timezone.now``), so an import with such a name is bound as ``timezone_``: Django
    forbids field names ending in ``_``, so that alias cannot be hidden.
    """

    shadowed: frozenset[str] = frozenset()
    names: set[tuple[str, str | None, str]] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)

    def _bind(self, module: str, name: str | None, symbol: str) -> str:
        alias = f"{symbol}_" if symbol in self.shadowed else symbol
        self.names.add((module, name, alias))
        return alias

    def need(self, symbol: str) -> str:
        module, name = IMPORTS[symbol]
        return self._bind(module, name, symbol)

    def function(self, name: str) -> str:
        """A database function class of ``django.db.models.functions`` (``Lower``, ``Trim``)."""
        return self._bind(FUNCTIONS_MODULE, name, name)

    def helper(self, name: str) -> str:
        self.helpers.add(name)
        return name

    def render_imports(self) -> str:
        """The import block: stdlib, a blank line, third party; ``import x`` before ``from``."""
        groups = []
        for stdlib in (True, False):
            chosen = sorted(
                (n for n in self.names if (n[0] in STDLIB_MODULES) == stdlib),
                key=lambda n: (n[0], n[1] or "", n[2]),
            )
            plain = [f"import {_bound(m, alias)}" for m, name, alias in chosen if name is None]
            froms = []
            for module in dict.fromkeys(m for m, name, _ in chosen if name is not None):
                names = sorted(_bound(n, a) for m, n, a in chosen if m == module and n)
                froms.append(f"from {module} import {', '.join(names)}")
            if plain or froms:
                groups.append("\n".join(plain + froms))
        return "\n\n".join(groups)

    def defined(self) -> set[str]:
        """The module-level names the imports and helpers bind."""
        return {alias for _, _, alias in self.names} | self.helpers


def _bound(name: str, alias: str) -> str:
    return name if name == alias else f"{name} as {alias}"


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
