"""Render pattern templates in a Jinja2 sandbox (docs/pattern-library.md, "Templates: the sandbox").

Templates come from seed files, users and LLMs, so they are untrusted: they render in an
``ImmutableSandboxedEnvironment`` with ``StrictUndefined``, every printed value must be a string
or a number (anything else goes through a filter that writes it as SQL or Python), and template
and output sizes are capped. Every failure is one :class:`SpecqlError` naming the template and,
when known, its line.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from specql.dsl.expressions import quote_ident
from specql.dsl.types import parse_type
from specql.errors import SpecqlError
from specql.generators.postgres.naming import snake as _snake
from specql.generators.postgres.types import param_sql_type, sql_string
from specql.patterns.expressions import spelling

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_OUTPUT_CHARS = 256 * 1024

# PostgreSQL truncates longer identifiers silently: two long names could become one.
_MAX_SQL_IDENT_BYTES = 63

# Name Jinja gives the code of a template compiled from a string: the frames of a runtime error
# carrying it are the template's own, with the template line as their line number.
_TEMPLATE_FILENAME = "<template>"

# Markers of Jinja syntax: a string without any is text, returned as it is.
_JINJA_MARKERS = ("{{", "{%", "{#")

# A %-format width or precision this long would build a huge string before the output cap.
_HUGE_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\*|[0-9]{5,})|\.(\*|[0-9]{5,})")

# An exponent this large on a number other than -1/0/1 is an expensive way to fail.
_MAX_EXPONENT = 256

# How the error says what to do with a value that may not be printed as it is.
_PRINT_HINTS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "render booleans with sql_literal / py_literal"),
    (type(None), "render None with sql_literal / py_literal"),
    ((list, tuple), "render lists with sql_list / py_list (or sql_array / py_literal)"),
    (dict, "render dicts with py_literal, or print their items one by one"),
)


def _refuse_huge(size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise SpecqlError(
            f"an operation would build a value of {size} items (cap {MAX_OUTPUT_CHARS})"
        )


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus guards on the operators that can build huge values before
    anything is printed (``'x' * 10**9``, ``'%999999999s' % x``, ``9 ** 9 ** 9``). Intercepted
    operators are also never constant-folded at compile time."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    _refuse_huge(len(seq) * count)
        elif operator == "**":
            if isinstance(right, int) and right > _MAX_EXPONENT and abs(left) > 1:
                raise SpecqlError(f"exponent {right} is too large (cap {_MAX_EXPONENT})")
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
        return super().call_binop(context, operator, left, right)


def _check_format(fmt: str) -> None:
    if _HUGE_FORMAT_WIDTH.search(fmt):
        raise SpecqlError(f"format {fmt[:40]!r} has a width or precision too large")


def _finalize(value: Any) -> Any:
    """What ``{{ ... }}`` may print: strings and finite numbers. The rest would print as a
    Python repr, which is never valid SQL (and rarely the intended Python)."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises the UndefinedError / SecurityError it carries
    if isinstance(value, str) or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ):
        return value
    hint = next((h for kinds, h in _PRINT_HINTS if isinstance(value, kinds)), None)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise SpecqlError(
        f"cannot print {type(value).__name__} {shown}: "
        + (hint or "print strings and numbers only")
    )


# --------------------------------------------------------------------------- filters


def _need_str(value: Any, filter_name: str) -> str:
    if not isinstance(value, str):
        raise SpecqlError(f"{filter_name} needs a string, got {type(value).__name__} {value!r:.40}")
    return value


def sql_ident(name: Any) -> str:
    """A SQL identifier, double-quoted only when PostgreSQL would not read it back as is."""
    name = _need_str(name, "sql_ident")
    if not name or "\x00" in name:
        raise SpecqlError(f"sql_ident: {name!r} is not an identifier")
    if len(name.encode()) > _MAX_SQL_IDENT_BYTES:
        raise SpecqlError(
            f"sql_ident: {name[:40]!r}... is longer than PostgreSQL's "
            f"{_MAX_SQL_IDENT_BYTES}-byte identifiers"
        )
    return quote_ident(name)


def sql_literal(value: Any) -> str:
    """A scalar as a SQL literal: ``'it''s'``, ``42``, ``1.5``, ``TRUE``, ``NULL``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecqlError(f"sql_literal: {value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise SpecqlError("sql_literal: PostgreSQL text cannot hold a NUL character")
        return sql_string(value)
    if isinstance(value, (list, tuple)):
        raise SpecqlError("sql_literal takes one value: render lists with sql_list / sql_array")
    raise SpecqlError(f"sql_literal: a {type(value).__name__} has no SQL literal")


def _sql_items(values: Any, filter_name: str) -> str:
    if not isinstance(values, (list, tuple)):
        raise SpecqlError(f"{filter_name} needs a list, got {type(values).__name__}")
    if not values:
        # ``IN ()`` is not SQL and ``ARRAY[]`` needs a type the template does not say.
        raise SpecqlError(f"{filter_name} of an empty list: guard it with {{% if ... %}}")
    return ", ".join(sql_literal(v) for v in values)


def sql_list(values: Any) -> str:
    """``['a', 'b']`` -> ``'a', 'b'`` (for ``IN (...)``, function arguments)."""
    return _sql_items(values, "sql_list")


def sql_array(values: Any) -> str:
    """``['a', 'b']`` -> ``ARRAY['a', 'b']``."""
    return f"ARRAY[{_sql_items(values, 'sql_array')}]"


def sql_type(text: Any) -> str:
    """A SpecQL type (``numeric(12,2)``, ``email``, ``enum(a,b)``) as the PostgreSQL generator
    declares a parameter or variable of that type (a ref is the referenced row's UUID ``id``)."""
    return param_sql_type(parse_type(_need_str(text, "sql_type")))


def py_ident(name: Any) -> str:
    """A Python identifier, unchanged; a keyword or anything else is an error."""
    name = _need_str(name, "py_ident")
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
        raise SpecqlError(f"py_ident: {name!r:.60} is not a Python identifier")
    return name


_PY_SCALARS = (str, int, float, bool, type(None))


def _is_plain_data(value: Any) -> bool:
    if isinstance(value, _PY_SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, _PY_SCALARS) and _is_plain_data(v) for k, v in value.items())
    return False


def py_literal(value: Any) -> str:
    """Plain data (str, int, float, bool, None and lists / tuples / dicts of those) as a Python
    literal that ``ast.literal_eval`` reads back to the same value."""
    if not _is_plain_data(value):
        raise SpecqlError(f"py_literal: a {type(value).__name__} is not plain data")
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise SpecqlError(f"py_literal: {text[:40]!r} does not read back as the same value")
    return text


def py_list(values: Any) -> str:
    """``['a', 'b']`` -> ``'a', 'b'`` (inside ``[...]`` or a call)."""
    if not isinstance(values, (list, tuple)):
        raise SpecqlError(f"py_list needs a list, got {type(values).__name__}")
    return ", ".join(py_literal(v) for v in values)


def snake(name: Any) -> str:
    """``OrderLine`` -> ``order_line``, as the generators name tables and columns."""
    return _snake(_need_str(name, "snake"))


def pascal(name: Any) -> str:
    """``order_line`` / ``OrderLine`` -> ``OrderLine`` (digits kept: ``tier_2`` -> ``Tier2``)."""
    return "".join(p[:1].upper() + p[1:] for p in snake(name).split("_") if p)


def op(name: Any, language: Any) -> str:
    """``{{ 'ge' | op('postgresql') }}`` -> ``>=`` (table in :mod:`specql.patterns.expressions`)."""
    return spelling(name, language)


def _bounded_format(fmt: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's ``format`` filter with the width guard of the ``%`` operator."""
    if args and kwargs:
        raise SpecqlError("format takes positional or keyword arguments, not both")
    fmt = _need_str(fmt, "format")
    _check_format(fmt)
    return fmt % (kwargs or args)


FILTERS = {
    "sql_ident": sql_ident,
    "sql_literal": sql_literal,
    "sql_list": sql_list,
    "sql_array": sql_array,
    "sql_type": sql_type,
    "py_ident": py_ident,
    "py_literal": py_literal,
    "py_list": py_list,
    "snake": snake,
    "pascal": pascal,
    "op": op,
    "format": _bounded_format,
}


@functools.cache
def _environment() -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(FILTERS)
    return env


# Seeding renders each seed template a few times and instantiation renders the same Tier-2
# bodies again and again: compiling is most of the cost, so compiled templates are kept.
@functools.lru_cache(maxsize=2048)
def _compile(source: str):
    return _environment().from_string(source)


# --------------------------------------------------------------------------- rendering


def render_template(source: str, context: Mapping[str, Any], *, what: str) -> str:
    """Render ``source`` with ``context``. ``what`` names the template in errors
    (``"pattern state_machine, postgresql template"``)."""
    if not isinstance(source, str):
        raise SpecqlError(f"{what}: a template must be text, got {type(source).__name__}")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise SpecqlError(
            f"{what}: template of {len(source)} characters (cap {MAX_TEMPLATE_CHARS})"
        )
    chunks: list[str] = []
    size = 0
    try:
        for chunk in _compile(source).generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                break
            chunks.append(chunk)
    except (
        TemplateError,
        SpecqlError,
        ArithmeticError,
        TypeError,
        ValueError,
        LookupError,
        RecursionError,
    ) as exc:
        raise _render_error(exc, what) from None
    if size > MAX_OUTPUT_CHARS:
        raise SpecqlError(f"{what}: output longer than {MAX_OUTPUT_CHARS} characters")
    return "".join(chunks)


def _render_error(exc: Exception, what: str) -> SpecqlError:
    if isinstance(exc, TemplateSyntaxError):
        line, reason = exc.lineno, f"syntax error: {exc.message}"
    else:
        line = _template_line(exc)
        if isinstance(exc, SecurityError):
            reason = f"the template tried to reach Python internals ({exc})"
        elif isinstance(exc, SpecqlError):
            reason = exc.message
        elif isinstance(exc, TemplateError):
            reason = exc.message or type(exc).__name__
        else:
            reason = f"{type(exc).__name__}: {exc}"
    where = f"{what}, line {line}" if line else what
    return SpecqlError(f"{where}: {reason}")


def _template_line(exc: BaseException) -> int | None:
    """The template line a runtime error happened on: Jinja rewrites the traceback so the
    template's frames carry the template line (the innermost one is where it failed)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render_tree(value: Any, context: Mapping[str, Any], *, what: str) -> Any:
    """A copy of a nested dict/list structure with every string rendered (keys too; an entry
    whose key renders empty is dropped). Other values pass through; strings without Jinja
    syntax are returned as they are, without a render."""
    return _render_node(value, context, what, ())


def _render_node(value: Any, context: Mapping[str, Any], what: str, path: tuple) -> Any:
    if isinstance(value, str):
        if not any(marker in value for marker in _JINJA_MARKERS):
            return value
        where = f"{what} at {'.'.join(map(str, path))}" if path else what
        return render_template(value, context, what=where)
    if isinstance(value, dict):
        rendered: dict = {}
        for key, item in value.items():
            new_key = _render_node(key, context, what, (*path, key))
            if new_key == "":
                continue
            if new_key in rendered:
                where = ".".join(map(str, path)) or "top level"
                raise SpecqlError(f"{what}: key {new_key!r} appears twice at {where} once rendered")
            rendered[new_key] = _render_node(item, context, what, (*path, new_key))
        return rendered
    if isinstance(value, list):
        return [_render_node(item, context, what, (*path, i)) for i, item in enumerate(value)]
    return value
