"""Semantic checks over a set of loaded entities, all problems collected in one pass.

The loader already guarantees the *shape* of every node; this module checks *meaning*: names,
references between entities, and every name used inside SQL expressions.

Name resolution (what a name in an expression may mean), per the generated-code contract
(docs/generated-postgres.md):

- ``$name``: a param of the action, or one of :data:`IMPLICIT_PARAMS` (``$id``, ``$user_id``,
  ``$tenant_id``: the generated function's own parameters).
- a bare name: a variable in scope, a field of the entity the expression is about (the action's
  own entity; for ``update``/``delete``/``find`` also the target entity; in a query also the
  entities in its FROM), or a framework column (``id``, ``identifier``, ``created_at``...,
  anything starting ``pk_``/``fk_``).
- ``a.b``: ``a`` is a record variable (``find ... into``, ``foreach``, ``query ... into``), an
  entity name or a FROM alias; ``b`` must be one of its columns when those are known.

Scoping rule: a variable is in scope from the step *after* the one that introduces it
(``declare``, ``insert ... as``, ``find``/``query ... into``, ``call ... store``) to the end of
the action, in document order, nested blocks included (PL/pgSQL variables are function-wide, so
a variable set inside an ``if`` branch stays visible after it). A ``foreach`` variable is in
scope only inside its ``do`` block. A ``query``/``call``/``insert`` target may be a variable
that already exists (e.g. a declared one: it keeps its declared type); a ``find`` target must be
new or a record already. ``assign`` needs a variable that exists. Using a variable before its ``declare`` is an error even
though the generator hoists declarations: the spec reads top to bottom.

Indexes name fields of their entity or the framework's columns (``id``, ``identifier``,
``tenant_id``, ``created_at``, ``updated_at``, ``deleted_at``); an expression is one SQL expression
over such bare names (no params, no query). An index may not repeat another of its entity (same
field list, or the same expression once parsed) nor one the generated table has anyway (a ref
field alone unless unique; ``id``, ``identifier``, ``tenant_id`` alone). Explicit index names are
lower-case identifiers of at most 63 bytes, unique per schema.

``check`` raises only for ERROR-level problems; WARNING-level ones (``raw_sql`` without a
reason, a variable shadowing a field) come from ``validate``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from pglast import ast
from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from specql.dsl import model as m
from specql.dsl.expressions import (
    QueryShape,
    deparse_spec,
    parse_expression,
    query_shape,
    read_expression,
    read_statement,
    references,
)
from specql.dsl.types import RICH_TYPES, parse_type
from specql.errors import ErrorLevel, SourcePos, SpecqlError, SpecqlErrors

PASCAL_CASE = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
LOWER_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")
ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")
# Same rule as the generators' table names: OrderLine -> order_line.
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# PostgreSQL truncates identifiers at 63 bytes; a ref field becomes ``fk_<name>``.
MAX_NAME_LENGTH = 60

IMPLICIT_PARAMS = frozenset({"id", "user_id", "tenant_id"})
# Params the generated function already has (p_id, p_user_id, p_tenant_id).
RESERVED_PARAM_NAMES = frozenset({"id", "user_id", "tenant_id"})
RESERVED_PREFIXES = ("pk_", "fk_")
# Columns every generated table has besides the spec's fields.
FRAMEWORK_COLUMNS = frozenset(m.RESERVED_FIELD_NAMES)
# Framework columns a spec may still write: an insert may choose the new row's id and
# identifier, an update may change the identifier (docs/generated-postgres.md).
INSERTABLE_COLUMNS = frozenset({"id", "identifier"})
UPDATABLE_COLUMNS = frozenset({"identifier"})
# Tables a query may read besides entities: PostgreSQL's own catalogs.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema"})
SQL_RESERVED = frozenset(RESERVED_KEYWORDS) | frozenset(TYPE_FUNC_NAME_KEYWORDS)
# Columns an index may name besides the fields: the Trinity and audit columns, tenant_id.
INDEXABLE_COLUMNS = FRAMEWORK_COLUMNS - {"pk"}
# Single columns the generated table indexes anyway (UNIQUE id and identifier, the multi-tenant
# tenant_id): an index on one of them alone would repeat that index.
ALWAYS_INDEXED = frozenset({"id", "identifier", "tenant_id"})
# PostgreSQL keeps identifiers up to 63 bytes (NAMEDATALEN - 1).
MAX_INDEX_NAME_BYTES = 63


@dataclass(frozen=True)
class _Var:
    """A variable in scope. ``columns``: for records, the known column names (None: unknown)."""

    name: str
    record: bool
    columns: frozenset[str] | None
    pos: SourcePos


def _snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def _is_framework_column(name: str) -> bool:
    return name in FRAMEWORK_COLUMNS or name.startswith(RESERVED_PREFIXES)


def _columns_of(entity: m.Entity) -> frozenset[str]:
    return frozenset(f.name for f in entity.fields)


class _Validator:
    def __init__(self, entities: list[m.Entity]) -> None:
        self.entities = entities
        self.problems: list[SpecqlError] = []
        self.by_name: dict[str, list[m.Entity]] = {}
        # entity_in_sql's names (the lower-cased name, the physical table), in entity order
        self.by_sql_name: dict[str, list[m.Entity]] = {}
        for e in entities:
            self.by_name.setdefault(e.name, []).append(e)
            for key in {e.name.lower(), "tb_" + _snake(e.name)}:
                self.by_sql_name.setdefault(key, []).append(e)

    # ------------------------------------------------------------------ reporting

    def error(self, message: str, pos: SourcePos) -> None:
        self.problems.append(SpecqlError(message, pos))

    def warn(self, message: str, pos: SourcePos) -> None:
        self.problems.append(SpecqlError(message, pos, ErrorLevel.WARNING))

    # ------------------------------------------------------------------ lookups

    def entity(self, name: str) -> tuple[m.Entity | None, str | None]:
        """Resolve ``Name`` or ``schema.Name`` (as steps and refs write it); (entity, problem)."""
        schema, _, bare = name.rpartition(".")
        candidates = self.by_name.get(bare, [])
        if schema:
            candidates = [e for e in candidates if e.schema == schema]
        if len(candidates) == 1:
            return candidates[0], None
        if len(candidates) > 1:
            return None, f"ambiguous entity {name!r}: qualify it with its schema"
        names = sorted({e.name for e in self.entities})
        close = difflib.get_close_matches(bare, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return None, f"unknown entity {name!r}{hint}"

    def entity_in_sql(self, schema: str | None, relname: str) -> m.Entity | None:
        """A relation name from parsed SQL (lower-cased unless it was quoted): an entity name
        (``Contact``, ``crm.Contact``) or its physical table (``crm.tb_contact``)."""
        matches = [
            e
            for e in self.by_sql_name.get(relname.lower(), ())
            if schema is None or e.schema == schema
        ]
        return matches[0] if len(matches) == 1 else None

    # ------------------------------------------------------------------ entities

    def run(self) -> list[SpecqlError]:
        self.check_duplicates()
        self.check_index_names()
        for entity in self.entities:
            self.check_entity(entity)
        return sorted(self.problems, key=lambda e: (e.pos.file, e.pos.line, e.pos.col, e.message))

    def check_duplicates(self) -> None:
        seen: dict[tuple[str, str], m.Entity] = {}
        for e in self.entities:
            key = (e.schema, e.name)
            if key in seen:
                self.error(
                    f"duplicate entity {e.schema}.{e.name} (first defined at {seen[key].pos})",
                    e.pos,
                )
            else:
                seen[key] = e

    def check_index_names(self) -> None:
        """Index names live in their schema's namespace: unique per schema, and plain
        lower-case identifiers PostgreSQL keeps whole."""
        seen: dict[tuple[str, str], m.Index] = {}
        for e in self.entities:
            for index in e.indexes:
                name = index.name
                if name is None:
                    continue
                if not LOWER_IDENT.match(name):
                    self.error(f"index name {name!r} must be a lower-case identifier", index.pos)
                elif len(name.encode("utf-8")) > MAX_INDEX_NAME_BYTES:
                    self.error(
                        f"index name {name!r} is longer than {MAX_INDEX_NAME_BYTES} bytes",
                        index.pos,
                    )
                first = seen.setdefault((e.schema, name), index)
                if first is not index:
                    self.error(
                        f"duplicate index name {name!r} in schema {e.schema!r} (first at "
                        f"{first.pos})",
                        index.pos,
                    )

    def check_entity(self, e: m.Entity) -> None:
        if not PASCAL_CASE.match(e.name):
            self.error(f"entity name {e.name!r} must be PascalCase, like 'OrderLine'", e.pos)
        if not LOWER_IDENT.match(e.schema or ""):
            self.error(f"schema {e.schema!r} must be a lower-case identifier, like 'crm'", e.pos)
        if e.subdomain is not None and not LOWER_IDENT.match(e.subdomain):
            self.error(f"subdomain {e.subdomain!r} must be a lower-case identifier", e.pos)
        self.check_fields(e)
        self.check_indexes(e)
        for use in e.patterns:
            if not LOWER_IDENT.match(use.name):
                self.error(f"pattern name {use.name!r} must be a lower-case identifier", use.pos)
        seen: dict[str, m.Action] = {}
        for action in e.actions:
            if not LOWER_IDENT.match(action.name):
                self.error(
                    f"action name {action.name!r} must be a lower-case identifier", action.pos
                )
            if action.name in seen:
                self.error(
                    f"duplicate action {action.name!r} (first at line "
                    f"{seen[action.name].pos.line})",
                    action.pos,
                )
            seen.setdefault(action.name, action)
            _ActionChecker(self, e, action).run()

    def check_name(self, name: str, what: str, pos: SourcePos) -> bool:
        if not LOWER_IDENT.match(name):
            self.error(f"{what} name {name!r} must be a lower-case identifier", pos)
            return False
        if len(name) > MAX_NAME_LENGTH:
            self.error(f"{what} name {name!r} is longer than {MAX_NAME_LENGTH} characters", pos)
            return False
        if name in SQL_RESERVED:
            self.error(f"{what} name {name!r} is a reserved SQL word", pos)
            return False
        return True

    def check_fields(self, e: m.Entity) -> None:
        seen: set[str] = set()
        for f in e.fields:
            if self.check_name(f.name, "field", f.pos) and (
                f.name in m.RESERVED_FIELD_NAMES or f.name.startswith(RESERVED_PREFIXES)
            ):
                self.error(
                    f"field name {f.name!r} is reserved: the framework adds "
                    f"{', '.join(sorted(m.RESERVED_FIELD_NAMES))} and pk_/fk_ columns",
                    f.pos,
                )
            if f.name in seen:
                self.error(f"duplicate field {f.name!r}", f.pos)
            seen.add(f.name)
            self.check_type(f.type, f"field {f.name!r}", f.pos)
            if f.default is not None:
                self.check_default(f.default, f.type, f"field {f.name!r}", f.pos)

    def check_indexes(self, e: m.Entity) -> None:
        seen: dict[tuple, m.Index] = {}
        for index in e.indexes:
            if index.expression is None:
                key = self.check_index_fields(e, index)
            else:
                key = self.check_index_expression(e, index)
            if key is None:
                continue
            first = seen.setdefault(key, index)
            if first is not index:
                self.error(
                    f"duplicate index on {key[1]} (first at line {first.pos.line})", index.pos
                )

    def index_column_problem(self, e: m.Entity, name: str) -> str | None:
        """Why ``name`` cannot be indexed on ``e`` (None: it can)."""
        if e.field_named(name) is not None or name in INDEXABLE_COLUMNS:
            return None
        close = difflib.get_close_matches(name, [f.name for f in e.fields], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"{e.name} has no field {name!r}{hint}"

    def check_index_fields(self, e: m.Entity, index: m.Index) -> tuple | None:
        """Problems of a field list; its duplicate-detection key, None when it has problems."""
        ok = True
        for n, name in enumerate(index.fields):
            problem = self.index_column_problem(e, name)
            if problem is not None:
                self.error(f"index: {problem}", index.pos)
                ok = False
            elif name in index.fields[:n]:
                self.error(f"index lists field {name!r} twice", index.pos)
                ok = False
        if ok and len(index.fields) == 1:
            name = index.fields[0]
            field = e.field_named(name)
            if name in ALWAYS_INDEXED:
                self.error(f"index on {name!r} alone repeats the index every table has", index.pos)
                ok = False
            elif field is not None and field.type.kind == "ref" and not index.unique:
                self.error(
                    f"index on ref field {name!r} alone repeats the index every ref gets",
                    index.pos,
                )
                ok = False
        return ("fields", f"({', '.join(index.fields)})") if ok else None

    def check_index_expression(self, e: m.Entity, index: m.Index) -> tuple | None:
        """Problems of an index expression; its duplicate-detection key (the canonical text),
        None when it has problems."""
        what = "index expression"
        node = self.parse(index.expression, what, index.pos, statement=False)
        if node is None:
            return None
        refs = references(node)
        problems: list[str] = []
        if refs.params:
            params = ", ".join("$" + p for p in sorted(refs.params))
            problems.append(f"params ({params}) have no value in an index")
        if refs.tables:
            problems.append("an index cannot hold a query")
        for parts in sorted(refs.columns):
            if len(parts) != 1 or parts[0] == "*":
                problems.append(f"write bare field names, not {'.'.join(parts)!r}")
            elif (problem := self.index_column_problem(e, parts[0])) is not None:
                problems.append(problem)
        if not problems and not refs.columns:
            problems.append("it must refer to a field")
        elif not problems and isinstance(node, ast.ColumnRef):
            name = next(iter(refs.columns))[0]
            problems.append(f"a bare field is no expression: write 'fields: [{name}]'")
        for problem in problems:
            self.error(f"{what}: {problem}", index.pos)
        if problems:
            return None
        return ("expression", deparse_spec(parse_expression(index.expression)))

    def check_type(self, t: m.TypeRef, what: str, pos: SourcePos) -> None:
        # Nodes built in code (by the reverse engineer) skip the parser: re-read the canonical
        # text so an impossible TypeRef is caught here, not in a generator.
        try:
            valid = parse_type(str(t)) == t
        except SpecqlError:
            valid = False
        if not valid:
            self.error(f"{what} has an invalid type {str(t)!r}", pos)
            return
        if t.kind == "ref":
            target = f"{t.target_schema}.{t.target}" if t.target_schema else t.target
            _, problem = self.entity(target)
            if problem:
                self.error(f"{what}: ref to {problem}", pos)
        elif t.kind == "list" and t.item is not None:
            self.check_type(t.item, what, pos)

    def check_default(
        self,
        default: str,
        t: m.TypeRef,
        what: str,
        pos: SourcePos,
        params: frozenset[str] = frozenset(),
        variables: frozenset[str] = frozenset(),
    ) -> None:
        if t.kind == "enum":
            if default not in t.values:
                self.error(
                    f"default {default!r} of {what} is not one of {', '.join(t.values)}", pos
                )
            return
        node = self.parse(default, f"default of {what}", pos, statement=False)
        if node is None:
            return
        refs = references(node)
        columns = sorted(".".join(c) for c in refs.columns if c[0] not in variables)
        if columns:
            self.error(
                f"default of {what} must not refer to columns; found {', '.join(columns)}", pos
            )
        unknown_params = sorted(refs.params - params)
        if unknown_params:
            self.error(
                f"default of {what} must not refer to params; found "
                f"{', '.join('$' + p for p in unknown_params)}",
                pos,
            )
        self.check_rich_literal(node, t, what, pos)

    def check_rich_literal(self, node: ast.Node, t: m.TypeRef, what: str, pos) -> None:
        """A literal default of a rich type must satisfy the type's own constraint."""
        rich = RICH_TYPES.get(t.name) if t.kind == "rich" else None
        if rich is None or not isinstance(node, ast.A_Const) or node.isnull:
            return
        value = node.val
        if rich.pattern is not None and isinstance(value, ast.String):
            if re.fullmatch(rich.pattern, value.sval) is None:
                self.error(f"default {value.sval!r} of {what} is not a valid {t.name}", pos)
        elif isinstance(value, ast.Integer | ast.Float):
            number = float(value.ival if isinstance(value, ast.Integer) else value.fval)
            low, high = rich.minimum, rich.maximum
            if (low is not None and number < low) or (high is not None and number > high):
                self.error(
                    f"default {number:g} of {what} is outside {t.name}'s range {low}..{high}",
                    pos,
                )

    def parse(self, text: str, what: str, pos: SourcePos, statement: bool):
        """Parse SQL text; a syntax error is reported at ``pos`` (the step or field).

        The tree is the parse cache's own (checks only read it): no copy to make."""
        try:
            if statement:
                return read_statement(text)
            return read_expression(text)
        except SpecqlError as err:
            self.error(f"{what}: {err.message}", pos)
            return None


class _ActionChecker:
    """Walks one action's steps in order, keeping the variables in scope."""

    def __init__(self, v: _Validator, entity: m.Entity, action: m.Action) -> None:
        self.v = v
        self.entity = entity
        self.action = action
        self.params = frozenset(p.name for p in action.params) | IMPLICIT_PARAMS
        self.scope: dict[str, _Var] = {}

    def run(self) -> None:
        seen: set[str] = set()
        for p in self.action.params:
            if self.v.check_name(p.name, "param", p.pos) and p.name in RESERVED_PARAM_NAMES:
                self.v.error(
                    f"param name {p.name!r} is reserved: the generated function already has "
                    "p_id, p_user_id and p_tenant_id ($id and $user_id in expressions)",
                    p.pos,
                )
            if p.name in seen:
                self.v.error(f"duplicate param {p.name!r}", p.pos)
            seen.add(p.name)
            self.v.check_type(p.type, f"param {p.name!r}", p.pos)
            if p.default is not None:
                self.v.check_default(p.default, p.type, f"param {p.name!r}", p.pos)
        self.block(self.action.steps)

    # ------------------------------------------------------------------ scope

    def introduce(self, name: str, step: m.Step, record: bool | None = False, columns=None) -> None:
        """Bring ``name`` into scope. ``record``: True for a row (find), False for a value
        (as/store), None for a query target (a row unless it selects exactly one column)."""
        if not name:
            return
        if not self.v.check_name(name, "variable", step.pos):
            return
        previous = self.scope.get(name)
        if previous is not None:
            # Storing into an existing variable is fine as long as the kinds agree; a query
            # fits either (into a declared value it yields one column).
            if record is not None and previous.record != record:
                self.v.error(
                    f"variable {name!r} is already defined at line {previous.pos.line} as "
                    f"{'a record' if previous.record else 'a value'}",
                    step.pos,
                )
            return
        if record is None:
            record = columns is None or len(columns) != 1
        if self.entity.field_named(name) is not None:
            self.v.warn(f"variable {name!r} hides the field of the same name", step.pos)
        self.scope[name] = _Var(name, record, columns, step.pos)

    def entity_columns(self, entity: m.Entity | None) -> frozenset[str] | None:
        return None if entity is None else _columns_of(entity)

    # ------------------------------------------------------------------ steps

    def block(self, steps: list[m.Step]) -> None:
        for step in steps:
            try:
                getattr(self, f"step_{step.kind}")(step)
            except SpecqlError as err:  # a check tripped on an odd node: report, go on
                self.v.error(err.message, step.pos)

    def target(self, name: str, step: m.Step) -> m.Entity | None:
        entity, problem = self.v.entity(name)
        if problem:
            self.v.error(f"{step.kind}: {problem}", step.pos)
        return entity

    def step_validate(self, s: m.ValidateStep) -> None:
        self.expression(s.condition, s, "validate")
        self.error_code(s.error, s)

    def step_if(self, s: m.IfStep) -> None:
        self.expression(s.condition, s, "if")
        self.block(s.then)
        self.block(s.else_)

    def step_insert(self, s: m.InsertStep) -> None:
        target = self.target(s.entity, s)
        for name, value in s.values.items():
            self.expression(value, s, f"value of {name!r}")
            if (
                target is not None
                and target.field_named(name) is None
                and name not in INSERTABLE_COLUMNS
            ):
                self.v.error(f"insert: {target.name} has no field {name!r}", s.pos)
        if target is not None:
            missing = [
                f.name
                for f in target.fields
                if not f.nullable and f.default is None and f.name not in s.values
            ]
            if missing:
                self.v.error(
                    f"insert into {target.name} misses NOT NULL field(s) without default: "
                    f"{', '.join(missing)}",
                    s.pos,
                )
        if s.as_:
            self.introduce(s.as_, s)

    def step_update(self, s: m.UpdateStep) -> None:
        target = self.target(s.entity, s)
        context = [target] if target is not None else []
        if not s.assignments:
            self.v.error("update sets nothing: write 'Entity SET field = expression'", s.pos)
        for name, value in s.assignments.items():
            if (
                target is not None
                and target.field_named(name) is None
                and name not in UPDATABLE_COLUMNS
            ):
                managed = _is_framework_column(name)
                self.v.error(
                    f"update: {'the framework manages' if managed else 'unknown field'} "
                    f"{name!r}{'' if managed else ' of ' + target.name}",
                    s.pos,
                )
            self.expression(value, s, f"value of {name!r}", context)
        if s.where is not None:
            self.expression(s.where, s, "update WHERE", context)

    def step_delete(self, s: m.DeleteStep) -> None:
        target = self.target(s.entity, s)
        if s.where is not None:
            self.expression(s.where, s, "delete WHERE", [target] if target else [])

    def step_find(self, s: m.FindStep) -> None:
        target = self.target(s.entity, s)
        self.expression(s.where, s, "find WHERE", [target] if target else [])
        if s.error is not None:
            self.error_code(s.error, s)
        self.introduce(s.into, s, record=True, columns=self.entity_columns(target))

    def step_query(self, s: m.QueryStep) -> None:
        shape = self.query(s.sql, s, "query")
        self.introduce(s.into, s, record=None, columns=self.output_columns(shape))

    def step_declare(self, s: m.DeclareStep) -> None:
        seen: set[str] = set()
        for var in s.variables:
            if var.name in seen or var.name in self.scope:
                self.v.error(f"variable {var.name!r} is declared twice", var.pos)
                continue
            seen.add(var.name)
            self.v.check_type(var.type, f"variable {var.name!r}", var.pos)
            if var.default is not None:
                self.v.check_default(
                    var.default,
                    var.type,
                    f"variable {var.name!r}",
                    var.pos,
                    params=self.params,
                    variables=frozenset(self.scope),
                )
            if self.v.check_name(var.name, "variable", var.pos):
                if self.entity.field_named(var.name) is not None:
                    self.v.warn(f"variable {var.name!r} hides the field of the same name", var.pos)
                self.scope[var.name] = _Var(var.name, False, None, var.pos)

    def step_assign(self, s: m.AssignStep) -> None:
        var = self.scope.get(s.target)
        if var is None:
            self.v.error(f"assign to undeclared variable {s.target!r}; declare it first", s.pos)
        elif var.record:
            self.v.error(f"assign: {s.target!r} is a record; records are read-only", s.pos)
        self.expression(s.expression, s, "assign")

    def step_call(self, s: m.CallStep) -> None:
        node = self.v.parse(s.call, "call", s.pos, statement=False)
        if node is not None and not isinstance(node, ast.FuncCall):
            self.v.error("call must be a function call like fn_name(arg => value)", s.pos)
        elif node is not None:
            self.check_names(node, s, "call", [self.entity])
        if s.store:
            self.introduce(s.store, s)

    def step_notify(self, s: m.NotifyStep) -> None:
        if not LOWER_IDENT.match(s.channel):
            self.v.error(f"notify channel {s.channel!r} must be a lower-case identifier", s.pos)
        for key, value in s.payload.items():
            self.expression(value, s, f"payload {key!r}")

    def step_reject(self, s: m.RejectStep) -> None:
        self.error_code(s.error, s)

    def step_foreach(self, s: m.ForeachStep) -> None:
        shape = self.query(s.query, s, "foreach")
        if not self.v.check_name(s.variable, "variable", s.pos):
            self.block(s.body)
            return
        outer = self.scope.get(s.variable)
        self.scope[s.variable] = _Var(s.variable, True, self.output_columns(shape), s.pos)
        self.block(s.body)
        if outer is None:
            self.scope.pop(s.variable, None)
        else:
            self.scope[s.variable] = outer

    def step_return(self, s: m.ReturnStep) -> None:
        if s.expression is not None:
            self.expression(s.expression, s, "return")

    def step_raw_sql(self, s: m.RawSqlStep) -> None:
        if not s.reason.strip():
            self.v.warn(
                "raw_sql without a reason: say why this has no SpecQL form (reason: ...)",
                s.pos,
            )

    # ------------------------------------------------------------------ SQL checks

    def error_code(self, code: str, step: m.Step) -> None:
        if not ERROR_CODE.match(code):
            self.v.error(
                f"error code {code!r} must be snake_case (it becomes the status error:{code})",
                step.pos,
            )

    def expression(
        self, text: str, step: m.Step, what: str, context: list[m.Entity] | None = None
    ) -> None:
        node = self.v.parse(text, what, step.pos, statement=False)
        if node is not None:
            self.check_names(node, step, what, [*(context or []), self.entity])

    def query(self, text: str, step: m.Step, what: str) -> QueryShape | None:
        node = self.v.parse(text, what, step.pos, statement=True)
        if node is None:
            return None
        if not isinstance(node, ast.SelectStmt):
            self.v.error(f"{what} must be a SELECT", step.pos)
            return None
        return self.check_names(node, step, what, [self.entity])

    def output_columns(self, shape: QueryShape | None) -> frozenset[str] | None:
        if shape is None or shape.outputs is None or None in shape.outputs:
            return None
        return frozenset(shape.outputs)

    def check_names(
        self, node: ast.Node, step: m.Step, what: str, context: list[m.Entity]
    ) -> QueryShape:
        refs = references(node)
        shape = query_shape(node)
        for param in sorted(refs.params - self.params):
            self.v.error(
                f"{what}: unknown param ${param}; declared: "
                f"{', '.join('$' + p for p in sorted(self.params))}",
                step.pos,
            )
        # Entities in FROM clauses, by alias and by name.
        ranges: dict[str, m.Entity] = {}
        from_entities: list[m.Entity] = []
        for rel in shape.relations:
            if rel.schema in SYSTEM_SCHEMAS:
                shape.opaque = True  # catalog columns are not ours to check
                continue
            found = self.v.entity_in_sql(rel.schema, rel.name)
            if found is None:
                written = f"{rel.schema}.{rel.name}" if rel.schema else rel.name
                names = {e.name.lower(): e.name for e in self.v.entities}
                close = difflib.get_close_matches(rel.name.lower(), list(names), n=1)
                hint = f"; did you mean {names[close[0]]}?" if close else ""
                self.v.error(f"{what}: unknown entity {written!r} in FROM{hint}", step.pos)
                continue
            from_entities.append(found)
            ranges[(rel.alias or rel.name).lower()] = found
            ranges[found.name.lower()] = found
        visible = [*context, *from_entities]
        for parts in sorted(refs.columns):
            self.check_column(parts, step, what, visible, ranges, shape)
        return shape

    def check_column(self, parts, step, what, visible, ranges, shape: QueryShape) -> None:
        if len(parts) == 1:
            name = parts[0]
            if (
                name == "*"
                or name in self.scope
                or _is_framework_column(name)
                or name in shape.output_names
                or any(e.field_named(name) is not None for e in visible)
                or shape.opaque
            ):
                return
            known = sorted({f.name for e in visible for f in e.fields} | set(self.scope))
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            self.v.error(f"{what}: unknown field or variable {name!r}{hint}", step.pos)
            return
        if len(parts) != 2:
            self.v.error(f"{what}: cannot resolve {'.'.join(parts)!r}", step.pos)
            return
        owner, column = parts
        var = self.scope.get(owner)
        if var is not None:
            if not var.record:
                self.v.error(
                    f"{what}: {owner!r} is a value, not a record ({owner}.{column})", step.pos
                )
            elif (
                column != "*"
                and var.columns is not None
                and column not in var.columns
                and not _is_framework_column(column)
            ):
                self.v.error(f"{what}: record {owner!r} has no column {column!r}", step.pos)
            return
        entity = ranges.get(owner.lower())
        if entity is None:
            entity, _ = self.v.entity(owner)
        if entity is not None:
            if (
                column != "*"
                and entity.field_named(column) is None
                and not _is_framework_column(column)
            ):
                self.v.error(f"{what}: {entity.name} has no field {column!r}", step.pos)
            return
        if owner in shape.opaque_aliases or shape.opaque:
            return
        self.v.error(f"{what}: unknown record or entity {owner!r} in {owner}.{column}", step.pos)


def validate(entities: list[m.Entity]) -> list[SpecqlError]:
    """Every problem in ``entities`` (errors and warnings), sorted by position."""
    return _Validator(list(entities)).run()


def check(entities: list[m.Entity]) -> None:
    """Raise SpecqlErrors listing the ERROR-level problems, if there are any."""
    errors = [p for p in validate(entities) if p.level is ErrorLevel.ERROR]
    if errors:
        raise SpecqlErrors(errors)
