"""Indexes and unique constraints of a model's ``Meta``.

- Every ``ref`` column and, in multi-tenant schemas, ``tenant_id`` get the index the
  PostgreSQL target creates, under its name (``idx_tb_contact_fk_company``); the foreign key
  itself is declared ``db_index=False`` so Django does not add a second, differently named one.
- ``Entity.indexes``: ``fields: [...]`` -> ``models.Index(fields=[...])``; one SQL
  ``expression`` -> a functional ``models.Index(Lower("email"))``, translated through
  :data:`FUNCTIONS` (function calls over fields and constants); ``unique: true`` ->
  ``models.UniqueConstraint`` with the same fields or expression. An expression outside that
  table is a SpecqlError naming the entity and the index, never a silently different index.

Names: the PostgreSQL target's (:func:`~specql.generators.postgres.naming.spec_index_name`:
the index's own ``name``, else ``idx_tb_<entity>_<field names>`` or, for an expression, the words
of its text), cut to Django's 30 characters with a hash suffix
(:func:`~specql.generators.django.names.short_name`) when longer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pglast import ast
from pglast.enums import MinMaxOp

from specql.dsl.expressions import colref_parts, parse_expression
from specql.dsl.model import Entity, Index
from specql.errors import SpecqlError
from specql.generators.django.names import short_name
from specql.generators.django.render import Call, ModuleNeeds, call, py_str
from specql.generators.postgres.naming import column_name, index_name, spec_index_name


@dataclass(frozen=True, slots=True)
class DjangoFunction:
    """A ``django.db.models.functions`` class and how many arguments it takes."""

    cls: str
    min_args: int
    max_args: int | None  # None: any number from min_args


# SQL function name (as PostgreSQL's parser names it: trim() is btrim) -> Django function.
FUNCTIONS: dict[str, DjangoFunction] = {
    "lower": DjangoFunction("Lower", 1, 1),
    "upper": DjangoFunction("Upper", 1, 1),
    "coalesce": DjangoFunction("Coalesce", 2, None),
    "greatest": DjangoFunction("Greatest", 2, None),
    "least": DjangoFunction("Least", 2, None),
    "btrim": DjangoFunction("Trim", 1, 1),
    "ltrim": DjangoFunction("LTrim", 1, 1),
    "rtrim": DjangoFunction("RTrim", 1, 1),
    "length": DjangoFunction("Length", 1, 1),
    "char_length": DjangoFunction("Length", 1, 1),
    "abs": DjangoFunction("Abs", 1, 1),
    "md5": DjangoFunction("MD5", 1, 1),
    "reverse": DjangoFunction("Reverse", 1, 1),
    "left": DjangoFunction("Left", 2, 2),
    "right": DjangoFunction("Right", 2, 2),
}

# SQL constant kind -> its Python value's source.
CONSTANTS: dict[type, Callable[[ast.Node], str]] = {
    ast.String: lambda v: py_str(v.sval),
    ast.Integer: lambda v: str(v.ival),
    ast.Float: lambda v: repr(float(v.fval)),
    ast.Boolean: lambda v: str(bool(v.boolval)),
}


class Untranslatable(Exception):
    """A part of an index that has no Django form (the message says which)."""


@dataclass(frozen=True, slots=True)
class IndexTarget:
    """What an index may name: spec fields and the framework's ``id``, ``identifier``,
    ``tenant_id`` and audit fields, each with its model attribute."""

    attributes: dict[str, str]

    def attribute(self, name: str) -> str:
        if name not in self.attributes:
            known = ", ".join(sorted(self.attributes))
            raise Untranslatable(f"{name!r} is no field of the entity (known: {known})")
        return self.attributes[name]


def _constructor(
    needs: ModuleNeeds, cls: str, expressions: list[str], fields: list[str], name: str
):
    kwargs = []
    if fields:
        kwargs.append(("fields", "[" + ", ".join(py_str(f) for f in fields) + "]"))
    kwargs.append(("name", py_str(short_name(name))))
    return call(f"{needs.need('models')}.{cls}", expressions, kwargs)


def key_indexes(entity: Entity, multi_tenant: bool, needs: ModuleNeeds) -> list[Call]:
    """``models.Index(fields=[...], name="idx_tb_<entity>_<column>")`` for ``tenant_id`` (in a
    multi-tenant schema) and every ref field: the PostgreSQL target's indexes."""
    keys = [("tenant_id", "tenant_id")] if multi_tenant else []
    keys += [(f.name, column_name(f)) for f in entity.fields if f.type.kind == "ref"]
    return [
        _constructor(needs, "Index", [], [attribute], index_name(entity.name, column))
        for attribute, column in keys
    ]


def spec_index(entity: Entity, index: Index, target: IndexTarget, needs: ModuleNeeds) -> Call:
    """``models.Index(...)`` or, for a unique index, ``models.UniqueConstraint(...)``."""
    cls = "UniqueConstraint" if index.unique else "Index"
    try:
        if index.expression is not None:
            node = parse_expression(index.expression, index.pos)
            expression = _translate(node, target, needs, top=True)
            return _constructor(needs, cls, [expression], [], spec_index_name(entity.name, index))
        attributes = [target.attribute(f) for f in index.fields]
    except Untranslatable as exc:
        what = repr(index.name) if index.name else (index.expression or ", ".join(index.fields))
        raise SpecqlError(
            f"{entity.name}: index {what} cannot be generated for the django target: {exc}",
            index.pos,
        ) from None
    return _constructor(needs, cls, [], attributes, spec_index_name(entity.name, index))


def _call_parts(node: ast.Node) -> tuple[str, list[ast.Node]] | None:
    """(SQL function name, arguments) of a function-like node, None for other nodes.
    ``coalesce``, ``greatest`` and ``least`` have node types of their own in PostgreSQL's
    parser; a plain call with aggregate or window clauses has no Django index form."""
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce", list(node.args)
    if isinstance(node, ast.MinMaxExpr):
        return ("greatest" if node.op == MinMaxOp.IS_GREATEST else "least"), list(node.args)
    if not isinstance(node, ast.FuncCall):
        return None
    names = [n.sval for n in node.funcname]
    name = names[-1] if len(names) == 1 or names[0] == "pg_catalog" else ".".join(names)
    clauses = (node.agg_star, node.agg_distinct, node.agg_order, node.agg_filter, node.over)
    if any(clauses) or node.agg_within_group or node.func_variadic:
        raise Untranslatable(f"{name}() with aggregate or window clauses")
    return name, list(node.args or ())


def _translate(node: ast.Node, target: IndexTarget, needs: ModuleNeeds, top: bool = False) -> str:
    """Django expression source for an index expression node. A field is ``"name"`` as a
    function argument, ``models.F("name")`` at the top; a constant is ``models.Value(...)``."""
    if isinstance(node, ast.ColumnRef):
        parts = colref_parts(node)
        if len(parts) != 1 or parts[0].startswith("$"):
            raise Untranslatable(f"{'.'.join(parts)} is not a field name")
        attribute = py_str(target.attribute(parts[0]))
        return f"{needs.need('models')}.F({attribute})" if top else attribute
    if isinstance(node, ast.A_Const) and not node.isnull and type(node.val) in CONSTANTS:
        return f"{needs.need('models')}.Value({CONSTANTS[type(node.val)](node.val)})"
    parts = _call_parts(node)
    if parts is None:
        raise Untranslatable(
            f"{type(node).__name__} has no Django translation (supported: the functions "
            f"{', '.join(sorted(FUNCTIONS))} over fields and constants)"
        )
    name, args = parts
    function = FUNCTIONS.get(name)
    if function is None:
        raise Untranslatable(
            f"function {name}() has no Django translation (supported: "
            f"{', '.join(sorted(FUNCTIONS))})"
        )
    too_many = function.max_args is not None and len(args) > function.max_args
    if len(args) < function.min_args or too_many:
        raise Untranslatable(f"{name}() with {len(args)} argument(s)")
    rendered = [_translate(arg, target, needs) for arg in args]
    return str(call(needs.function(function.cls), rendered))
