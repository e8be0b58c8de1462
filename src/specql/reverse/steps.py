"""Steps stage: a PL/pgSQL function -> a SpecQL action (:func:`map_function`).

The body AST (pglast's ``PLpgSQL_function`` dict in :attr:`FunctionInfo.plpgsql`) is mapped
statement by statement (:mod:`specql.reverse.statements`, one handler per statement kind); the
SQL inside is rewritten to spec names by :mod:`specql.reverse.sqlmap`. Whatever has no SpecQL
form becomes a ``raw_sql`` step with the reason, also listed in
:attr:`MappedFunction.unconverted` with its file position: nothing is dropped silently.

Names (:mod:`specql.reverse.naming`):

- the action is named after the function (``fn_<schema>_<action>`` -> ``<action>``);
- params and variables lose one known prefix (``p_``/``in_``/``_``, ``v_``/``l_``/``_``) where
  that is unambiguous; unnamed args are ``arg1``, ``arg2`` … and ``$1`` in SQL reads as them;
- tables that are entity tables read as their entity, columns as fields
  (:mod:`specql.reverse.entity_tables`).

Functions written by our own generator are recognised by their frame
(:mod:`specql.reverse.framework`): the context params ``p_tenant_id``/``p_user_id``/``p_id``
become ``$tenant_id``/``$user_id``/``$id``, the missing-param checks become NOT NULL params
(``reason: text!``), the instance load and the business-error block and result building are
dropped, ``v_<entity>.<column>`` reads the action's own fields, and the insert/find/ref idioms
turn back into the steps that produced them: ``reverse(generate(spec))`` gives the spec back.

Trigger functions become actions of the trigger's table: ``NEW.col`` reads the instance's
field, ``NEW.col := e`` updates it, ``RETURN NEW`` at the end is the normal end; ``OLD`` and
``TG_*`` have no SpecQL form.

Bar: the action must validate (:func:`specql.dsl.validate`) on its entity. Steps the validator
rejects become ``raw_sql`` of their statements, with the validator's message as the reason.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from specql.dsl.expressions import parse_expression, references
from specql.dsl.model import (
    Action,
    Entity,
    InsertStep,
    Param,
    RawSqlStep,
    Step,
    UpdateStep,
    child_blocks,
    replace_steps,
    walk_steps,
)
from specql.dsl.types import parse_type
from specql.dsl.validator import validate
from specql.errors import ErrorLevel, SourcePos, SpecqlError
from specql.generators.postgres.types import param_sql_type
from specql.reverse.body import BodyText, children, declaration, kind_of
from specql.reverse.confidence import UNKNOWN_TYPE
from specql.reverse.entity_tables import FRAMEWORK_COLUMNS, EntityTable, EntityTables
from specql.reverse.framework import (
    CONTEXT_PARAMS,
    INTERNAL_VARIABLES,
    Frame,
    detect_frame,
    if_only_fails,
    instance_load,
    is_null_check,
    success_return,
)
from specql.reverse.keys import retype_keys
from specql.reverse.mapcontext import (
    MapContext,
    StepMeta,
    VarDecl,
    count_statements,
    is_synthetic,
)
from specql.reverse.naming import NameMap, action_name_for_function
from specql.reverse.source import (
    TRIGGER_VARIABLES,
    ArgInfo,
    FunctionInfo,
    MappedFunction,
    TableInfo,
    TypeInfo,
    Unconverted,
)
from specql.reverse.sqlmap import Name, Names, Translator, Untranslatable
from specql.reverse.sqltypes import type_from_sql
from specql.reverse.statements import map_block
from specql.reverse.variables import place_declarations

_TEXT = parse_type("text")
_UUID = parse_type("uuid")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VALIDATION_FILE = "\0reverse-validation"
# Type names whose arguments the PL/pgSQL AST leaves out.
_TYPMOD_LOST = frozenset({"numeric", "_numeric", "decimal"})
MAX_VALIDATION_ROUNDS = 6

Entities = Mapping[str, Entity] | Iterable[Entity] | EntityTables | None


def entity_tables(
    tables: Mapping[str, TableInfo] | Iterable[TableInfo] | None,
    known_entities: Entities,
    types: Iterable[TypeInfo] | None = None,
) -> EntityTables:
    """The lookup :func:`map_function` needs; build it once and pass it as ``known_entities``
    when mapping many functions. ``types``: the run's user types (enums and domains give
    params and variables their SpecQL type)."""
    if isinstance(known_entities, EntityTables):
        return known_entities
    return EntityTables.build(tables, known_entities, types)


def map_function(
    fn: FunctionInfo,
    tables: Mapping[str, TableInfo] | Iterable[TableInfo] | None = None,
    known_entities: Entities = None,
) -> MappedFunction:
    """Map one function to an action (see the module docstring).

    ``tables``: the TableInfo of the run (qualified name -> table, or a list). ``known_entities``:
    the entities (qualified table name -> Entity, a list of entities, or a prebuilt
    :class:`EntityTables`). Only tables that are entities are converted to entity steps; SQL
    over other tables stays raw_sql.
    """
    et = entity_tables(tables, known_entities)
    infos = et.infos if isinstance(known_entities, EntityTables) else _table_infos(tables)
    fdict = _function_dict(fn.plpgsql)
    if fn.parse_path == "raw" or fdict is None:
        return _map_raw(fn)
    try:
        return _FunctionMapper(fn, fdict, et, infos).run()
    except RecursionError:  # a body nested deeper than Python's stack: keep it whole
        body = (fn.body or "").strip()
        whole = dataclasses.replace(
            fn,
            parse_error="nested too deeply to map",
            raw_statements=[(body, SourcePos(fn.pos.file, fn.body_line, 0))] if body else [],
        )
        mapped = _map_raw(whole)
        mapped.function = fn
        return mapped


def _function_dict(plpgsql) -> dict | None:
    if isinstance(plpgsql, list):
        plpgsql = plpgsql[0] if plpgsql else None
    if isinstance(plpgsql, dict) and "PLpgSQL_function" in plpgsql:
        plpgsql = plpgsql["PLpgSQL_function"]
    if not isinstance(plpgsql, dict) or "action" not in plpgsql:
        return None
    return plpgsql


def _table_infos(tables) -> dict[str, TableInfo]:
    if tables is None:
        return {}
    items = tables.values() if isinstance(tables, Mapping) else tables
    return {t.qualified_name: t for t in items if isinstance(t, TableInfo)}


def _map_raw(fn: FunctionInfo) -> MappedFunction:
    """A body that could not be parsed: each of its statements is a raw_sql step."""
    reason = "the function body could not be parsed" + (
        f" ({fn.parse_error})" if fn.parse_error else ""
    )
    steps: list[Step] = []
    unconverted: list[Unconverted] = []
    for sql, pos in fn.raw_statements:
        steps.append(RawSqlStep(sql=sql, reason=reason, pos=pos))
        unconverted.append(Unconverted(pos, sql, reason))
    return MappedFunction(
        function=fn,
        action=_action_of(fn, _raw_params(fn), steps),
        statements_total=len(steps),
        statements_converted=0,
        unconverted=unconverted,
    )


def _action_of(fn: FunctionInfo, params: list[Param], steps: list[Step]) -> Action:
    """The action a function becomes: named after it, its comment as the description."""
    return Action(
        name=action_name_for_function(fn.schema, fn.name),
        params=params,
        steps=steps,
        description=fn.comment,
        pos=fn.pos,
    )


def _raw_params(fn: FunctionInfo) -> list[Param]:
    names = NameMap()
    args = [a for a in fn.args if a.mode in ("in", "inout", "variadic")]
    for n, arg in enumerate(args, start=1):
        names.add_param(arg.name or f"${n}", None if arg.name else f"arg{n}")
    names.resolve()
    return [
        Param(name=names.params[arg.name or f"${n}"], type=type_from_sql(arg.sql_type) or _TEXT)
        for n, arg in enumerate(args, start=1)
    ]


# --------------------------------------------------------------------------- one function


class _FunctionMapper:
    def __init__(self, fn: FunctionInfo, fdict: dict, tables: EntityTables, infos) -> None:
        self.fn = fn
        self.fdict = fdict
        self.tables = tables
        self.infos = infos
        self.datums: list[dict] = fdict.get("datums") or []
        self.action_stmt: dict = fdict["action"]
        self.body = BodyText(fn.body or "", self.action_stmt)
        self.frame: Frame | None = None
        if fn.name.startswith("fn_"):
            self.frame = detect_frame(self.action_stmt)
        self.names = Names()
        self.params: list[Param] = []
        self.param_sql: list[str] = []  # SQL names, parallel to params
        self.notes: list[Unconverted] = []
        self.own: EntityTable | None = None
        self._own_info_names: frozenset[str] | None = None

    # ---- main

    def run(self) -> MappedFunction:
        fn = self.fn
        variables = self._names()
        tr = Translator(self.tables, self.names)
        ctx = MapContext(fn, self.tables, self.names, tr, self.body, self.datums, self.frame, None)
        ctx.variables = variables
        statements = self._top_statements()
        self.own = self._own_table(ctx, statements)
        ctx.own = self.own
        if self.frame is not None:
            statements = self._strip_frame(ctx, statements)
        elif fn.is_trigger:
            for key in ("new", "old"):
                if key in self.names.by_sql:
                    self.names.by_sql[key].table = self.own
        real = [s for s in statements if not is_synthetic(s)]
        ctx.last_statement = real[-1] if real else None
        core = retype_keys(ctx, self.params, map_block(ctx, statements))
        steps = self._validated(ctx, core)
        self._refine_param_types(steps)
        raw_steps = [s for s in walk_steps(steps) if isinstance(s, RawSqlStep)]
        total = count_statements(self.action_stmt)
        unconverted_count = sum(ctx.meta[id(s)].count for s in raw_steps if id(s) in ctx.meta)
        return MappedFunction(
            function=fn,
            action=_action_of(fn, self.params, steps),
            entity_hint=self._entity_hint(ctx),
            statements_total=total,
            statements_converted=max(total - unconverted_count, 0),
            unconverted=[ctx.unconverted_of(s) for s in raw_steps] + self.notes + ctx.notes,
            tables_written=dict(ctx.written),
            tables_read=dict(tr.tables_read),
        )

    def _top_statements(self) -> list[dict]:
        if self.frame is not None:
            return self.frame.statements
        node = self.action_stmt.get("PLpgSQL_stmt_block")
        if node is None or node.get("exceptions"):
            return [self.action_stmt]
        return list(node.get("body") or [])

    def _entity_hint(self, ctx: MapContext) -> str | None:
        if self.own is not None:
            return self.own.qualified
        if ctx.written:
            return max(ctx.written.items(), key=lambda kv: kv[1])[0]
        if ctx.tr.tables_read:
            return max(ctx.tr.tables_read.items(), key=lambda kv: kv[1])[0]
        return None

    # ---- names

    def _arg_datums(self) -> list[dict]:
        out = []
        for d in self.datums:
            ((kind, node),) = d.items()
            if kind == "PLpgSQL_var" and node.get("refname") == "found":
                break
            out.append(d)
        return out

    def _args(self) -> list[ArgInfo]:
        if self.fn.args:
            return list(self.fn.args)
        args = []
        for d in self._arg_datums():
            ((kind, node),) = d.items()
            name = node.get("refname", "")
            if kind != "PLpgSQL_var" or name in TRIGGER_VARIABLES:
                continue
            typname = node.get("datatype", {}).get("PLpgSQL_type", {}).get("typname", "")
            args.append(ArgInfo(None if name.startswith("$") else name, typname))
        return args

    def _declared_datums(self) -> list[dict]:
        loop_vars = _loop_variables(self.action_stmt)
        found_seen = False
        out = []
        for d in self.datums:
            ((kind, node),) = d.items()
            name = node.get("refname", "")
            if not found_seen:
                found_seen = kind == "PLpgSQL_var" and name == "found"
                continue
            if kind not in ("PLpgSQL_var", "PLpgSQL_rec") or not node.get("lineno"):
                continue
            if name.startswith("__Case__Variable") or name in loop_vars:
                continue
            if name in ("sqlstate", "sqlerrm") and node.get("isconst"):
                continue  # implicit in every exception handler
            out.append(d)
        return out

    def _names(self) -> dict[str, VarDecl]:
        framework = self.frame is not None
        args = self._args()
        params = [a for a in args if a.mode in ("in", "inout", "variadic")]
        outs = [a for a in args if a.mode in ("out", "table")]
        declared = self._declared_datums()
        name_map = NameMap(columns=self._columns_in_body() | FRAMEWORK_COLUMNS)
        for n, arg in enumerate(params, start=1):
            sql = arg.name or f"${n}"
            if framework and sql in CONTEXT_PARAMS:
                name_map.add_param(sql, CONTEXT_PARAMS[sql])
            elif framework and sql.startswith("p_"):
                name_map.add_param(sql, sql[2:])
            else:
                name_map.add_param(sql, None if arg.name else f"arg{n}")
        seen: set[str] = set()
        for arg in outs:
            if arg.name:
                name_map.add_variable(arg.name)
                seen.add(arg.name)
        for d in declared:
            ((_, node),) = d.items()
            sql = node["refname"]
            if sql in seen:
                continue
            seen.add(sql)
            if framework and sql in INTERNAL_VARIABLES:
                continue
            if framework and sql.startswith("v_"):
                name_map.add_variable(sql, sql[2:])
            else:
                name_map.add_variable(sql)
        name_map.resolve()

        by_sql = self.names.by_sql
        positional: list[Name | None] = []
        for n, arg in enumerate(params, start=1):
            sql = arg.name or f"${n}"
            spec = name_map.params[sql]
            if framework and sql == "p_tenant_id":
                name = Name(spec, "tenant")
            else:
                name = Name(spec, "param")
            if arg.name:
                by_sql[arg.name] = name
            positional.append(name)
            if framework and sql in CONTEXT_PARAMS:
                continue
            self.params.append(self._param(spec, arg, framework))
            self.param_sql.append(sql)
        self.names.positional = positional
        by_sql.setdefault("found", Name("found", "found"))
        for special in TRIGGER_VARIABLES:
            by_sql.setdefault(special, Name(special, "special"))
        if self.fn.is_trigger:
            by_sql["new"] = Name("new", "new")
            by_sql["old"] = Name("old", "old")

        variables: dict[str, VarDecl] = {}
        for arg in outs:
            if arg.name and arg.name in name_map.variables:
                spec = name_map.variables[arg.name]
                t = self._type(arg.sql_type, spec, self.fn.pos.line if self.fn.pos else 0)
                by_sql[arg.name] = Name(spec, "var")
                variables[arg.name] = VarDecl(arg.name, spec, t, arg.sql_type)
        for d in declared:
            ((_, node),) = d.items()
            sql = node["refname"]
            if sql in variables or (sql in by_sql and by_sql[sql].kind in ("param", "tenant")):
                continue
            if framework and sql in INTERNAL_VARIABLES:
                by_sql[sql] = Name(sql, "internal")
                continue
            spec = name_map.variables.get(sql)
            if spec is None:
                continue
            decl = self._variable(d, sql, spec)
            variables[sql] = decl
        return variables

    def _param(self, spec: str, arg: ArgInfo, framework: bool) -> Param:
        t = self._type(arg.sql_type, spec, self.fn.pos.line if self.fn.pos else 0, "param")
        default = None
        if arg.default is not None and arg.default.strip().upper() != "NULL":
            default = arg.default.strip()
            if default.upper().startswith("NULL::"):
                default = None
        if default is not None:
            default = _enum_label(t, default)
        return Param(name=spec, type=t, default=default)

    def _type(self, text: str | None, spec: str, line: int, what: str = "variable"):
        t = _resolve_type(text or "", self.infos, self.tables)
        if t is None:
            self.notes.append(
                Unconverted(
                    SourcePos(self.fn.pos.file if self.fn.pos else "", line, 0),
                    f"{spec} {text}",
                    f"{UNKNOWN_TYPE}: {what} {spec} is {text!r}; written as text",
                )
            )
            return _TEXT
        return t

    def _variable(self, datum: dict, sql: str, spec: str) -> VarDecl:
        ((kind, node),) = datum.items()
        line = node.get("lineno", 0)
        typname = node.get("datatype", {}).get("PLpgSQL_type", {}).get("typname", "")
        text = typname
        default_text = None
        if typname in _TYPMOD_LOST or self.fn.parse_path == "rewritten" or kind == "PLpgSQL_rec":
            # the AST drops typmods (numeric(12,2)), the fallback rewrote types, and a type
            # libpg_query does not know reads as a row: read the declaration as written
            found = declaration(self.body, sql, line)
            if found is not None:
                text, default_text = found
        lowered = text.strip().lower()
        file_line = self.fn.body_line + line - 1 if self.fn.body_line else line
        row_of = self._row_type(lowered)
        scalar = (
            kind == "PLpgSQL_rec"
            and row_of is None
            and (_resolve_type(text, self.infos, self.tables) is not None)
        )
        if not scalar and (kind == "PLpgSQL_rec" or lowered == "record" or row_of is not None):
            table = None
            if row_of:
                schema, _, name = row_of.rpartition(".")
                table = self.tables.lookup(schema or None, name)
            self.names.by_sql[sql] = Name(spec, "record", table=table)
            return VarDecl(sql, spec, None, text, line=file_line, record=True)
        if lowered == "refcursor" or node.get("cursor_explicit_expr"):
            self.names.by_sql[sql] = Name(spec, "cursor")
            return VarDecl(sql, spec, None, text, line=file_line, record=True)
        self.names.by_sql[sql] = Name(spec, "var")
        decl = VarDecl(sql, spec, self._type(text, spec, file_line), text, line=file_line)
        default = node.get("default_val")
        if default:
            decl.default_source = default.get("PLpgSQL_expr", {}).get("query", "")
        elif default_text:
            decl.default_source = default_text
        return decl

    def _row_type(self, lowered: str) -> str | None:
        """``t%ROWTYPE``, or a table (or composite type) used as a type: the row's table."""
        if lowered.endswith("%rowtype"):
            return lowered[: -len("%rowtype")].strip()
        if not lowered or type_from_sql(lowered) is not None:
            return None
        schema, _, name = lowered.rpartition(".")
        if (
            self.tables.lookup(schema or None, name) is not None
            or lowered in self.infos
            or name in self._info_names()
        ):
            return lowered
        user = self.tables.user_type(lowered)
        return "" if user is not None and user.kind == "composite" else None

    def _info_names(self) -> frozenset[str]:
        """The bare names of every table of the run."""
        if self.infos is self.tables.infos:
            return self.tables.info_names()
        if self._own_info_names is None:
            self._own_info_names = frozenset(i.name for i in self.infos.values())
        return self._own_info_names

    def _columns_in_body(self) -> set[str]:
        """Columns (and their field names) of the entity tables the body names."""
        columns: set[str] = set()
        for word in {w.lower() for w in _WORD.findall(self.fn.body or "")}:
            columns |= self.tables.names_of_table(word)
        return columns

    # ---- the generated frame

    def _own_table(self, ctx: MapContext, statements: list[dict]) -> EntityTable | None:
        fn = self.fn
        if self.frame is not None:
            for stmt in statements:
                found = (
                    instance_load(stmt, ctx.tr) if kind_of(stmt) == "PLpgSQL_stmt_execsql" else None
                )
                if found is not None:
                    return self.tables.lookup(found[2], found[1])
            for stmt in _all_statements(statements):
                view = _success_view(stmt, ctx.tr)
                if view is not None:
                    schema, name = view
                    found = self.tables.lookup(schema, "tb_" + name.removeprefix("tv_"))
                    if found is not None:
                        return found
            return None
        if fn.is_trigger and fn.triggers:
            tables = {t.table for t in fn.triggers}
            if len(tables) == 1:
                schema, _, name = next(iter(tables)).rpartition(".")
                return self.tables.lookup(schema or None, name)
        return None

    def _strip_frame(self, ctx: MapContext, statements: list[dict]) -> list[dict]:
        """Drop the required-param checks and the instance load at the start of the steps."""
        i = 0
        required: set[str] = set()
        try:
            while i < len(statements):
                found = if_only_fails(statements[i], ctx.tr)
                if found is None or not found[1].startswith("missing_"):
                    break
                param = is_null_check(found[0], ctx.tr)
                if param is None or not param.startswith("p_"):
                    break
                required.add(param)
                i += 1
            if i < len(statements):
                found = instance_load(statements[i], ctx.tr)
                nxt = statements[i + 1] if i + 1 < len(statements) else None
                fails = if_only_fails(nxt, ctx.tr) if nxt is not None else None
                if found is not None and fails is not None and fails[1] == "not_found":
                    self.names.by_sql[found[0]] = Name(found[0], "instance", table=self.own)
                    ctx.variables.pop(found[0], None)
                    i += 2
        except Untranslatable:
            pass
        for param, sql in zip(self.params, self.param_sql, strict=True):
            if sql in required:
                param.nullable = False
        return statements[i:]

    # ---- checks

    def _validated(self, ctx: MapContext, core: list[Step]) -> list[Step]:
        """Place the declarations, then validate; steps the validator rejects become raw."""
        self._resolve_defaults(ctx)
        steps = place_declarations(ctx, core)
        for _ in range(MAX_VALIDATION_ROUNDS):
            rejected = self._rejected(ctx, steps)
            if not rejected:
                return steps
            if not any(id(s) in ctx.meta for s, _ in rejected):
                return steps  # only the declare step: nothing we can turn raw
            core = _replace(ctx, core, rejected)
            steps = place_declarations(ctx, core)
        return steps

    def _resolve_defaults(self, ctx: MapContext) -> None:
        """Translate DECLARE defaults; one that reads more than params and constants is set
        by an assign at the start instead."""
        declared = [v for v in ctx.variables.values() if not v.record]
        earlier: set[str] = set()
        for v in declared:
            source = getattr(v, "default_source", None)
            if source:
                try:
                    node = ctx.tr.parse_expression(source)
                    rendered = ctx.tr.render(ctx.tr.node(node))
                    reads = ctx.tr.reset_mentions()
                    v.default_needs_assign = bool(reads - earlier) or _reads_columns(rendered)
                    v.default = (
                        rendered if v.default_needs_assign else _enum_label(v.type, rendered)
                    )
                except Untranslatable as exc:
                    v.default = None  # set by a raw_sql step where the declare stands
                    raw = RawSqlStep(
                        sql=f"{v.sql} := {source};",
                        reason=f"the default of variable {v.spec}: {exc.reason}",
                        pos=SourcePos(self.fn.pos.file if self.fn.pos else "", v.line, 0),
                    )
                    ctx.meta[id(raw)] = StepMeta([], set(), count=0)
                    v.default_raw = raw
            earlier.add(v.spec)

    def _rejected(self, ctx: MapContext, steps: list[Step]) -> list[tuple[Step, str]]:
        """The steps the validator rejects, with its message. The action is checked on its
        entity next to the entities it reads and writes, as :meth:`EntityTables.step_check`
        gives them (what step checks read of an entity, nothing else to check)."""
        action = Action(
            name=action_name_for_function(self.fn.schema, self.fn.name),
            params=self.params,
            steps=steps,
        )
        if self.own is not None:
            host = dataclasses.replace(self.tables.step_check(self.own), actions=[action])
        else:
            host = Entity(
                name="ReverseCheck", schema=(self.fn.schema or "public").lower(), actions=[action]
            )
        others: dict[str, Entity] = {}
        for qualified in [*ctx.written, *ctx.tr.tables_read]:
            t = self.tables.by_qualified(qualified)
            if t is not None and (self.own is None or t.entity is not self.own.entity):
                others.setdefault(t.entity.name + "@" + t.entity.schema, self.tables.step_check(t))
        by_line: dict[int, Step] = {}
        saved = []
        for n, step in enumerate(walk_steps(steps), start=1):
            saved.append((step, step.pos))
            step.pos = SourcePos(_VALIDATION_FILE, n, 0)
            by_line[n] = step
        try:
            problems = validate([host, *others.values()])
        finally:
            for step, pos in saved:
                step.pos = pos
        rejected: dict[int, tuple[Step, str]] = {}
        for p in problems:
            if p.level is not ErrorLevel.ERROR or p.pos.file != _VALIDATION_FILE:
                continue
            step = by_line.get(p.pos.line)
            if step is not None and id(step) not in rejected:
                rejected[id(step)] = (step, p.message)
        return list(rejected.values())

    # ---- params

    def _refine_param_types(self, steps: list[Step]) -> None:
        """A param stored as is into a field takes the field's type when the generated SQL
        type is the same (``text`` -> ``email``, ``numeric(19,4)`` -> ``money``)."""
        by_name = {p.name: p for p in self.params}
        for step in walk_steps(steps):
            if isinstance(step, InsertStep):
                pairs, target = step.values.items(), step.entity
            elif isinstance(step, UpdateStep):
                pairs, target = step.assignments.items(), step.entity
            else:
                continue
            t = self.tables.by_entity(target.rpartition(".")[2])
            if t is None:
                continue
            for field_name, value in pairs:
                param = by_name.get(value[1:]) if value.startswith("$") else None
                field = t.entity.field_named(field_name)
                if param is None or field is None or field.type.kind in ("ref", "enum"):
                    continue
                try:
                    if param_sql_type(field.type) == param_sql_type(param.type):
                        param.type = field.type
                except (KeyError, SpecqlError):
                    continue


# --------------------------------------------------------------------------- helpers


def _resolve_type(text: str, infos: dict[str, TableInfo], tables: EntityTables):
    """SpecQL type of a declared type: SQL types, ``table.column%TYPE`` (a key column reads as
    the uuid it becomes), enum and domain types of the run; None when there is no form."""
    lowered = text.strip().lower()
    if lowered.endswith("%type"):
        parts = lowered[: -len("%type")].strip().split(".")
        if len(parts) < 2:
            return None
        column, table = parts[-1], parts[-2]
        schema = parts[-3] if len(parts) > 2 else None
        et = tables.lookup(schema, table)
        if et is not None and (column in et.ref_columns or column == et.pk):
            return _UUID
        info = infos.get(f"{schema}.{table}") if schema else None
        if info is None:
            info = next((i for i in infos.values() if i.name == table), None)
        col = info.column(column) if info is not None else None
        return type_from_sql(col.sql_type) if col is not None else None
    found = type_from_sql(text)
    if found is not None:
        return found
    user = tables.user_type(lowered)
    if user is None:
        return None
    if user.kind == "enum" and user.values and all(_LABEL.match(v) for v in user.values):
        try:
            return parse_type(f"enum({', '.join(user.values)})")
        except SpecqlError:
            return None
    if user.kind == "domain" and user.base is not None:
        return type_from_sql(user.base.sql_type)
    return None


def _enum_label(t, default: str) -> str:
    """An enum default is written as the bare label (``'placed'`` -> ``placed``), as the
    loader reads it."""
    if t is None or t.kind != "enum":
        return default
    text = default.strip()
    if len(text) > 1 and text[0] == text[-1] == "'" and text[1:-1] in t.values:
        return text[1:-1]
    return default


def _reads_columns(text: str) -> bool:
    """Does a spec expression read anything but params? (a crude token check is enough: it
    only decides between a DECLARE default and an assign, both correct)."""
    try:
        refs = references(parse_expression(text))
    except SpecqlError:
        return True
    return bool(refs.columns or refs.tables)


def _loop_variables(stmt: dict) -> set[str]:
    found: set[str] = set()
    for s in _all_statements([stmt]):
        ((kind, node),) = s.items()
        if kind in ("PLpgSQL_stmt_fori", "PLpgSQL_stmt_foreach_a"):
            var = node.get("var") or {}
            for v in var.values():
                if isinstance(v, dict) and v.get("refname"):
                    found.add(v["refname"])
    return found


def _all_statements(stmts: list[dict]):
    for stmt in stmts:
        yield stmt
        for block in children(stmt):
            yield from _all_statements(block)


def _success_view(stmt: dict, tr: Translator) -> tuple[str | None, str] | None:
    """``(schema, tv_x)`` of the view a generated success RETURN reads."""
    if kind_of(stmt) != "PLpgSQL_stmt_return":
        return None
    try:
        found = success_return(stmt, tr)
    except Untranslatable:
        return None
    if found is None or not found[0]:
        return None
    text = stmt["PLpgSQL_stmt_return"]["expr"]["PLpgSQL_expr"]["query"]
    node = tr.parse_expression(text)
    data = node.arg.args[3] if hasattr(node, "arg") else node.args[3]
    sub = getattr(data, "subselect", None)
    froms = getattr(sub, "fromClause", None) or ()
    if len(froms) == 1 and hasattr(froms[0], "relname"):
        return froms[0].schemaname, froms[0].relname
    return None


def _replace(ctx: MapContext, steps: list[Step], rejected: list[tuple[Step, str]]) -> list[Step]:
    """``steps`` with each rejected step (the whole IF for an ELSIF branch) as raw_sql."""
    parents = _parents(steps)
    targets: dict[int, str] = {}
    for step, message in rejected:
        node = step
        while id(node) in ctx.meta and ctx.meta[id(node)].part_of_parent and id(node) in parents:
            node = parents[id(node)]
        if id(node) in ctx.meta:
            targets.setdefault(id(node), message)
    return _rebuild(ctx, steps, targets)


def _parents(steps: list[Step], parent: Step | None = None, out=None) -> dict[int, Step]:
    out = {} if out is None else out
    for step in steps:
        if parent is not None:
            out[id(step)] = parent
        for block in child_blocks(step):
            _parents(block, step, out)
    return out


def _rebuild(ctx: MapContext, steps: list[Step], targets: dict[int, str]) -> list[Step]:
    def as_raw(step: Step) -> Step:
        if id(step) not in targets:
            return step
        meta = ctx.meta[id(step)]
        return ctx.raw(meta.statements, f"not valid SpecQL: {targets[id(step)]}")

    return replace_steps(steps, as_raw)


def _counter(values: Iterable[str]) -> Counter[str]:
    return Counter(values)


__all__ = ["entity_tables", "map_function"]
