"""Legacy SQL inside a PL/pgSQL body -> SpecQL expression and query text, on pglast's AST.

The SQL of every PL/pgSQL expression and statement is parsed once with
:mod:`specql.dsl.expressions` (PostgreSQL's own parser), its names are rewritten on the AST and
the result is deparsed in spec form. This is the inverse of the generator's name resolution
(docs/generated-postgres.md, "Name resolution"), and it reads hand-written legacy SQL the same
way:

- params -> ``$name``; positional ``$1`` -> the first argument's ``$name``;
- variables -> their spec names; ``rec.col`` of a record holding an entity row ->
  ``rec.field``; the generated instance record ``v_<entity>.col`` (and ``NEW.col`` in a trigger
  on an entity table) -> the bare field;
- entity tables in FROM -> the entity name (``crm.tb_contact AS contact`` -> ``Contact``), their
  columns -> field names; an alias is kept only where a query needs one (several FROM items, or
  a subquery that refers to the outer row);
- the generator's framework idioms are undone: ``tenant_id = p_tenant_id`` and ``deleted_at IS
  NULL`` row filters are dropped, and the ref subqueries turn back into ref fields
  (``(SELECT tb_t.id FROM s.tb_t WHERE tb_t.pk_t = x.fk_f)`` -> ``x.f``, ``x.fk_f = (SELECT
  tb_t.pk_t ... WHERE tb_t.id = e ...)`` -> ``x.f = e``, ``x.fk_f = r.pk_t`` -> ``x.f = r.id``).

:func:`spec_expression` does the same for an index key expression (one table's columns ->
field names), for the entities stage.

Anything a spec cannot say raises :class:`Untranslatable` with the reason (a table that is no
entity, a column that is no field, ``FOUND``, ``OLD``, ``TG_OP``...); the caller then keeps the
statement as a ``raw_sql`` step with that reason.

This module belongs with the parse stage's SQL handling: it is the only module of the steps
stage that imports pglast (the statement handlers get the node classes, ``ast`` and ``enums``,
from here). It parses PL/pgSQL's SQL with PostgreSQL's parser directly (that SQL has no
``$name`` spec params to quote) and deparses through :mod:`specql.dsl.expressions`.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import pglast
from pglast import ast, enums
from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from specql.dsl.expressions import (
    MAX_EXPRESSION_CHARS,
    PARAM_PREFIX,
    NodeRewriter,
    colref_parts,
    deparse_spec,
)
from specql.errors import SpecqlError
from specql.reverse.entity_tables import EntityTable, EntityTables
from specql.reverse.source import TRIGGER_VARIABLES

# Functions whose value is "now" (the generator writes now()).
NOW_FUNCTIONS = frozenset(
    {"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp"}
)
_NOW_SVF = frozenset(
    {
        enums.SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP,
        enums.SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N,
        enums.SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP,
        enums.SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N,
    }
)
_ENTITY_TOKEN = "specql_entity_"
_EQUALITY = frozenset({"=", "<>", "!="})


class Untranslatable(Exception):
    """The SQL has no SpecQL form; ``reason`` says why (it goes into the raw_sql step)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- names


@dataclass(eq=False)
class Name:
    """What a PL/pgSQL name means in the spec.

    kind: ``param`` ($spec), ``var`` (a scalar variable), ``record`` (a record variable),
    ``instance`` (the generated function's instance record: its columns are bare fields),
    ``new``/``old`` (trigger rows), ``rowfield`` (a scalar loop variable read as
    ``record.column``), ``tenant`` (the generated p_tenant_id), ``found``, ``special``
    (TG_* variables), ``internal`` (the generated function's own variables).
    """

    spec: str
    kind: str
    table: EntityTable | None = None  # record/instance/new: rows of this entity table
    columns: dict[str, str] | None = None  # record of a query: legacy column -> spec column
    record: str | None = None  # rowfield: the record's spec name (spec is the column)


@dataclass
class Names:
    by_sql: dict[str, Name] = field(default_factory=dict)
    positional: list[Name | None] = field(default_factory=list)  # $1, $2 ...

    def get(self, sql: str) -> Name | None:
        return self.by_sql.get(sql)


@dataclass
class Found:
    """What ``FOUND`` reads as: the record of a preceding find has a row, or a preceding
    ``PERFORM <query>`` returned one."""

    record: str | None = None
    query: ast.SelectStmt | None = None  # translated
    mentions: set[str] = field(default_factory=set)

    def node(self, negated: bool = False) -> ast.Node:
        if self.record is not None:
            return ast.NullTest(
                arg=_colref(self.record, "id"),
                nulltesttype=(
                    enums.NullTestType.IS_NULL if negated else enums.NullTestType.IS_NOT_NULL
                ),
            )
        exists = ast.SubLink(
            subLinkType=enums.SubLinkType.EXISTS_SUBLINK, subselect=copy.deepcopy(self.query)
        )
        if negated:
            return ast.BoolExpr(boolop=enums.BoolExprType.NOT_EXPR, args=(exists,))
        return exists


# --------------------------------------------------------------------------- scopes


@dataclass(eq=False)
class Binding:
    """A FROM item of a query level (or the target table of an UPDATE/DELETE)."""

    names: set[str]  # how the legacy SQL qualifies its columns
    table: EntityTable | None  # None: opaque (subquery, function, CTE, VALUES)
    alias: str | None = None  # the legacy alias
    rangevar: ast.RangeVar | None = None
    placeholders: list[tuple[ast.ColumnRef, str]] = field(default_factory=list)
    inner_use: bool = False
    fixed_alias: str | None = None  # statement targets: qualify with this (or bare if None)
    # opaque items: the columns they yield when the legacy SQL says (None: unknown)
    columns: frozenset[str] | None = None
    renames: dict[str, str] = field(default_factory=dict)  # legacy -> spec output names

    def captures(self, column: str) -> bool:
        """Whether a bare ``column`` may name a column of this opaque item: then it, not an
        outer query's table, is what the column means (the innermost FROM wins in SQL)."""
        return self.table is None and (self.columns is None or column in self.columns)


@dataclass(eq=False)
class Level:
    bindings: list[Binding] = field(default_factory=list)
    ctes: set[str] = field(default_factory=set)
    statement_target: bool = False  # UPDATE/DELETE target level: never aliases anything


def _colref(*parts: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(ast.String(sval=p) for p in parts))


def _op(node: ast.Node) -> str | None:
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_OP and node.name:
        return node.name[-1].sval
    return None


def conjuncts(node: ast.Node | None) -> list[ast.Node]:
    if node is None:
        return []
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.AND_EXPR:
        out: list[ast.Node] = []
        for arg in node.args:
            out.extend(conjuncts(arg))
        return out
    return [node]


def and_all(nodes: list[ast.Node]) -> ast.Node | None:
    if not nodes:
        return None
    if len(nodes) == 1:
        return nodes[0]
    return ast.BoolExpr(boolop=enums.BoolExprType.AND_EXPR, args=tuple(nodes))


def is_now(node: ast.Node | None) -> bool:
    """``now()``, ``CURRENT_TIMESTAMP`` and friends."""
    if isinstance(node, ast.FuncCall) and not node.args:
        return node.funcname[-1].sval.lower() in NOW_FUNCTIONS
    if isinstance(node, ast.SQLValueFunction):
        return node.op in _NOW_SVF
    return False


def string_value(node: ast.Node | None) -> str | None:
    """The text of a string literal (also ``'x'::text``), else None."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    return None


# --------------------------------------------------------------------------- translator


class Translator(NodeRewriter):
    """Rewrites the SQL of one function, statement by statement.

    ``mentioned`` collects the spec variables (scalars and records) the SQL translated since
    the last :meth:`reset_mentions` refers to; ``tables_read`` counts entity and other tables
    read.
    """

    handler_prefix = "_t_"

    def __init__(self, tables: EntityTables, names: Names, strip_filters: bool = True) -> None:
        self.tables = tables
        self.names = names
        self.strip_filters = strip_filters
        self.mentioned: set[str] = set()
        self.tables_read: Counter[str] = Counter()
        self._tokens: dict[str, str] = {}
        # What FOUND means for the statement being translated: after a find into a record,
        # "the record has a row" (rec.id IS NOT NULL); after PERFORM <query>, EXISTS (query).
        self.found: Found | None = None

    # ---- entry points

    def reset_mentions(self) -> set[str]:
        found, self.mentioned = self.mentioned, set()
        return found

    def parse_expression(self, text: str) -> ast.Node:
        """A PL/pgSQL expression. PL/pgSQL evaluates it as ``SELECT <text>``, so it may carry
        FROM/WHERE (``x := max(a) FROM t``): that reads as the scalar subquery."""
        stmt = _parse_one("SELECT " + text)
        if (
            isinstance(stmt, ast.SelectStmt)
            and stmt.op == enums.SetOperation.SETOP_NONE
            and stmt.targetList
            and len(stmt.targetList) == 1
            and not stmt.targetList[0].name
            and not any(
                getattr(stmt, a)
                for a in (
                    "fromClause",
                    "whereClause",
                    "groupClause",
                    "havingClause",
                    "sortClause",
                    "limitCount",
                    "limitOffset",
                    "distinctClause",
                    "withClause",
                    "windowClause",
                    "lockingClause",
                )
            )
        ):
            return stmt.targetList[0].val
        if not isinstance(stmt, ast.SelectStmt):
            raise Untranslatable("cannot read the expression")
        return ast.SubLink(subLinkType=enums.SubLinkType.EXPR_SUBLINK, subselect=stmt)

    def parse_statement(self, text: str) -> ast.Node:
        return _parse_one(text)

    def expression(self, text: str) -> str:
        """Spec text of a PL/pgSQL expression."""
        return self.render(self.node(self.parse_expression(text)))

    def node(self, node: ast.Node, scopes: list[Level] | None = None) -> ast.Node:
        try:
            return self._node(node, scopes or [])
        except RecursionError:
            raise Untranslatable("expression nested too deeply") from None

    def select(self, stmt: ast.Node):
        """Translate a SELECT. Returns (the query, its output columns as legacy name -> spec
        name, the entity table when the query is ``SELECT *`` over exactly one)."""
        if not isinstance(stmt, ast.SelectStmt):
            raise Untranslatable(f"expected a SELECT, found {type(stmt).__name__}")
        if stmt.intoClause is not None:
            raise Untranslatable("SELECT … INTO a table")
        outputs: dict[str, str] = {}
        star_table = None
        if (
            stmt.op == enums.SetOperation.SETOP_NONE
            and stmt.fromClause
            and len(stmt.fromClause) == 1
            and isinstance(stmt.fromClause[0], ast.RangeVar)
            and stmt.targetList
            and len(stmt.targetList) == 1
            and isinstance(stmt.targetList[0].val, ast.ColumnRef)
            and colref_parts(stmt.targetList[0].val)[-1] == "*"
        ):
            rv = stmt.fromClause[0]
            star_table = self.tables.lookup(rv.schemaname, rv.relname)
        try:
            self._select(stmt, [], outputs_out=outputs)
        except RecursionError:
            raise Untranslatable("query nested too deeply") from None
        return stmt, (None if "*" in outputs else outputs), star_table

    def render(self, node: ast.Node) -> str:
        try:
            text = deparse_spec(node)
        except SpecqlError as err:
            raise Untranslatable(err.message) from None
        if _ENTITY_TOKEN in text:
            for token, name in self._tokens.items():
                text = text.replace(token, name)
        return text

    def entity_token(self, et: EntityTable) -> str:
        token = f"{_ENTITY_TOKEN}{id(et)}"
        self._tokens[token] = sql_entity_name(et.spec_name)
        return token

    # ---- statement targets (UPDATE / DELETE / INSERT)

    def target_level(self, rel: ast.RangeVar, et: EntityTable) -> Level:
        """A level binding the target table of a write: its columns are bare fields."""
        names = {rel.alias.aliasname} if rel.alias is not None else {rel.relname}
        if rel.alias is None and rel.schemaname:
            names.add(f"{rel.schemaname}.{rel.relname}")
        binding = Binding(names, et, rel.alias.aliasname if rel.alias else None)
        return Level(bindings=[binding], statement_target=True)

    def finish_level(self, level: Level) -> None:
        self._finish(level)

    def strip_row_filters(
        self, where: ast.Node | None, level: Level, deleted: bool = True
    ) -> ast.Node | None:
        """``where`` without the generator's tenant and soft-delete filters on ``level``'s
        entity tables."""
        if not self.strip_filters or where is None:
            return where
        kept = [c for c in conjuncts(where) if not self._is_row_filter(c, [level], deleted)]
        return and_all(kept)

    # ---- framework ref idioms (also used by statement handlers)

    def uuid_to_key(self, node: ast.Node) -> tuple[ast.Node, EntityTable] | None:
        """``(SELECT t.pk_t FROM s.tb_t [AS t] WHERE t.id = <e> [AND t.tenant_id = p])`` ->
        (``<e>`` untranslated, the table)."""
        sel = self._scalar_select(node)
        if sel is None:
            return None
        et, qualifiers, target = sel
        if target != et.pk:
            return None
        uuid = None
        for c in conjuncts(sel_where(node)):
            if self._is_tenant_filter(c, qualifiers):
                continue
            if _op(c) == "=" and uuid is None:
                if self._is_column_of(c.lexpr, qualifiers, "id"):
                    uuid = c.rexpr
                    continue
                if self._is_column_of(c.rexpr, qualifiers, "id"):
                    uuid = c.lexpr
                    continue
            return None
        return (uuid, et) if uuid is not None else None

    def key_to_uuid(self, node: ast.Node) -> tuple[ast.Node, EntityTable] | None:
        """``(SELECT t.id FROM s.tb_t WHERE t.pk_t = <key>)`` -> (``<key>``, the table)."""
        sel = self._scalar_select(node)
        if sel is None:
            return None
        et, qualifiers, target = sel
        where = sel_where(node)
        if target != "id" or _op(where) != "=":
            return None
        for a, b in ((where.lexpr, where.rexpr), (where.rexpr, where.lexpr)):
            if et.pk is not None and self._is_column_of(a, qualifiers, et.pk):
                return b, et
        return None

    def _scalar_select(self, node: ast.Node):
        if not (
            isinstance(node, ast.SubLink)
            and node.subLinkType == enums.SubLinkType.EXPR_SUBLINK
            and isinstance(node.subselect, ast.SelectStmt)
        ):
            return None
        sel = node.subselect
        if (
            sel.op != enums.SetOperation.SETOP_NONE
            or not sel.fromClause
            or len(sel.fromClause) != 1
            or not isinstance(sel.fromClause[0], ast.RangeVar)
            or not sel.targetList
            or len(sel.targetList) != 1
            or sel.groupClause
            or sel.whereClause is None
        ):
            return None
        rv = sel.fromClause[0]
        et = self.tables.lookup(rv.schemaname, rv.relname)
        target = sel.targetList[0].val
        if et is None or not isinstance(target, ast.ColumnRef):
            return None
        qualifiers = {rv.alias.aliasname} if rv.alias else {rv.relname}
        parts = colref_parts(target)
        if len(parts) == 2 and parts[0] in qualifiers:
            return et, qualifiers, parts[1]
        if len(parts) == 1:
            return et, qualifiers, parts[0]
        return None

    def _is_column_of(self, node, qualifiers: set[str], column: str) -> bool:
        if not isinstance(node, ast.ColumnRef):
            return False
        parts = colref_parts(node)
        return parts[-1] == column and (len(parts) == 1 or parts[0] in qualifiers)

    def is_tenant_param(self, node) -> bool:
        if isinstance(node, ast.ColumnRef):
            parts = colref_parts(node)
            if len(parts) == 1:
                name = self.names.get(parts[0])
                return name is not None and name.kind == "tenant"
        if isinstance(node, ast.ParamRef):
            name = self._positional(node.number)
            return name is not None and name.kind == "tenant"
        return False

    def _is_tenant_filter(self, c, qualifiers: set[str]) -> bool:
        if _op(c) != "=":
            return False
        for a, b in ((c.lexpr, c.rexpr), (c.rexpr, c.lexpr)):
            if self._is_column_of(a, qualifiers, "tenant_id") and self.is_tenant_param(b):
                return True
        return False

    def _is_row_filter(self, c: ast.Node, levels: list[Level], deleted: bool) -> bool:
        for level in levels:
            for b in level.bindings:
                if b.table is None:
                    continue
                quals = b.names
                if "tenant_id" in b.table.columns and self._is_tenant_filter(c, quals):
                    return True
                if (
                    deleted
                    and "deleted_at" in b.table.columns
                    and isinstance(c, ast.NullTest)
                    and c.nulltesttype == enums.NullTestType.IS_NULL
                    and self._is_column_of(c.arg, quals, "deleted_at")
                    and (len(colref_parts(c.arg)) == 2 or len(level.bindings) == 1)
                ):
                    return True
        return False

    # ---- walk (NodeRewriter: ``_t_<NodeClass>`` handlers, ``scopes`` a list of Level)

    def _t_ColumnRef(self, node: ast.ColumnRef, scopes: list[Level]) -> ast.Node:
        return self._column(node, scopes)

    def _t_BoolExpr(self, node: ast.BoolExpr, scopes: list[Level]) -> ast.Node:
        if (
            node.boolop == enums.BoolExprType.NOT_EXPR
            and self.found is not None
            and isinstance(node.args[0], ast.ColumnRef)
            and colref_parts(node.args[0]) == ["found"]
            and self.names.get("found") is not None
        ):
            self.mentioned |= self.found.mentions
            return self.found.node(negated=True)
        return self._children(node, scopes)

    def _t_ParamRef(self, node: ast.ParamRef, scopes: list[Level]) -> ast.Node:
        name = self._positional(node.number)
        if name is None:
            raise Untranslatable(f"${node.number} is not an argument of the function")
        return self._name_ref(name, f"${node.number}")

    def _t_SelectStmt(self, node: ast.SelectStmt, scopes: list[Level]) -> ast.Node:
        return self._select(node, scopes)

    def _t_RangeVar(self, node: ast.RangeVar, scopes: list[Level]) -> ast.Node:
        raise Untranslatable(f"table {node.relname} outside a FROM clause")

    def _t_SubLink(self, node: ast.SubLink, scopes: list[Level]) -> ast.Node:
        found = self.key_to_uuid(node)
        if found is not None:
            key, et = found
            ref = self._ref_key(key, scopes, et)
            if ref is not None:
                return ref
        if node.testexpr is not None:
            node.testexpr = self._node(node.testexpr, scopes)
        node.subselect = self._select(node.subselect, scopes)
        return node

    def _t_A_Expr(self, node: ast.A_Expr, scopes: list[Level]) -> ast.Node:
        name = _op(node)
        if name in _EQUALITY and node.lexpr is not None and node.rexpr is not None:
            rewritten = self._ref_comparison(node, node.lexpr, node.rexpr, scopes, False)
            if rewritten is None:
                rewritten = self._ref_comparison(node, node.rexpr, node.lexpr, scopes, True)
            if rewritten is not None:
                return rewritten
        return self._children(node, scopes)

    def _ref_comparison(self, node, ref_side, other, scopes, flip: bool):
        if not isinstance(ref_side, ast.ColumnRef):
            return None
        target = self._ref_target(ref_side, scopes)
        if target is None:
            return None
        found = self.uuid_to_key(other)
        if found is not None and found[1].entity.name == target:
            value = self._node(found[0], scopes)
        elif isinstance(other, ast.ColumnRef) and self._is_key_of(other, scopes, target):
            parts = colref_parts(other)
            if len(parts) == 2 and parts[1].startswith("pk_"):  # generated: x.pk_t -> x.id
                value = self._column(_colref(parts[0], "id"), scopes)
            else:  # a legacy key column reads as id itself
                value = self._column(other, scopes)
        else:
            return None
        ref = self._column(ref_side, scopes)
        node.lexpr, node.rexpr = (value, ref) if flip else (ref, value)
        return node

    def _ref_target(self, node: ast.ColumnRef, scopes: list[Level]) -> str | None:
        """Target entity name when ``node`` is the key column of a ref field."""
        et, column = self._column_owner(node, scopes)
        if et is None or column not in et.ref_columns:
            return None
        return et.ref_targets.get(et.ref_columns[column])

    def _is_key_of(self, node: ast.ColumnRef, scopes, target: str) -> bool:
        et, column = self._column_owner(node, scopes)
        return et is not None and et.entity.name == target and column == et.pk

    def _ref_key(self, key: ast.Node, scopes: list[Level], target: EntityTable):
        if not isinstance(key, ast.ColumnRef):
            return None
        if self._ref_target(key, scopes) != target.entity.name:
            return None
        return self._column(key, scopes)

    def _column_owner(self, node: ast.ColumnRef, scopes: list[Level]):
        """(entity table, column) a column reference reads, without translating it."""
        parts = colref_parts(node)
        if len(parts) == 1:
            if self.names.get(parts[0]) is not None:
                return None, None
            for level in reversed(scopes):
                for b in level.bindings:
                    if b.table is not None and parts[0] in b.table.columns:
                        return b.table, parts[0]
                if any(b.captures(parts[0]) for b in level.bindings):
                    return None, None
            return None, None
        if len(parts) == 2:
            q, col = parts
            b = self._binding_named(q, scopes)
            if b is not None:
                return (b[0].table, col) if b[0].table is not None else (None, None)
            name = self.names.get(q)
            if (
                name is not None
                and name.table is not None
                and name.kind
                in (
                    "record",
                    "instance",
                    "new",
                )
            ):
                return name.table, col
        return None, None

    # ---- columns and names

    def _positional(self, number: int) -> Name | None:
        if 1 <= number <= len(self.names.positional):
            return self.names.positional[number - 1]
        return None

    def _binding_named(self, qualifier: str, scopes: list[Level]):
        for depth in range(len(scopes) - 1, -1, -1):
            for b in scopes[depth].bindings:
                if qualifier in b.names:
                    return b, depth
        return None

    def _column(self, node: ast.ColumnRef, scopes: list[Level]) -> ast.Node:
        parts = colref_parts(node)
        if len(parts) == 1:
            name = parts[0]
            if name == "*":
                return node
            known = self.names.get(name)
            if known is not None:
                return self._name_ref(known, name)
            if name in TRIGGER_VARIABLES:
                raise Untranslatable(f"{name.upper()} (trigger context) has no SpecQL form")
            opaque = False
            for depth in range(len(scopes) - 1, -1, -1):
                hits = [
                    b
                    for b in scopes[depth].bindings
                    if b.table is not None and name in b.table.columns
                ]
                if hits:
                    return self._binding_column(hits[0], name, depth, scopes)
                owner = next((b for b in scopes[depth].bindings if b.captures(name)), None)
                if owner is not None:  # a column of a function, VALUES, subquery or CTE here
                    return _colref(owner.renames.get(name, name))
                opaque = opaque or any(b.table is None for b in scopes[depth].bindings)
            if opaque:
                return node
            raise Untranslatable(f"unknown name {name!r}")
        if len(parts) == 3:
            found = self._binding_named(f"{parts[0]}.{parts[1]}", scopes)
            if found is not None and found[0].table is not None:
                return self._binding_column(found[0], parts[2], found[1], scopes)
            raise Untranslatable(f"cannot read {'.'.join(parts)}")
        if len(parts) != 2:
            raise Untranslatable(f"cannot read {'.'.join(parts)}")
        qualifier, column = parts
        found = self._binding_named(qualifier, scopes)
        if found is not None:
            b, depth = found
            if b.table is None:
                return _colref(qualifier, b.renames.get(column, column))
            return self._binding_column(b, column, depth, scopes)
        name = self.names.get(qualifier)
        if name is not None:
            return self._record_column(name, qualifier, column, scopes)
        raise Untranslatable(f"unknown name {qualifier}.{column}")

    def _binding_column(self, b: Binding, column: str, depth: int, scopes) -> ast.Node:
        if column == "*":
            spec = "*"
        else:
            spec = b.table.spec_column(column)
            if spec is None:
                raise Untranslatable(
                    f"column {column!r} of {b.table.qualified} is not a field of "
                    f"{b.table.entity.name}"
                )
        if depth != len(scopes) - 1:
            b.inner_use = True
        ref = ast.ColumnRef(fields=(ast.String(sval=spec),))
        b.placeholders.append((ref, spec))
        return ref

    def _name_ref(self, name: Name, sql: str) -> ast.Node:
        kind = name.kind
        if kind == "param":
            return _colref(PARAM_PREFIX + name.spec)
        if kind in ("var", "record"):
            self.mentioned.add(name.spec)
            return _colref(name.spec)
        if kind == "rowfield":
            self.mentioned.add(name.record)
            return _colref(name.record, name.spec)
        if kind == "found":
            if self.found is not None:
                self.mentioned |= self.found.mentions
                return self.found.node()
            raise Untranslatable("FOUND (did the previous statement find a row) has no SpecQL form")
        if kind == "special":
            raise Untranslatable(f"{sql.upper()} (trigger context) has no SpecQL form")
        if kind == "tenant":
            raise Untranslatable("the tenant id is implicit in SpecQL ($tenant_id is not a param)")
        if kind in ("instance", "new", "old"):
            raise Untranslatable(f"the whole row {sql} has no SpecQL form")
        raise Untranslatable(f"{sql} is internal to the generated function")

    def _record_column(self, name: Name, qualifier: str, column: str, scopes) -> ast.Node:
        kind = name.kind
        if kind == "old":
            raise Untranslatable("OLD (the row before the change) has no SpecQL form")
        if kind in ("instance", "new"):
            if name.table is None:
                raise Untranslatable(f"{qualifier}.{column}: the trigger's table is not an entity")
            spec = name.table.spec_column(column)
            if spec is None:
                raise Untranslatable(
                    f"column {column!r} of {name.table.qualified} is not a field of "
                    f"{name.table.entity.name}"
                )
            for level in scopes:  # a query column of that name would capture a bare field
                for b in level.bindings:
                    if b.table is not None and spec in b.table.field_by_column.values():
                        raise Untranslatable(
                            f"{qualifier}.{column} inside a query over a table with a column "
                            f"{spec!r}"
                        )
            return _colref(spec)
        if kind == "record":
            self.mentioned.add(name.spec)
            if column == "*":
                return ast.ColumnRef(fields=(ast.String(sval=name.spec), ast.A_Star()))
            if name.table is not None:
                spec = name.table.spec_column(column)
                if spec is None:
                    raise Untranslatable(
                        f"column {column!r} of {name.table.qualified} is not a field of "
                        f"{name.table.entity.name}"
                    )
                return _colref(name.spec, spec)
            if name.columns is not None:
                return _colref(name.spec, name.columns.get(column, column))
            return _colref(name.spec, column)
        raise Untranslatable(f"{qualifier}.{column}: {qualifier} is not a record")

    # ---- queries

    def _select(
        self, node: ast.SelectStmt, scopes: list[Level], outputs_out: dict | None = None
    ) -> ast.SelectStmt:
        level = Level()
        inner = [*scopes, level]
        if node.withClause is not None:
            if node.withClause.recursive:
                for cte in node.withClause.ctes:
                    level.ctes.add(cte.ctename)
            for cte in node.withClause.ctes:
                if not isinstance(cte.ctequery, ast.SelectStmt):
                    raise Untranslatable("a data-modifying WITH query")
                cte.ctequery = self._select(cte.ctequery, inner)
                level.ctes.add(cte.ctename)
        if node.op != enums.SetOperation.SETOP_NONE:
            node.larg = self._select(node.larg, inner, outputs_out)
            node.rarg = self._select(node.rarg, inner)
            for attr in ("sortClause", "limitCount", "limitOffset"):
                value = getattr(node, attr)
                if value is not None:
                    setattr(node, attr, self._node(value, inner))
            self._finish(level)
            return node
        if node.intoClause is not None:
            raise Untranslatable("SELECT … INTO a table")
        if node.valuesLists:
            node.valuesLists = self._node(node.valuesLists, scopes)
            return node

        if node.fromClause:
            node.fromClause = tuple(self._from_item(i, scopes, level) for i in node.fromClause)
            for item in node.fromClause:
                self._join_quals(item, inner, level)
        if node.whereClause is not None:
            node.whereClause = self._node(self._strip(node.whereClause, level), inner)

        outputs: set[str] = set()
        if node.targetList:
            targets = []
            for target in node.targetList:
                original = target.val
                legacy_name = target.name or _output_name(original)
                target.val = self._node(original, inner)
                new_name = _output_name(target.val)
                if target.name and new_name == target.name:
                    target.name = None  # "contact AS contact"
                final = target.name or new_name
                if final:
                    outputs.add(final)
                if outputs_out is not None:
                    if legacy_name == "*" or final == "*":
                        outputs_out.clear()
                        outputs_out["*"] = "*"
                    elif legacy_name and final:
                        outputs_out[legacy_name] = final
                targets.append(target)
            node.targetList = tuple(targets)
        for attr in ("havingClause", "limitCount", "limitOffset"):
            value = getattr(node, attr)
            if value is not None:
                setattr(node, attr, self._node(value, inner))
        for attr in ("groupClause", "sortClause", "distinctClause", "windowClause"):
            value = getattr(node, attr)
            if value:
                setattr(node, attr, tuple(self._ordering(v, inner, outputs) for v in value))
        self._finish(level)
        return node

    def _strip(self, where: ast.Node, level: Level) -> ast.Node | None:
        if not self.strip_filters:
            return where
        kept = [c for c in conjuncts(where) if not self._is_row_filter(c, [level], True)]
        if not kept:
            return None
        return and_all(kept) if len(kept) != len(conjuncts(where)) else where

    def _from_item(self, item, outer: list[Level], level: Level):
        if isinstance(item, ast.RangeVar):
            in_cte = item.schemaname is None and any(
                item.relname in lv.ctes for lv in [*outer, level]
            )
            alias = item.alias.aliasname if item.alias is not None else None
            if in_cte:
                level.bindings.append(Binding({alias or item.relname}, None, alias))
                return item
            et = self.tables.lookup(item.schemaname, item.relname)
            written = f"{item.schemaname}.{item.relname}" if item.schemaname else item.relname
            if et is None:
                raise Untranslatable(f"table {written} is not an entity table")
            self.tables_read[et.qualified] += 1
            names = {alias} if alias else {item.relname, written}
            binding = Binding(names, et, alias, rangevar=item)
            level.bindings.append(binding)
            item.schemaname = None
            item.relname = self.entity_token(et)
            item.alias = None
            return item
        if isinstance(item, ast.JoinExpr):
            item.larg = self._from_item(item.larg, outer, level)
            item.rarg = self._from_item(item.rarg, outer, level)
            if item.usingClause:
                raise Untranslatable("JOIN … USING over entity tables (write it with ON)")
            return item
        if isinstance(item, ast.RangeSubselect):
            columns = _output_columns(item.subquery)  # the legacy names, before translating
            scopes = [*outer, level] if item.lateral else outer
            outputs: dict[str, str] = {}
            if isinstance(item.subquery, ast.SelectStmt):
                item.subquery = self._select(item.subquery, scopes, outputs)
            else:
                item.subquery = self._node(item.subquery, scopes)
        elif isinstance(item, ast.RangeFunction):
            columns = None
            if item.coldeflist:
                columns = [c.colname for c in item.coldeflist]
                if item.ordinality:
                    columns.append("ordinality")
            item.functions = self._node(item.functions, [*outer, level])
        else:
            raise Untranslatable(f"FROM item {type(item).__name__}")
        alias = getattr(item, "alias", None)
        binding = Binding({alias.aliasname} if alias else set(), None)
        binding.columns = _renamed(columns, alias)
        if isinstance(item, ast.RangeSubselect) and not (alias and alias.colnames):
            binding.renames = {k: v for k, v in outputs.items() if k != v and k != "*"}
        level.bindings.append(binding)
        return item

    def _join_quals(self, item, scopes: list[Level], level: Level) -> None:
        if isinstance(item, ast.JoinExpr):
            self._join_quals(item.larg, scopes, level)
            self._join_quals(item.rarg, scopes, level)
            if item.quals is not None:
                quals = item.quals
                if self.strip_filters:
                    kept = [
                        c for c in conjuncts(quals) if not self._is_row_filter(c, [level], True)
                    ]
                    quals = and_all(kept) or ast.A_Const(val=ast.Boolean(boolval=True))
                item.quals = self._node(quals, scopes)

    def _finish(self, level: Level) -> None:
        """Fix the qualifiers of a level's columns now that we know whether it needs them."""
        entity_bindings = [b for b in level.bindings if b.table is not None]
        single = len(level.bindings) == 1
        for b in entity_bindings:
            if level.statement_target:
                if b.inner_use:
                    raise Untranslatable(
                        "a subquery refers to the row being written (SpecQL cannot name it)"
                    )
                qualifier = b.fixed_alias
            elif single and not b.inner_use:
                qualifier = None
            else:
                qualifier = b.alias or b.table.default_alias
                if b.rangevar is not None and not (
                    qualifier == b.table.default_alias == b.table.entity.name.lower()
                ):
                    b.rangevar.alias = ast.Alias(aliasname=qualifier)
            for ref, spec in b.placeholders:
                last = ast.A_Star() if spec == "*" else ast.String(sval=spec)
                ref.fields = (last,) if qualifier is None else (ast.String(sval=qualifier), last)
            b.placeholders.clear()


_KEYWORDS = frozenset(RESERVED_KEYWORDS) | frozenset(TYPE_FUNC_NAME_KEYWORDS)


def sql_entity_name(spec_name: str) -> str:
    """How a query names an entity: ``Contact``; an entity whose name is a reserved word
    (``Order``) as the quoted lower-case name ``"order"``, which both the validator and the
    generator read as that entity (unquoted it would not parse)."""
    schema, _, name = spec_name.rpartition(".")
    if name.lower() in _KEYWORDS:
        name = f'"{name.lower()}"'
    return f"{schema}.{name}" if schema else name


def _parse_one(sql: str) -> ast.Node:
    """One SQL statement parsed by PostgreSQL's parser. (Not through
    :func:`specql.dsl.expressions.parse_statement`: PL/pgSQL SQL has no ``$name`` params to
    quote, and that quoting would break ``$$…$$`` strings.)"""
    if len(sql) > MAX_EXPRESSION_CHARS:
        raise Untranslatable(f"SQL longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        stmts = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise Untranslatable(f"cannot parse the SQL: {exc.args[0]}") from None
    except RecursionError:
        raise Untranslatable("SQL nested too deeply") from None
    if len(stmts) != 1:
        raise Untranslatable("expected exactly one SQL statement")
    return stmts[0].stmt


class _ColumnNames(NodeRewriter):
    """Columns of one table -> their spec names (an index key expression has no other names)."""

    def __init__(self, names: Mapping[str, str | None]) -> None:
        self.names = names

    def _rw_ColumnRef(self, node: ast.ColumnRef, scopes) -> ast.Node:
        parts = colref_parts(node)
        name = self.names.get(parts[0]) if len(parts) == 1 else None
        if name is None:
            raise Untranslatable(f"column {'.'.join(parts)} is no field")
        return _colref(name)


def spec_expression(sql: str, names: Mapping[str, str | None]) -> str:
    """An SQL expression over the columns of one table (an index key) in spec form, each column
    written as the spec name ``names`` gives it; Untranslatable when a column has none."""
    stmt = _parse_one(f"SELECT {sql}")
    if not isinstance(stmt, ast.SelectStmt) or stmt.fromClause or len(stmt.targetList or ()) != 1:
        raise Untranslatable("not a single expression")
    try:
        return deparse_spec(_ColumnNames(names)._node(stmt.targetList[0].val, None))
    except (RecursionError, SpecqlError):
        raise Untranslatable("expression nested too deeply") from None


def sel_where(node: ast.SubLink) -> ast.Node | None:
    return node.subselect.whereClause


def _output_columns(node) -> list[str] | None:
    """The legacy column names a subquery yields, or None when not all are known."""
    if not isinstance(node, ast.SelectStmt):
        return None
    if node.op != enums.SetOperation.SETOP_NONE:
        return _output_columns(node.larg)
    if node.valuesLists:
        return [f"column{i + 1}" for i in range(len(node.valuesLists[0]))]
    names = []
    for target in node.targetList or ():
        name = target.name or _output_name(target.val)
        if name is None or name == "*":
            return None
        names.append(name)
    return names


def _renamed(columns: list[str] | None, alias) -> frozenset[str] | None:
    """An opaque FROM item's columns after its alias's column list renames the first ones."""
    if columns is None:
        return None
    renames = [c.sval for c in (alias.colnames or ())] if alias is not None else []
    return frozenset(renames + columns[len(renames) :])


def _output_name(val) -> str | None:
    if isinstance(val, ast.TypeCast):
        val = val.arg
    if isinstance(val, ast.ColumnRef):
        last = val.fields[-1]
        return last.sval if isinstance(last, ast.String) else "*"
    if isinstance(val, ast.FuncCall):
        return val.funcname[-1].sval
    return None


__all__ = [
    "Binding",
    "Found",
    "Level",
    "Name",
    "Names",
    "Translator",
    "Untranslatable",
    "and_all",
    "ast",
    "colref_parts",
    "conjuncts",
    "enums",
    "is_now",
    "spec_expression",
    "string_value",
]
