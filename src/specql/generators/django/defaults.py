"""Field defaults: a spec's SQL default -> Django's ``default`` and ``db_default``.

A default is a SQL literal or expression as written in the spec. The model carries it twice,
for two readers:

- ``db_default`` is the column's ``DEFAULT``, so a table that Django's migrations create has
  the default the PostgreSQL target writes, and an ORM insert that leaves the field out sends
  ``DEFAULT``;
- ``default`` is the Python value a new instance starts with, given only where the SQL is a
  plain constant of the field's type (a string, a number, a boolean, an enum label), because
  only then is the Python value surely the one the database would pick.

Anything else (``now()``, ``'{}'::jsonb``, ``current_date + 7``) becomes
``db_default=RawSQL("<sql as written>", [])``: the database computes it on insert and Django
reads it back (``RETURNING``), so the expression never needs a Python translation that could
drift from PostgreSQL's meaning.
"""

from __future__ import annotations

from collections.abc import Callable

from pglast import ast

from specql.dsl.expressions import parse_expression
from specql.dsl.model import Entity, Field
from specql.dsl.types import family
from specql.errors import SpecqlError
from specql.generators.django.names import choice_member, choices_class
from specql.generators.django.render import ModuleNeeds, call, py_str


def _decimal(value: ast.Integer | ast.Float, needs: ModuleNeeds) -> str:
    number = str(value.ival) if isinstance(value, ast.Integer) else value.fval
    return f"{needs.need('Decimal')}({py_str(number)})"


def _float(value: ast.Integer | ast.Float, needs: ModuleNeeds) -> str:
    return repr(float(value.ival if isinstance(value, ast.Integer) else value.fval))


# (value family of the field, kind of SQL constant) -> Python source of the value.
LITERALS: dict[tuple[str, type], Callable[[ast.Node, ModuleNeeds], str]] = {
    ("text", ast.String): lambda v, needs: py_str(v.sval),
    ("integer", ast.Integer): lambda v, needs: str(v.ival),
    ("decimal", ast.Integer): _decimal,
    ("decimal", ast.Float): _decimal,
    ("float", ast.Integer): _float,
    ("float", ast.Float): _float,
    ("boolean", ast.Boolean): lambda v, needs: str(bool(v.boolval)),
}


def _enum_member(entity: Entity, field: Field, label: str) -> str:
    return f"{choices_class(entity, field)}.{choice_member(label)}"


def default_kwargs(entity: Entity, field: Field, needs: ModuleNeeds) -> list[tuple[str, str]]:
    """``[("default", ...), ("db_default", ...)]`` for the field's spec default (see the
    module docstring); ``[]`` without one."""
    if field.default is None:
        return []
    text = field.default.strip()
    t = field.type
    if t.kind == "ref":
        raise SpecqlError(
            f"{entity.name}.{field.name}: a ref field cannot have a default "
            "(set it in an action instead)",
            field.pos,
        )
    if t.kind == "enum" and text in t.values:  # `status: enum(lead, won) = lead`
        return [("default", _enum_member(entity, field, text)), ("db_default", py_str(text))]
    node = parse_expression(text, field.pos)
    if isinstance(node, ast.A_Const) and not node.isnull:
        if t.kind == "enum" and isinstance(node.val, ast.String) and node.val.sval in t.values:
            member = _enum_member(entity, field, node.val.sval)
            return [("default", member), ("db_default", py_str(node.val.sval))]
        convert = LITERALS.get((family(t), type(node.val)))
        if convert is not None:
            value = convert(node.val, needs)
            return [("default", value), ("db_default", value)]
    return [("db_default", str(call(needs.need("RawSQL"), [py_str(text), "[]"])))]
