"""One handler per PL/pgSQL statement kind: ``HANDLERS[kind](ctx, statements, i) -> Result``.

A handler maps ``statements[i]`` (and, for idioms spanning several statements, the ones after
it: ``Result.consumed``) to steps, or raises :class:`Untranslatable` with the reason; the
statement then becomes a ``raw_sql`` step (:func:`map_block` does that, so nothing is dropped).

Mappings (docs in :mod:`specql.reverse.steps`):

=====================================  ======================================================
PL/pgSQL                               steps
=====================================  ======================================================
IF c THEN RAISE EXCEPTION … END IF     validate: NOT c (negation simplified) + error/message
IF NOT COALESCE((c), false) THEN fail  validate: c (generated)
IF … ELSIF … ELSE … END IF             if / then / else (ELSIF: an if nested in else)
CASE … END CASE                        if chain (no ELSE: reject case_not_found)
RAISE EXCEPTION / fail(code)           reject
ASSERT c, msg                          validate: c, error assertion_failed
x := e                                 assign (NEW.f := e in a trigger: update of the row)
SELECT * INTO r FROM T WHERE c         find (+ IF NOT FOUND THEN RAISE: find error)
SELECT … INTO v                        query
INSERT INTO T (…) VALUES (…)           insert (RETURNING id INTO v: as)
UPDATE T SET … [WHERE]                 update (SET deleted_at = now(): delete)
DELETE FROM T [WHERE]                  delete, hard
PERFORM f(…)                           call (pg_notify: notify; raise_business_error: reject)
NOTIFY chan                            notify
FOR r IN SELECT … LOOP … END LOOP      foreach
RETURN e                               return
BEGIN … END (no EXCEPTION)             its statements, inline
=====================================  ======================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable

from specql.dsl.loader import FIND_REFUSED_CLAUSES
from specql.dsl.model import (
    AssignStep,
    CallStep,
    DeleteStep,
    FindStep,
    ForeachStep,
    IfStep,
    InsertStep,
    NotifyStep,
    QueryStep,
    RejectStep,
    ReturnStep,
    Step,
    UpdateStep,
    ValidateStep,
)
from specql.reverse.body import expr_text, kind_of
from specql.reverse.entity_tables import FRAMEWORK_COLUMNS
from specql.reverse.framework import (
    CREATED_ID,
    NEW_ID,
    business_error_call,
    if_only_fails,
    if_then_one,
    perform_call,
    success_return,
)
from specql.reverse.mapcontext import MapContext, Result, is_synthetic
from specql.reverse.naming import SQL_RESERVED_WORDS, snake
from specql.reverse.sqlmap import (
    Found,
    Level,
    Name,
    Untranslatable,
    ast,
    colref_parts,
    enums,
    is_now,
    string_value,
)

Handler = Callable[[MapContext, list[dict], int], Result]
HANDLERS: dict[str, Handler] = {}

# elog levels (PostgreSQL's elog.h) of PLpgSQL_stmt_raise.
EXCEPTION_LEVEL = 21
_LEVEL_NAMES = {14: "DEBUG", 15: "LOG", 17: "INFO", 18: "NOTICE", 19: "WARNING"}
# PLpgSQL_raise_option.opt_type
_OPT_ERRCODE, _OPT_MESSAGE = 0, 1

UNSUPPORTED: dict[str, str] = {
    "PLpgSQL_stmt_loop": "LOOP … END LOOP (an unbounded loop) has no SpecQL form",
    "PLpgSQL_stmt_while": "WHILE loops have no SpecQL form",
    "PLpgSQL_stmt_fori": "FOR over an integer range has no SpecQL form",
    "PLpgSQL_stmt_dynfors": "FOR over a dynamic query (EXECUTE) has no SpecQL form",
    "PLpgSQL_stmt_forc": "FOR over a cursor has no SpecQL form",
    "PLpgSQL_stmt_foreach_a": "FOREACH over an array has no SpecQL form",
    "PLpgSQL_stmt_exit": "EXIT/CONTINUE has no SpecQL form",
    "PLpgSQL_stmt_return_next": "RETURN NEXT (a set-returning function) has no SpecQL form",
    "PLpgSQL_stmt_return_query": "RETURN QUERY (a set-returning function) has no SpecQL form",
    "PLpgSQL_stmt_dynexecute": "dynamic SQL (EXECUTE) has no SpecQL form",
    "PLpgSQL_stmt_getdiag": "GET DIAGNOSTICS has no SpecQL form",
    "PLpgSQL_stmt_open": "cursors have no SpecQL form",
    "PLpgSQL_stmt_fetch": "cursors have no SpecQL form",
    "PLpgSQL_stmt_close": "cursors have no SpecQL form",
    "PLpgSQL_stmt_call": "CALL of a procedure has no SpecQL form",
    "PLpgSQL_stmt_commit": "transaction control (COMMIT) has no SpecQL form",
    "PLpgSQL_stmt_rollback": "transaction control (ROLLBACK) has no SpecQL form",
}

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")
_CHANNEL = re.compile(r"[a-z_][a-z0-9_]*\Z")
_SQLSTATE = re.compile(r"[0-9A-Z]{5}\Z")
MAX_CODE_WORDS = 6


def handles(*kinds: str):
    def register(fn: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = fn
        return fn

    return register


# --------------------------------------------------------------------------- driver


def map_block(ctx: MapContext, stmts: list[dict]) -> list[Step]:
    """Steps of a statement list; a statement no handler can convert becomes raw_sql."""
    out: list[Step] = []
    i = 0
    while i < len(stmts):
        stmt = stmts[i]
        kind = kind_of(stmt)
        handler = HANDLERS.get(kind)
        ctx.tr.reset_mentions()
        ctx.tr.found = ctx.pending_found  # what FOUND means for this statement
        ctx.pending_found = None
        if handler is None:
            reason = UNSUPPORTED.get(kind) or (
                f"{kind.removeprefix('PLpgSQL_stmt_').upper()} statements have no SpecQL form"
            )
            out.append(ctx.raw([stmt], reason))
            i += 1
            continue
        snap = ctx.snapshot()
        try:
            result = handler(ctx, stmts, i)
        except Untranslatable as exc:
            ctx.restore(snap)
            out.append(ctx.raw([stmt], exc.reason))
            i += 1
            continue
        reads = ctx.tr.reset_mentions()
        consumed = stmts[i : i + result.consumed]
        for step in result.steps:
            if id(step) not in ctx.meta:
                ctx.record(step, consumed, reads)
        ctx.pending_found = result.found
        out.extend(result.steps)
        i += result.consumed
    return out


def _unsupported(kind: str) -> Handler:
    def handler(ctx: MapContext, stmts: list[dict], i: int) -> Result:
        raise Untranslatable(UNSUPPORTED[kind])

    return handler


for _kind in UNSUPPORTED:
    HANDLERS[_kind] = _unsupported(_kind)


# --------------------------------------------------------------------------- blocks, control


@handles("PLpgSQL_stmt_block")
def map_block_stmt(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    node = stmts[i]["PLpgSQL_stmt_block"]
    if node.get("exceptions"):
        raise Untranslatable(
            "an exception handler (BEGIN … EXCEPTION WHEN … END) has no SpecQL form"
        )
    return Result(map_block(ctx, node.get("body") or []))


@handles("PLpgSQL_stmt_if")
def map_if(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    stmt = stmts[i]
    node = stmt["PLpgSQL_stmt_if"]
    then = node.get("then_body") or []
    elsifs = node.get("elsif_list") or []
    else_body = node.get("else_body") or []

    if ctx.frame is not None:  # generated validate: IF NOT COALESCE((c), false) THEN fail
        found = if_only_fails(stmt, ctx.tr)
        if found is not None:
            inner = _validate_condition(ctx, found[0])
            if inner is not None:
                condition = ctx.tr.render(ctx.tr.node(inner))
                return Result(
                    [
                        ValidateStep(
                            condition=condition,
                            error=found[1],
                            message=_message(found[1], found[2]),
                        )
                    ]
                )

    if len(then) == 1 and not elsifs and not else_body and _is_raise_exception(then[0]):
        cond = ctx.tr.parse_expression(expr_text(node.get("cond")))
        code, message = raise_error(ctx, then[0]["PLpgSQL_stmt_raise"])
        condition = ctx.tr.render(ctx.tr.node(negate(cond)))
        return Result([ValidateStep(condition=condition, error=code, message=message)])

    cond_node = ctx.tr.node(ctx.tr.parse_expression(expr_text(node.get("cond"))))
    reads = ctx.tr.reset_mentions()
    then_steps = map_block(ctx, then)
    else_steps = _elsif_chain(ctx, stmt, elsifs, else_body)
    if not then_steps and else_steps:
        cond_node, then_steps, else_steps = negate(cond_node), else_steps, []
    step = IfStep(condition=ctx.tr.render(cond_node), then=then_steps, else_=else_steps)
    ctx.record(step, [stmt], reads)
    return Result([step])


def _elsif_chain(ctx: MapContext, stmt: dict, elsifs: list[dict], else_body) -> list[Step]:
    if not elsifs:
        return map_block(ctx, else_body)
    first = elsifs[0]["PLpgSQL_if_elsif"]
    cond = ctx.tr.render(ctx.tr.node(ctx.tr.parse_expression(expr_text(first.get("cond")))))
    reads = ctx.tr.reset_mentions()
    nested = IfStep(
        condition=cond,
        then=map_block(ctx, first.get("stmts") or []),
        else_=_elsif_chain(ctx, stmt, elsifs[1:], else_body),
    )
    ctx.record(nested, [stmt], reads, count=0)
    ctx.meta[id(nested)].part_of_parent = True
    return [nested]


@handles("PLpgSQL_stmt_case")
def map_case(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    stmt = stmts[i]
    node = stmt["PLpgSQL_stmt_case"]
    subject = expr_text(node.get("t_expr"))
    whens = node.get("case_when_list") or []
    conds = []
    for when in whens:
        text = expr_text(when["PLpgSQL_case_when"].get("expr"))
        if subject:
            text = re.sub(r'"__Case__Variable_\d+__"', f"({subject})", text)
        conds.append(ctx.tr.render(ctx.tr.node(_single_in(ctx.tr.parse_expression(text)))))
    reads = ctx.tr.reset_mentions()
    if node.get("have_else"):
        tail = map_block(ctx, node.get("else_stmts") or [])
    else:
        tail = [RejectStep(error="case_not_found", message="Case not found")]
        ctx.record(tail[0], [stmt], count=0)
    for cond, when in reversed(list(zip(conds, whens, strict=True))):
        body = map_block(ctx, when["PLpgSQL_case_when"].get("stmts") or [])
        step = IfStep(condition=cond, then=body, else_=tail)
        ctx.record(step, [stmt], reads, count=0)
        ctx.meta[id(step)].part_of_parent = True
        tail = [step]
    if not tail:
        return Result([])
    ctx.meta[id(tail[0])].part_of_parent = False
    return Result(tail)


def _single_in(node: ast.Node) -> ast.Node:
    """``x IN (a)`` (what ``CASE x WHEN a`` becomes) -> ``x = a``."""
    if (
        isinstance(node, ast.A_Expr)
        and node.kind == enums.A_Expr_Kind.AEXPR_IN
        and isinstance(node.rexpr, tuple | list)
        and len(node.rexpr) == 1
    ):
        name = node.name[-1].sval
        return ast.A_Expr(
            kind=enums.A_Expr_Kind.AEXPR_OP,
            name=(ast.String(sval=name),),
            lexpr=node.lexpr,
            rexpr=node.rexpr[0],
        )
    return node


@handles("PLpgSQL_stmt_raise")
def map_raise(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    node = stmts[i]["PLpgSQL_stmt_raise"]
    level = node.get("elog_level", EXCEPTION_LEVEL)
    if level < EXCEPTION_LEVEL:
        name = _LEVEL_NAMES.get(level, "NOTICE")
        raise Untranslatable(f"RAISE {name} (a log message) has no SpecQL form")
    code, message = raise_error(ctx, node)
    return Result([RejectStep(error=code, message=message)])


@handles("PLpgSQL_stmt_assert")
def map_assert(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    node = stmts[i]["PLpgSQL_stmt_assert"]
    condition = ctx.tr.expression(expr_text(node.get("cond")))
    message = None
    if node.get("message"):
        message = string_value(ctx.tr.parse_expression(expr_text(node["message"])))
    return Result([ValidateStep(condition=condition, error="assertion_failed", message=message)])


@handles("PLpgSQL_stmt_return")
def map_return(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    stmt = stmts[i]
    node = stmt["PLpgSQL_stmt_return"]
    if is_synthetic(stmt):
        return Result([])  # the RETURN PL/pgSQL adds at the end of a body
    last = stmt is ctx.last_statement
    text = expr_text(node.get("expr")) or _returned_variable(ctx, stmt)
    if ctx.frame is not None:
        found = success_return(stmt, ctx.tr)
        if found is not None:
            default, value = found
            if default:
                return Result([] if last else [ReturnStep()])
            return Result([ReturnStep(expression=ctx.tr.render(ctx.tr.node(value)))])
    if ctx.fn.is_trigger and text.strip().lower() in ("new", "old", "null"):
        return Result([] if last else [ReturnStep()])
    if not text:
        return Result([] if last else [ReturnStep()])
    return Result([ReturnStep(expression=ctx.tr.expression(text))])


def _returned_variable(ctx: MapContext, stmt: dict) -> str:
    """``RETURN v;`` of a plain variable (or NEW/OLD) keeps no expression in the AST (only the
    variable's number, which pglast's JSON leaves out): read it from the source text."""
    text = ctx.body.text(stmt) or ""
    words = text.strip().rstrip(";").split(None, 1)
    if len(words) == 2 and words[0].lower() == "return":
        return words[1].strip()
    return ""


# --------------------------------------------------------------------------- errors


def _is_raise_exception(stmt: dict) -> bool:
    if kind_of(stmt) != "PLpgSQL_stmt_raise":
        return False
    node = stmt["PLpgSQL_stmt_raise"]
    return node.get("elog_level", EXCEPTION_LEVEL) >= EXCEPTION_LEVEL and bool(
        node.get("message") or node.get("condname") or node.get("options")
    )


def raise_error(ctx: MapContext, node: dict) -> tuple[str, str | None]:
    """(error code, message) of a RAISE EXCEPTION."""
    if not (node.get("message") or node.get("condname") or node.get("options")):
        raise Untranslatable("RAISE without arguments (re-raise) has no SpecQL form")
    message = node.get("message")
    params = node.get("params") or []
    errcode = node.get("condname")
    for option in node.get("options") or ():
        opt = option["PLpgSQL_raise_option"]
        value = string_value(ctx.tr.parse_expression(expr_text(opt.get("expr"))))
        if opt.get("opt_type", 0) == _OPT_MESSAGE:
            if value is None:
                raise Untranslatable("RAISE with a computed MESSAGE")
            message = value
        elif opt.get("opt_type", 0) == _OPT_ERRCODE and value is not None:
            errcode = value
    if message is not None and params:
        message = _format(message)
    if message and _ERROR_CODE.match(message.strip()):
        return message.strip(), None  # RAISE EXCEPTION 'insufficient_funds': a code already
    if message and message.strip():
        return error_code(message), message
    if errcode and not _SQLSTATE.match(errcode):
        return error_code(errcode), None
    return (error_code(errcode) if errcode else "error"), None


def _format(message: str) -> str:
    """A RAISE format string as a fixed message: ``%`` placeholders become ``…``."""
    return message.replace("%%", "\0").replace("%", "…").replace("\0", "%")


def error_code(text: str) -> str:
    """A snake_case error code from a message or condition name: ``Customer % not found`` ->
    ``customer_not_found``."""
    words = [w for w in _NOT_WORD.split(text.lower().replace("%", " ")) if w]
    code = "_".join(words[:MAX_CODE_WORDS]) or "error"
    if not code[0].isalpha():
        code = f"error_{code}"
    return code if _ERROR_CODE.match(code) else "error"


def _message(code: str, message: str | None) -> str | None:
    """The generator writes the humanized code when a step has no message: read it as none."""
    if message is None:
        return None
    text = code.replace("_", " ").strip()
    return None if message == text[:1].upper() + text[1:] else message


def _validate_condition(ctx: MapContext, cond: str) -> ast.Node | None:
    """``NOT COALESCE((c), false)`` -> ``c``."""
    node = ctx.tr.parse_expression(cond)
    if not (isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.NOT_EXPR):
        return None
    inner = node.args[0]
    if not (isinstance(inner, ast.CoalesceExpr) and len(inner.args) == 2):
        return None
    default = inner.args[1]
    if not (
        isinstance(default, ast.A_Const)
        and isinstance(default.val, ast.Boolean)
        and not default.val.boolval
    ):
        return None
    return inner.args[0]


# --------------------------------------------------------------------------- negation

_NEGATED_OPS = {"=": "<>", "<>": "=", "!=": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_NEGATED_NULL = {
    enums.NullTestType.IS_NULL: enums.NullTestType.IS_NOT_NULL,
    enums.NullTestType.IS_NOT_NULL: enums.NullTestType.IS_NULL,
}
_NEGATED_BOOL_TEST = {
    enums.BoolTestType.IS_TRUE: enums.BoolTestType.IS_NOT_TRUE,
    enums.BoolTestType.IS_NOT_TRUE: enums.BoolTestType.IS_TRUE,
    enums.BoolTestType.IS_FALSE: enums.BoolTestType.IS_NOT_FALSE,
    enums.BoolTestType.IS_NOT_FALSE: enums.BoolTestType.IS_FALSE,
    enums.BoolTestType.IS_UNKNOWN: enums.BoolTestType.IS_NOT_UNKNOWN,
    enums.BoolTestType.IS_NOT_UNKNOWN: enums.BoolTestType.IS_UNKNOWN,
}
_NEGATED_KINDS = {
    enums.A_Expr_Kind.AEXPR_BETWEEN: (enums.A_Expr_Kind.AEXPR_NOT_BETWEEN, "NOT BETWEEN"),
    enums.A_Expr_Kind.AEXPR_NOT_BETWEEN: (enums.A_Expr_Kind.AEXPR_BETWEEN, "BETWEEN"),
    enums.A_Expr_Kind.AEXPR_BETWEEN_SYM: (
        enums.A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM,
        "NOT BETWEEN SYMMETRIC",
    ),
    enums.A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM: (
        enums.A_Expr_Kind.AEXPR_BETWEEN_SYM,
        "BETWEEN SYMMETRIC",
    ),
}
_NEGATED_LIKE = {
    "~~": "!~~",
    "!~~": "~~",
    "~~*": "!~~*",
    "!~~*": "~~*",
    "~": "!~",
    "!~": "~",
    "~*": "!~*",
    "!~*": "~*",
}


def negate(node: ast.Node) -> ast.Node:
    """``NOT node``, simplified where that is exact in SQL's three-valued logic:
    ``x IS NULL`` -> ``x IS NOT NULL``, ``a <> b`` -> ``a = b``, ``a < b`` -> ``a >= b``,
    ``x IN (…)`` -> ``x NOT IN (…)``, ``NOT x`` -> ``x``, De Morgan over AND/OR."""
    if isinstance(node, ast.BoolExpr):
        if node.boolop == enums.BoolExprType.NOT_EXPR:
            return node.args[0]
        flipped = (
            enums.BoolExprType.OR_EXPR
            if node.boolop == enums.BoolExprType.AND_EXPR
            else enums.BoolExprType.AND_EXPR
        )
        return ast.BoolExpr(boolop=flipped, args=tuple(negate(a) for a in node.args))
    if isinstance(node, ast.NullTest) and node.nulltesttype in _NEGATED_NULL:
        return ast.NullTest(arg=node.arg, nulltesttype=_NEGATED_NULL[node.nulltesttype])
    if isinstance(node, ast.BooleanTest) and node.booltesttype in _NEGATED_BOOL_TEST:
        return ast.BooleanTest(arg=node.arg, booltesttype=_NEGATED_BOOL_TEST[node.booltesttype])
    if isinstance(node, ast.A_Expr):
        name = node.name[-1].sval if node.name else None
        if node.kind == enums.A_Expr_Kind.AEXPR_OP and name in _NEGATED_OPS:
            return _with_op(node, _NEGATED_OPS[name])
        if node.kind == enums.A_Expr_Kind.AEXPR_IN and name in ("=", "<>"):
            return _with_op(node, "<>" if name == "=" else "=")
        if node.kind in _NEGATED_KINDS:
            kind, word = _NEGATED_KINDS[node.kind]
            return ast.A_Expr(
                kind=kind, name=(ast.String(sval=word),), lexpr=node.lexpr, rexpr=node.rexpr
            )
        if (
            node.kind
            in (
                enums.A_Expr_Kind.AEXPR_LIKE,
                enums.A_Expr_Kind.AEXPR_ILIKE,
                enums.A_Expr_Kind.AEXPR_OP,
            )
            and name in _NEGATED_LIKE
        ):
            return _with_op(node, _NEGATED_LIKE[name])
    if isinstance(node, ast.SubLink) and node.subLinkType == enums.SubLinkType.EXISTS_SUBLINK:
        return ast.BoolExpr(boolop=enums.BoolExprType.NOT_EXPR, args=(node,))
    return ast.BoolExpr(boolop=enums.BoolExprType.NOT_EXPR, args=(node,))


def _with_op(node: ast.A_Expr, name: str) -> ast.A_Expr:
    return ast.A_Expr(
        kind=node.kind, name=(ast.String(sval=name),), lexpr=node.lexpr, rexpr=node.rexpr
    )


# --------------------------------------------------------------------------- PERFORM, assign


@handles("PLpgSQL_stmt_perform")
def map_perform(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    node = stmts[i]["PLpgSQL_stmt_perform"]
    call = perform_call(expr_text(node.get("expr")), ctx.tr)
    if call is None:
        if i + 1 < len(stmts) and _reads_found(stmts[i + 1]):
            return _perform_then_if(ctx, stmts, i)
        raise Untranslatable("PERFORM of a query (its rows are thrown away) has no SpecQL form")
    if not isinstance(call, ast.FuncCall):
        raise Untranslatable("PERFORM of an expression that is not a function call")
    found = business_error_call(call)
    if found is not None:
        return Result([RejectStep(error=found[0], message=_message(found[0], found[1]))])
    if call.funcname[-1].sval.lower() == "pg_notify":
        return Result([_pg_notify(ctx, call)])
    return Result([CallStep(call=ctx.tr.render(ctx.tr.node(call)))])


_FOUND_WORD = re.compile(r"\bfound\b", re.IGNORECASE)


def _reads_found(stmt: dict) -> bool:
    """Is ``stmt`` an IF whose condition reads FOUND? (a cheap look at the text decides
    whether to try; the condition itself is translated on its AST)."""
    if kind_of(stmt) != "PLpgSQL_stmt_if":
        return False
    return bool(_FOUND_WORD.search(expr_text(stmt["PLpgSQL_stmt_if"].get("cond"))))


def _perform_then_if(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    """``PERFORM <query>; IF [NOT] FOUND THEN …`` -> ``if: [NOT] EXISTS (<query>)``."""
    perform = stmts[i]
    sel = ctx.tr.parse_statement(expr_text(perform["PLpgSQL_stmt_perform"].get("expr")))
    query, _, _ = ctx.tr.select(sel)
    mentions = ctx.tr.reset_mentions()
    ctx.tr.found = Found(query=query, mentions=mentions)
    result = map_if(ctx, stmts, i + 1)
    for step in result.steps:
        meta = ctx.meta.get(id(step))
        if meta is not None:
            meta.statements = [perform, *meta.statements]
            meta.count += 1
        else:
            ctx.record(step, [perform, stmts[i + 1]], mentions)
    return Result(result.steps, consumed=2)


def _pg_notify(ctx: MapContext, call: ast.FuncCall) -> NotifyStep:
    args = call.args or ()
    if len(args) != 2:
        raise Untranslatable("pg_notify needs a channel and a payload")
    channel = string_value(args[0])
    if channel is None or not _CHANNEL.match(channel):
        raise Untranslatable("pg_notify to a computed or non-identifier channel")
    payload = args[1]
    if isinstance(payload, ast.TypeCast):
        payload = payload.arg
    pairs = _json_pairs(payload)
    if pairs is None:
        raise Untranslatable("notify payload is not a JSON object of named values")
    values = {key: ctx.tr.render(ctx.tr.node(value)) for key, value in pairs}
    return NotifyStep(channel=channel, payload=values)


def _json_pairs(node: ast.Node) -> list[tuple[str, ast.Node]] | None:
    if isinstance(node, ast.A_Expr) and node.name and node.name[-1].sval == "||":
        left, right = _json_pairs(node.lexpr), _json_pairs(node.rexpr)
        return None if left is None or right is None else left + right
    if not (
        isinstance(node, ast.FuncCall)
        and node.funcname[-1].sval.lower() in ("jsonb_build_object", "json_build_object")
    ):
        return None
    args = list(node.args or ())
    if len(args) % 2:
        return None
    pairs = []
    for key, value in zip(args[::2], args[1::2], strict=True):
        name = string_value(key)
        if name is None:
            return None
        pairs.append((name, value))
    return pairs


def split_assignment(text: str) -> tuple[str, str]:
    """``target := expr`` (or ``=``) -> (target text, expression text). The target is a name,
    ``a.b``, a quoted identifier or an element ``a[i]``: scanned as such, not tokenized."""
    i, n = 0, len(text)
    depth = 0
    while i < n:
        ch = text[i]
        if ch == '"':
            close = text.find('"', i + 1)
            i = n if close < 0 else close + 1
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0 and ch == ":" and text.startswith(":=", i):
            return text[:i].strip(), text[i + 2 :].strip()
        elif depth == 0 and ch == "=":
            return text[:i].strip(), text[i + 1 :].strip()
        i += 1
    raise Untranslatable("cannot read the assignment")


@handles("PLpgSQL_stmt_assign")
def map_assign(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    node = stmts[i]["PLpgSQL_stmt_assign"]
    target_text, value_text = split_assignment(expr_text(node.get("expr")))
    datum = ctx.datum(node.get("varno", 0))
    ((dkind, dnode),) = datum.items() if datum else (("", {}),)
    if dkind == "PLpgSQL_recfield":
        parent = ctx.datum(dnode.get("recparentno", 0))
        parent_name = (
            ctx.names.get(next(iter(parent.values())).get("refname", "")) if parent else None
        )
        if parent_name is not None and parent_name.kind == "new" and parent_name.table is not None:
            return _assign_new(ctx, parent_name, dnode.get("fieldname", ""), value_text)
        raise Untranslatable("assignment to a field of a record has no SpecQL form")
    if dkind != "PLpgSQL_var":
        raise Untranslatable(f"assignment to {target_text} has no SpecQL form")
    sql = dnode.get("refname", target_text)
    if "[" in target_text:
        raise Untranslatable("assignment to an array element has no SpecQL form")
    name = ctx.names.get(sql)
    if ctx.frame is not None and sql == NEW_ID:
        return _insert_idiom(ctx, stmts, i, value_text)
    if name is None or name.kind != "var":
        kind = name.kind if name else "unknown"
        raise Untranslatable(f"assignment to {sql} ({kind}) has no SpecQL form")
    node = ctx.tr.parse_expression(value_text)
    value = ctx.tr.render(ctx.tr.node(node))
    if isinstance(node, ast.FuncCall) and len(node.funcname) == 2:
        # v := schema.f(...) is what `call: schema.f(...)` + `store: v` generates
        return Result([CallStep(call=value, store=name.spec)])
    return Result([AssignStep(target=name.spec, expression=value)])


def _assign_new(ctx: MapContext, new: Name, column: str, value_text: str) -> Result:
    spec = new.table.spec_column(column)
    if spec is None or spec in FRAMEWORK_COLUMNS:
        raise Untranslatable(f"NEW.{column} := … sets a column that is not a field")
    value = ctx.tr.expression(value_text)
    ctx.wrote(new.table)
    return Result([UpdateStep(entity=new.table.spec_name, assignments={spec: value})])


# --------------------------------------------------------------------------- SQL statements


@handles("PLpgSQL_stmt_execsql")
def map_execsql(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    node = stmts[i]["PLpgSQL_stmt_execsql"]
    sql = ctx.tr.parse_statement(expr_text(node.get("sqlstmt")))
    target = node.get("target") if node.get("into") else None
    if isinstance(sql, ast.SelectStmt):
        return _select_into(ctx, stmts, i, sql, target, bool(node.get("strict")))
    if isinstance(sql, ast.InsertStmt):
        try:
            return Result([_insert(ctx, sql, target)])
        except InsertSelect as found:
            if target is not None:
                raise Untranslatable("INSERT … SELECT … INTO has no SpecQL form") from None
            step, reads = _insert_select(ctx, sql, found.table)
            ctx.record(step.body[0], [stmts[i]], count=0)
            ctx.record(step, [stmts[i]], reads)
            return Result([step])
    if isinstance(sql, ast.UpdateStmt):
        if target is not None:
            raise Untranslatable("UPDATE … RETURNING … INTO has no SpecQL form")
        return Result(_update(ctx, sql))
    if isinstance(sql, ast.DeleteStmt):
        if target is not None:
            raise Untranslatable("DELETE … RETURNING … INTO has no SpecQL form")
        return Result([_delete(ctx, sql)])
    if isinstance(sql, ast.NotifyStmt):
        if sql.payload:
            raise Untranslatable("NOTIFY with a text payload (notify payloads are JSON objects)")
        return Result([NotifyStep(channel=sql.conditionname, payload={})])
    what = re.sub(r"(?<!^)(?=[A-Z])", " ", type(sql).__name__.removesuffix("Stmt")).upper()
    raise Untranslatable(f"{what} statements have no SpecQL form")


def _entity_of(ctx: MapContext, rel: ast.RangeVar):
    et = ctx.tables.lookup(rel.schemaname, rel.relname)
    if et is None:
        written = f"{rel.schemaname}.{rel.relname}" if rel.schemaname else rel.relname
        raise Untranslatable(f"table {written} is not an entity table")
    return et


def _no_returning(stmt) -> bool:
    return not (getattr(stmt, "returningClause", None) or getattr(stmt, "returningList", None))


def _returning(stmt) -> tuple:
    clause = getattr(stmt, "returningClause", None)
    if clause is not None:
        return tuple(clause.exprs or ())
    return tuple(getattr(stmt, "returningList", None) or ())


# ---- SELECT INTO


def _select_into(ctx: MapContext, stmts, i, sel: ast.SelectStmt, target, strict: bool) -> Result:
    """``SELECT … INTO`` -> find (one entity row), query, or a record + assigns (several
    variables, or a variable followed by ``IF NOT FOUND``)."""
    if target is None:
        raise Untranslatable("a SELECT whose rows go nowhere")
    names = ctx.name_of_target(target)
    if not names or any(n is None or n.kind not in ("var", "record") for _, n in names):
        bad = next(
            (
                f"{s} ({n.kind if n else 'unknown'})"
                for s, n in names
                if n is None or n.kind not in ("var", "record")
            ),
            "nothing",
        )
        raise Untranslatable(f"SELECT … INTO {bad} has no SpecQL form")
    _unlock_for_find(ctx, stmts, i, sel)
    if len(names) == 1 and names[0][1].kind == "record":
        name = names[0][1]
        if _findable(ctx, sel) is not None:
            return _as_find(ctx, stmts, i, sel, name, strict)
        query, outputs, star_table = ctx.tr.select(sel)
        _describe_record(name, outputs, star_table)
        return Result([QueryStep(sql=ctx.tr.render(query), into=name.spec)])
    if any(n.kind == "record" for _, n in names):
        raise Untranslatable("SELECT … INTO a record and other variables")
    variables = [n for _, n in names]
    targets = sel.targetList or ()
    if len(targets) != len(variables) or any(
        isinstance(t.val, ast.ColumnRef) and colref_parts(t.val)[-1] == "*" for t in targets
    ):
        raise Untranslatable("SELECT … INTO with as many columns as variables is needed")
    follows_not_found = i + 1 < len(stmts) and _reads_found(stmts[i + 1])
    et = _findable(ctx, sel)
    if len(variables) == 1 and (et is None or not (follows_not_found or strict)):
        query, outputs, _ = ctx.tr.select(sel)
        step = QueryStep(sql=ctx.tr.render(query), into=variables[0].spec)
        if outputs is not None and len(query.targetList or ()) == 1:
            ctx.single_column.add(id(step))
        return Result([step])
    if et is not None:
        columns = [colref_parts(t.val)[-1] for t in targets]
        record = Name(_new_record_name(ctx, snake(et.entity.name)), "record")
        sel.targetList = (ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),))),)
        result = _as_find(ctx, stmts, i, sel, record, strict)
        spec_columns = [et.spec_column(c) for c in columns]
        if None in spec_columns:
            raise Untranslatable("SELECT … INTO of a column that is not a field")
        assigns = [
            AssignStep(target=v.spec, expression=f"{record.spec}.{c}")
            for v, c in zip(variables, spec_columns, strict=True)
        ]
        return Result([*result.steps, *assigns], consumed=result.consumed, found=result.found)
    # any other query: into a record whose columns are named after the variables
    for target_, v in zip(targets, variables, strict=True):
        target_.name = v.spec
    record = Name(_new_record_name(ctx, "selected"), "record")
    query, _, _ = ctx.tr.select(sel)
    step = QueryStep(sql=ctx.tr.render(query), into=record.spec)
    assigns = [AssignStep(target=v.spec, expression=f"{record.spec}.{v.spec}") for v in variables]
    return Result([step, *assigns])


_LOCKS = {
    enums.LockClauseStrength.LCS_FORKEYSHARE: "FOR KEY SHARE",
    enums.LockClauseStrength.LCS_FORSHARE: "FOR SHARE",
    enums.LockClauseStrength.LCS_FORNOKEYUPDATE: "FOR NO KEY UPDATE",
    enums.LockClauseStrength.LCS_FORUPDATE: "FOR UPDATE",
}


def _unlock_for_find(ctx: MapContext, stmts, i, sel: ast.SelectStmt) -> None:
    """``SELECT … INTO v FROM T WHERE c FOR UPDATE; IF NOT FOUND THEN fail`` reads as the find
    (+ error) the same SELECT without the lock is: the lock clause is taken off ``sel`` (a find
    takes no row lock) and a note says so. Any other locked SELECT keeps its lock (a query
    step's SQL can hold it)."""
    if not sel.lockingClause or i + 1 >= len(stmts):
        return
    try:
        if _not_found_error(ctx, stmts[i + 1]) is None:
            return
    except Untranslatable:
        return
    clause = sel.lockingClause
    sel.lockingClause = None
    if _findable(ctx, sel) is None:
        sel.lockingClause = clause
        return
    what = " ".join(dict.fromkeys(_LOCKS.get(c.strength, "FOR UPDATE/SHARE") for c in clause))
    ctx.note(
        stmts[i],
        f"row lock dropped: SELECT … {what} became a find, which takes no row lock "
        "(another transaction may change the row before this one writes it)",
    )


def _new_record_name(ctx: MapContext, base: str) -> str:
    """A record variable name no param, variable or own field uses yet."""
    taken = {n.spec for n in ctx.names.by_sql.values()} | ctx.new_records
    if ctx.own is not None:
        taken |= {f.name for f in ctx.own.entity.fields}
    if base in SQL_RESERVED_WORDS:  # an entity Order: a record 'order' would not validate
        base = f"{base}_row"
    name, n = base, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    ctx.new_records.add(name)
    return name


def _describe_record(name: Name, outputs, star_table) -> None:
    """What columns a record filled by a query has (for ``rec.col`` later)."""
    name.table = star_table
    name.columns = None if star_table is not None or outputs is None else dict(outputs)


def _findable(ctx: MapContext, sel: ast.SelectStmt):
    """The entity table when ``sel`` reads plain columns (or ``*``) of one entity table with a
    condition and nothing else (what a find can say), else None."""
    if (
        sel.op != enums.SetOperation.SETOP_NONE
        or not sel.fromClause
        or len(sel.fromClause) != 1
        or not isinstance(sel.fromClause[0], ast.RangeVar)
        or sel.whereClause is None
        or any(getattr(sel, clause) for clause in FIND_REFUSED_CLAUSES)
        or not sel.targetList
        or not all(isinstance(t.val, ast.ColumnRef) and not t.name for t in sel.targetList)
    ):
        return None
    rel = sel.fromClause[0]
    return ctx.tables.lookup(rel.schemaname, rel.relname)


def _as_find(ctx: MapContext, stmts, i, sel: ast.SelectStmt, name: Name, strict: bool) -> Result:
    """``SELECT … INTO rec FROM T WHERE c`` as ``find: T WHERE c`` (all columns: a superset
    of those selected), with the error of a following ``IF NOT FOUND THEN fail``."""
    rel = sel.fromClause[0]
    et = ctx.tables.lookup(rel.schemaname, rel.relname)
    level = ctx.tr.target_level(rel, et)
    where = ctx.tr.strip_row_filters(sel.whereClause, level)
    if where is None:
        where = ast.A_Const(val=ast.Boolean(boolval=True))
    node = ctx.tr.node(where, [level])
    ctx.tr.finish_level(level)
    ctx.tr.tables_read[et.qualified] += 1
    error = None
    consumed = 1
    nxt = stmts[i + 1] if i + 1 < len(stmts) else None
    if nxt is not None:
        error = _not_found_error(ctx, nxt)
        if error is not None:
            consumed = 2
    if error is None and strict:
        error = f"{snake(et.entity.name)}_not_found"
    name.table, name.columns = et, None
    step = FindStep(entity=et.spec_name, where=ctx.tr.render(node), into=name.spec, error=error)
    found = Found(record=name.spec, mentions={name.spec})
    return Result(
        [step], consumed=consumed, found=found if "id" in et.field_by_column.values() else None
    )


def _not_found_error(ctx: MapContext, stmt: dict) -> str | None:
    """``IF NOT FOUND THEN fail(code) | RAISE EXCEPTION … END IF`` -> the error code."""
    found_if = if_then_one(stmt)
    if found_if is None:
        return None
    node, then = found_if
    if expr_text(node.get("cond")).strip().lower() != "not found":
        return None
    if _is_raise_exception(then):
        return raise_error(ctx, then["PLpgSQL_stmt_raise"])[0]
    found = if_only_fails(stmt, ctx.tr)
    return found[1] if found is not None else None


# ---- INSERT


def _insert_idiom(ctx: MapContext, stmts: list[dict], i: int, new_id_text: str) -> Result:
    """Generated: ``_new_id := e; INSERT … VALUES (_new_id, …); [v_x := _new_id;]
    [_created_id := _new_id;]``."""
    if i + 1 >= len(stmts) or kind_of(stmts[i + 1]) != "PLpgSQL_stmt_execsql":
        raise Untranslatable("_new_id assigned without an INSERT")
    sql = ctx.tr.parse_statement(expr_text(stmts[i + 1]["PLpgSQL_stmt_execsql"].get("sqlstmt")))
    if not isinstance(sql, ast.InsertStmt):
        raise Untranslatable("_new_id assigned without an INSERT")
    new_id = ctx.tr.parse_expression(new_id_text)
    step = _insert(ctx, sql, None, new_id=new_id)
    consumed = 2
    for stmt in stmts[i + 2 : i + 4]:
        if kind_of(stmt) != "PLpgSQL_stmt_assign":
            break
        target, value = split_assignment(expr_text(stmt["PLpgSQL_stmt_assign"].get("expr")))
        if value != NEW_ID:
            break
        if target == CREATED_ID:
            consumed += 1
            continue
        name = ctx.names.get(target)
        if name is None or name.kind != "var" or step.as_ is not None:
            break
        step.as_ = name.spec
        consumed += 1
    return Result([step], consumed=consumed)


class InsertSelect(Exception):
    """Signal from :func:`_insert`: the INSERT takes its rows from a SELECT."""

    def __init__(self, table) -> None:
        super().__init__(table.qualified)
        self.table = table


def _is_new_id(node) -> bool:
    return isinstance(node, ast.ColumnRef) and colref_parts(node) == [NEW_ID]


def _insert_columns(ctx: MapContext, ins: ast.InsertStmt, et, count: int) -> list[str]:
    """The target columns: as listed, else the table's first ``count`` columns in order."""
    if ins.cols:
        columns = []
        for col in ins.cols:
            if col.indirection:
                raise Untranslatable("INSERT into a part of a column")
            columns.append(col.name)
        return columns
    info = ctx.tables.infos.get(et.qualified)
    if info is None or len(info.columns) < count:
        raise Untranslatable("INSERT without a column list into a table whose columns are unknown")
    return [c.name for c in info.columns[:count]]


def _insert_select(ctx: MapContext, ins: ast.InsertStmt, et) -> tuple[ForeachStep, set[str]]:
    """``INSERT INTO T (a, b) SELECT x, y FROM …`` -> ``foreach`` over the SELECT (its columns
    named after the fields) with one ``insert`` per row: the same rows end up in T."""
    sel = ins.selectStmt
    if _returning(ins):
        raise Untranslatable("INSERT … SELECT … RETURNING has no SpecQL form")
    targets = sel.targetList or ()
    if sel.op != enums.SetOperation.SETOP_NONE or any(
        isinstance(t.val, ast.ColumnRef) and colref_parts(t.val)[-1] == "*" for t in targets
    ):
        raise Untranslatable("INSERT … SELECT of a set operation or *")
    columns = _insert_columns(ctx, ins, et, len(targets))
    if len(columns) != len(targets):
        raise Untranslatable("INSERT … SELECT with as many columns as values is needed")
    fields = []
    for column, target in zip(columns, targets, strict=True):
        spec = et.spec_column(column)
        if spec is None or spec in FRAMEWORK_COLUMNS or column == et.pk:
            raise Untranslatable(f"INSERT sets {column}, which is not a field of {et.entity.name}")
        target.name = spec
        fields.append(spec)
    record = _new_record_name(ctx, f"{snake(et.entity.name)}_source")
    query, _, _ = ctx.tr.select(sel)
    ctx.names.by_sql[record] = Name(record, "record", columns={f: f for f in fields})
    ctx.wrote(et)
    insert = InsertStep(entity=et.spec_name, values={f: f"{record}.{f}" for f in fields})
    reads = ctx.tr.reset_mentions()
    step = ForeachStep(variable=record, query=ctx.tr.render(query), body=[insert])
    return step, reads


def _insert(ctx: MapContext, ins: ast.InsertStmt, target, new_id: ast.Node | None = None):
    if ins.withClause is not None:
        raise Untranslatable("INSERT with a WITH query has no SpecQL form")
    if ins.onConflictClause is not None:
        raise Untranslatable("INSERT … ON CONFLICT (an upsert) has no SpecQL form")
    et = _entity_of(ctx, ins.relation)
    sel = ins.selectStmt
    if sel is None:
        rows: tuple = ((),)
        columns: list[str] = []
    else:
        if not isinstance(sel, ast.SelectStmt):
            raise Untranslatable("INSERT of something else than VALUES or a SELECT")
        if not sel.valuesLists:
            raise InsertSelect(et)
        if len(sel.valuesLists) != 1:
            raise Untranslatable("INSERT of several rows has no SpecQL form")
        rows = sel.valuesLists
        columns = _insert_columns(ctx, ins, et, len(rows[0]))
    values: dict[str, str] = {}
    for column, value in zip(columns, rows[0], strict=True):
        spec = et.spec_column(column)
        role = spec or column
        if isinstance(value, ast.SetToDefault):
            continue
        if column == "id" or (spec == "id" and column == et.pk):
            if _is_new_id(value) or _is_nextval(value):
                continue
            if column != "id":
                raise Untranslatable(f"INSERT sets the key column {column}")
            values["id"] = ctx.tr.render(ctx.tr.node(value))
            continue
        if role == "tenant_id":
            if ctx.tr.is_tenant_param(value):
                continue
            raise Untranslatable("INSERT sets tenant_id to something else than the tenant")
        if role == "identifier":
            if isinstance(value, ast.TypeCast) and _is_new_id(value.arg):
                continue
            values["identifier"] = ctx.tr.render(ctx.tr.node(value))
            continue
        if role in ("created_at", "updated_at") and is_now(value):
            continue
        if role == "deleted_at" and isinstance(value, ast.A_Const) and value.isnull:
            continue
        if spec is None or spec in FRAMEWORK_COLUMNS or column == et.pk:
            raise Untranslatable(f"INSERT sets {column}, which is not a field of {et.entity.name}")
        if column in et.ref_columns:
            found = ctx.tr.uuid_to_key(value)
            if found is not None:
                value = found[0]
        values[spec] = ctx.tr.render(ctx.tr.node(value))
    if new_id is not None and not (
        isinstance(new_id, ast.FuncCall) and new_id.funcname[-1].sval == "gen_random_uuid"
    ):
        values = {"id": ctx.tr.render(ctx.tr.node(new_id)), **values}
    as_ = None
    returning = _returning(ins)
    if returning:
        if target is None:
            raise Untranslatable("INSERT … RETURNING without INTO has no SpecQL form")
        returned = returning[0].val if len(returning) == 1 else None
        if not (
            isinstance(returned, ast.ColumnRef) and colref_parts(returned)[-1] in ("id", et.pk)
        ):
            raise Untranslatable("INSERT … RETURNING of something else than the new row's id")
        names = ctx.name_of_target(target)
        if len(names) != 1 or names[0][1] is None or names[0][1].kind != "var":
            raise Untranslatable("INSERT … RETURNING INTO a record")
        as_ = names[0][1].spec
        ctx.returned_ids.add(names[0][0])
    elif target is not None:
        raise Untranslatable("INSERT … INTO without RETURNING")
    ctx.wrote(et)
    return InsertStep(entity=et.spec_name, values=values, as_=as_)


def _is_nextval(node) -> bool:
    return isinstance(node, ast.FuncCall) and node.funcname[-1].sval.lower() == "nextval"


# ---- UPDATE / DELETE


def _own_instance_where(ctx: MapContext, where, level: Level, et) -> bool:
    """Generated ``<alias>.id = p_id`` on the action's own entity (the instance)."""
    if ctx.frame is None or ctx.own is None or et is not ctx.own or where is None:
        return False
    if not (isinstance(where, ast.A_Expr) and where.name and where.name[-1].sval == "="):
        return False
    left, right = where.lexpr, where.rexpr
    if not (isinstance(left, ast.ColumnRef) and isinstance(right, ast.ColumnRef)):
        return False
    lp, rp = colref_parts(left), colref_parts(right)
    names = level.bindings[0].names
    id_param = ctx.names.get("p_id")
    return (
        lp[-1] == "id"
        and (len(lp) == 1 or lp[0] in names)
        and rp == ["p_id"]
        and id_param is not None
        and id_param.spec == "id"
    )


def _write_where(ctx: MapContext, where, level: Level, et) -> ast.Node | None:
    """The WHERE of an UPDATE/DELETE of ``et`` (row filters stripped), translated: None for the
    generated instance condition (a step without ``where`` means the instance), TRUE for no
    WHERE at all (every row, which must be said)."""
    if _own_instance_where(ctx, where, level, et):
        return None
    if where is None:
        return ast.A_Const(val=ast.Boolean(boolval=True))
    return ctx.tr.node(where, [level])


def _update(ctx: MapContext, upd: ast.UpdateStmt) -> list[Step]:
    if upd.withClause is not None or upd.fromClause or not _no_returning(upd):
        raise Untranslatable("UPDATE with WITH, FROM or RETURNING has no SpecQL form")
    et = _entity_of(ctx, upd.relation)
    level = ctx.tr.target_level(upd.relation, et)
    where = ctx.tr.strip_row_filters(upd.whereClause, level)
    soft_delete = False
    sets: list[tuple[str, ast.Node]] = []
    for target in upd.targetList or ():
        if target.indirection or isinstance(target.val, ast.MultiAssignRef):
            raise Untranslatable("UPDATE … SET (a, b) = … or of a part of a column")
        column = target.name
        spec = et.spec_column(column)
        role = spec or column  # what the column is for the framework (a legacy last_update
        if role == "updated_at" and is_now(target.val):  # reads as updated_at)
            continue
        if role == "deleted_at":
            if is_now(target.val):
                soft_delete = True
                continue
            raise Untranslatable("UPDATE sets deleted_at to something else than now()")
        if spec is None or spec in FRAMEWORK_COLUMNS or column == et.pk:
            raise Untranslatable(f"UPDATE sets {column}, which is not a field of {et.entity.name}")
        value = target.val
        if column in et.ref_columns:
            found = ctx.tr.uuid_to_key(value)
            if found is not None:
                value = found[0]
        sets.append((spec, ctx.tr.node(value, [level])))
    where_node = _write_where(ctx, where, level, et)
    ctx.tr.finish_level(level)
    where_text = ctx.tr.render(where_node) if where_node is not None else None
    assignments = {spec: ctx.tr.render(node) for spec, node in sets}
    ctx.wrote(et)
    steps: list[Step] = []
    if assignments:
        steps.append(UpdateStep(entity=et.spec_name, assignments=assignments, where=where_text))
    elif not soft_delete:
        raise Untranslatable("UPDATE that only touches updated_at has no SpecQL form")
    if soft_delete:
        steps.append(DeleteStep(entity=et.spec_name, where=where_text))
    return steps


def _delete(ctx: MapContext, dele: ast.DeleteStmt) -> DeleteStep:
    if dele.withClause is not None or dele.usingClause or not _no_returning(dele):
        raise Untranslatable("DELETE with WITH, USING or RETURNING has no SpecQL form")
    et = _entity_of(ctx, dele.relation)
    level = ctx.tr.target_level(dele.relation, et)
    where = ctx.tr.strip_row_filters(dele.whereClause, level, deleted=False)
    where_node = _write_where(ctx, where, level, et)
    ctx.tr.finish_level(level)
    ctx.wrote(et)
    text = ctx.tr.render(where_node) if where_node is not None else None
    return DeleteStep(entity=et.spec_name, where=text, hard=True)


# --------------------------------------------------------------------------- loops


@handles("PLpgSQL_stmt_fors")
def map_fors(ctx: MapContext, stmts: list[dict], i: int) -> Result:
    stmt = stmts[i]
    node = stmt["PLpgSQL_stmt_fors"]
    sql = ctx.tr.parse_statement(expr_text(node.get("query")))
    if not isinstance(sql, ast.SelectStmt):
        raise Untranslatable("FOR over something else than a SELECT")
    targets = ctx.name_of_target(node.get("var"))
    if len(targets) != 1 or targets[0][1] is None:
        raise Untranslatable("FOR with several loop variables has no SpecQL form")
    sql_name, name = targets[0]
    query, outputs, star_table = ctx.tr.select(sql)
    text = ctx.tr.render(query)
    reads = ctx.tr.reset_mentions()
    saved = None
    if name.kind == "record":
        _describe_record(name, outputs, star_table)
        variable = name.spec
    elif name.kind == "var":
        if not outputs or len(outputs) != 1 or "*" in outputs:
            raise Untranslatable("FOR of one variable over a query of several columns")
        variable = _loop_record_name(ctx, name.spec)
        saved = name
        ctx.names.by_sql[sql_name] = Name(next(iter(outputs.values())), "rowfield", record=variable)
    else:
        raise Untranslatable(f"FOR over {sql_name} ({name.kind})")
    try:
        body = map_block(ctx, node.get("body") or [])
    finally:
        if saved is not None:
            ctx.names.by_sql[sql_name] = saved
    step = ForeachStep(variable=variable, query=text, body=body)
    ctx.record(step, [stmt], reads)
    return Result([step])


def _loop_record_name(ctx: MapContext, base: str) -> str:
    taken = {n.spec for n in ctx.names.by_sql.values()}
    name = f"{base}_row"
    n = 2
    while name in taken:
        name = f"{base}_row{n}"
        n += 1
    return name


__all__ = [
    "HANDLERS",
    "UNSUPPORTED",
    "error_code",
    "handles",
    "map_block",
    "negate",
    "raise_error",
    "split_assignment",
]
