"""Which PL/pgSQL variables become a ``declare`` step, and where it goes.

PL/pgSQL declares every variable up front; the dialect introduces some by the step that sets
them (docs of :mod:`specql.dsl.validator`): ``find``/``query … into`` and ``foreach`` give
records, ``insert … as`` the new id, ``call … store`` a value. A ``query … into`` target must not
also be declared, and ``assign`` needs a declared (non-record) target. So, per scalar variable:

- only ever the target of ``query … into`` (never assigned, no default, not read before): no
  declare, the query introduces it;
- first set by ``insert … as`` (no default): no declare;
- a ``query … into`` target that is also assigned, stored, has a default or is read before the
  query: each such query becomes ``assign: v = (<query>)`` (same value for a one-column query)
  and the variable is declared;
- every other variable (also one that is never used: nothing is dropped) is declared.

The declared variables go into ONE ``declare`` step, in DECLARE order, placed before the first
top-level step that uses any of them (at the very start when a default has to be computed by an
``assign`` because it reads more than params and constants: PL/pgSQL evaluates defaults when
the function starts).
"""

from __future__ import annotations

from specql.dsl.model import (
    AssignStep,
    CallStep,
    DeclareStep,
    FindStep,
    ForeachStep,
    InsertStep,
    QueryStep,
    RawSqlStep,
    Step,
    Variable,
    replace_steps,
    walk_steps,
)
from specql.dsl.types import parse_type
from specql.reverse.mapcontext import MapContext, VarDecl

_TEXT = parse_type("text")


def _events(ctx: MapContext, steps: list[Step]) -> tuple[dict[str, str], dict[str, int]]:
    """First event per variable (read | assign | query | insert | store | record) and the
    index of the top-level step where each variable is first used."""
    first: dict[str, str] = {}
    top_index: dict[str, int] = {}
    for index, top in enumerate(steps):
        for step in walk_steps([top]):
            meta = ctx.meta.get(id(step))
            seen: list[tuple[str, str]] = []
            if meta is not None:
                seen += [(v, "read") for v in sorted(meta.reads)]
            if isinstance(step, AssignStep):
                seen.append((step.target, "assign"))
            elif isinstance(step, QueryStep):
                seen.append((step.into, "query"))
            elif isinstance(step, InsertStep) and step.as_:
                seen.append((step.as_, "insert"))
            elif isinstance(step, CallStep) and step.store:
                seen.append((step.store, "store"))
            elif isinstance(step, FindStep | ForeachStep):
                seen.append((step.into if isinstance(step, FindStep) else step.variable, "record"))
            for var, kind in seen:
                first.setdefault(var, kind)
                top_index.setdefault(var, index)
    return first, top_index


def _kinds(steps: list[Step]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for step in walk_steps(steps):
        if isinstance(step, AssignStep):
            found.setdefault(step.target, set()).add("assign")
        elif isinstance(step, QueryStep):
            found.setdefault(step.into, set()).add("query")
        elif isinstance(step, InsertStep) and step.as_:
            found.setdefault(step.as_, set()).add("insert")
        elif isinstance(step, CallStep) and step.store:
            found.setdefault(step.store, set()).add("store")
    return found


def _replace_queries(ctx: MapContext, steps: list[Step], names: set[str]) -> list[Step]:
    def as_assign(step: Step) -> Step:
        if not (
            isinstance(step, QueryStep) and step.into in names and id(step) in ctx.single_column
        ):
            return step
        assign = AssignStep(target=step.into, expression=f"({step.sql})", pos=step.pos)
        ctx.meta[id(assign)] = ctx.meta[id(step)]
        return assign

    return replace_steps(steps, as_assign)


def declared_variables(ctx: MapContext, steps: list[Step]) -> tuple[list[Step], list[VarDecl]]:
    """(steps with ``query`` targets that must be values turned into assigns, the variables
    that need a declare), in DECLARE order."""
    scalars = [v for v in ctx.variables.values() if not v.record]
    kinds = _kinds(steps)
    first, _ = _events(ctx, steps)
    to_assign: set[str] = set()
    declared: list[VarDecl] = []
    for v in scalars:
        used = kinds.get(v.spec, set())
        if "query" in used:
            needs_value = (
                v.default is not None or bool(used - {"query"}) or first.get(v.spec) == "read"
            )
            if not needs_value:
                continue
            to_assign.add(v.spec)
        elif first.get(v.spec) == "insert" and v.default is None:
            continue
        declared.append(v)
    if to_assign:
        steps = _replace_queries(ctx, steps, to_assign)
    return steps, declared


def place_declarations(ctx: MapContext, steps: list[Step]) -> list[Step]:
    """``steps`` with the declare step (and default-computing assigns) inserted."""
    steps, declared = declared_variables(ctx, steps)
    if not declared:
        return steps
    _, top_index = _events(ctx, steps)
    variables = []
    assigns: list[Step] = []
    for v in declared:
        default = None if v.default_needs_assign else v.default
        variables.append(Variable(name=v.spec, type=v.type or _TEXT, default=default))
        if v.default_needs_assign and v.default is not None:
            assigns.append(AssignStep(target=v.spec, expression=v.default))
        elif v.default_raw is not None:
            assigns.append(v.default_raw)
    step = DeclareStep(variables=variables)
    if assigns:
        at = 0
    else:
        used = [top_index[v.spec] for v in declared if v.spec in top_index]
        at = min(used) if used else 0
    if steps and at < len(steps):
        step.pos = steps[at].pos
    for assign in assigns:
        if not isinstance(assign, RawSqlStep):
            assign.pos = step.pos
    return [*steps[:at], step, *assigns, *steps[at:]]


__all__ = ["declared_variables", "place_declarations"]
