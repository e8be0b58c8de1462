"""Assemble stage: mapped functions + entities -> one valid spec per entity.

Grouping (:func:`host_table`), in this order:

1. a trigger function, or a function our own generator wrote, belongs to the entity the steps
   stage bound it to (the trigger's table, the generated function's instance): its ``NEW.col``
   / instance reads are that entity's fields;
2. any other function goes to the entity whose table it writes most, counting every write of
   the body (also those that stayed raw SQL; ties: the table it wrote first);
3. a function that writes no entity table goes to the **module spec** of its schema: an entity
   named ``<Schema>Functions`` (``shop`` -> ``ShopFunctions``; ``ShopFunctions2`` if a table
   already has that name) with no fields, whose description says what it is. The dialect needs
   an entity per spec; the validator accepts one without fields, and its actions' ``query`` /
   ``call`` / ``raw_sql`` steps read other entities through FROM clauses as usual.

Entity patterns: the pattern findings of the functions put on an entity whose pattern describes
an entity (:data:`ENTITY_PATTERNS`: state machine, audit trail, soft delete, approval workflow,
hierarchy, multi-tenant, temporal versioning, counter cache) are the entity's *detected*
patterns (``Assembly.detected``, shown in the report). They are not written to the spec's
``patterns:``: there a pattern means "generate this from the library", and the legacy code
the entity's actions came from already implements it, so applying it again would duplicate it.
Findings about a single action (validation chain, upsert, accumulator, notification, computed
field) stay in the report only, and so do all findings of functions our generator wrote (the
spec they came from already says it: ``reverse(generate(spec))`` must give the spec back).

Validity is the bar: every assembled spec is validated together with all the others
(:func:`specql.dsl.validate`) and must load back from its canonical YAML unchanged
(``load_text(dump(spec)) == spec``). What fails is repaired, never dropped silently:

- a step the validator rejects becomes a ``raw_sql`` step of its legacy SQL text, with the
  validator's message as the reason; the function's converted-statement count and confidence
  drop accordingly and the step is listed as unconverted;
- a step whose YAML does not load back as itself becomes ``raw_sql`` the same way, unless
  only the WHERE/SET texts of update, delete and find steps differ, which the loader keeps in
  PostgreSQL's deparsed form (``FROM CallNumber`` loads as ``FROM callnumber``, the same
  relation): then the spec takes that stable canonical text and is validated again;
- a field the validator rejects (e.g. a ref to a table that is not in the run) is left out of
  the spec, with a note on the entity; so is an index (e.g. one repeating another);
- duplicate action names on one entity (overloaded functions, one name in two schemas) get a
  ``_2``, ``_3`` suffix;
- what still fails (an invalid param, an invalid entity name) is reported as an error naming
  the spec and the function, and that action (or spec) is not written.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from specql.dsl import dump, load_text, validate
from specql.dsl import model as m
from specql.errors import ErrorLevel, SourcePos
from specql.reverse import confidence as conf
from specql.reverse.body import tokenize
from specql.reverse.naming import pascal, snake
from specql.reverse.source import PatternFinding, Unconverted

MODULE_SUFFIX = "Functions"
ENTITY_PATTERNS = (
    "state_machine",
    "audit_trail",
    "soft_delete",
    "approval_workflow",
    "hierarchy",
    "multi_tenant",
    "temporal_versioning",
    "counter_cache",
)
ENTITY_PATTERN_MIN_SCORE = 0.5  # the heuristics' own reporting threshold
MAX_REPAIR_ROUNDS = 8
_CHECK_FILE = "\0assemble-check"
_SCHEMA_OK = re.compile(r"[a-z_][a-z0-9_]*\Z")


# --------------------------------------------------------------------------- data


@dataclass
class EntitySource:
    """An entity built from a legacy table (the entities stage's output)."""

    table: str  # qualified table name, as the steps stage names it
    entity: m.Entity
    notes: list[str] = field(default_factory=list)
    result: object = None  # the entities stage's EntityResult (column -> field map), if any


@dataclass
class FunctionOutcome:
    """One function after the steps, heuristics and confidence stages (what assembly needs and
    what the report shows). Plain data: it crosses process boundaries and the resume state."""

    name: str  # qualified function name
    schema: str | None
    file: str
    line: int
    col: int
    kind: str = "function"  # function | trigger | procedure | do
    parse_path: str = "ast"
    action: m.Action | None = None
    entity_hint: str | None = None  # qualified table the steps stage bound it to
    bound: bool = False  # entity_hint is the function's own entity (trigger / generated)
    tables_written: dict[str, int] = field(default_factory=dict)  # by converted steps
    tables_read: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)  # every write, raw SQL included
    statements_total: int = 0
    statements_converted: int = 0
    unconverted: list[Unconverted] = field(default_factory=list)
    patterns: list[PatternFinding] = field(default_factory=list)
    variable_purposes: dict[str, str] = field(default_factory=dict)
    # What its statements do, in plain words (specql.reverse.features): with the body, what
    # the pattern library is searched with.
    features: list[str] = field(default_factory=list)
    confidence: float = 0.0
    generated: bool = False  # written by specql's own generator (frame recognised)
    body: str = ""  # the body text, to cut a statement out of when a step must become raw
    body_line: int = 0
    ms: float = 0.0  # steps + heuristics + confidence
    steps_ms: float = 0.0
    heuristics_ms: float = 0.0
    error: str | None = None  # one line: the function could not be made a valid action
    # set by assembly
    entity: str | None = None  # schema.Entity of the spec holding the action
    action_name: str | None = None
    downgraded: int = 0  # steps turned into raw_sql by assembly

    def recompute_confidence(self) -> None:
        steps = self.action.steps if self.action is not None else []
        raw = sum(1 for s in m.walk_steps(steps) if isinstance(s, m.RawSqlStep))
        unknown = sum(1 for u in self.unconverted if u.reason.startswith(conf.UNKNOWN_TYPE))
        inputs = conf.ConfidenceInputs(
            statements_total=self.statements_total,
            statements_converted=self.statements_converted,
            parse_path=self.parse_path,
            unknown_types=unknown,
            raw_steps=raw,
        )
        self.confidence = min(self.confidence, conf.score(inputs))


@dataclass
class Assembly:
    specs: list[m.Entity]  # valid, round-tripping specs, in a stable order
    tables: dict[str, str | None]  # schema.Entity -> legacy table (None: module spec)
    notes: dict[str, list[str]]  # schema.Entity -> notes (left-out fields...)
    errors: list[str]  # one line each: what could not be made valid
    texts: list[str] = field(default_factory=list)  # canonical YAML of each spec, checked
    detected: dict[str, list[str]] = field(default_factory=dict)  # schema.Entity -> patterns


# --------------------------------------------------------------------------- grouping


def host_table(outcome: FunctionOutcome, entity_tables: Iterable[str]) -> str | None:
    """The qualified entity table ``outcome``'s action belongs to; None: the module spec."""
    known = set(entity_tables)
    if outcome.bound and outcome.entity_hint in known:
        return outcome.entity_hint
    writes = outcome.writes or outcome.tables_written
    best, count = None, 0
    for table, n in writes.items():  # insertion order: the first written wins a tie
        resolved = resolve_table(table, known, outcome.schema)
        if resolved is not None and n > count:
            best, count = resolved, n
    return best


def resolve_table(name: str, known: set[str], schema: str | None) -> str | None:
    """``name`` as SQL wrote it (maybe unqualified) -> a qualified entity table, if one."""
    if name in known:
        return name
    if "." in name:
        return None
    for guess in (f"{schema}.{name}" if schema else None, f"public.{name}"):
        if guess in known:
            return guess
    found = [k for k in known if k.rpartition(".")[2] == name]
    return found[0] if len(found) == 1 else None


def module_schema(schema: str | None) -> str:
    """A lower-case identifier for a function's schema (``public`` when it has none)."""
    text = snake(schema or "public") or "public"
    if not _SCHEMA_OK.match(text):
        text = "s_" + text
    return text


def module_entity_name(schema: str, taken: set[str]) -> str:
    base = pascal(schema) + MODULE_SUFFIX
    if not base[:1].isupper():
        base = "Schema" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


# --------------------------------------------------------------------------- raw text


_COMPOUND = {"if", "case", "loop", "for", "while", "foreach", "begin", "declare", "<<"}


def source_text(body: str, body_line: int, line: int, until_line: int = 0) -> str | None:
    """The legacy SQL that starts on file line ``line`` of a body whose first line is file
    line ``body_line``: up to the last token before file line ``until_line`` (the next step's
    statement; a step may stand for several statements, e.g. a SELECT and its IF NOT FOUND),
    or, without it, up to the statement's ``;`` / closing ``END …;``."""
    if not body or line <= 0:
        return None
    offset = body_line - 1 if body_line else 0
    tokens = tokenize(body)
    start = next((i for i, t in enumerate(tokens) if t.line + offset >= line), None)
    if start is None:
        return None
    if until_line > line:
        last = start
        for i in range(start, len(tokens)):
            if tokens[i].line + offset >= until_line:
                break
            last = i
        text = body[tokens[start].start : tokens[last].end].strip()
        return text or None
    first = tokens[start].word or tokens[start].text
    depth, paren, end = 0, 0, None
    compound = first in _COMPOUND
    prev = ""
    for i in range(start, len(tokens)):
        tok = tokens[i]
        word = tok.word
        if tok.text in ("(", "["):
            paren += 1
        elif tok.text in (")", "]"):
            paren -= 1
        elif (word in ("if", "loop", "case") and prev != "end") or word == "begin":
            depth += 1
        elif word == "end":
            depth -= 1
        elif tok.text == ";" and paren <= 0 and (not compound or depth <= 0):
            end = i
            break
        prev = word
    last_tok = tokens[end] if end is not None else tokens[-1]
    return body[tokens[start].start : last_tok.end].strip() or None


def _step_count(step: m.Step) -> int:
    """How many legacy statements a step stands for (its nested steps included)."""
    return sum(1 for s in m.walk_steps([step]) if not isinstance(s, m.DeclareStep | m.RawSqlStep))


# --------------------------------------------------------------------------- assembly


class _Assembler:
    def __init__(self, sources: list[EntitySource], outcomes: list[FunctionOutcome]) -> None:
        self.sources = sources
        self.outcomes = outcomes
        self.errors: list[str] = []
        self.notes: dict[str, list[str]] = {}
        self.detected: dict[str, list[str]] = {}
        self.tables: dict[str, str | None] = {}
        self.owner: dict[int, FunctionOutcome] = {}  # id(action) -> outcome
        self.specs: list[m.Entity] = []
        self.texts: dict[int, str] = {}  # spec index -> its checked canonical YAML

    # ---- build

    def build(self) -> None:
        by_table: dict[str, m.Entity] = {}
        taken_by_schema: dict[str, set[str]] = {}
        for src in self.sources:
            entity = dataclasses.replace(src.entity, actions=[], patterns=list(src.entity.patterns))
            by_table[src.table] = entity
            self.specs.append(entity)
            key = f"{entity.schema}.{entity.name}"
            self.tables[key] = src.table
            self.notes[key] = list(src.notes)
            taken_by_schema.setdefault(entity.schema, set()).add(entity.name)
        modules: dict[str, m.Entity] = {}
        for outcome in self.outcomes:
            if outcome.action is None:
                continue
            table = host_table(outcome, by_table)
            if table is not None:
                host = by_table[table]
            else:
                schema = module_schema(outcome.schema)
                host = modules.get(schema)
                if host is None:
                    taken = taken_by_schema.setdefault(schema, set())
                    name = module_entity_name(schema, taken)
                    taken.add(name)
                    host = m.Entity(
                        name=name,
                        schema=schema,
                        description=(
                            f"Module spec: functions of schema {schema} that write no table "
                            "of their own (no fields; generated as an empty table)."
                        ),
                    )
                    modules[schema] = host
                    key = f"{schema}.{name}"
                    self.tables[key] = None
                    self.notes[key] = []
            self.attach(host, outcome)
        for entity in self.specs:  # module specs describe no entity: no patterns
            self.attach_patterns(entity)
        self.specs.extend(modules.values())

    def attach(self, host: m.Entity, outcome: FunctionOutcome) -> None:
        action = outcome.action
        name = _unique(action.name, {a.name for a in host.actions})
        if name != action.name:
            action = dataclasses.replace(action, name=name)
            outcome.action = action
        host.actions.append(action)
        outcome.entity = f"{host.schema}.{host.name}"
        outcome.action_name = action.name
        self.owner[id(action)] = outcome

    def attach_patterns(self, entity: m.Entity) -> None:
        have = {p.name for p in entity.patterns}  # a spec that says it uses one: not "detected"
        found: list[str] = []
        for action in entity.actions:
            outcome = self.owner.get(id(action))
            if outcome is None or outcome.generated:
                continue
            for finding in outcome.patterns:
                if (
                    finding.pattern in ENTITY_PATTERNS
                    and finding.score >= ENTITY_PATTERN_MIN_SCORE
                    and finding.pattern not in have
                ):
                    have.add(finding.pattern)
                    found.append(finding.pattern)
        found.sort(key=ENTITY_PATTERNS.index)
        self.detected[self.key(entity)] = found

    # ---- repair

    def key(self, entity: m.Entity) -> str:
        return f"{entity.schema}.{entity.name}"

    def run(self) -> Assembly:
        self.build()
        pending: set[int] | None = None  # None: every spec (the first round)
        for _ in range(MAX_REPAIR_ROUNDS):
            changed = self.repair_validation(pending)
            check = set(range(len(self.specs))) if pending is None else set(pending)
            changed_rt = self.repair_round_trip(check | changed)
            pending = changed | changed_rt
            if not pending:
                break
        else:  # still failing after every round: drop what fails, say so
            self.drop_invalid()
        for index, entity in enumerate(self.specs):
            if entity is not None and index not in self.texts:
                self.repair_round_trip({index})
        specs, texts = [], []
        for index, entity in enumerate(self.specs):
            if entity is not None and index in self.texts:
                specs.append(entity)
                texts.append(self.texts[index])
        return Assembly(specs, self.tables, self.notes, self.errors, texts, self.detected)

    def tag(self, only: set[int] | None = None) -> tuple[dict[int, tuple], list, list]:
        """The specs to validate, each node of those in ``only`` (None: all) given a unique
        synthetic position (restored afterwards); the others without their actions (they were
        validated before; they are there for names and refs)."""
        nodes: dict[int, tuple] = {}
        saved: list[tuple[object, SourcePos]] = []
        batch: list[m.Entity] = []
        n = 0

        def mark(node, *where) -> None:
            nonlocal n
            n += 1
            saved.append((node, node.pos))
            node.pos = SourcePos(_CHECK_FILE, n, 0)
            nodes[n] = (node, *where)

        for index, entity in enumerate(self.specs):
            if entity is None:
                continue
            if only is not None and index not in only:
                batch.append(dataclasses.replace(entity, actions=[]))
                continue
            batch.append(entity)
            mark(entity, index, None)
            for f in entity.fields:
                mark(f, index, None)
            for i in entity.indexes:
                mark(i, index, None)
            for p in entity.patterns:
                mark(p, index, None)
            for action in entity.actions:
                mark(action, index, action)
                for p in action.params:
                    mark(p, index, action)
                for step in m.walk_steps(action.steps):
                    mark(step, index, action)
                    if isinstance(step, m.DeclareStep):
                        for var in step.variables:
                            # a problem with a variable is a problem with its declare step
                            saved.append((var, var.pos))
                            var.pos = step.pos
        return nodes, saved, batch

    def problems(self, only: set[int] | None):
        nodes, saved, batch = self.tag(only)
        try:
            found = validate(batch)
        finally:
            for node, pos in reversed(saved):
                node.pos = pos
        placed = []
        for problem in found:
            if problem.level is not ErrorLevel.ERROR:
                continue
            if problem.pos.file != _CHECK_FILE or problem.pos.line not in nodes:
                if only is None:
                    self.errors.append(f"internal: unplaced validation error: {problem}")
                continue  # about a spec checked in an earlier round
            placed.append((problem, nodes[problem.pos.line]))
        return placed

    def repair_validation(self, only: set[int] | None = None) -> set[int]:
        changed: set[int] = set()
        handled: set[int] = set()
        for problem, (node, index, action) in self.problems(only):
            if id(node) in handled:
                continue
            handled.add(id(node))
            entity = self.specs[index]
            if entity is None:
                continue
            if self.repair(entity, action, node, problem.message):
                changed.add(index)
                self.texts.pop(index, None)
        return changed

    def repair(self, entity: m.Entity, action, node, message: str) -> bool:
        """Fix one validation problem; True when the spec changed."""
        key = self.key(entity)
        if isinstance(node, m.Step):
            return self.downgrade(entity, action, node, f"not valid SpecQL: {message}")
        if isinstance(node, m.Field):
            if node in entity.fields:
                entity.fields = [f for f in entity.fields if f is not node]
                self.notes[key].append(f"field {node.name!r} left out: {message}")
                return True
            return False
        if isinstance(node, m.Index):
            if not any(i is node for i in entity.indexes):
                return False
            entity.indexes = [i for i in entity.indexes if i is not node]
            key_text = f"({', '.join(node.fields)})" if node.expression is None else node.expression
            self.notes[key].append(f"index on {key_text} left out: {message}")
            return True
        if isinstance(node, m.PatternUse):
            entity.patterns = [p for p in entity.patterns if p is not node]
            return True
        if isinstance(node, m.Action | m.Param):
            return self.drop_action(entity, action, message)
        # the entity itself (name, schema, duplicate): the spec cannot be written
        index = self.specs.index(entity)
        self.specs[index] = None
        self.errors.append(f"spec {key} (table {self.tables.get(key)}) is not valid: {message}")
        for a in entity.actions:
            outcome = self.owner.get(id(a))
            if outcome is not None:
                outcome.error = f"{outcome.file}:{outcome.line}:{outcome.col}: its spec {key} is not valid: {message}"
        return True

    def drop_action(self, entity: m.Entity, action: m.Action, message: str) -> bool:
        if action not in entity.actions:
            return False
        entity.actions = [a for a in entity.actions if a is not action]
        outcome = self.owner.get(id(action))
        where = f"{outcome.file}:{outcome.line}:{outcome.col}: " if outcome else ""
        text = (
            f"{where}function {outcome.name if outcome else action.name} could not be made a "
            f"valid action of {self.key(entity)}: {message}"
        )
        self.errors.append(text)
        if outcome is not None:
            outcome.error = text
            outcome.entity = None
            outcome.action_name = None
        return True

    def downgrade(self, entity: m.Entity, action: m.Action, step: m.Step, reason: str) -> bool:
        """Turn ``step`` into raw_sql of the legacy SQL it came from. The steps made from the
        same statement (its siblings with the same source line, e.g. a find and the assigns
        reading it) go with it: one raw_sql, so the statement is neither lost nor doubled."""
        if isinstance(step, m.RawSqlStep):
            return False
        found = _block_of(action.steps, step)
        if found is None:
            return False
        block, index = found
        line = step.pos.line
        group = [
            s
            for s in block
            if s is step
            or (line > 0 and s.pos.line == line and not isinstance(s, m.DeclareStep | m.RawSqlStep))
        ]
        outcome = self.owner.get(id(action))
        sql = None
        if outcome is not None and line > 0:
            later = [s.pos.line for s in block[index + 1 :] if s.pos.line > line and s not in group]
            sql = source_text(outcome.body, outcome.body_line, line, min(later, default=0))
        if not sql:
            sql = "\n".join(
                f"-- {s.kind} step that is not valid SpecQL:\n" + _yaml_comment(s) for s in group
            )
        raw = m.RawSqlStep(sql=sql, reason=reason, pos=step.pos)
        first = min(block.index(s) for s in group)
        block[first] = raw
        block[:] = [s for s in block if not any(s is g for g in group)]
        if outcome is not None:
            statements = 1 + sum(_step_count(s) - 1 for s in group if _step_count(s) > 1)
            outcome.statements_converted = max(outcome.statements_converted - statements, 0)
            outcome.unconverted.append(Unconverted(step.pos, sql, reason))
            outcome.downgraded += 1
            outcome.recompute_confidence()
        return True

    def repair_round_trip(self, indexes: set[int]) -> set[int]:
        """Each spec of ``indexes`` must load back from its YAML as itself; its text is kept
        (it is what gets written). What does not is repaired; returns the specs changed."""
        changed: set[int] = set()
        for index in sorted(indexes):
            entity = self.specs[index]
            if entity is None:
                continue
            text = _round_trip_text(entity)
            if text is not None:
                self.texts[index] = text
                continue
            self.texts.pop(index, None)
            if _adopt_canonical_sql(entity):
                changed.add(index)  # validated again, and its text kept, in the next round
                continue
            fixed = False
            if not _round_trips(dataclasses.replace(entity, actions=[])):
                for f in list(entity.fields):
                    alone = dataclasses.replace(
                        entity, fields=[f], indexes=[], actions=[], patterns=[]
                    )
                    if not _round_trips(alone):
                        fixed |= self.repair(entity, None, f, "does not load back from its YAML")
                for i in list(entity.indexes):
                    alone = dataclasses.replace(
                        entity, fields=[], indexes=[i], actions=[], patterns=[]
                    )
                    if not _round_trips(alone):
                        fixed |= self.repair(entity, None, i, "does not load back from its YAML")
            for action in list(entity.actions):
                if _round_trips(dataclasses.replace(entity, actions=[action])):
                    continue
                for step in list(action.steps):
                    if isinstance(step, m.RawSqlStep):
                        continue
                    single = dataclasses.replace(action, steps=[step])
                    if not _round_trips(dataclasses.replace(entity, actions=[single])):
                        fixed |= self.downgrade(
                            entity, action, step, "its SpecQL does not load back unchanged"
                        )
                if not _round_trips(dataclasses.replace(entity, actions=[action])):
                    fixed |= self.drop_action(entity, action, "does not load back from its YAML")
            if fixed:
                changed.add(index)
            else:
                self.specs[index] = None
                self.errors.append(f"spec {self.key(entity)} does not load back from its own YAML")
        return changed

    def drop_invalid(self) -> None:
        for problem, (_node, index, action) in self.problems(None):
            entity = self.specs[index]
            if entity is None:
                continue
            if action is not None:
                self.drop_action(entity, action, problem.message)
            else:
                self.specs[index] = None
                self.errors.append(f"spec {self.key(entity)} is not valid: {problem.message}")


def _yaml_comment(step: m.Step) -> str:
    from specql.dsl.dumper import _step  # the documented step form, for a human to read

    try:
        import yaml

        text = yaml.safe_dump(_step(step), sort_keys=False, allow_unicode=True)
    except Exception:  # pragma: no cover - defensive: the text is only informative
        text = repr(step)
    return "\n".join("-- " + line for line in text.splitlines())


def _block_of(steps: list[m.Step], wanted: m.Step) -> tuple[list[m.Step], int] | None:
    """The step list holding ``wanted`` and its index there."""
    for i, step in enumerate(steps):
        if step is wanted:
            return steps, i
        for block in m.child_blocks(step):
            found = _block_of(block, wanted)
            if found is not None:
                return found
    return None


def _round_trip_text(entity: m.Entity) -> str | None:
    """The canonical YAML of ``entity`` when it loads back as the same spec, else None."""
    try:
        text = dump(entity)
        return text if load_text(text) == entity else None
    except Exception:  # a dumper/loader error is a failed round trip, not a crashed run
        return None


def _round_trips(entity: m.Entity) -> bool:
    return _round_trip_text(entity) is not None


_CANONICAL_SQL_STEPS = (m.UpdateStep, m.DeleteStep, m.FindStep)


def _adopt_canonical_sql(entity: m.Entity) -> bool:
    """Take the loader's reading of the WHERE and SET texts of update, delete and find steps
    when that is all that keeps ``entity`` from round-tripping; True when it then does.

    The loader keeps those texts as PostgreSQL's parser reads them, deparsed (see
    :mod:`specql.dsl.loader`): unquoted names come back lower-cased, so ``... IN (SELECT id
    FROM CallNumber)`` loads as ``FROM callnumber``, the same relation (entity names in SQL
    are matched without case). Taken only when everything else loads back as it is and the
    deparsed text is stable (dumped and loaded again, the same); the caller validates the
    entity again. Anything else the YAML loses (a default's outer spaces...) is repaired as
    before: the step becomes raw_sql."""
    try:
        loaded = load_text(dump(entity))
        if load_text(dump(loaded)) != loaded or len(loaded.actions) != len(entity.actions):
            return False
    except Exception:  # a dumper/loader error: not a matter of canonical text
        return False
    undo: list[tuple[m.Step, str, object]] = []

    def adopt() -> bool:
        for mine, theirs in zip(entity.actions, loaded.actions, strict=True):
            steps, loaded_steps = list(m.walk_steps(mine.steps)), list(m.walk_steps(theirs.steps))
            if len(steps) != len(loaded_steps):
                return False
            for step, read in zip(steps, loaded_steps, strict=True):
                if type(step) is not type(read):
                    return False
                if not isinstance(step, _CANONICAL_SQL_STEPS):
                    continue
                if step.where != read.where:
                    undo.append((step, "where", step.where))
                    step.where = read.where
                if isinstance(step, m.UpdateStep) and step.assignments != read.assignments:
                    if list(step.assignments) != list(read.assignments):
                        return False
                    undo.append((step, "assignments", step.assignments))
                    step.assignments = dict(read.assignments)
        return bool(undo) and entity == loaded

    if adopt():
        return True
    for step, name, value in reversed(undo):
        setattr(step, name, value)
    return False


def assemble(
    sources: list[EntitySource],
    outcomes: list[FunctionOutcome],
    progress: Callable[[str], None] | None = None,
) -> Assembly:
    """Group ``outcomes`` onto the entities of ``sources`` (plus module specs), attach entity
    patterns and repair until every spec validates and round-trips (see the module
    docstring). Mutates the outcomes: ``entity``, ``action_name``, and for repaired actions
    the counts, ``unconverted``, ``confidence`` and ``error``."""
    if progress is not None:
        progress(f"assembling {len(sources)} entities and {len(outcomes)} actions")
    return _Assembler(sources, outcomes).run()


__all__ = [
    "ENTITY_PATTERNS",
    "MODULE_SUFFIX",
    "Assembly",
    "EntitySource",
    "FunctionOutcome",
    "assemble",
    "host_table",
    "module_entity_name",
    "module_schema",
    "resolve_table",
    "source_text",
]
