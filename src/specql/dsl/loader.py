"""YAML spec files -> :class:`~specql.dsl.model.Entity` nodes, every node with its position.

The input is untrusted (hand-written, LLM-written, reverse-engineered), so whatever it
contains, the loader raises only :class:`SpecqlError` (one problem) or :class:`SpecqlErrors`
(several); each message is one line ``file:line:col: ...``. Within a file the loader keeps
going after a bad field/action/step and reports all the structural problems it finds;
cross-reference checks (unknown fields in expressions, refs to missing entities) are the
validator's job.

Text forms are read as documented in :mod:`specql.dsl.model`. Choices the model leaves open:

- Names, expressions and descriptions are the scalar's raw text: ``default: 0.50`` keeps
  ``0.50``, a field called ``no`` is not the boolean false.
- A YAML null where an expression is expected (``values: {note: null}``) is SQL ``NULL``;
  ``return:`` with nothing is a bare return, ``description: null`` is no description. An
  index expression is the exception: an index on ``NULL`` means nothing, so null is an error.
- Enum defaults are bare labels: ``= lead`` and ``= 'lead'`` both load as ``lead``.
- ``update``/``delete``/``find`` texts are parsed with PostgreSQL's parser and their WHERE and
  SET expressions kept in canonical (deparsed) form with ``$params``; other expressions are
  kept exactly as written.
- Files larger than :data:`MAX_SPEC_BYTES` are refused before parsing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from pglast import ast

from specql.dsl import model as m
from specql.dsl.expressions import deparse_spec, parse_statement
from specql.dsl.types import parse_type
from specql.dsl.yaml_nodes import YNode, compose
from specql.errors import SourcePos, SpecqlError, SpecqlErrors

MAX_SPEC_BYTES = 2 * 1024 * 1024  # a real spec is a few kilobytes

SPEC_SUFFIXES = (".yaml", ".yml")
SKIPPED_DIRECTORIES = frozenset({"registry"})  # domain registry files live beside specs

ENTITY_KEYS = (
    "entity",
    "schema",
    "subdomain",
    "description",
    "fields",
    "indexes",
    "patterns",
    "actions",
)
FIELD_KEYS = ("type", "nullable", "default", "description")
INDEX_KEYS = ("fields", "expression", "unique", "name")
# What an index is on: exactly one of these keys.
INDEX_KINDS = ("fields", "expression")
ACTION_KEYS = ("name", "description", "params", "steps")
PATTERN_KEYS = ("pattern", "params")

# Keys a step may have besides its kind key, and which of them are required.
STEP_EXTRA_KEYS: dict[str, tuple[str, ...]] = {
    "validate": ("error", "message"),
    "if": ("then", "else"),
    "insert": ("values", "as"),
    "update": (),
    "delete": ("hard",),
    "find": ("into", "error"),
    "query": ("into",),
    "declare": (),
    "assign": (),
    "call": ("store",),
    "notify": (),
    "reject": ("message",),
    "foreach": ("in", "do"),
    "return": (),
    "raw_sql": ("reason",),
}
STEP_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "validate": ("error",),
    "if": ("then",),
    "find": ("into",),
    "query": ("into",),
    "foreach": ("in", "do"),
}

_ENTITY_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)")
_ASSIGN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:?=(?!=)\s*(.*)\Z", re.DOTALL)
_PLACEHOLDER = "specql_entity"
# `{ total: numeric(12,2) }`: inside a { } flow mapping a comma ends a plain value.
_FLOW_COMMA_HINT = " (inside { } quote a type that contains a comma)"
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# A position with line 1, column 0: parsers that add the in-text offset to the column then
# report the offset itself, which _Reader.at() maps to the real line and column.
_PROBE_LINE = 1


class _Reader:
    """Reads one file's node tree into model nodes, collecting errors as it goes."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.errors: list[SpecqlError] = []
        self._lines: list[str] | None = None

    # ------------------------------------------------------------------ positions

    def at(self, node: YNode, offset: int = 0) -> SourcePos:
        """Position of character ``offset`` of a scalar's value, as exact as the style allows."""
        pos = node.pos
        if node.kind != "scalar" or offset <= 0:
            return self._content_start(node)
        if node.style == "|":
            return self._literal_block_pos(node, offset)
        if node.end_line != pos.line:  # folded multi-line text: the start is the best we have
            return pos
        quote = 1 if node.style in ("'", '"') else 0
        return SourcePos(pos.file, pos.line, pos.col + quote + offset)

    def _content_start(self, node: YNode) -> SourcePos:
        if node.kind == "scalar" and node.style in ("'", '"'):
            return SourcePos(node.pos.file, node.pos.line, node.pos.col + 1)
        return node.pos

    def _literal_block_pos(self, node: YNode, offset: int) -> SourcePos:
        if self._lines is None:
            self._lines = self.text.split("\n")
        before = node.value[:offset]
        line_index = node.pos.line + before.count("\n")  # content starts below the '|'
        if line_index >= len(self._lines):
            return node.pos
        # The block's indentation is that of its first non-blank content line.
        first = next((ln for ln in self._lines[node.pos.line : line_index + 1] if ln.strip()), "")
        indent = len(first) - len(first.lstrip(" "))
        return SourcePos(self.file, line_index + 1, indent + offset - (before.rfind("\n") + 1) + 1)

    def probe(self) -> SourcePos:
        return SourcePos(self.file, _PROBE_LINE, 0)

    def relocate(self, err: SpecqlError, node: YNode, base: int = 0) -> SpecqlError:
        """An error raised with :meth:`probe` as its position, moved to the real place."""
        if err.pos.line != _PROBE_LINE or err.pos.file != self.file:
            return err
        return SpecqlError(err.message, self.at(node, base + err.pos.col), err.level)

    # ------------------------------------------------------------------ scalar accessors

    def fail(self, message: str, node: YNode) -> SpecqlError:
        return SpecqlError(message, self._content_start(node))

    def text_of(self, node: YNode, what: str) -> str:
        """A scalar's raw text; anything else (or nothing) is an error."""
        if node.kind != "scalar" or node.is_null:
            raise self.fail(f"{what} must be text, found {node.describe()}", node)
        return node.value

    def optional_text(self, node: YNode | None, what: str) -> str | None:
        if node is None or node.is_null:
            return None
        return self.text_of(node, what)

    def expression(self, node: YNode, what: str) -> str:
        """An SQL expression: raw text, YAML null meaning SQL NULL."""
        if node.is_null:
            return "NULL"
        text = self.text_of(node, what)
        if not text.strip():
            raise self.fail(f"{what} is empty", node)
        return text

    def boolean(self, node: YNode, what: str) -> bool:
        if node.kind != "scalar" or node.tag != "bool":
            raise self.fail(f"{what} must be true or false, found {node.describe()}", node)
        return node.value.lower() in ("true", "yes", "on", "y")

    def mapping(self, node: YNode, what: str) -> dict[str, tuple[YNode, YNode]]:
        """A mapping's entries by key text (keys must be unique scalars)."""
        if node.kind != "map":
            raise self.fail(f"{what} must be a mapping, found {node.describe()}", node)
        entries: dict[str, tuple[YNode, YNode]] = {}
        for key, value in node.pairs:
            name = self.text_of(key, f"a key in {what}")
            if name in entries:
                first = entries[name][0].pos
                raise self.fail(
                    f"duplicate key {name!r} in {what} (first at line {first.line})", key
                )
            entries[name] = (key, value)
        return entries

    def sequence(self, node: YNode, what: str) -> list[YNode]:
        if node.is_null:
            return []
        if node.kind != "seq":
            raise self.fail(f"{what} must be a list, found {node.describe()}", node)
        return node.items

    def check_keys(
        self,
        entries: dict[str, tuple[YNode, YNode]],
        allowed: Iterable[str],
        what: str,
    ) -> None:
        allowed = tuple(allowed)
        for name, (key, _) in entries.items():
            if name not in allowed:
                hint = _FLOW_COMMA_HINT if ")" in name else ""
                raise self.fail(
                    f"unknown key {name!r} in {what}; allowed: {', '.join(allowed)}{hint}",
                    key,
                )

    def collect(self, build: Callable[[], object]) -> object | None:
        """Run one element's builder; on a SpecqlError record it and go on with the next."""
        try:
            return build()
        except SpecqlErrors as errs:
            self.errors.extend(errs.errors)
        except SpecqlError as err:
            self.errors.append(err)
        return None

    # ------------------------------------------------------------------ entity

    def entity(self, root: YNode | None) -> m.Entity:
        if root is None:
            raise SpecqlError(
                "empty spec file: expected a mapping with 'entity:'", SourcePos(self.file, 1, 1)
            )
        if root.kind != "map":
            raise self.fail(
                f"a spec must be a mapping with 'entity:' at the top, found {root.describe()}",
                root,
            )
        entries = self.mapping(root, "the entity")
        if "entity" not in entries:
            raise self.fail("not an entity spec: the top-level key 'entity' is missing", root)
        self.collect(lambda: self.check_keys(entries, ENTITY_KEYS, "the entity"))
        name_node = entries["entity"][1]
        name = self.text_of(name_node, "entity")
        if "schema" not in entries:
            self.errors.append(self.fail(f"entity {name} has no 'schema'", root))
            schema = ""
        else:
            schema = self.collect(lambda: self.text_of(entries["schema"][1], "schema")) or ""

        def optional(key: str) -> str | None:
            if key not in entries:
                return None
            return self.collect(lambda: self.optional_text(entries[key][1], key))

        entity = m.Entity(
            name=name,
            schema=schema,
            description=optional("description"),
            subdomain=optional("subdomain"),
            pos=self._content_start(name_node),
        )
        if "fields" in entries:
            entity.fields = self.named_items(entries["fields"][1], "fields", self.field)
        if "indexes" in entries:
            items = self.collect(lambda: self.sequence(entries["indexes"][1], "indexes")) or []
            entity.indexes = [
                i for i in (self.collect(lambda n=n: self.index(n)) for n in items) if i
            ]
        if "patterns" in entries:
            items = self.collect(lambda: self.sequence(entries["patterns"][1], "patterns")) or []
            entity.patterns = [p for p in map(self.pattern_safe, items) if p is not None]
        if "actions" in entries:
            items = self.collect(lambda: self.sequence(entries["actions"][1], "actions")) or []
            entity.actions = [
                a for a in (self.collect(lambda n=n: self.action(n)) for n in items) if a
            ]
        return entity

    def named_items(self, node: YNode, what: str, build) -> list:
        """``name: definition`` mappings (fields, params, declare) -> nodes, in order."""
        if node.is_null:
            return []
        entries = self.collect(lambda: self.mapping(node, what))
        if entries is None:
            return []
        built = (
            self.collect(lambda k=k, v=v: build(self.text_of(k, "a name"), k, v))
            for k, v in entries.values()
        )
        return [b for b in built if b is not None]

    # ------------------------------------------------------------------ fields and params

    def field(self, name: str, key: YNode, node: YNode) -> m.Field:
        type_, nullable, default, description = self.typed(name, node, "field")
        return m.Field(name, type_, nullable, default, description, pos=key.pos)

    def param(self, name: str, key: YNode, node: YNode) -> m.Param:
        type_, nullable, default, description = self.typed(name, node, "param")
        return m.Param(name, type_, nullable, default, description, pos=key.pos)

    def typed(self, name: str, node: YNode, what: str):
        """Shorthand ``type[!][ = default]`` or mapping ``{type, nullable, default,
        description}`` -> (TypeRef, nullable, default, description)."""
        if node.kind == "map":
            entries = self.mapping(node, f"{what} {name!r}")
            self.check_keys(entries, FIELD_KEYS, f"{what} {name!r}")
            if "type" not in entries:
                raise self.fail(f"{what} {name!r} has no 'type'", node)
            type_node = entries["type"][1]
            type_, not_null, default = self.shorthand(type_node, f"{what} {name!r}")
            if "nullable" in entries:
                nullable = self.boolean(entries["nullable"][1], "nullable")
                if not_null and nullable:
                    raise self.fail(
                        f"{what} {name!r}: '!' in the type contradicts 'nullable: true'",
                        entries["nullable"][1],
                    )
            else:
                nullable = not not_null
            if "default" in entries:
                if default is not None:
                    raise self.fail(
                        f"{what} {name!r} has a default both after ' = ' and in 'default'",
                        entries["default"][0],
                    )
                default = self.optional_text(entries["default"][1], "default")
                if default is not None:
                    default = self.normalise_default(type_, default)
            description = (
                self.optional_text(entries["description"][1], "description")
                if "description" in entries
                else None
            )
            return type_, nullable, default, description
        if node.kind != "scalar" or node.is_null:
            raise self.fail(
                f"{what} {name!r} needs a type (e.g. '{name}: text'), found {node.describe()}",
                node,
            )
        type_, not_null, default = self.shorthand(node, f"{what} {name!r}")
        return type_, not not_null, default, None

    def shorthand(self, node: YNode, what: str) -> tuple[m.TypeRef, bool, str | None]:
        """``type[!][ = default]`` -> (type, not_null, default)."""
        text = self.text_of(node, f"the type of {what}")
        head, eq, tail = text.partition("=")
        default = None
        if eq:
            default = tail.strip()
            if not default:
                raise SpecqlError(f"{what}: nothing after '='", self.at(node, len(text)))
        not_null = head.rstrip().endswith("!")
        type_text = head.rstrip()[:-1] if not_null else head
        try:
            type_ = parse_type(type_text, self.probe())
        except SpecqlError as err:
            err = self.relocate(err, node)
            if type_text.count("(") > type_text.count(")"):
                # `{ total: numeric(12,2) }`: in a { } flow mapping a comma ends the value.
                err = SpecqlError(err.message + _FLOW_COMMA_HINT, err.pos)
            raise err from None
        if default is not None:
            default = self.normalise_default(type_, default)
        return type_, not_null, default

    @staticmethod
    def normalise_default(type_: m.TypeRef, default: str) -> str:
        # Enum defaults are labels; accept the SQL-literal spelling 'lead' too.
        if type_.kind == "enum" and len(default) > 2 and default[0] == default[-1] == "'":
            inner = default[1:-1]
            if _LABEL.match(inner):
                return inner
        return default

    # ------------------------------------------------------------------ indexes

    def index(self, node: YNode) -> m.Index:
        """``{fields: [a, b] | expression: sql, unique: bool, name: text}``."""
        entries = self.mapping(node, "an index")
        self.check_keys(entries, INDEX_KEYS, "an index")
        kinds = [k for k in INDEX_KINDS if k in entries]
        if not kinds:
            raise self.fail("an index needs 'fields: [...]' or 'expression: ...'", node)
        if len(kinds) > 1:
            raise self.fail(
                "an index has either 'fields' or 'expression', not both", entries[kinds[1]][0]
            )
        index = m.Index(pos=node.pos)
        value = entries[kinds[0]][1]
        if kinds[0] == "fields":
            items = self.sequence(value, "index fields")
            if not items:
                raise self.fail("index fields must name at least one field", value)
            index.fields = [self.text_of(item, "an index field") for item in items]
        else:
            index.expression = self.text_of(value, "index expression")
            if not index.expression.strip():
                raise self.fail("index expression is empty", value)
        if "unique" in entries:
            index.unique = self.boolean(entries["unique"][1], "unique")
        if "name" in entries:
            index.name = self.optional_text(entries["name"][1], "index name")
        return index

    # ------------------------------------------------------------------ patterns

    def pattern_safe(self, node: YNode) -> m.PatternUse | None:
        return self.collect(lambda: self.pattern(node))

    def pattern(self, node: YNode) -> m.PatternUse:
        if node.kind == "scalar":
            return m.PatternUse(self.text_of(node, "a pattern name"), pos=self._content_start(node))
        entries = self.mapping(node, "a pattern use")
        self.check_keys(entries, PATTERN_KEYS, "a pattern use")
        if "pattern" not in entries:
            raise self.fail("a pattern use needs 'pattern: <name>'", node)
        name = self.text_of(entries["pattern"][1], "pattern")
        params: dict = {}
        if "params" in entries and not entries["params"][1].is_null:
            params_node = entries["params"][1]
            if params_node.kind != "map":
                raise self.fail(
                    f"pattern params must be a mapping, found {params_node.describe()}",
                    params_node,
                )
            params = self.plain(params_node)
        return m.PatternUse(name, params, pos=node.pos)

    def plain(self, node: YNode):
        """A node as plain Python data (pattern parameters are free-form)."""
        if node.kind == "map":
            out: dict = {}
            for key, value in node.pairs:
                if key.kind != "scalar":
                    raise self.fail("mapping keys must be plain values", key)
                k = self.plain(key)
                if k in out:
                    raise self.fail(f"duplicate key {key.value!r}", key)
                out[k] = self.plain(value)
            return out
        if node.kind == "seq":
            return [self.plain(item) for item in node.items]
        return _scalar_value(node)

    # ------------------------------------------------------------------ actions

    def action(self, node: YNode) -> m.Action:
        entries = self.mapping(node, "an action")
        self.check_keys(entries, ACTION_KEYS, "an action")
        if "name" not in entries:
            raise self.fail("an action needs a 'name'", node)
        name_node = entries["name"][1]
        action = m.Action(
            name=self.text_of(name_node, "action name"),
            description=(
                self.collect(lambda: self.optional_text(entries["description"][1], "description"))
                if "description" in entries
                else None
            ),
            pos=self._content_start(name_node),
        )
        if "params" in entries:
            action.params = self.named_items(entries["params"][1], "params", self.param)
        if "steps" in entries:
            action.steps = self.steps(entries["steps"][1], "steps")
        return action

    # ------------------------------------------------------------------ steps

    def steps(self, node: YNode, what: str) -> list[m.Step]:
        items = self.collect(lambda: self.sequence(node, what))
        if items is None:
            return []
        built = (self.collect(lambda n=n: self.step(n)) for n in items)
        return [s for s in built if s is not None]

    def step(self, node: YNode) -> m.Step:
        if node.kind != "map":
            raise self.fail(
                f"a step must be a mapping like '- validate: ...', found {node.describe()}",
                node,
            )
        entries = self.mapping(node, "a step")
        kinds = [k for k in entries if k in m.STEP_TYPES]
        if not kinds:
            first = next(iter(entries), None)
            raise self.fail(
                f"unknown step {first!r}; a step starts with one of: {', '.join(m.STEP_TYPES)}",
                entries[first][0] if first is not None else node,
            )
        if len(kinds) > 1:
            raise self.fail(
                f"a step has exactly one kind, found {' and '.join(kinds)}",
                entries[kinds[1]][0],
            )
        kind = kinds[0]
        self.check_keys(entries, (kind, *STEP_EXTRA_KEYS[kind]), f"a {kind} step")
        for required in STEP_REQUIRED_KEYS.get(kind, ()):
            if required not in entries:
                raise self.fail(f"a {kind} step needs '{required}'", entries[kind][0])
        value = entries[kind][1]
        extra = {k: v for k, (_, v) in entries.items() if k != kind}
        step = getattr(self, f"step_{kind}")(value, extra)
        step.pos = node.pos
        return step

    def step_validate(self, value, extra) -> m.ValidateStep:
        return m.ValidateStep(
            condition=self.expression(value, "validate"),
            error=self.text_of(extra["error"], "error"),
            message=self.optional_text(extra.get("message"), "message"),
        )

    def step_if(self, value, extra) -> m.IfStep:
        return m.IfStep(
            condition=self.expression(value, "if"),
            then=self.steps(extra["then"], "then"),
            else_=self.steps(extra["else"], "else") if "else" in extra else [],
        )

    def step_insert(self, value, extra) -> m.InsertStep:
        values: dict[str, str] = {}
        if "values" in extra and not extra["values"].is_null:
            for name, (_, v) in self.mapping(extra["values"], "values").items():
                values[name] = self.expression(v, f"the value of {name!r}")
        return m.InsertStep(
            entity=self.text_of(value, "insert (an entity name)"),
            values=values,
            as_=self.optional_text(extra.get("as"), "as"),
        )

    def step_update(self, value, extra) -> m.UpdateStep:
        text = self.text_of(value, "update")
        entity, stmt = self.statement(value, text, "UPDATE ")
        if not isinstance(stmt, ast.UpdateStmt):
            raise self.fail("update must read 'Entity SET field = expression [WHERE ...]'", value)
        self.refuse(value, stmt, ("fromClause", *_RETURNING, "withClause"), "update")
        self.plain_relation(value, stmt.relation, "update")
        assignments: dict[str, str] = {}
        for target in stmt.targetList or ():
            if not isinstance(target, ast.ResTarget) or target.indirection or not target.name:
                raise self.fail(
                    "update supports plain 'field = expression' assignments only", value
                )
            if target.name in assignments:
                raise self.fail(f"update sets {target.name!r} twice", value)
            assignments[target.name] = self.deparse(target.val, value)
        return m.UpdateStep(
            entity=entity,
            assignments=assignments,
            where=self.deparse(stmt.whereClause, value) if stmt.whereClause else None,
        )

    def step_delete(self, value, extra) -> m.DeleteStep:
        text = self.text_of(value, "delete")
        entity, stmt = self.statement(value, text, "DELETE FROM ")
        if not isinstance(stmt, ast.DeleteStmt):
            raise self.fail("delete must read 'Entity [WHERE ...]'", value)
        self.refuse(value, stmt, ("usingClause", *_RETURNING, "withClause"), "delete")
        self.plain_relation(value, stmt.relation, "delete")
        return m.DeleteStep(
            entity=entity,
            where=self.deparse(stmt.whereClause, value) if stmt.whereClause else None,
            hard=self.boolean(extra["hard"], "hard") if "hard" in extra else False,
        )

    def step_find(self, value, extra) -> m.FindStep:
        text = self.text_of(value, "find")
        entity, stmt = self.statement(value, text, "SELECT * FROM ")
        if (
            not isinstance(stmt, ast.SelectStmt)
            or not stmt.fromClause
            or len(stmt.fromClause) != 1
            or not isinstance(stmt.fromClause[0], ast.RangeVar)
        ):
            raise self.fail("find must read 'Entity WHERE condition'", value)
        self.refuse(value, stmt, FIND_REFUSED_CLAUSES, "find")
        self.plain_relation(value, stmt.fromClause[0], "find")
        if stmt.whereClause is None:
            raise self.fail("find needs a condition: 'Entity WHERE ...'", value)
        return m.FindStep(
            entity=entity,
            where=self.deparse(stmt.whereClause, value),
            into=self.text_of(extra["into"], "into"),
            error=self.optional_text(extra.get("error"), "error"),
        )

    def step_query(self, value, extra) -> m.QueryStep:
        return m.QueryStep(
            sql=self.expression(value, "query"), into=self.text_of(extra["into"], "into")
        )

    def step_declare(self, value, extra) -> m.DeclareStep:
        return m.DeclareStep(variables=self.named_items(value, "declare", self.variable))

    def variable(self, name: str, key: YNode, node: YNode) -> m.Variable:
        type_, not_null, default = self.shorthand(node, f"variable {name!r}")
        if not_null:
            raise self.fail(f"variable {name!r}: '!' (NOT NULL) applies to fields and params", node)
        return m.Variable(name, type_, default, pos=key.pos)

    def step_assign(self, value, extra) -> m.AssignStep:
        text = self.text_of(value, "assign")
        match = _ASSIGN.match(text)
        if not match or not match.group(2).strip():
            raise self.fail("assign must read 'variable = expression'", value)
        return m.AssignStep(target=match.group(1), expression=match.group(2).strip())

    def step_call(self, value, extra) -> m.CallStep:
        return m.CallStep(
            call=self.expression(value, "call"),
            store=self.optional_text(extra.get("store"), "store"),
        )

    def step_notify(self, value, extra) -> m.NotifyStep:
        entries = self.mapping(value, "notify")
        self.check_keys(entries, ("channel", "payload"), "notify")
        if "channel" not in entries:
            raise self.fail("notify needs a 'channel'", value)
        payload: dict[str, str] = {}
        if "payload" in entries and not entries["payload"][1].is_null:
            for name, (_, v) in self.mapping(entries["payload"][1], "payload").items():
                payload[name] = self.expression(v, f"payload {name!r}")
        return m.NotifyStep(channel=self.text_of(entries["channel"][1], "channel"), payload=payload)

    def step_reject(self, value, extra) -> m.RejectStep:
        return m.RejectStep(
            error=self.text_of(value, "reject (an error code)"),
            message=self.optional_text(extra.get("message"), "message"),
        )

    def step_foreach(self, value, extra) -> m.ForeachStep:
        return m.ForeachStep(
            variable=self.text_of(value, "foreach (a record variable name)"),
            query=self.expression(extra["in"], "in"),
            body=self.steps(extra["do"], "do"),
        )

    def step_return(self, value, extra) -> m.ReturnStep:
        return m.ReturnStep(expression=None if value.is_null else self.expression(value, "return"))

    def step_raw_sql(self, value, extra) -> m.RawSqlStep:
        return m.RawSqlStep(
            sql=self.expression(value, "raw_sql"),
            reason=self.optional_text(extra.get("reason"), "reason") or "",
        )

    # ------------------------------------------------------------------ SQL helpers

    def statement(self, node: YNode, text: str, prefix: str):
        """``Entity rest`` -> (entity name as written, parsed ``prefix <entity> rest``).

        The entity name is swapped for a neutral identifier before parsing, so entity names
        that are SQL keywords (``Order``, ``User``) parse, and their case is kept.
        """
        match = _ENTITY_TOKEN.match(text)
        if not match:
            raise self.fail("expected an entity name first", node)
        swapped = _PLACEHOLDER + text[match.end() :]
        try:
            stmt = parse_statement(swapped, self.probe(), prefix=prefix)
        except SpecqlError as err:
            shown = " ".join(repr(swapped).split())  # as SpecqlError folded it
            err = SpecqlError(err.message.replace(shown, repr(text)), err.pos)
            raise self.relocate(err, node, base=match.end() - len(_PLACEHOLDER)) from None
        return match.group(1), stmt

    def deparse(self, expr, node: YNode) -> str:
        try:
            return deparse_spec(expr)
        except SpecqlError as err:
            raise SpecqlError(err.message, self._content_start(node)) from None

    def plain_relation(self, node: YNode, rel, what: str) -> None:
        if rel is None or rel.alias is not None or not getattr(rel, "inh", True):
            raise self.fail(f"{what} takes an entity name without alias or ONLY", node)

    def refuse(self, node: YNode, stmt, clauses: tuple[str, ...], what: str) -> None:
        for clause in clauses:
            if getattr(stmt, clause, None):
                sql = _CLAUSE_SQL[clause]
                raise self.fail(f"{what} does not support {sql}; use a query step or raw_sql", node)


# pglast < 8 calls it returningList, pglast 8 (PostgreSQL 18) returningClause.
_RETURNING = ("returningList", "returningClause")

# The SELECT clauses a find step cannot have (it reads 'Entity WHERE condition'); reverse
# engineering turns a legacy SELECT into a find only when it has none of them.
FIND_REFUSED_CLAUSES = (
    "distinctClause",
    "groupClause",
    "havingClause",
    "windowClause",
    "sortClause",
    "limitCount",
    "limitOffset",
    "lockingClause",
    "withClause",
)

_CLAUSE_SQL = {
    "fromClause": "FROM",
    "usingClause": "USING",
    "returningList": "RETURNING",
    "returningClause": "RETURNING",
    "withClause": "WITH",
    "distinctClause": "DISTINCT",
    "groupClause": "GROUP BY",
    "havingClause": "HAVING",
    "windowClause": "WINDOW",
    "sortClause": "ORDER BY",
    "limitCount": "LIMIT",
    "limitOffset": "OFFSET",
    "lockingClause": "FOR UPDATE/SHARE",
}


def _scalar_value(node: YNode):
    """A scalar as YAML 1.1 would construct it (pattern parameters keep types)."""
    constructor = _CONSTRUCTORS.get(node.tag)
    if constructor is None:
        return node.value
    try:
        return constructor(yaml.ScalarNode(f"tag:yaml.org,2002:{node.tag}", node.value))
    except (ValueError, yaml.YAMLError):
        return node.value


_SAFE = yaml.constructor.SafeConstructor()
_CONSTRUCTORS = {
    "null": _SAFE.construct_yaml_null,
    "bool": _SAFE.construct_yaml_bool,
    "int": _SAFE.construct_yaml_int,
    "float": _SAFE.construct_yaml_float,
}


# ---------------------------------------------------------------------- public API


def load_text(text: str, file: str = "<string>") -> m.Entity:
    """One spec from YAML text. Raises SpecqlError / SpecqlErrors on any problem."""
    if not isinstance(text, str):
        raise SpecqlError(
            f"spec text must be str, got {type(text).__name__}", SourcePos(file, 1, 1)
        )
    if len(text) > MAX_SPEC_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise _too_large(file, len(text.encode("utf-8", "surrogatepass")))
    reader = _Reader(text, file)
    try:
        entity = reader.entity(compose(text, file))
    except SpecqlError as err:
        reader.errors.append(err)
        entity = None
    except RecursionError:  # defence in depth: depth is capped while reading
        reader.errors.append(SpecqlError("spec nested too deeply", SourcePos(file, 1, 1)))
        entity = None
    if reader.errors:
        raise _one_or_many(reader.errors)
    return entity


def load_file(path: str | os.PathLike) -> m.Entity:
    """One spec file (UTF-8, at most MAX_SPEC_BYTES)."""
    file = str(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_SPEC_BYTES:
            raise _too_large(file, size)
        with open(path, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecqlError(
            f"cannot read spec: {exc.strerror or exc}", SourcePos(file, 0, 0)
        ) from None
    if len(data) > MAX_SPEC_BYTES:  # grew since stat, or a device
        raise _too_large(file, len(data))
    return load_text(decode_utf8(data, file), file)


def decode_utf8(data: bytes, file: str) -> str:
    """Bytes -> text; a non-UTF-8 byte is an error at its line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        col = len(data[line_start:start].decode("utf-8", "replace")) + 1
        raise SpecqlError(
            f"not UTF-8: invalid byte 0x{data[start]:02x} at byte offset {start}",
            SourcePos(file, line, col),
        ) from None


def spec_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The spec files named by ``paths``: files as given, directories searched recursively
    for ``*.yaml``/``*.yml`` (sorted, skipping hidden directories and ones named
    ``registry``)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            in_dir: list[Path] = []
            for root, dirs, files in os.walk(path):  # no symlink following: no loops
                dirs[:] = sorted(
                    d for d in dirs if d not in SKIPPED_DIRECTORIES and not d.startswith(".")
                )
                in_dir.extend(Path(root) / f for f in files if f.endswith(SPEC_SUFFIXES))
            found.extend(sorted(in_dir))
        else:
            found.append(path)
    return found


def load_paths(paths: Iterable[str | os.PathLike]) -> list[m.Entity]:
    """Every spec under ``paths``; errors from all files are raised together."""
    entities: list[m.Entity] = []
    errors: list[SpecqlError] = []
    for path in spec_files(paths):
        if not path.exists():
            errors.append(SpecqlError("no such file or directory", SourcePos(str(path), 0, 0)))
            continue
        try:
            entities.append(load_file(path))
        except SpecqlErrors as errs:
            errors.extend(errs.errors)
        except SpecqlError as err:
            errors.append(err)
    if errors:
        raise _one_or_many(errors)
    return entities


def _too_large(file: str, size: int) -> SpecqlError:
    return SpecqlError(
        f"spec file is {size / 1_048_576:.1f} MB; the limit is "
        f"{MAX_SPEC_BYTES / 1_048_576:.0f} MB (MAX_SPEC_BYTES)",
        SourcePos(file, 1, 1),
    )


def _one_or_many(errors: list[SpecqlError]) -> SpecqlError:
    return errors[0] if len(errors) == 1 else SpecqlErrors(errors)
