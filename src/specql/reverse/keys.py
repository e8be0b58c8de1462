"""Legacy integer keys that became UUIDs: retype the params and variables that hold them.

A legacy integer primary key column reads as the entity's ``id`` and an integer foreign key as
a ``ref`` field; both are UUIDs in the dialect (a ref's value is the referenced row's ``id``).
A param or variable the legacy code compares with such a column (``WHERE order_id = p_order_id``
-> ``WHERE id = $order_id``), stores into one (insert values, update SET), or fills from one
(``query`` of a key column, ``insert … as``, ``assign: v = rec.id``) holds a key; left with its
legacy ``integer`` type the regenerated function would compare ``uuid = integer`` and fail.

:func:`retype_keys`, per integer param/variable:

- used only as a key (other uses that work on a UUID too: ``IS [NOT] NULL``, ``::text``, an
  argument of a schema-qualified function (legacy code of the run, reversed alike), a notify
  payload value, a returned value): its type becomes ``uuid`` and a note says so
  (``param order_id: integer → uuid (…)``); holders compared with or assigned to each other
  share one fate;
- used as a key AND as an integer elsewhere (arithmetic, compared with an integer column, …):
  it keeps its type, and the steps that use it as a key become ``raw_sql`` with the reason, so
  no step compares a UUID with an integer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specql.dsl.expressions import colref_parts, parse_expression, parse_statement
from specql.dsl.model import (
    AssignStep,
    CallStep,
    DeleteStep,
    FindStep,
    ForeachStep,
    IfStep,
    InsertStep,
    NotifyStep,
    Param,
    QueryStep,
    ReturnStep,
    Step,
    UpdateStep,
    ValidateStep,
    child_blocks,
    replace_steps,
    walk_steps,
)
from specql.dsl.types import parse_type
from specql.errors import SourcePos, SpecqlError
from specql.reverse.confidence import NOTE
from specql.reverse.mapcontext import MapContext
from specql.reverse.source import Unconverted
from specql.reverse.sqlmap import ast, enums

UUID = parse_type("uuid")
INTEGER_TYPES = frozenset({"integer", "bigint", "smallint"})
KEY_NOTE = "legacy key now the entity's UUID id"
_EQUALITY = frozenset({"=", "<>", "!="})
_TEXT_TYPES = frozenset({"text", "varchar"})


@dataclass
class _Holder:
    """A param (``$name``) or variable that may hold a key."""

    label: str  # "param order_id" | "variable line_id"
    sql_type: str
    key_steps: list[Step] = field(default_factory=list)
    other: str | None = None  # the first use incompatible with a UUID
    linked_key: bool = False  # compared with / assigned from a holder used as a key

    def key(self, step: Step) -> None:
        if not any(s is step for s in self.key_steps):
            self.key_steps.append(step)

    def non_key(self, what: str) -> None:
        if self.other is None:
            self.other = what


def _is_integer(t) -> bool:
    return t is not None and t.kind == "basic" and t.name in INTEGER_TYPES


def retype_keys(ctx: MapContext, params: list[Param], core: list[Step]) -> list[Step]:
    """``core`` with the steps that use a mixed-use holder as a key made raw; the holders
    used only as keys retyped to uuid (see the module docstring). Notes go to ``ctx.notes``."""
    holders: dict[str, _Holder] = {}
    param_of: dict[str, Param] = {}
    for p in params:
        if _is_integer(p.type):
            holders[f"${p.name}"] = _Holder(f"param {p.name}", p.type.name)
            param_of[f"${p.name}"] = p
    var_of = {}
    for v in ctx.variables.values():
        if not v.record and _is_integer(v.type) and v.spec not in holders:
            holder = _Holder(f"variable {v.spec}", v.type.name)
            if v.default_source:
                holder.non_key("its DECLARE default")
            holders[v.spec] = holder
            var_of[v.spec] = v
    if not holders:
        return core
    scan = _Scan(ctx, holders)
    scan.steps(core)
    _share_fates(holders, scan.links)
    bad: dict[int, str] = {}
    for h in holders.values():
        if h.key_steps and h.other is not None:
            reason = (
                f"{h.label} stays {h.sql_type} (it is also {h.other}), but this statement "
                "compares it with or stores it as a key, which is a UUID in SpecQL (the "
                "entity's id or a ref)"
            )
            for step in h.key_steps:
                bad.setdefault(id(step), reason)
    for name, h in holders.items():
        if h.other is not None or not (h.linked_key or any(id(s) not in bad for s in h.key_steps)):
            continue  # mixed use, or its key uses are raw now
        if name in param_of:
            param_of[name].type = UUID
        else:
            var_of[name].type = UUID
        ctx.notes.append(
            Unconverted(
                ctx.fn.pos if ctx.fn.pos else SourcePos(),
                h.label,
                f"{NOTE}{h.label}: {h.sql_type} → uuid ({KEY_NOTE})",
            )
        )
    return _as_raw(ctx, core, bad) if bad else core


def _share_fates(holders: dict[str, _Holder], links: list[tuple[str, str]]) -> None:
    """Holders compared with or assigned to each other must have one type: each of a linked
    group counts the key uses of the group and fails with the first incompatible use."""
    group = {name: name for name in holders}

    def root(name: str) -> str:
        while group[name] != name:
            name = group[name]
        return name

    for a, b in links:
        group[root(a)] = root(b)
    members: dict[str, list[_Holder]] = {}
    for name, h in holders.items():
        members.setdefault(root(name), []).append(h)
    for hs in members.values():
        if len(hs) < 2:
            continue
        other = next((f"{h.label} is {h.other}" for h in hs if h.other), None)
        keyed = any(h.key_steps for h in hs)
        for h in hs:
            if other is not None and h.other is None:
                h.other = f"linked to {other}"
            if keyed and not h.key_steps:
                h.linked_key = True


def _as_raw(ctx: MapContext, steps: list[Step], bad: dict[int, str]) -> list[Step]:
    parents: dict[int, Step] = {}

    def link(block: list[Step], parent: Step | None) -> None:
        for s in block:
            if parent is not None:
                parents[id(s)] = parent
            for child in child_blocks(s):
                link(child, s)

    link(steps, None)
    targets: dict[int, str] = {}
    for sid, reason in bad.items():
        node_id = sid
        while node_id in parents and ctx.meta.get(node_id) and ctx.meta[node_id].part_of_parent:
            node_id = id(parents[node_id])
        if node_id in ctx.meta:
            targets.setdefault(node_id, reason)

    def as_raw(step: Step) -> Step:
        if id(step) not in targets:
            return step
        return ctx.raw(ctx.meta[id(step)].statements, targets[id(step)])

    return replace_steps(steps, as_raw)


# --------------------------------------------------------------------------- the scan


class _Scan:
    def __init__(self, ctx: MapContext, holders: dict[str, _Holder]) -> None:
        self.ctx = ctx
        self.holders = holders
        self.records: dict[str, str] = {}  # record variable -> entity name
        self.step: Step | None = None
        self._folded: dict[str, str] | None = None
        self.links: list[tuple[str, str]] = []  # holders compared with / assigned to each other

    def _fold(self, name: str) -> str:
        """An entity name as written in a step (SQL folds unquoted ``OrderRecord`` to lower
        case: the entity whose name folds alike)."""
        if self._folded is None:
            self._folded = {}
            for n in getattr(self.ctx.tables, "_by_entity", {}):
                self._folded.setdefault(n.lower(), n)
        return self._folded.get(name.lower(), name)

    # ---- entities

    def _entity(self, name: str | None):
        if not name:
            return None
        et = self.ctx.tables.by_entity(self._fold(name.rpartition(".")[2]))
        return et.entity if et is not None else None

    @staticmethod
    def _is_key_field(entity, column: str) -> bool:
        if entity is None:
            return False
        if column == "id":
            return True
        f = entity.field_named(column)
        return f is not None and f.type.kind == "ref"

    def _default_scope(self) -> dict[str, object]:
        own = self.ctx.own
        return {"": own.entity} if own is not None else {}

    def _is_key(self, node, scope: dict[str, object]) -> bool:
        if isinstance(node, ast.TypeCast):
            return self._is_key(node.arg, scope)
        if not isinstance(node, ast.ColumnRef):
            return False
        parts = colref_parts(node)
        if len(parts) == 1:
            return any(self._is_key_field(e, parts[0]) for e in scope.values())
        if len(parts) == 2:
            qual, column = parts
            entity = scope.get(qual)
            if entity is None and qual in self.records:
                entity = self._entity(self.records[qual])
            return self._is_key_field(entity, column)
        return False

    # ---- steps

    def steps(self, steps: list[Step]) -> None:
        for step in walk_steps(steps):  # records first: a condition may read rec.id
            if isinstance(step, FindStep):
                self.records[step.into] = step.entity
            elif isinstance(step, ForeachStep | QueryStep):
                target = step.variable if isinstance(step, ForeachStep) else step.into
                entity = self._single_entity(
                    step.query if isinstance(step, ForeachStep) else step.sql
                )
                if entity is not None:
                    self.records.setdefault(target, entity)
        for step in walk_steps(steps):
            self.step = step
            try:
                self._step(step)
            except SpecqlError:
                text = repr(step)
                for name, h in self.holders.items():
                    if name in text:
                        h.non_key("something the key check cannot read")

    def _single_entity(self, sql: str) -> str | None:
        try:
            sel = parse_statement(sql)
        except SpecqlError:
            return None
        froms = getattr(sel, "fromClause", None) or ()
        if len(froms) == 1 and isinstance(froms[0], ast.RangeVar):
            return froms[0].relname
        return None

    def _holder(self, node) -> _Holder | None:
        if isinstance(node, ast.ColumnRef):
            parts = colref_parts(node)
            if len(parts) == 1:
                return self.holders.get(parts[0])
        return None

    def _step(self, step: Step) -> None:
        scope = self._default_scope()
        if isinstance(step, ValidateStep | IfStep):
            self._expr(step.condition, scope)
        elif isinstance(step, AssignStep):
            node = parse_expression(step.expression)
            target = self.holders.get(step.target)
            source = self._holder(node)
            if target is not None and source is not None:
                self.links.append((step.target, colref_parts(node)[0]))
            elif target is not None:
                if self._is_key(node, scope):
                    target.key(step)
                else:
                    target.non_key(f"the target of assign {step.target} = {step.expression}")
            self._node(node, None, scope, top="value")
        elif isinstance(step, ReturnStep):
            if step.expression:
                self._node(parse_expression(step.expression), None, scope, top="neutral")
        elif isinstance(step, CallStep):
            node = parse_expression(step.call)
            if isinstance(node, ast.FuncCall):
                for arg in node.args or ():
                    self._node(arg, None, scope, top="neutral")
            else:
                self._node(node, None, scope, top="value")
        elif isinstance(step, NotifyStep):
            for value in step.payload.values():
                self._node(parse_expression(value), None, scope, top="neutral")
        elif isinstance(step, InsertStep | UpdateStep):
            entity = self._entity(step.entity)
            pairs = step.values if isinstance(step, InsertStep) else step.assignments
            for field_name, value in pairs.items():
                node = parse_expression(value)
                holder = self._holder(node)
                if holder is not None:
                    if self._is_key_field(entity, field_name):
                        holder.key(step)
                    else:
                        holder.non_key(f"the value of {field_name}")
                else:
                    self._node(node, None, {"": entity, **scope} if entity else scope, top="value")
            if isinstance(step, InsertStep) and step.as_ in self.holders:
                self.holders[step.as_].key(step)
            if isinstance(step, UpdateStep) and step.where:
                self._expr(step.where, {"": entity} if entity else {})
        elif isinstance(step, DeleteStep | FindStep):
            entity = self._entity(step.entity)
            if step.where:
                self._expr(step.where, {"": entity} if entity else {})
        elif isinstance(step, QueryStep):
            sel = parse_statement(step.sql)
            target = self.holders.get(step.into)
            if target is not None:
                outputs = getattr(sel, "targetList", None) or ()
                if len(outputs) == 1 and self._is_key(outputs[0].val, self._from_scope(sel, {})):
                    target.key(step)
                else:
                    target.non_key(f"the target of query {step.sql}")
            self._node(sel, None, scope, top="neutral")
        elif isinstance(step, ForeachStep):
            self._node(parse_statement(step.query), None, scope, top="neutral")

    def _expr(self, text: str, scope: dict[str, object]) -> None:
        self._node(parse_expression(text), None, scope, top="value")

    def _from_scope(self, sel, outer: dict[str, object]) -> dict[str, object]:
        scope = dict(outer)
        todo = list(getattr(sel, "fromClause", None) or ())
        while todo:
            item = todo.pop()
            if isinstance(item, ast.RangeVar):
                entity = self._entity(item.relname)
                if entity is not None:
                    alias = item.alias.aliasname if item.alias else item.relname
                    scope[alias] = entity
            elif isinstance(item, ast.JoinExpr):
                todo += [item.larg, item.rarg]
        return scope

    # ---- expressions

    def _node(self, node, parent, scope: dict[str, object], top: str = "value") -> None:
        if isinstance(node, tuple):
            for item in node:
                self._node(item, parent, scope, top)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.SelectStmt):
            scope = self._from_scope(node, scope)
        holder = self._holder(node)
        if holder is not None:
            self._use(holder, node, parent, scope, top)
            return
        for member in node.__slots__:
            child = getattr(node, member, None)
            if isinstance(child, ast.Node | tuple):
                self._node(child, node, scope, top)

    def _use(self, holder: _Holder, node, parent, scope: dict[str, object], top: str) -> None:
        if parent is None:
            if top != "neutral":
                holder.non_key("a value")
            return
        if isinstance(parent, ast.A_Expr) and parent.name:
            op = parent.name[-1].sval
            if parent.kind == enums.A_Expr_Kind.AEXPR_OP and op in _EQUALITY:
                other = parent.rexpr if parent.lexpr is node else parent.lexpr
                if self._holder(other) is not None:
                    self.links.append((colref_parts(node)[0], colref_parts(other)[0]))
                    return
                if self._is_key(other, scope):
                    holder.key(self.step)
                    return
            elif parent.kind == enums.A_Expr_Kind.AEXPR_IN:
                if parent.lexpr is node:
                    items = parent.rexpr if isinstance(parent.rexpr, tuple) else ()
                    if items and all(self._is_key(i, scope) for i in items):
                        holder.key(self.step)
                        return
                elif self._is_key(parent.lexpr, scope):
                    holder.key(self.step)
                    return
            holder.non_key(
                f"compared ({op}) with something that is not a key"
                if op in _EQUALITY
                else f"an operand of {op}"
            )
            return
        if isinstance(parent, ast.NullTest):
            return
        if isinstance(parent, ast.TypeCast):
            names = [n.sval for n in parent.typeName.names] if parent.typeName else []
            if names and names[-1] in _TEXT_TYPES:
                return
            holder.non_key(f"a value cast to {names[-1] if names else '?'}")
            return
        if (
            isinstance(parent, ast.FuncCall)
            and len(parent.funcname) == 2
            and parent.funcname[0].sval != "pg_catalog"
        ):
            return  # a legacy function of the run: reversed alike, it takes the key too
        if isinstance(parent, ast.ResTarget):
            holder.non_key("a selected value")
            return
        holder.non_key(f"a {type(parent).__name__} operand")


__all__ = ["INTEGER_TYPES", "KEY_NOTE", "UUID", "retype_keys"]
