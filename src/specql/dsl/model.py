"""Typed nodes of the SpecQL dialect.

Every node keeps the position it was loaded from (``pos``), which does not take part in
equality: two nodes are equal when they *mean* the same thing, wherever they came from.
That is what the round trip (``load(dump(x)) == x``, ``reverse(generate(spec)) == spec``)
compares.

The YAML forms (the loader reads them, the dumper writes the first form shown):

Entity::

    entity: Contact            # PascalCase
    schema: crm
    subdomain: contacts        # optional: which registry subdomain the entity files go to
    description: ...
    fields:
      email: email!                          # shorthand: type, '!' = NOT NULL
      status: enum(lead, qualified) = lead   # default after ' = ' (a SQL literal/expression)
      score: { type: integer, nullable: true, default: "0", description: lead score }
    indexes:                   # optional: beyond the index every ref gets anyway
      - fields: [last_name, first_name]
      - expression: lower(email)               # a functional index
        unique: true
        name: contact_email_ci                 # optional; default idx_tb_<entity>_<...>
    patterns: [audit_trail, { pattern: state_machine, params: {...} }]
    actions: [...]

Action::

    - name: qualify_lead
      description: ...
      params: { reason: text!, note: text }    # same shorthand as fields
      steps: [...]

Steps (expressions are SQL over bare field names of the action's entity, ``$param``s and
variables; entity names in queries stand for their tables)::

    - validate: status = 'lead'        # must hold, else the action fails with `error`
      error: not_a_lead
      message: Only leads can be qualified      # optional
    - if: score > 10
      then: [steps]
      else: [steps]                              # optional
    - insert: Note
      values: { contact: $id, body: $reason }
      as: new_note                               # optional variable that receives the new id
    - update: Contact SET status = 'qualified', score = score + 1 WHERE ...  # WHERE optional:
                                                 # without it, the action's own instance ($id)
    - delete: Contact [WHERE ...]                # soft (deleted_at) unless `hard: true`
      hard: true
    - find: Company WHERE name = $company_name  # one row of an entity into a record variable
      into: company
      error: company_not_found                   # optional: fail when no row
    - query: SELECT count(*) FROM Note WHERE contact = $id
      into: note_count
    - declare:                       # block form: a comma inside numeric(12,2) would
        total: numeric(12,2) = 0     # split a YAML flow mapping
        seen: boolean
    - assign: total = total + 1
    - call: fn_send_mail(to => $email)
      store: mail_status                         # optional
    - notify: { channel: contact_qualified, payload: { id: $id } }
    - reject: already_archived                   # fail unconditionally with this error
      message: ...                               # optional
    - foreach: line
      in: SELECT quantity, price FROM OrderLine WHERE order_ref = $id
      do: [steps]
    - return: total
    - raw_sql: SELECT pg_advisory_xact_lock(42)
      reason: advisory locks have no SpecQL form
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from specql.errors import SourcePos

# Position that never takes part in equality or repr.
POS = field(default_factory=SourcePos, compare=False, repr=False)


# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A field/param/variable type.

    kind is one of: ``basic`` (text, integer, numeric, ...), ``rich`` (email, money, ...),
    ``enum``, ``ref``, ``list``.

    - basic/rich: ``name`` is the type name; ``args`` holds numbers like (12, 2) for numeric.
    - enum: ``name == "enum"``, ``values`` holds the labels in order.
    - ref: ``name == "ref"``, ``target`` the entity name, ``target_schema`` its schema if given.
    - list: ``name == "list"``, ``item`` the element type.
    """

    kind: str
    name: str
    args: tuple[int, ...] = ()
    values: tuple[str, ...] = ()
    target: str | None = None
    target_schema: str | None = None
    item: TypeRef | None = None

    def __str__(self) -> str:
        if self.kind == "enum":
            return f"enum({', '.join(self.values)})"
        if self.kind == "ref":
            qual = f"{self.target_schema}." if self.target_schema else ""
            return f"ref({qual}{self.target})"
        if self.kind == "list":
            return f"list({self.item})"
        if self.args:
            return f"{self.name}({','.join(str(a) for a in self.args)})"
        return self.name


@dataclass(slots=True)
class Field:
    name: str
    type: TypeRef
    nullable: bool = True
    default: str | None = None  # SQL literal or expression text, as written
    description: str | None = None
    pos: SourcePos = POS


# --------------------------------------------------------------------------- steps


@dataclass(slots=True)
class Step:
    """Base of all steps. ``kind`` is the YAML key that introduces the step."""

    pos: SourcePos = POS

    kind = "step"


@dataclass(slots=True)
class ValidateStep(Step):
    condition: str = ""
    error: str = ""
    message: str | None = None
    kind = "validate"


@dataclass(slots=True)
class IfStep(Step):
    condition: str = ""
    then: list[Step] = field(default_factory=list)
    else_: list[Step] = field(default_factory=list)
    kind = "if"


@dataclass(slots=True)
class InsertStep(Step):
    entity: str = ""
    values: dict[str, str] = field(default_factory=dict)  # field name -> expression, ordered
    as_: str | None = None
    kind = "insert"


@dataclass(slots=True)
class UpdateStep(Step):
    entity: str = ""
    assignments: dict[str, str] = field(default_factory=dict)  # field -> expression, ordered
    where: str | None = None  # None: the action's own instance
    kind = "update"


@dataclass(slots=True)
class DeleteStep(Step):
    entity: str = ""
    where: str | None = None  # None: the action's own instance
    hard: bool = False
    kind = "delete"


@dataclass(slots=True)
class FindStep(Step):
    entity: str = ""
    where: str = ""
    into: str = ""
    error: str | None = None  # fail with this error when no row is found
    kind = "find"


@dataclass(slots=True)
class QueryStep(Step):
    sql: str = ""  # a SELECT over entity names
    into: str = ""
    kind = "query"


@dataclass(slots=True)
class Variable:
    name: str
    type: TypeRef
    default: str | None = None
    pos: SourcePos = POS


@dataclass(slots=True)
class DeclareStep(Step):
    variables: list[Variable] = field(default_factory=list)
    kind = "declare"


@dataclass(slots=True)
class AssignStep(Step):
    target: str = ""
    expression: str = ""
    kind = "assign"


@dataclass(slots=True)
class CallStep(Step):
    call: str = ""  # function call expression text, e.g. fn_send_mail(to => $email)
    store: str | None = None
    kind = "call"


@dataclass(slots=True)
class NotifyStep(Step):
    channel: str = ""
    payload: dict[str, str] = field(default_factory=dict)  # key -> expression, ordered
    kind = "notify"


@dataclass(slots=True)
class RejectStep(Step):
    error: str = ""
    message: str | None = None
    kind = "reject"


@dataclass(slots=True)
class ForeachStep(Step):
    variable: str = ""
    query: str = ""
    body: list[Step] = field(default_factory=list)
    kind = "foreach"


@dataclass(slots=True)
class ReturnStep(Step):
    expression: str | None = None
    kind = "return"


@dataclass(slots=True)
class RawSqlStep(Step):
    sql: str = ""
    reason: str = ""
    kind = "raw_sql"


STEP_TYPES: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        ValidateStep,
        IfStep,
        InsertStep,
        UpdateStep,
        DeleteStep,
        FindStep,
        QueryStep,
        DeclareStep,
        AssignStep,
        CallStep,
        NotifyStep,
        RejectStep,
        ForeachStep,
        ReturnStep,
        RawSqlStep,
    )
}


def child_blocks(step: Step) -> list[list[Step]]:
    """The nested step lists of a step (if/then/else, foreach body), for walkers."""
    if isinstance(step, IfStep):
        return [step.then, step.else_]
    if isinstance(step, ForeachStep):
        return [step.body]
    return []


def walk_steps(steps: list[Step]):
    """Every step, depth first, nested ones included."""
    for step in steps:
        yield step
        for block in child_blocks(step):
            yield from walk_steps(block)


def replace_steps(steps: list[Step], replace: Callable[[Step], Step]) -> list[Step]:
    """``steps`` with every step, nested ones included, put through ``replace``, depth first.
    A step that ``replace`` returns as it is keeps its nested lists, replaced the same way (set
    on the step); a new step is taken as it is."""
    out: list[Step] = []
    for step in steps:
        new = replace(step)
        if new is step:
            if isinstance(step, IfStep):
                step.then = replace_steps(step.then, replace)
                step.else_ = replace_steps(step.else_, replace)
            elif isinstance(step, ForeachStep):
                step.body = replace_steps(step.body, replace)
        out.append(new)
    return out


# --------------------------------------------------------------------------- entity


@dataclass(slots=True)
class Param:
    name: str
    type: TypeRef
    nullable: bool = True
    default: str | None = None
    description: str | None = None
    pos: SourcePos = POS


@dataclass(slots=True)
class Action:
    name: str
    params: list[Param] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    description: str | None = None
    pos: SourcePos = POS


@dataclass(slots=True)
class PatternUse:
    name: str
    params: dict = field(default_factory=dict)
    pos: SourcePos = POS


@dataclass(slots=True)
class Index:
    """An index on field names (in order) or on one SQL expression over field names."""

    fields: list[str] = field(default_factory=list)
    expression: str | None = None
    unique: bool = False
    name: str | None = None
    pos: SourcePos = POS


@dataclass(slots=True)
class Extension:
    """Code for one target that a domain pattern attaches to an entity when the library expands
    ``patterns:`` (e.g. audit_trail's history trigger). Not part of the YAML dialect: specs
    name the pattern, the library renders its code, the target's generator places it."""

    target: str  # a generator name: postgres, django, sqlalchemy
    name: str  # file-name-safe, unique per entity and target, e.g. audit_trail_trigger
    content: str
    pattern: str = ""  # the domain pattern it came from


@dataclass(slots=True)
class Entity:
    name: str
    schema: str
    description: str | None = None
    subdomain: str | None = None
    fields: list[Field] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    patterns: list[PatternUse] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    pos: SourcePos = POS
    # Filled by pattern expansion, never loaded or dumped, so not part of a spec's meaning.
    extensions: list[Extension] = field(default_factory=list, compare=False, repr=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# Names the framework owns on every table: a spec may not declare them as fields.
RESERVED_FIELD_NAMES = frozenset(
    {"pk", "id", "identifier", "tenant_id", "created_at", "updated_at", "deleted_at"}
)
