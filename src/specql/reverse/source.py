"""What the parse stage extracts from legacy SQL: the data passed between reverse stages.

Stages (each a pure function of its inputs, in this order):

    parse      SQL text -> SqlModule (tables, functions, triggers, statement errors)
    entities   TableInfo -> Entity (fields, refs, enums)
    steps      FunctionInfo -> MappedFunction (an Action, with what was not converted and why)
    heuristics FunctionInfo + MappedFunction -> pattern findings with evidence
    confidence measured facts -> a score in [0, 1]
    assemble   everything -> one spec per entity + a report

``parse`` is the only module of this package that imports pglast; later stages work on the
plain data below (the PL/pgSQL body AST is kept as pglast's JSON-like dict).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specql.errors import SourcePos, SpecqlError


@dataclass(slots=True)
class ColumnInfo:
    name: str
    sql_type: str  # normalised type text as PostgreSQL would print it: numeric(12,2), text, uuid
    not_null: bool = False
    default: str | None = None  # SQL text of the default
    primary_key: bool = False
    unique: bool = False
    references: tuple[str | None, str, str | None] | None = None  # (schema, table, column)
    check_values: tuple[str, ...] | None = None  # from CHECK (col IN ('a', 'b'))
    is_identity: bool = False
    # Structured single-column CHECKs (what the generator emits for rich scalars):
    check_regex: str | None = None  # CHECK (col ~ '<regex>')
    check_min: int | float | None = None  # CHECK (col >= n) / BETWEEN n AND ...
    check_max: int | float | None = None  # CHECK (col <= n) / BETWEEN ... AND n
    generated: str | None = None  # GENERATED ALWAYS AS (<expr>) STORED
    comment: str | None = None  # COMMENT ON COLUMN


@dataclass(slots=True)
class TableInfo:
    schema: str | None
    name: str
    columns: list[ColumnInfo] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # table CHECKs not turned into enums
    comment: str | None = None
    pos: SourcePos = field(default_factory=SourcePos)
    primary_key: tuple[str, ...] = ()  # column names, in key order
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)  # every UNIQUE constraint
    foreign_keys: list[ForeignKeyInfo] = field(default_factory=list)  # every FK, multi-column too
    indexes: list[IndexInfo] = field(default_factory=list)  # CREATE INDEX on the table, in order
    notes: list[str] = field(default_factory=list)  # what parse saw but did not model (LIKE...)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(slots=True)
class ForeignKeyInfo:
    columns: tuple[str, ...]
    ref_schema: str | None
    ref_table: str
    ref_columns: tuple[str, ...] = ()  # empty: the referenced table's primary key
    name: str | None = None


@dataclass(slots=True)
class IndexInfo:
    """A ``CREATE [UNIQUE] INDEX`` on a table: plain key columns, or one key expression."""

    name: str | None  # None: CREATE INDEX without a name
    columns: tuple[str, ...] = ()  # the key columns, in order (no expression)
    expression: str | None = None  # the one key expression (SQL over the table's columns)
    unique: bool = False
    # What the dialect cannot say about it (a partial index, USING gin, INCLUDE, DESC...): the
    # index is then reported, not converted. None: it has a SpecQL form.
    unsupported: str | None = None
    pos: SourcePos = field(default_factory=SourcePos)


@dataclass(slots=True)
class TypeInfo:
    """A user-defined type: CREATE TYPE ... AS ENUM, CREATE DOMAIN, CREATE TYPE ... AS (...)."""

    schema: str | None
    name: str
    kind: str  # enum | domain | composite
    values: tuple[str, ...] = ()  # enum labels, in order
    # domain: its base type, NOT NULL, DEFAULT and CHECKs as on a column (name = the domain's)
    base: ColumnInfo | None = None
    attributes: list[ColumnInfo] = field(default_factory=list)  # composite
    checks: list[str] = field(default_factory=list)  # domain CHECKs not read into ``base``
    comment: str | None = None
    pos: SourcePos = field(default_factory=SourcePos)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(slots=True)
class PendingStatement:
    """An ALTER TABLE / COMMENT ON whose object the same source does not define.

    ``parse.link_modules`` applies it once every file of a run is parsed (pg_dump-style trees
    keep constraints and comments in other files than the CREATE TABLE).
    """

    sql: str
    pos: SourcePos
    default_schema: str | None = None  # first schema of the search_path in effect


@dataclass(slots=True)
class ArgInfo:
    name: str | None  # unnamed args are referred to as $1, $2...
    sql_type: str
    mode: str = "in"  # in | out | inout | variadic | table
    default: str | None = None


@dataclass(slots=True)
class TriggerInfo:
    name: str
    table: str  # qualified when the SQL qualified it
    timing: str  # before | after | instead of
    events: tuple[str, ...]  # insert, update, delete, truncate
    for_each: str  # row | statement
    function: str  # qualified function name the trigger executes
    pos: SourcePos = field(default_factory=SourcePos)


# The variables PL/pgSQL declares by itself in a trigger function (TG_OP, TG_WHEN...; lower
# case, as the body AST names them): not arguments, not variables a spec declares.
TRIGGER_VARIABLES = frozenset(
    {
        "tg_name",
        "tg_when",
        "tg_level",
        "tg_op",
        "tg_relid",
        "tg_relname",
        "tg_table_name",
        "tg_table_schema",
        "tg_nargs",
        "tg_argv",
        "tg_event",
        "tg_tag",
    }
)


@dataclass(slots=True)
class FunctionInfo:
    schema: str | None
    name: str
    args: list[ArgInfo] = field(default_factory=list)
    returns: str | None = None  # 'trigger', 'void', 'integer', 'SETOF x', 'TABLE(...)'
    language: str = "plpgsql"
    body: str = ""  # the function body text (between the dollar quotes)
    source: str = ""  # the whole CREATE FUNCTION statement text
    pos: SourcePos = field(default_factory=SourcePos)  # of the CREATE FUNCTION
    body_line: int = 0  # line (in the file) where the body starts; body AST lineno 1 = this line
    # pglast.parse_plpgsql output for this function (the PLpgSQL_function dict), None if unparsed.
    plpgsql: dict | None = None
    # 'ast': parsed as written; 'rewritten': parsed after the fallback rewrote it;
    # 'raw': could not be parsed, statements kept as raw SQL (always 'raw' for languages other
    # than plpgsql: sql bodies are split into their statements, C bodies have none).
    parse_path: str = "ast"
    parse_error: str | None = None
    rewrites: list[str] = field(default_factory=list)  # what the fallback rewrote, for the report
    raw_statements: list[tuple[str, SourcePos]] = field(default_factory=list)  # when 'raw'
    triggers: list[TriggerInfo] = field(default_factory=list)  # triggers executing this function
    comment: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def is_trigger(self) -> bool:
        return (self.returns or "").lower() == "trigger"

    @property
    def is_plpgsql(self) -> bool:
        """PL/pgSQL (a function or a DO block): the only language with a body AST."""
        return self.language == "plpgsql"


@dataclass(slots=True)
class SqlModule:
    """Everything found in one SQL source (a file, or a live database's catalogue)."""

    source: str  # file path or DSN (without password)
    tables: list[TableInfo] = field(default_factory=list)
    functions: list[FunctionInfo] = field(default_factory=list)
    triggers: list[TriggerInfo] = field(default_factory=list)
    errors: list[SpecqlError] = field(default_factory=list)  # statements that did not parse
    statements: int = 0
    skipped: list[tuple[SourcePos, str]] = field(default_factory=list)  # (where, why) ignored
    types: list[TypeInfo] = field(default_factory=list)  # enums, domains, composite types
    pending: list[PendingStatement] = field(default_factory=list)  # see PendingStatement


@dataclass(slots=True)
class Unconverted:
    """A statement that became a raw_sql step (or was otherwise not converted), and why."""

    pos: SourcePos
    sql: str
    reason: str


@dataclass(slots=True)
class PatternFinding:
    pattern: str  # one of the 13 labels
    score: float  # 0..1
    evidence: list[str] = field(default_factory=list)  # human-readable facts from the AST


@dataclass(slots=True)
class MappedFunction:
    """The result of the steps stage for one function."""

    function: FunctionInfo
    action: object  # specql.dsl.model.Action
    entity_hint: str | None = None  # the table it writes most (qualified), for grouping
    statements_total: int = 0
    statements_converted: int = 0  # became non-raw steps
    unconverted: list[Unconverted] = field(default_factory=list)
    variable_purposes: dict[str, str] = field(default_factory=dict)  # name -> total|count|flag|...
    tables_written: dict[str, int] = field(default_factory=dict)  # qualified table -> writes
    tables_read: dict[str, int] = field(default_factory=dict)
