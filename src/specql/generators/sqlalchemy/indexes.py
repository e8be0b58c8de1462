"""An entity's indexes as items of ``__table_args__``: ``sa.Index(...)`` per ``indexes:`` entry.

A field list indexes the columns by name (a ref field is its ``fk_`` column); an expression
becomes SQLAlchemy function calls (``lower(email)`` -> ``sa.func.lower(sa.column("email"))``)
through the target-neutral tree of :mod:`.index_expressions`. Names are the SQL target's
(:func:`~specql.generators.postgres.naming.spec_index_name`); the ``tenant_id`` and ref-column
indexes come from ``index=True`` on their columns and the MetaData's naming convention.
"""

from __future__ import annotations

import decimal
import keyword

from specql.dsl.model import Entity, Index
from specql.dsl.validator import INDEXABLE_COLUMNS
from specql.errors import SpecqlError
from specql.generators.postgres.naming import column_name, index_name, spec_index_name
from specql.generators.sqlalchemy.index_expressions import (
    ColumnName,
    FunctionCall,
    IndexExpression,
    parse_index_expression,
)
from specql.generators.sqlalchemy.source import Imports, call, py_str


def _what(entity: Entity, index: Index) -> str:
    label = index.name or index.expression or ", ".join(index.fields)
    return f"{entity.name} index {label}"


def _column(entity: Entity, index: Index, name: str, multi_tenant: bool) -> str:
    """The table column a name in an index stands for; SpecqlError when there is none."""
    field = entity.field_named(name)
    if field is not None:
        return column_name(field)
    if name in INDEXABLE_COLUMNS and (name != "tenant_id" or multi_tenant):
        return name
    raise SpecqlError(f"{_what(entity, index)}: {entity.name} has no field {name!r}", index.pos)


def _func_attribute(name: str) -> bool:
    """Whether ``sa.func.<name>`` renders ``name``: sa.func drops a trailing ``_`` (``in_``)
    and refuses dunder names."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.endswith("_")
        and not name.startswith("__")
    )


def _render(
    entity: Entity, index: Index, node: IndexExpression, multi_tenant: bool, imports: Imports
) -> str:
    if isinstance(node, ColumnName):
        return call("sa.column", [py_str(_column(entity, index, node.name, multi_tenant))])
    if isinstance(node, FunctionCall):
        parts = [*(node.schema.split(".") if node.schema else []), node.name]
        if not all(_func_attribute(part) for part in parts):
            raise SpecqlError(
                f"{_what(entity, index)}: function {'.'.join(parts)!r} cannot be written as "
                "sa.func.<name> (no Python identifier, or one sa.func reads differently)",
                index.pos,
            )
        return call(
            f"sa.func.{'.'.join(parts)}",
            [_render(entity, index, arg, multi_tenant, imports) for arg in node.args],
        )
    value = node.value
    if isinstance(value, decimal.Decimal):
        imports.modules.add("decimal")
        return f"decimal.Decimal({py_str(str(value))})"
    return py_str(value) if isinstance(value, str) else repr(value)


def index_items(
    entity: Entity, multi_tenant: bool, imports: Imports
) -> list[tuple[str, list[str]]]:
    """``sa.Index`` and its arguments per entry of ``entity.indexes``, in spec order; a name
    another index of the table has is an error, as in the SQL target."""
    taken = {index_name(entity.name, column_name(f)) for f in entity.fields if f.type.kind == "ref"}
    if multi_tenant:
        taken.add(index_name(entity.name, "tenant_id"))
    items = []
    for index in entity.indexes:
        if index.expression is not None:
            node = parse_index_expression(index.expression, _what(entity, index), index.pos)
            keys = [_render(entity, index, node, multi_tenant, imports)]
        elif index.fields:
            keys = [py_str(_column(entity, index, f, multi_tenant)) for f in index.fields]
        else:
            raise SpecqlError(f"{entity.name}: an index needs fields or an expression", index.pos)
        name = spec_index_name(entity.name, index)
        if name in taken:
            raise SpecqlError(
                f"{_what(entity, index)}: {name!r} is the name of another index of its table; "
                "give it a 'name'",
                index.pos,
            )
        taken.add(name)
        items.append(
            ("sa.Index", [py_str(name), *keys, *(["unique=True"] if index.unique else [])])
        )
    return items
