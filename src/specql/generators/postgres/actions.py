"""Action functions and the framework objects they rely on (docs/generated-postgres.md).

Public API:

- :func:`framework_sql` — schema ``app``: the ``mutation_result`` type, the event log and its
  ``log_event`` helper, and ``raise_business_error`` (idempotent: it can be applied twice).
- :func:`compile_action` — one ``CREATE OR REPLACE FUNCTION <schema>.fn_<schema>_<action>``.

The shape of every generated function (what ``specql reverse`` reads back)::

    CREATE OR REPLACE FUNCTION crm.fn_crm_qualify_lead(
        p_tenant_id UUID,                      -- multi-tenant schemas only
        p_user_id UUID,
        p_id UUID DEFAULT NULL,
        p_reason TEXT DEFAULT NULL             -- declared params, in spec order
    )
    RETURNS app.mutation_result
    LANGUAGE plpgsql
    AS $fn$
    DECLARE
        v_contact RECORD;                      -- the instance, when the action uses it
        v_<name> <TYPE>[ := <default>];        -- variables, in order of first appearance
        _new_id UUID;                          -- when the action inserts
        _created_id UUID;                      -- when it inserts its own entity
        _error_code TEXT;
        _error_message TEXT;
    BEGIN
        BEGIN
            IF p_reason IS NULL THEN           -- one per NOT NULL param
                PERFORM app.raise_business_error('missing_reason', 'Parameter reason is required');
            END IF;
            SELECT * INTO v_contact FROM crm.tb_contact AS contact
              WHERE contact.id = p_id AND contact.tenant_id = p_tenant_id
              AND contact.deleted_at IS NULL FOR UPDATE;           -- (one line)
            IF NOT FOUND THEN
                PERFORM app.raise_business_error('not_found', 'Contact not found');
            END IF;
            <steps>
            RETURN ROW('success', 'qualify_lead succeeded', p_id,
                (SELECT tv_contact.data FROM crm.tv_contact WHERE tv_contact.id = p_id)
            )::app.mutation_result;                                -- (one line)
        EXCEPTION
            WHEN SQLSTATE 'SQB01' THEN
                GET STACKED DIAGNOSTICS _error_code = PG_EXCEPTION_DETAIL, _error_message = MESSAGE_TEXT;
                RETURN ROW('error:' || _error_code, _error_message, p_id, NULL)::app.mutation_result;
        END;
    END;
    $fn$;
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast, enums

from specql.dsl.expressions import deparse, parse_expression, parse_statement, references
from specql.dsl.model import (
    Action,
    AssignStep,
    CallStep,
    DeclareStep,
    Entity,
    FindStep,
    ForeachStep,
    InsertStep,
    QueryStep,
    ReturnStep,
    Step,
    TypeRef,
    walk_steps,
)
from specql.errors import SourcePos, SpecqlError
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.expressions import (
    BUILTIN_PARAMS,
    ID_PARAM,
    RECORD,
    TENANT_PARAM,
    USER_PARAM,
    ActionNames,
    Binding,
    Rewriter,
    Tables,
    Variable,
    and_,
    colref,
    op,
)
from specql.generators.postgres.inference import TypeInference
from specql.generators.postgres.naming import (
    function_name,
    param_name,
    snake,
    view_name,
)
from specql.generators.postgres.steps import (
    CREATED_ID,
    NEW_ID,
    STEP_COMPILERS,
    humanize,
    into,
    select_rows,
)
from specql.generators.postgres.types import param_sql_type, quote_ident, sql_string

# SQLSTATE of business errors: raised by raise_business_error, caught by every action.
BUSINESS_ERROR_SQLSTATE = "SQB01"
ERROR_CODE_VAR = "_error_code"
ERROR_MESSAGE_VAR = "_error_message"
INDENT = "    "


def framework_sql(framework_schema: str = "app") -> str:
    """The objects every action function relies on; applying it twice changes nothing."""
    s = quote_ident(framework_schema)
    return f"""CREATE SCHEMA IF NOT EXISTS {s};

-- The one result type of every action function.
DO $do$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_type AS t
        JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
        WHERE n.nspname = {sql_string(framework_schema)} AND t.typname = 'mutation_result'
    ) THEN
        CREATE TYPE {s}.mutation_result AS (
            status TEXT,
            message TEXT,
            id UUID,
            object_data JSONB
        );
    END IF;
END
$do$;

-- Events logged by actions (a target for `call` steps).
CREATE TABLE IF NOT EXISTS {s}.tb_event_log (
    pk_event_log INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id UUID UNIQUE NOT NULL DEFAULT gen_random_uuid(),
    identifier TEXT UNIQUE NOT NULL,
    event TEXT NOT NULL,
    data JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_tb_event_log_event ON {s}.tb_event_log (event);

CREATE OR REPLACE FUNCTION {s}.log_event(p_event TEXT, p_data JSONB)
RETURNS UUID
LANGUAGE plpgsql
AS $fn$
DECLARE
    _id UUID := gen_random_uuid();
BEGIN
    INSERT INTO {s}.tb_event_log (id, identifier, event, data)
    VALUES (_id, _id::text, p_event, p_data);
    RETURN _id;
END;
$fn$;

-- Fail the current action with a business error: every action function catches SQLSTATE
-- {BUSINESS_ERROR_SQLSTATE}, rolls back its steps and returns status 'error:<p_code>'.
CREATE OR REPLACE FUNCTION {s}.raise_business_error(p_code TEXT, p_message TEXT DEFAULT NULL)
RETURNS VOID
LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = '{BUSINESS_ERROR_SQLSTATE}',
        MESSAGE = COALESCE(p_message, p_code),
        DETAIL = p_code;
END;
$fn$;
"""


def compile_action(entity: Entity, action: Action, ctx: CompileContext) -> str:
    """``CREATE OR REPLACE FUNCTION <schema>.fn_<schema>_<action>(…)`` for one action."""
    return ActionCompiler(entity, action, ctx).compile()


@dataclass
class _Declared:
    var: Variable
    default: str | None = None


class ActionCompiler:
    """Compiles one action; step compilers (:mod:`steps`) call back into it."""

    def __init__(self, entity: Entity, action: Action, ctx: CompileContext) -> None:
        self.entity = entity
        self.action = action
        self.ctx = ctx
        self.framework = quote_ident(ctx.framework_schema)
        self.tables = Tables(ctx, entity)
        for p in action.params:
            if p.name in BUILTIN_PARAMS:
                raise SpecqlError(
                    f"parameter {p.name!r} is reserved: every action has ${p.name}", p.pos
                )
        self.names = ActionNames(
            tables=self.tables,
            entity=entity,
            params={p.name: p for p in action.params},
            has_tenant=ctx.is_multi_tenant(entity),
        )
        self.rw = Rewriter(self.names)
        self.infer = TypeInference(self.names)
        self.declared: dict[str, _Declared] = {}
        self.declared_with_default: set[str] = set()
        self.uses_new_id = False
        self.creates = any(
            isinstance(s, InsertStep) and self.tables.named(s.entity, s.pos) is entity
            for s in walk_steps(action.steps)
        )

    # ---- helpers for step compilers

    def indent(self, lines: list[str], depth: int = 1) -> list[str]:
        return [INDENT * depth + line if line else line for line in lines]

    def block(self, steps: list[Step]) -> list[str]:
        lines: list[str] = []
        for step in steps:
            lines += self.step(step)
        return self.indent(lines or ["NULL;"])

    def step(self, step: Step) -> list[str]:
        compiler = STEP_COMPILERS.get(step.kind)
        if compiler is None:
            raise SpecqlError(f"no PostgreSQL compiler for step kind {step.kind!r}", step.pos)
        return compiler(step, self)

    def expr(self, text: str, pos: SourcePos | None, bindings=()) -> str:
        return deparse(self.rw.expression(text, pos, bindings))

    def fail(self, code: str, message: str | None) -> str:
        return (
            f"PERFORM {self.framework}.raise_business_error({sql_string(code)}, "
            f"{sql_string(message or humanize(code))});"
        )

    def result_id(self) -> str:
        return f"COALESCE({ID_PARAM}, {CREATED_ID})" if self.creates else ID_PARAM

    def success(self, object_data: str | None = None) -> str:
        rid = self.result_id()
        if object_data is None:
            view = quote_ident(view_name(self.entity.name))
            object_data = (
                f"(SELECT {view}.data FROM {quote_ident(self.entity.schema)}.{view} "
                f"WHERE {view}.id = {rid})"
            )
        message = sql_string(f"{self.action.name} succeeded")
        return (
            f"RETURN ROW('success', {message}, {rid}, {object_data})"
            f"::{self.framework}.mutation_result;"
        )

    def field_value(
        self, entity: Entity, name: str, text: str, pos, binding: Binding | None = None
    ) -> str:
        """A value stored into ``entity.name``: a ref's UUID becomes the referenced pk_."""
        node = self.rw.expression(text, pos, [binding] if binding else [])
        col = self.tables.column(entity, name)
        if col is not None and col.ref_target is not None:
            node = self.rw.uuid_to_key(col.ref_target, node)
        return deparse(node)

    def where(self, entity: Entity, alias: str, text: str | None, pos, deleted: bool = True) -> str:
        """WHERE of an update/delete: the spec's condition (or the instance) + row filters."""
        if text is None:
            if entity is not self.entity:
                raise SpecqlError(
                    f"{entity.name} is not the action's entity: say which rows, with WHERE", pos
                )
            self.names.uses_instance = True
            cond = op("=", colref(alias, "id"), colref(ID_PARAM))
        else:
            cond = self.rw.expression(text, pos, [Binding(alias, entity)])
        return deparse(and_([cond, *self.rw.row_filters(alias, entity, deleted)]))

    def default_value(self, t: TypeRef, text: str, pos) -> str:
        """SQL of a default: an enum label may be written bare (``= lead``)."""
        if t.kind == "enum" and text in t.values:
            return sql_string(text)
        return self.expr(text, pos)

    # ---- variables (a first pass: names and types are known before any step compiles)

    def _add_variable(self, name: str, sql_type: str, pos, entity: Entity | None = None):
        existing = self.names.variables.get(name)
        if existing is None:
            self.names.variables[name] = Variable(name, sql_type, entity)
        elif existing.sql_type == RECORD and sql_type == RECORD:
            if existing.entity is not entity:
                existing.entity = None
        elif existing.sql_type != sql_type and sql_type is not None:
            raise SpecqlError(
                f"variable {name!r} is used as {existing.sql_type} and as {sql_type}", pos
            )

    def _infer(self, name: str, found: str | None, what: str, pos) -> str:
        if found is None:
            raise SpecqlError(
                f"cannot infer the type of variable {name!r} from its {what}: declare it "
                f"(declare: {{ {name}: <type> }})",
                pos,
            )
        return found

    def collect_variables(self) -> None:
        """Every variable the steps introduce, in order, typed (one method per step kind)."""
        for step in walk_steps(self.action.steps):
            collect = getattr(self, f"_vars_{step.kind}", None)
            if collect is not None:
                collect(step)

    def _vars_declare(self, step: DeclareStep) -> None:
        for v in step.variables:
            if v.name in self.names.variables:
                raise SpecqlError(f"variable {v.name!r} is declared twice", v.pos)
            self.names.variables[v.name] = Variable(v.name, param_sql_type(v.type))
            self._declare_default(v)

    def _vars_insert(self, step: InsertStep) -> None:
        if step.as_:
            self._add_variable(step.as_, "UUID", step.pos)

    def _vars_find(self, step: FindStep) -> None:
        entity = self.tables.named(step.entity, step.pos)
        self._add_variable(step.into, RECORD, step.pos, entity)

    def _vars_foreach(self, step: ForeachStep) -> None:
        _, entity = self.infer.query(_select(step.query, step.pos))
        self._add_variable(step.variable, RECORD, step.pos, entity)

    def _vars_query(self, step: QueryStep) -> None:
        if step.into not in self.names.variables:
            kind, entity = self.infer.query(_select(step.sql, step.pos))
            kind = self._infer(step.into, kind, "query", step.pos)
            self._add_variable(step.into, kind, step.pos, entity)

    def _vars_call(self, step: CallStep) -> None:
        if step.store and step.store not in self.names.variables:
            found = self.infer.expression(parse_expression(step.call, step.pos))
            self._add_variable(
                step.store, self._infer(step.store, found, "call", step.pos), step.pos
            )

    def _vars_assign(self, step: AssignStep) -> None:
        # The dialect asks for a `declare` before an assign (the validator says so too):
        # an assignment is where a reader looks for a variable's type, not where it is made.
        if step.target not in self.names.variables:
            raise SpecqlError(
                f"assign to undeclared variable {step.target!r}; declare it first", step.pos
            )

    def _declare_default(self, v) -> None:
        """A default made of params and constants goes into DECLARE; others are assigned
        where the declare step stands (the instance is not loaded at DECLARE time)."""
        if v.default is None:
            return
        if not (v.type.kind == "enum" and v.default in v.type.values):
            refs = references(parse_expression(v.default, v.pos))
            if refs.columns or refs.tables:
                return
        self.declared_with_default.add(v.name)
        self.declared[v.name] = _Declared(
            self.names.variables[v.name], self.default_value(v.type, v.default, v.pos)
        )

    # ---- the function

    def parameters(self) -> list[str]:
        params = []
        if self.names.has_tenant:
            params.append(f"{TENANT_PARAM} UUID")
        params += [f"{USER_PARAM} UUID", f"{ID_PARAM} UUID DEFAULT NULL"]
        for p in self.action.params:
            default = "NULL"
            if p.default is not None:
                if not (p.type.kind == "enum" and p.default in p.type.values):
                    refs = references(parse_expression(p.default, p.pos))
                    if refs.columns or refs.params or refs.tables:
                        raise SpecqlError(
                            f"the default of parameter {p.name!r} must be a constant", p.pos
                        )
                default = self.default_value(p.type, p.default, p.pos)
            params.append(f"{param_name(p.name)} {param_sql_type(p.type)} DEFAULT {default}")
        return params

    def required_checks(self) -> list[str]:
        lines = []
        for p in self.action.params:
            if not p.nullable:
                lines += [
                    f"IF {param_name(p.name)} IS NULL THEN",
                    *self.indent(
                        [self.fail(f"missing_{p.name}", f"Parameter {p.name} is required")]
                    ),
                    "END IF;",
                ]
        return lines

    def instance_load(self) -> list[str]:
        """``SELECT * INTO v_<entity> … FOR UPDATE`` + not_found: a live row of the tenant.

        The same lines for every action of the entity (they depend on the entity and the
        context only), so they are compiled once per entity."""
        return list(self.ctx.per_entity(self.entity, "instance_load", self._instance_load))

    def _instance_load(self) -> tuple[str, ...]:
        stmt = select_rows(self.entity, snake(self.entity.name), parse_expression("id = $id"))
        stmt = self.rw.query(stmt, self.action.pos)
        stmt.lockingClause = (
            ast.LockingClause(
                strength=enums.LockClauseStrength.LCS_FORUPDATE,
                waitPolicy=enums.LockWaitPolicy.LockWaitBlock,
            ),
        )
        return (
            f"{deparse(into(stmt, self.names.instance_var))};",
            "IF NOT FOUND THEN",
            *self.indent([self.fail("not_found", f"{self.entity.name} not found")]),
            "END IF;",
        )

    def compile(self) -> str:
        self.collect_variables()
        checks = self.required_checks()
        body: list[str] = []
        for step in self.action.steps:
            body += self.step(step)
        load = self.instance_load() if self.names.uses_instance else []
        if self.names.uses_instance and snake(self.entity.name) in self.names.variables:
            raise SpecqlError(
                f"variable {snake(self.entity.name)!r} would hide the action's instance "
                f"record {self.names.instance_var}: rename it",
                self.action.pos,
            )

        declare = []
        if self.names.uses_instance:
            declare.append(f"{self.names.instance_var} {RECORD};")
        for var in self.names.variables.values():
            default = self.declared.get(var.name)
            suffix = f" := {default.default}" if default is not None else ""
            declare.append(f"{var.sql_name} {var.sql_type}{suffix};")
        if self.uses_new_id:
            declare.append(f"{NEW_ID} UUID;")
        if self.creates:
            declare.append(f"{CREATED_ID} UUID;")
        declare += [f"{ERROR_CODE_VAR} TEXT;", f"{ERROR_MESSAGE_VAR} TEXT;"]

        ends_with_return = bool(self.action.steps) and isinstance(self.action.steps[-1], ReturnStep)
        inner = [*checks, *load, *body, *([] if ends_with_return else [self.success()])]
        handler = [
            f"WHEN SQLSTATE '{BUSINESS_ERROR_SQLSTATE}' THEN",
            *self.indent(
                [
                    f"GET STACKED DIAGNOSTICS {ERROR_CODE_VAR} = PG_EXCEPTION_DETAIL, "
                    f"{ERROR_MESSAGE_VAR} = MESSAGE_TEXT;",
                    f"RETURN ROW('error:' || {ERROR_CODE_VAR}, {ERROR_MESSAGE_VAR}, "
                    f"{ID_PARAM}, NULL)::{self.framework}.mutation_result;",
                ]
            ),
        ]
        body_lines = [
            "DECLARE",
            *self.indent(declare),
            "BEGIN",
            *self.indent(
                ["BEGIN", *self.indent(inner), "EXCEPTION", *self.indent(handler), "END;"]
            ),
            "END;",
        ]
        text = "\n".join(body_lines)
        tag = _dollar_tag(text)
        schema = quote_ident(self.entity.schema)
        name = quote_ident(function_name(self.entity.schema, self.action.name))
        header = [
            f"CREATE OR REPLACE FUNCTION {schema}.{name}(",
            ",\n".join(INDENT + p for p in self.parameters()),
            ")",
            f"RETURNS {self.framework}.mutation_result",
            "LANGUAGE plpgsql",
            f"AS {tag}",
        ]
        return "\n".join([*header, text, f"{tag};"]) + "\n"


def _select(text: str, pos) -> ast.SelectStmt:
    stmt = parse_statement(text, pos)
    if not isinstance(stmt, ast.SelectStmt) or stmt.intoClause is not None:
        raise SpecqlError("expected a SELECT query without INTO", pos)
    return stmt


def _dollar_tag(body: str) -> str:
    """``$fn$``, or ``$fn1$``, ``$fn2$`` … when the body contains the tag."""
    tag, n = "$fn$", 0
    while tag in body:
        n += 1
        tag = f"$fn{n}$"
    return tag


__all__ = ["BUSINESS_ERROR_SQLSTATE", "ActionCompiler", "compile_action", "framework_sql"]
