"""Spec expressions and queries -> the SQL of an action function, on the pglast AST.

Every expression or query a spec holds is parsed (:mod:`specql.dsl.expressions`), its names are
rewritten on the AST and the result is deparsed: nothing from a spec reaches the generated SQL
without going through PostgreSQL's parser.

Name resolution (docs/generated-postgres.md, "Step compilation"):

- ``$name`` -> the parameter ``p_name`` (``$id``, ``$tenant_id``, ``$user_id`` included);
  ``$id`` means the action uses its instance.
- a bare name inside a query resolves to a column of a table in that query's FROM (innermost
  query first, then enclosing ones), qualified with the table's alias;
- else a variable ``v_name``;
- else a field of the action's own instance, read from the instance record ``v_<entity>``.
- ``a.field``: a FROM alias of a query, else a record variable ``v_a``.
- Entity names in FROM (``Contact``, ``crm.Contact``, or the physical ``crm.tb_contact``) become
  ``<schema>.tb_<entity> AS <alias>`` (the alias as written, else the entity's snake name), and
  each such table gets ``<alias>.tenant_id = p_tenant_id`` (multi-tenant schemas) and
  ``<alias>.deleted_at IS NULL`` added to the query's WHERE (or to the ON clause of an outer
  join, for the table on its nullable side).

Refs are UUIDs in the dialect. A ref field that is read becomes the referenced row's id,
``(SELECT tb_t.id FROM s.tb_t WHERE tb_t.pk_t = <alias>.fk_x)``; ``ref = <uuid>`` and
``ref <> <uuid>`` on a table column compare the stored key instead,
``<alias>.fk_x = (SELECT tb_t.pk_t FROM s.tb_t WHERE tb_t.id = <uuid> [AND tb_t.tenant_id =
p_tenant_id])``, so the index on ``fk_x`` is used; ``ref IS [NOT] NULL`` tests ``fk_x``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pglast import ast, enums

from specql.dsl.expressions import (
    PARAM_PREFIX,
    NodeRewriter,
    colref_parts,
    new_node,
    parse_expression,
)
from specql.dsl.model import Entity, Field, Param
from specql.errors import SourcePos, SpecqlError
from specql.generators.postgres.context import CompileContext, relation_names
from specql.generators.postgres.naming import (
    column_name,
    param_name,
    pk_column,
    snake,
    table_name,
    variable_name,
)
from specql.generators.postgres.types import param_sql_type

TENANT_PARAM = "p_tenant_id"
USER_PARAM = "p_user_id"
ID_PARAM = "p_id"
# Parameters every action has (besides its declared ones): spec name -> SQL name.
BUILTIN_PARAMS = {"id": ID_PARAM, "tenant_id": TENANT_PARAM, "user_id": USER_PARAM}

# Framework columns of every table and their types as read in expressions.
TRINITY_COLUMNS: dict[str, str] = {
    "id": "UUID",
    "identifier": "TEXT",
    "created_at": "TIMESTAMPTZ",
    "updated_at": "TIMESTAMPTZ",
    "deleted_at": "TIMESTAMPTZ",
}

RECORD = "RECORD"

_EQUALITY_OPS = {"=", "<>", "!="}


# --------------------------------------------------------------------------- AST builders
# new_node, not the ast classes: pglast's per-attribute checks would cost more than the rest
# of building (every name the rewriter resolves becomes a new ColumnRef).


def colref(*parts: str) -> ast.ColumnRef:
    return new_node(ast.ColumnRef, fields=tuple([new_node(ast.String, sval=p) for p in parts]))


def op(name: str, left: ast.Node, right: ast.Node) -> ast.A_Expr:
    return new_node(
        ast.A_Expr,
        kind=enums.A_Expr_Kind.AEXPR_OP,
        name=(new_node(ast.String, sval=name),),
        lexpr=left,
        rexpr=right,
    )


def and_(args: Iterable[ast.Node | None]) -> ast.Node | None:
    """``a AND b AND ...`` of the non-None args (None when there are none)."""
    flat: list[ast.Node] = []
    for arg in args:
        if arg is None:
            continue
        if isinstance(arg, ast.BoolExpr) and arg.boolop == enums.BoolExprType.AND_EXPR:
            flat.extend(arg.args)
        else:
            flat.append(arg)
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return new_node(ast.BoolExpr, boolop=enums.BoolExprType.AND_EXPR, args=tuple(flat))


def is_null(node: ast.Node) -> ast.NullTest:
    return new_node(ast.NullTest, arg=node, nulltesttype=enums.NullTestType.IS_NULL)


def rangevar(schema: str, relname: str, alias: str | None = None) -> ast.RangeVar:
    return new_node(
        ast.RangeVar,
        schemaname=schema,
        relname=relname,
        inh=True,
        relpersistence="p",
        alias=new_node(ast.Alias, aliasname=alias) if alias else None,
    )


def scalar_subquery(target: ast.Node, frm: ast.Node, where: ast.Node | None) -> ast.SubLink:
    select = new_node(
        ast.SelectStmt,
        targetList=(new_node(ast.ResTarget, val=target),),
        fromClause=(frm,),
        whereClause=where,
        limitOption=enums.LimitOption.LIMIT_OPTION_DEFAULT,
        op=enums.SetOperation.SETOP_NONE,
    )
    return new_node(ast.SubLink, subLinkType=enums.SubLinkType.EXPR_SUBLINK, subselect=select)


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """A column of an entity table as expressions see it."""

    name: str  # physical column name
    sql_type: str  # type of the value read in expressions (a ref reads as UUID)
    ref_target: Entity | None = None  # set for ref fields (the column is the fk_ key)


class Tables:
    """Entities of the spec set as tables: lookup by spec/physical name, columns, refs."""

    def __init__(self, ctx: CompileContext, own: Entity) -> None:
        self.ctx = ctx
        # The context's index serves every action; an entity compiled outside its spec set
        # (tests do that) is added to a copy of the lists it extends.
        self._by_name = ctx.relations
        if ctx.entities.get(own.name) is not own and own not in ctx.entities.values():
            self._by_name = dict(self._by_name)
            for key in relation_names(own):
                self._by_name[key] = [*self._by_name.get(key, ()), own]

    def is_multi_tenant(self, entity: Entity) -> bool:
        return self.ctx.is_multi_tenant(entity)

    def relation(self, schemaname: str | None, relname: str) -> Entity | None:
        """The entity a FROM item names: ``Contact``, ``crm.Contact``, ``crm.tb_contact``."""
        found = [
            e
            for e in self._by_name.get(relname, ())
            if schemaname is None or e.schema == schemaname
        ]
        if len(found) > 1:
            schemas = ", ".join(sorted(e.schema for e in found))
            raise SpecqlError(f"{relname!r} names entities in {schemas}: qualify it with a schema")
        return found[0] if found else None

    def named(self, name: str, pos: SourcePos | None = None) -> Entity:
        """The entity a step names (``Contact`` / ``crm.Contact``), or an error."""
        schema, _, bare = name.rpartition(".")
        ent = self.relation(schema or None, bare.lower()) or self.ctx.entity(name)
        if ent is None:
            raise SpecqlError(f"unknown entity {name!r}", pos)
        return ent

    def ref_target(self, entity: Entity, fld: Field, pos: SourcePos | None = None) -> Entity:
        t = fld.type
        name = f"{t.target_schema}.{t.target}" if t.target_schema else t.target
        target = self.ctx.entity(name) or (
            self.relation(t.target_schema, t.target.lower()) if t.target else None
        )
        if target is None:
            raise SpecqlError(
                f"{entity.name}.{fld.name} refers to unknown entity {name!r}", pos or fld.pos
            )
        return target

    def column(self, entity: Entity, name: str) -> Column | None:
        fld = entity.field_named(name)
        if fld is not None:
            target = self.ref_target(entity, fld) if fld.type.kind == "ref" else None
            return Column(column_name(fld), param_sql_type(fld.type), target)
        if name in TRINITY_COLUMNS:
            return Column(name, TRINITY_COLUMNS[name])
        if name == "tenant_id" and self.is_multi_tenant(entity):
            return Column(name, "UUID")
        if name == pk_column(entity.name):
            return Column(name, "INTEGER")
        for f in entity.fields:
            if f.type.kind == "ref" and column_name(f) == name:
                return Column(name, "INTEGER")
        return None


# --------------------------------------------------------------------------- action names


@dataclass
class Variable:
    """A PL/pgSQL variable ``v_<name>`` of the action."""

    name: str
    sql_type: str
    entity: Entity | None = None  # a RECORD holding a whole row of this entity's table

    @property
    def sql_name(self) -> str:
        return variable_name(self.name)


@dataclass
class ActionNames:
    """What names mean inside one action, and what the action turned out to use."""

    tables: Tables
    entity: Entity
    params: dict[str, Param]
    variables: dict[str, Variable] = field(default_factory=dict)
    has_tenant: bool = False
    uses_instance: bool = False

    @property
    def instance_var(self) -> str:
        return variable_name(snake(self.entity.name))

    def param(self, name: str, pos: SourcePos | None) -> str:
        if name in BUILTIN_PARAMS:
            if name == "id":
                self.uses_instance = True
            if name == "tenant_id" and not self.has_tenant:
                raise SpecqlError("$tenant_id is only available in multi-tenant schemas", pos)
            return BUILTIN_PARAMS[name]
        if name not in self.params:
            raise SpecqlError(f"unknown parameter ${name}", pos)
        return param_name(name)

    def require_tenant(self, entity: Entity, pos: SourcePos | None) -> None:
        if self.tables.is_multi_tenant(entity) and not self.has_tenant:
            raise SpecqlError(
                f"an action of the shared schema {self.entity.schema!r} cannot use the "
                f"multi-tenant entity {entity.name!r} (it has no tenant to filter on)",
                pos,
            )


# --------------------------------------------------------------------------- resolution


@dataclass
class Binding:
    """A FROM item of a query: columns resolve against ``entity`` (None: unknown columns)."""

    alias: str
    entity: Entity | None


@dataclass
class Scope:
    bindings: list[Binding] = field(default_factory=list)
    ctes: set[str] = field(default_factory=set)


@dataclass
class Resolved:
    """What a column reference means: ``node`` reads its value (a ref reads as the UUID)."""

    node: ast.Node
    ref_key: ast.Node | None = None  # a ref: the stored fk_ key expression
    ref_target: Entity | None = None
    on_table: bool = False  # the reference is a column of a table the query scans
    id_of: Entity | None = None  # the reference is the ``id`` of a row of this entity ...
    pk: ast.Node | None = None  # ... whose pk_ column is this


class Rewriter(NodeRewriter):
    """Rewrites parsed spec expressions and queries for one action (see the module doc)."""

    def __init__(self, names: ActionNames) -> None:
        self.names = names
        self.tables = names.tables
        self.pos: SourcePos | None = None

    # ---- entry points

    def expression(
        self, text: str, pos: SourcePos | None, bindings: Iterable[Binding] = ()
    ) -> ast.Node:
        """Parse and rewrite an expression; ``bindings``: tables whose columns are in scope."""
        node = parse_expression(text, pos)
        return self.rewrite(node, pos, bindings)

    def rewrite(
        self, node: ast.Node, pos: SourcePos | None, bindings: Iterable[Binding] = ()
    ) -> ast.Node:
        self.pos = pos
        try:
            return self._node(node, [Scope(bindings=list(bindings))])
        except RecursionError:
            raise SpecqlError("expression nested too deeply to rewrite", pos) from None

    def query(self, stmt: ast.SelectStmt, pos: SourcePos | None) -> ast.SelectStmt:
        if not isinstance(stmt, ast.SelectStmt):
            raise SpecqlError("expected a SELECT query", pos)
        self.pos = pos
        try:
            return self._select(stmt, [])
        except RecursionError:
            raise SpecqlError("query nested too deeply to rewrite", pos) from None

    def error(self, message: str) -> SpecqlError:
        return SpecqlError(message, self.pos)

    # ---- pieces other compilers use

    def uuid_to_key(self, target: Entity, uuid_expr: ast.Node) -> ast.SubLink:
        """``(SELECT tb_t.pk_t FROM s.tb_t WHERE tb_t.id = <uuid> [AND tenant])``."""
        t = table_name(target.name)
        conds = [op("=", colref(t, "id"), uuid_expr)]
        if self.tables.is_multi_tenant(target):
            self.names.require_tenant(target, self.pos)
            conds.append(op("=", colref(t, "tenant_id"), colref(TENANT_PARAM)))
        return scalar_subquery(
            colref(t, pk_column(target.name)), rangevar(target.schema, t), and_(conds)
        )

    def key_to_uuid(self, target: Entity, key_expr: ast.Node) -> ast.SubLink:
        """``(SELECT tb_t.id FROM s.tb_t WHERE tb_t.pk_t = <key>)``."""
        t = table_name(target.name)
        return scalar_subquery(
            colref(t, "id"),
            rangevar(target.schema, t),
            op("=", colref(t, pk_column(target.name)), key_expr),
        )

    def row_filters(self, alias: str, entity: Entity, deleted: bool = True) -> list[ast.Node]:
        """``alias.tenant_id = p_tenant_id`` (multi-tenant) and ``alias.deleted_at IS NULL``."""
        conds: list[ast.Node] = []
        if self.tables.is_multi_tenant(entity):
            self.names.require_tenant(entity, self.pos)
            conds.append(op("=", colref(alias, "tenant_id"), colref(TENANT_PARAM)))
        if deleted:
            conds.append(is_null(colref(alias, "deleted_at")))
        return conds

    def column_of(self, qualifier: str, entity: Entity, name: str, on_table: bool) -> Resolved:
        col = self.tables.column(entity, name)
        if col is None:
            raise self.error(f"{entity.name} has no field {name!r}")
        key = colref(qualifier, col.name)
        if col.ref_target is not None:
            return Resolved(
                node=self.key_to_uuid(col.ref_target, key),
                ref_key=key,
                ref_target=col.ref_target,
                on_table=on_table,
            )
        if name == "id":
            return Resolved(node=key, id_of=entity, pk=colref(qualifier, pk_column(entity.name)))
        return Resolved(node=key)

    # ---- name resolution

    def resolve(self, node: ast.ColumnRef, scopes: list[Scope]) -> Resolved:
        parts = colref_parts(node)
        if "*" in parts:
            return Resolved(node=node)
        if len(parts) == 1:
            return self._resolve_bare(parts[0], node, scopes)
        if len(parts) == 2:
            return self._resolve_qualified(parts[0], parts[1], node, scopes)
        raise self.error(f"cannot resolve {'.'.join(parts)!r}")

    def _resolve_bare(self, name: str, node: ast.ColumnRef, scopes: list[Scope]) -> Resolved:
        names = self.names
        if name.startswith(PARAM_PREFIX):
            return Resolved(node=colref(names.param(name[1:], self.pos)))
        opaque = False
        for scope in reversed(scopes):
            hits = [
                b
                for b in scope.bindings
                if b.entity is not None and self.tables.column(b.entity, name) is not None
            ]
            if len(hits) > 1:
                aliases = ", ".join(b.alias for b in hits)
                raise self.error(f"{name!r} is ambiguous (a column of {aliases}): qualify it")
            if hits:
                return self.column_of(hits[0].alias, hits[0].entity, name, on_table=True)
            opaque = opaque or any(b.entity is None for b in scope.bindings)
        var = names.variables.get(name)
        if var is not None:
            return Resolved(node=colref(var.sql_name))
        if self.tables.column(names.entity, name) is not None:
            names.uses_instance = True
            return self.column_of(names.instance_var, names.entity, name, on_table=False)
        if opaque:  # a column of a subquery/CTE/non-entity table: leave it to PostgreSQL
            return Resolved(node=node)
        raise self.error(
            f"unknown name {name!r}: not a field of {names.entity.name}, a variable or a "
            "column of the query's tables"
        )

    def _resolve_qualified(
        self, qualifier: str, name: str, node: ast.ColumnRef, scopes: list[Scope]
    ) -> Resolved:
        for scope in reversed(scopes):
            for b in scope.bindings:
                if b.alias == qualifier:
                    if b.entity is None:
                        return Resolved(node=node)
                    return self.column_of(qualifier, b.entity, name, on_table=True)
        var = self.names.variables.get(qualifier)
        if var is not None and var.sql_type == RECORD:
            if var.entity is not None:
                return self.column_of(var.sql_name, var.entity, name, on_table=False)
            return Resolved(node=colref(var.sql_name, name))
        raise self.error(f"unknown name {qualifier}.{name}: {qualifier!r} is not a record")

    # ---- the walk (NodeRewriter: ``_rw_<NodeClass>`` handlers, ``scopes`` a list of Scope)

    def _rw_ColumnRef(self, node: ast.ColumnRef, scopes: list[Scope]) -> ast.Node:
        return self.resolve(node, scopes).node

    def _resolved_operand(self, node, scopes) -> Resolved | None:
        return self.resolve(node, scopes) if isinstance(node, ast.ColumnRef) else None

    def _rw_A_Expr(self, node: ast.A_Expr, scopes: list[Scope]) -> ast.Node:
        name = node.name[-1].sval if node.name else None
        if (
            node.kind == enums.A_Expr_Kind.AEXPR_OP
            and name in _EQUALITY_OPS
            and node.lexpr is not None
            and node.rexpr is not None
        ):
            left = self._resolved_operand(node.lexpr, scopes)
            right = self._resolved_operand(node.rexpr, scopes)
            rewritten = self._ref_comparison(name, left, node.rexpr, right, scopes)
            if rewritten is None:
                rewritten = self._ref_comparison(name, right, node.lexpr, left, scopes, flip=True)
            if rewritten is not None:
                return rewritten
        return self._children(node, scopes)

    def _ref_comparison(
        self,
        name: str,
        ref: Resolved | None,
        other_node: ast.Node,
        other: Resolved | None,
        scopes: list[Scope],
        flip: bool = False,
    ) -> ast.Node | None:
        """``ref = x`` compared on the stored key where that is cheaper (see module doc)."""
        if ref is None or ref.ref_key is None:
            return None

        def build(a, b):
            return op(name, b, a) if flip else op(name, a, b)

        if other is not None and other.ref_key is not None:
            if other.ref_target is ref.ref_target:
                return build(ref.ref_key, other.ref_key)
            return None
        if other is not None and other.id_of is ref.ref_target and other.pk is not None:
            return build(ref.ref_key, other.pk)  # ref = x.id: compare keys (a join)
        if ref.on_table:
            uuid = self._node(other_node, scopes)
            return build(ref.ref_key, self.uuid_to_key(ref.ref_target, uuid))
        return None

    def _rw_NullTest(self, node: ast.NullTest, scopes: list[Scope]) -> ast.Node:
        if isinstance(node.arg, ast.ColumnRef):
            resolved = self.resolve(node.arg, scopes)
            node.arg = resolved.ref_key if resolved.ref_key is not None else resolved.node
            return node
        return self._children(node, scopes)

    def _rw_SelectStmt(self, node: ast.SelectStmt, scopes: list[Scope]) -> ast.Node:
        return self._select(node, scopes)

    # ---- queries

    def _select(self, node: ast.SelectStmt, scopes: list[Scope]) -> ast.SelectStmt:
        scope = Scope()
        inner = [*scopes, scope]
        if node.withClause is not None:
            for cte in node.withClause.ctes:
                cte.ctequery = self._node(cte.ctequery, inner)
                scope.ctes.add(cte.ctename)
        if node.op != enums.SetOperation.SETOP_NONE:
            node.larg = self._select(node.larg, inner)
            node.rarg = self._select(node.rarg, inner)
            for attr in ("sortClause", "limitCount", "limitOffset"):
                if getattr(node, attr) is not None:
                    setattr(node, attr, self._node(getattr(node, attr), inner))
            return node

        if node.fromClause:
            node.fromClause = tuple(self._from_item(i, scopes, scope) for i in node.fromClause)
            for item in node.fromClause:
                self._join_quals(item, inner)

        outputs: set[str] = set()
        if node.targetList:
            targets = []
            for target in node.targetList:
                original = target.val
                target.val = self._node(original, inner)
                if target.name is None and isinstance(original, ast.ColumnRef):
                    last = colref_parts(original)[-1]
                    kept = (
                        isinstance(target.val, ast.ColumnRef)
                        and colref_parts(target.val)[-1] == last
                    )
                    if last != "*" and not kept:
                        target.name = last  # keep the output column's name
                if target.name:
                    outputs.add(target.name)
                targets.append(target)
            node.targetList = tuple(targets)

        for attr in ("whereClause", "havingClause", "limitCount", "limitOffset", "valuesLists"):
            value = getattr(node, attr)
            if value is not None:
                setattr(node, attr, self._node(value, inner))
        for attr in ("groupClause", "sortClause", "distinctClause"):
            value = getattr(node, attr)
            if value:
                setattr(node, attr, tuple(self._ordering(v, inner, outputs) for v in value))

        if node.fromClause:
            filters: list[ast.Node] = []
            for item in node.fromClause:
                filters.extend(self._filters_of(item, scope))
            node.whereClause = and_([node.whereClause, *filters])
        return node

    def _from_item(self, item, outer: list[Scope], scope: Scope):
        """Rewrite one FROM item and record what it binds in ``scope``."""
        if isinstance(item, ast.RangeVar):
            in_cte = item.schemaname is None and any(
                item.relname in s.ctes for s in [*outer, scope]
            )
            try:
                entity = None if in_cte else self.tables.relation(item.schemaname, item.relname)
            except SpecqlError as exc:
                raise self.error(exc.message) from None
            alias = item.alias.aliasname if item.alias is not None else None
            if entity is None:
                scope.bindings.append(Binding(alias or item.relname, None))
                return item
            self.names.require_tenant(entity, self.pos)
            alias = alias or (
                item.relname if item.relname == table_name(entity.name) else snake(entity.name)
            )
            scope.bindings.append(Binding(alias, entity))
            return rangevar(entity.schema, table_name(entity.name), alias)
        if isinstance(item, ast.JoinExpr):
            item.larg = self._from_item(item.larg, outer, scope)
            item.rarg = self._from_item(item.rarg, outer, scope)
            return item
        if isinstance(item, ast.RangeSubselect):
            item.subquery = self._node(item.subquery, [*outer, scope] if item.lateral else outer)
        elif isinstance(item, ast.RangeFunction):
            item.functions = self._node(item.functions, [*outer, scope])
        alias = getattr(item, "alias", None)
        scope.bindings.append(Binding(alias.aliasname if alias else "", None))
        return item

    def _join_quals(self, item, scopes: list[Scope]) -> None:
        if isinstance(item, ast.JoinExpr):
            self._join_quals(item.larg, scopes)
            self._join_quals(item.rarg, scopes)
            if item.quals is not None:
                item.quals = self._node(item.quals, scopes)

    def _filters_of(self, item, scope: Scope) -> list[ast.Node]:
        """Row filters of ``item`` for the enclosing level; outer joins keep theirs in ON."""
        if isinstance(item, ast.RangeVar):
            binding = next(
                (
                    b
                    for b in scope.bindings
                    if item.alias is not None and b.alias == item.alias.aliasname
                ),
                None,
            )
            if binding is None or binding.entity is None:
                return []
            return self.row_filters(binding.alias, binding.entity)
        if not isinstance(item, ast.JoinExpr):
            return []
        left = self._filters_of(item.larg, scope)
        right = self._filters_of(item.rarg, scope)
        kind = item.jointype
        if kind == enums.JoinType.JOIN_INNER:
            return left + right
        if kind == enums.JoinType.JOIN_FULL and (left or right):
            raise self.error("FULL JOIN over entity tables is not supported")
        keep, nullable = (left, right) if kind == enums.JoinType.JOIN_LEFT else (right, left)
        if nullable:
            if item.usingClause or item.isNatural:
                raise self.error("write outer joins over entity tables with ON, not USING")
            item.quals = and_([item.quals, *nullable])
        return keep
