"""PatternLibrary: the three tiers behind one API, stored in the SQLite library file.

    >>> from specql.patterns import PatternLibrary
    >>> with PatternLibrary.open() as lib:                 # $SPECQL_HOME/library.db, seeded
    ...     sm = lib.instantiate_domain_pattern(
    ...         "state_machine", "Ticket", {"states": ["open", "closed"],
    ...         "transitions": {"open": ["closed"]}}, schema="catalog")
    ...     lib.compile_pattern("exists_check", "django", {...})

Every change is one write transaction (``BEGIN IMMEDIATE``) that also appends the entry's
new version to ``pattern_versions`` and refreshes its full-text row, so concurrent writers
queue instead of losing changes, and history is complete. Definitions are checked
(:mod:`specql.patterns.definitions`) before anything is written; a failed check writes
nothing.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from specql.dsl.model import Entity, PatternUse
from specql.errors import SpecqlError
from specql.patterns.definitions import (
    KINDS,
    LANGUAGES,
    SOURCES,
    TIER_DOMAIN,
    TIER_PRIMITIVE,
    TIER_TEMPLATE,
    DomainPattern,
    EntityTemplate,
    Entry,
    Implementation,
    Lifecycle,
    Primitive,
)
from specql.patterns.documents import (
    DOCUMENT_FORMAT,
    chunks_hash,
    document_chunks,
    languages,
)
from specql.patterns.expand import (
    Expansion,
    entity_context,
    expand_entities,
    expand_entity,
    load_dialect,
)
from specql.patterns.params import validate_params
from specql.patterns.render import render_template, render_tree
from specql.store import fts_query, library_path, open_db, write

TABLES = {
    TIER_PRIMITIVE: "patterns",
    TIER_DOMAIN: "domain_patterns",
    TIER_TEMPLATE: "entity_templates",
}
TIER_NAMES = {TIER_PRIMITIVE: "primitive", TIER_DOMAIN: "domain", TIER_TEMPLATE: "template"}
KIND_NAMES = {
    TIER_PRIMITIVE: "primitive",
    TIER_DOMAIN: "domain pattern",
    TIER_TEMPLATE: "entity template",
}


@dataclass(frozen=True, slots=True)
class Summary:
    """One line of a listing or a search result."""

    tier: int
    name: str
    category: str
    description: str
    source: str
    version: int
    deprecated: bool
    score: float = 0.0

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "tier": self.tier,
            "kind": TIER_NAMES[self.tier],
            "category": self.category,
            "description": self.description,
            "source": self.source,
            "version": self.version,
            "deprecated": self.deprecated,
            **({"score": round(self.score, 4)} if self.score else {}),
        }


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    source: str
    note: str
    created_at: str
    definition: dict


class PatternLibrary:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str | Path | None = None, *, seed: bool = True) -> PatternLibrary:
        """The library at ``path`` (default ``$SPECQL_HOME/library.db``), created and seeded
        from the package's seed files when new; seed entries the package updated since are
        brought up to date unless a user changed them."""
        where = library_path(path)
        lib = cls(open_db(where), where)
        lib._ensure_languages()
        lib._ensure_documents()
        if seed:
            from specql.patterns.seed import ensure_seeded

            ensure_seeded(lib)
        return lib

    def _ensure_languages(self) -> None:
        """The languages templates are written in: reference data every library needs."""
        have = self.conn.execute("SELECT count(*) FROM languages").fetchone()[0]
        if have < len(LANGUAGES):
            with self.transaction():
                self.conn.executemany(
                    "INSERT OR REPLACE INTO languages (name, display_name, kind, file_extension) "
                    "VALUES (?, ?, ?, ?)",
                    [(name, *info) for name, info in LANGUAGES.items()],
                )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PatternLibrary:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested uses join the outer one."""
        if self.conn.in_transaction:
            yield self.conn
        else:
            with write(self.conn):
                yield self.conn

    def add_pattern(
        self, definition: Mapping, *, source: str = "manual", note: str = ""
    ) -> Primitive:
        """Add a Tier-1 primitive (definition as in a seed file)."""
        return self.store_new(self._checked(definition, Primitive), source=source, note=note)

    def add_domain_pattern(
        self, definition: Mapping, *, source: str = "manual", note: str = ""
    ) -> DomainPattern:
        """Add a Tier-2 domain pattern; what it requires or conflicts with must exist."""
        return self.store_new(self._checked(definition, DomainPattern), source=source, note=note)

    def add_entity_template(
        self, definition: Mapping, *, source: str = "manual", note: str = ""
    ) -> EntityTemplate:
        """Add a Tier-3 entity template; its dependencies must exist."""
        return self.store_new(self._checked(definition, EntityTemplate), source=source, note=note)

    def update(
        self, definition: Mapping, *, tier: int, source: str = "manual", note: str = ""
    ) -> Entry:
        """Replace an entry's definition: a new version, the old one kept in the history
        (a deprecated entry updated is current again)."""
        return self.store_update(self._checked(definition, KINDS[tier]), source=source, note=note)

    def store_new(self, entry: Entry, *, source: str, note: str) -> Entry:
        """Write an entry as version 1. What it names was checked before: by
        ``check_definition`` on the add path, by the seed after adding all of its entries
        (mutual conflicts name each other). Entries are never deleted, so it stays true."""
        entry.life = Lifecycle(source=_source(source), version=1)
        with self.transaction():
            if self._row(entry.tier, entry.name) is not None:
                raise SpecqlError(
                    f"{KIND_NAMES[entry.tier]} {entry.name!r} is already in the library "
                    "(update it to make a new version)"
                )
            self._store(entry, row_id=None)
            self._record_version(entry, note or "added")
        return entry

    def store_update(self, entry: Entry, *, source: str, note: str) -> Entry:
        """Write an entry as its next version (references checked before, as for store_new)."""
        with self.transaction():
            current = self._row(entry.tier, entry.name)
            if current is None:
                raise SpecqlError(f"no {KIND_NAMES[entry.tier]} named {entry.name!r} to update")
            entry.life = Lifecycle(source=_source(source), version=current["version"] + 1)
            self._store(entry, row_id=current["id"])
            self._record_version(entry, note or "updated")
        return entry

    def deprecate(self, name: str, *, replaced_by: str | None = None, reason: str = "") -> Entry:
        """Mark an entry deprecated (kept, still usable by existing specs with a warning,
        left out of listings and searches), optionally naming its replacement."""
        entry = self.get_pattern(name)
        if replaced_by is not None:
            replacement = self.get_pattern(replaced_by, tier=entry.tier)
            if replacement.life.deprecated or replacement.name == entry.name:
                raise SpecqlError(f"{replaced_by} cannot replace {name}: it is deprecated itself")
        with self.transaction():
            version = self._row(entry.tier, entry.name)["version"] + 1
            self.conn.execute(
                f"UPDATE {TABLES[entry.tier]} SET "
                "deprecated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), replaced_by = ?, "
                "deprecation_reason = ?, version = ?, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE name = ?",
                (replaced_by, reason, version, entry.name),
            )
            entry.life.version = version
            self._record_version(entry, f"deprecated{': ' + reason if reason else ''}")
            self.conn.execute(
                "UPDATE pattern_documents SET deprecated = 1 WHERE tier = ? AND name = ?",
                (entry.tier, entry.name),
            )
            self.conn.execute("UPDATE library_generation SET generation = generation + 1")
        return self.get_pattern(name, tier=entry.tier)

    def check_references(self, entry: Entry) -> None:
        """What a domain pattern requires or conflicts with, and what a template depends on,
        must be in the library."""
        if isinstance(entry, DomainPattern):
            named, tier, what = [*entry.requires, *entry.conflicts], TIER_DOMAIN, "domain pattern"
        elif isinstance(entry, EntityTemplate):
            named, tier, what = entry.depends_on, TIER_TEMPLATE, "entity template"
        else:
            return
        for name in named:
            if self._row(tier, name) is None:
                raise SpecqlError(
                    f"{KIND_NAMES[entry.tier]} {entry.name}: it names {name!r}, which is not "
                    f"a {what} of the library"
                )

    def latest_version(self, tier: int, name: str) -> Version | None:
        row = self.conn.execute(
            "SELECT version, source, note, created_at, body FROM pattern_versions "
            "WHERE tier = ? AND name = ? ORDER BY version DESC LIMIT 1",
            (tier, name),
        ).fetchone()
        return None if row is None else _version(row)

    def _store(self, entry: Entry, row_id: int | None) -> None:
        """Insert (row_id None) or overwrite the entry's row and its child rows."""
        c = self.conn
        life = entry.life
        common = (entry.description, life.source, life.version)
        if isinstance(entry, Primitive):
            cols = ("name", "category", "parameters", "examples")
            vals = (entry.name, entry.category, _json(entry.parameters), _json(entry.examples))
        elif isinstance(entry, DomainPattern):
            cols = (
                "name",
                "category",
                "parameters",
                "implementation",
                "requires",
                "conflicts",
                "tests",
            )
            vals = (
                entry.name,
                entry.category,
                _json(entry.parameters),
                _json(entry.implementation),
                _json(entry.requires),
                _json(entry.conflicts),
                _json(entry.tests),
            )
        else:
            cols = ("name", "namespace", "template_name", "entity", "config", "body")
            vals = (
                entry.name,
                entry.namespace,
                entry.template_name,
                entry.entity,
                _json(entry.config),
                _json(entry.body),
            )
        cols = (*cols, "description", "source", "version")
        vals = (*vals, *common)
        table = TABLES[entry.tier]
        if row_id is None:
            marks = ", ".join("?" * len(cols))
            row_id = c.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", vals
            ).lastrowid
        else:
            sets = ", ".join(f"{col} = ?" for col in cols)
            c.execute(
                f"UPDATE {table} SET {sets}, deprecated_at = NULL, replaced_by = NULL, "
                "deprecation_reason = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                "WHERE id = ?",
                (*vals, row_id),
            )
        if isinstance(entry, Primitive):
            c.execute("DELETE FROM pattern_implementations WHERE pattern_id = ?", (row_id,))
            c.executemany(
                "INSERT INTO pattern_implementations (pattern_id, language, fragment, template) "
                "VALUES (?, ?, ?, ?)",
                [
                    (row_id, lang, i.fragment, i.template)
                    for lang, i in entry.implementations.items()
                ],
            )
        elif isinstance(entry, EntityTemplate):
            c.execute("DELETE FROM entity_template_dependencies WHERE template_id = ?", (row_id,))
            c.executemany(
                "INSERT INTO entity_template_dependencies (template_id, depends_on) VALUES (?, ?)",
                [(row_id, dep) for dep in entry.depends_on],
            )
        self._write_document(entry)

    def _write_document(self, entry: Entry) -> None:
        """The entry's search document: its full-text row and its retrieval chunks (which the
        retrieval layer embeds), and a new generation so in-memory indexes refresh."""
        c = self.conn
        chunks = document_chunks(entry)
        c.execute(
            "DELETE FROM patterns_fts WHERE tier = ? AND name = ?", (str(entry.tier), entry.name)
        )
        c.execute(
            "INSERT INTO patterns_fts (tier, name, category, description, body_text) "
            "VALUES (?, ?, ?, ?, ?)",
            (str(entry.tier), entry.name, entry.category, entry.description, " ".join(chunks)),
        )
        c.execute(
            "INSERT OR REPLACE INTO pattern_documents "
            "(tier, name, category, languages, chunks, content_hash, deprecated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry.tier,
                entry.name,
                entry.category,
                " ".join(languages(entry)),
                _json(chunks),
                chunks_hash(chunks),
                int(entry.life.deprecated),
            ),
        )
        c.execute("UPDATE library_generation SET generation = generation + 1")

    def _ensure_documents(self) -> None:
        """Write every entry's document when the file has none yet (a library from before
        schema 3) or they were made by another document format."""

        def current() -> bool:
            row = self.conn.execute(
                "SELECT value FROM meta WHERE key = 'document_format'"
            ).fetchone()
            return row is not None and row[0] == DOCUMENT_FORMAT

        if current():
            return
        with self.transaction():
            if current():  # another process wrote them while this one waited for the lock
                return
            for tier, table in TABLES.items():
                for r in self.conn.execute(f"SELECT * FROM {table}").fetchall():
                    self._write_document(self._entry(tier, r))
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('document_format', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (DOCUMENT_FORMAT,),
            )

    def _record_version(self, entry: Entry, note: str) -> None:
        self.conn.execute(
            "INSERT INTO pattern_versions (tier, name, version, body, source, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                entry.tier,
                entry.name,
                entry.life.version,
                _json(entry.to_definition()),
                entry.life.source,
                note,
            ),
        )

    # ------------------------------------------------------------------ reading

    def _row(self, tier: int, name: str) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT * FROM {TABLES[tier]} WHERE name = ?", (name,)).fetchone()

    def get_pattern(self, name: str, *, tier: int | None = None) -> Entry:
        """The entry called ``name``: ``namespace.template`` names an entity template; other
        names a domain pattern, else a primitive (``tier`` to ask one tier only). Unknown
        names are a SpecqlError that suggests close names."""
        tiers = (
            [tier] if tier else ([TIER_TEMPLATE] if "." in name else [TIER_DOMAIN, TIER_PRIMITIVE])
        )
        for t in tiers:
            row = self._row(t, name)
            if row is not None:
                return self._entry(t, row)
        known = [s.name for t in tiers for s in self.list_patterns(tier=t, include_deprecated=True)]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `specql patterns list`"
        what = KIND_NAMES[tier] if tier else ("entity template" if "." in name else "pattern")
        raise SpecqlError(f"unknown {what} {name!r}{hint}")

    def _entry(self, tier: int, row: sqlite3.Row) -> Entry:
        life = Lifecycle(
            source=row["source"],
            version=row["version"],
            deprecated_at=row["deprecated_at"],
            replaced_by=row["replaced_by"],
            deprecation_reason=row["deprecation_reason"],
        )
        if tier == TIER_PRIMITIVE:
            impls = {
                r["language"]: Implementation(r["fragment"], r["template"])
                for r in self.conn.execute(
                    "SELECT language, fragment, template FROM pattern_implementations "
                    "WHERE pattern_id = ? ORDER BY language",
                    (row["id"],),
                )
            }
            return Primitive(
                name=row["name"],
                category=row["category"],
                description=row["description"],
                parameters=json.loads(row["parameters"]),
                implementations=impls,
                examples=json.loads(row["examples"]),
                life=life,
            )
        if tier == TIER_DOMAIN:
            return DomainPattern(
                name=row["name"],
                category=row["category"],
                description=row["description"],
                parameters=json.loads(row["parameters"]),
                implementation=json.loads(row["implementation"]),
                requires=json.loads(row["requires"]),
                conflicts=json.loads(row["conflicts"]),
                tests=json.loads(row["tests"]),
                times_instantiated=row["times_instantiated"],
                popularity=row["popularity"],
                life=life,
            )
        deps = [
            r[0]
            for r in self.conn.execute(
                "SELECT depends_on FROM entity_template_dependencies WHERE template_id = ? "
                "ORDER BY depends_on",
                (row["id"],),
            )
        ]
        return EntityTemplate(
            namespace=row["namespace"],
            template_name=row["template_name"],
            description=row["description"],
            entity=row["entity"],
            body=json.loads(row["body"]),
            config=json.loads(row["config"]),
            depends_on=deps,
            times_instantiated=row["times_instantiated"],
            life=life,
        )

    def list_patterns(
        self,
        *,
        tier: int | None = None,
        category: str | None = None,
        include_deprecated: bool = False,
    ) -> list[Summary]:
        """Entries by tier, then category, then name."""
        return self.search_patterns(
            category=category, tier=tier, include_deprecated=include_deprecated, limit=None
        )

    def search_patterns(
        self,
        category: str | None = None,
        language: str | None = None,
        text: str | None = None,
        *,
        tier: int | None = None,
        include_deprecated: bool = False,
        limit: int | None = 50,
    ) -> list[Summary]:
        """Entries matching every filter given: ``category`` (a template's namespace counts
        as its category), ``language`` (primitives with a template in it; domain patterns and
        entity templates compile to every language), ``text`` (full-text words over name,
        category, description and body, best first by BM25). Deprecated entries are left out
        unless asked for."""
        # With text, the full-text hits are found first (once) and each tier's rows are then
        # reached through its unique name index, rather than joining every row to the index.
        args: list = [fts_query(text)] if text is not None else []
        parts = []
        for t in (tier,) if tier else TABLES:
            table = TABLES[t]
            category_col = "namespace" if t == TIER_TEMPLATE else "category"
            where = [f"hits.tier = '{t}'"] if text is not None else []
            if category:
                where.append(f"{category_col} = ?")
                args.append(category)
            if not include_deprecated:
                where.append("deprecated_at IS NULL")
            if language and t == TIER_PRIMITIVE:
                where.append(
                    "EXISTS (SELECT 1 FROM pattern_implementations i "
                    f"WHERE i.pattern_id = {table}.id AND i.language = ?)"
                )
                args.append(language)
            source = f"hits JOIN {table} ON {table}.name = hits.name" if text else table
            parts.append(
                f"SELECT {t} AS tier, {table}.name AS name, {category_col} AS category, "
                f"description, source, version, deprecated_at, "
                f"{'hits.score' if text is not None else '0.0'} AS score FROM {source}"
                + (f" WHERE {' AND '.join(where)}" if where else "")
            )
        union = " UNION ALL ".join(parts)
        if text is not None:
            sql = (
                "WITH hits AS MATERIALIZED (SELECT tier, name, -bm25(patterns_fts) AS score "
                "FROM patterns_fts WHERE patterns_fts MATCH ?) "
                f"SELECT * FROM ({union}) ORDER BY score DESC, tier, name"
            )
        else:
            sql = f"SELECT * FROM ({union}) ORDER BY tier, category, name"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            Summary(
                tier=r["tier"],
                name=r["name"],
                category=r["category"],
                description=r["description"],
                source=r["source"],
                version=r["version"],
                deprecated=r["deprecated_at"] is not None,
                score=r["score"],
            )
            for r in self.conn.execute(sql, args)
        ]

    def versions(self, name: str, *, tier: int | None = None) -> list[Version]:
        """Every version of an entry, oldest first."""
        entry = self.get_pattern(name, tier=tier)
        return [
            _version(r)
            for r in self.conn.execute(
                "SELECT version, source, note, created_at, body FROM pattern_versions "
                "WHERE tier = ? AND name = ? ORDER BY version",
                (entry.tier, entry.name),
            )
        ]

    # ------------------------------------------------------------------ using

    def compile_pattern(self, pattern: str, language: str, context: Mapping | None = None) -> str:
        """A Tier-1 primitive's template for ``language`` rendered with ``context`` (checked
        against the primitive's parameters, defaults applied)."""
        entry = self.get_pattern(pattern, tier=TIER_PRIMITIVE)
        if language not in entry.implementations:
            have = ", ".join(sorted(entry.implementations))
            raise SpecqlError(f"primitive {pattern} has no {language!r} template (it has: {have})")
        what = f"primitive {pattern}"
        params = validate_params(entry.parameters, dict(context or {}), what=what)
        return render_template(
            entry.implementations[language].template, params, what=f"{what}, {language} template"
        )

    def _checked(self, definition: Mapping, kind: type) -> Entry:
        if definition_tier(definition) != kind.tier:
            raise SpecqlError(
                f"expected a {KIND_NAMES[kind.tier]} definition, got a "
                f"{KIND_NAMES[definition_tier(definition)]} one"
            )
        return self.check_definition(definition)

    def check_definition(self, definition: Mapping) -> Entry:
        """A definition checked as ``add_*`` would, and tried without writing anything: a
        primitive's examples compile in each of its languages, a domain pattern's example
        (``tests.example``) instantiates and expands, an entity template instantiates with its
        default config. Returns the entry; raises SpecqlError on the first problem."""
        entry = KINDS[definition_tier(definition)].from_definition(definition)
        self.check_references(entry)
        if isinstance(entry, Primitive):
            for number, example in enumerate(entry.examples, start=1):
                params = validate_params(
                    entry.parameters,
                    dict(example.get("params") or {}),
                    what=f"primitive {entry.name}, example {number}",
                )
                for language, impl in entry.implementations.items():
                    render_template(
                        impl.template, params, what=f"primitive {entry.name}, {language} template"
                    )
        elif isinstance(entry, DomainPattern):
            example = entry.tests.get("example") or {}
            host = load_dialect(
                example.get("entity", "Probe"),
                example.get("schema", "probe"),
                {"fields": example["fields"]} if example.get("fields") else {},
                f"domain pattern {entry.name}, example",
            )
            host.patterns = [PatternUse(entry.name, dict(example.get("params") or {}))]

            def resolve(name: str) -> DomainPattern:
                return entry if name == entry.name else self.resolve_domain(name)

            expand_entity(host, resolve)
        else:
            probe = self._template_entity(entry, entry.entity, "probe", None, None)
            expand_entity(probe, self.resolve_domain)
        return entry

    def resolve_domain(self, name: str) -> DomainPattern:
        return self.get_pattern(name, tier=TIER_DOMAIN)

    def expand(self, entities: Iterable[Entity]) -> Expansion:
        """What ``specql generate`` does with ``patterns:``: every entity with its domain
        patterns applied, plus the helper entities they create; warnings for deprecated
        patterns. Reads only."""
        return expand_entities(entities, self.resolve_domain)

    def instantiate_domain_pattern(
        self,
        pattern: str,
        entity: Entity | str,
        params: Mapping | None = None,
        *,
        schema: str | None = None,
        record: bool = True,
    ) -> Entity:
        """``entity`` (a node, or a new entity by name in ``schema``) using ``pattern`` with
        ``params`` (validated; defaults written out so the spec says exactly what it gets).
        The result is checked by expanding it; nothing is recorded unless that succeeds."""
        return self.compose_patterns(
            entity,
            [{"pattern": pattern, "params": dict(params or {})}],
            schema=schema,
            record=record,
        )

    def compose_patterns(
        self,
        entity: Entity | str,
        patterns: Iterable[str | Mapping | PatternUse],
        *,
        schema: str | None = None,
        record: bool = True,
    ) -> Entity:
        """``entity`` using every pattern of ``patterns`` (names, ``{pattern, params}``
        mappings or PatternUse nodes), after it: parameters validated with defaults written
        out, requirements and conflicts resolved, the whole composition expanded once to prove
        it merges. Raises on the first problem; records the instantiation only on success."""
        host = _entity_node(entity, schema)
        added = [_use(p) for p in patterns]
        for use in added:
            use.params = validate_params(
                self.resolve_domain(use.name).parameters, use.params, what=f"pattern {use.name}"
            )
        host.patterns = [*host.patterns, *added]
        expand_entity(host, self.resolve_domain)  # raises on any conflict
        if record:
            self.record_uses(host, added)
        return host

    def validate_pattern_composition(
        self, patterns: Iterable[str | Mapping | PatternUse], entity: Entity | None = None
    ) -> list[SpecqlError]:
        """Every problem of using ``patterns`` together (on ``entity``, default an empty
        probe entity): unknown patterns, bad parameters, declared conflicts, clashing
        definitions. ``[]`` when they compose."""
        host = _entity_node(entity or "Probe", None if entity else "probe")
        host.patterns = [*host.patterns, *(_use(p) for p in patterns)]
        try:
            expand_entity(host, self.resolve_domain)
        except SpecqlError as err:
            return list(getattr(err, "errors", None) or [err])
        return []

    def instantiate_entity_template(
        self,
        template: str,
        entity: str | None = None,
        custom_fields: Mapping | None = None,
        config: Mapping | None = None,
        *,
        schema: str,
        record: bool = True,
    ) -> list[Entity]:
        """The template as a spec entity named ``entity`` (default: the template's) in
        ``schema``, with ``custom_fields`` (``name: type`` shorthand, as in a spec) added
        after the template's own, and the entities of its dependencies after it (their
        templates' defaults). Every entity is expanded once to prove it is sound."""
        main = self.get_pattern(template, tier=TIER_TEMPLATE)
        order = self._dependency_order(main)
        out: list[Entity] = []
        for tpl in order:
            is_main = tpl is main
            out.append(
                self._template_entity(
                    tpl,
                    (entity or tpl.entity) if is_main else tpl.entity,
                    schema,
                    custom_fields if is_main else None,
                    config if is_main else None,
                )
            )
        out = [out[-1], *out[:-1]]  # the asked-for template first
        expand_entities(out, self.resolve_domain)  # raises on any problem
        if record:
            self.record_template_use(main.name, out[0].name, schema, config)
        return out

    def record_template_use(
        self, template: str, entity: str, schema: str, config: Mapping | None
    ) -> None:
        """Usage statistics of an entity template (one instantiation row, its count)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO pattern_instantiations (tier, pattern, entity, schema_name, params) "
                "VALUES (?, ?, ?, ?, ?)",
                (TIER_TEMPLATE, template, entity, schema, _json(dict(config or {}))),
            )
            self.conn.execute(
                "UPDATE entity_templates SET times_instantiated = times_instantiated + 1 "
                "WHERE name = ?",
                (template,),
            )

    def _dependency_order(self, main: EntityTemplate) -> list[EntityTemplate]:
        """Dependencies first (depth first), the template itself last; a cycle is an error."""
        order: list[EntityTemplate] = []
        state: dict[str, str] = {}

        def visit(tpl: EntityTemplate, chain: tuple[str, ...]) -> None:
            if state.get(tpl.name) == "done":
                return
            if state.get(tpl.name) == "active":
                raise SpecqlError(
                    f"entity template dependency cycle: {' -> '.join((*chain, tpl.name))}"
                )
            state[tpl.name] = "active"
            for dep in tpl.depends_on:
                visit(self.get_pattern(dep, tier=TIER_TEMPLATE), (*chain, tpl.name))
            state[tpl.name] = "done"
            order.append(tpl)

        visit(main, ())
        return order

    def _template_entity(
        self,
        tpl: EntityTemplate,
        name: str,
        schema: str,
        custom_fields: Mapping | None,
        config: Mapping | None,
    ) -> Entity:
        what = f"entity template {tpl.name}"
        settings = validate_params(tpl.config or {"type": "object"}, dict(config or {}), what=what)
        probe = Entity(name=name, schema=schema)
        context = {"config": settings, "entity": entity_context(probe)}
        body = render_tree(tpl.body, context, what=what)
        fields = dict(body.get("fields") or {})
        for key, value in (custom_fields or {}).items():
            if key in fields:
                raise SpecqlError(
                    f"{what}: custom field {key!r} is already a field of the template"
                )
            fields[key] = value
        body["fields"] = fields
        if not fields:
            body.pop("fields")
        return load_dialect(name, schema, body, what)

    def record_uses(self, host: Entity, added: list[PatternUse]) -> None:
        """Usage statistics: one instantiation row per pattern added, its count and
        popularity, and how often it is used together with the entity's other patterns."""
        everything = [u.name for u in host.patterns]
        with self.transaction():
            for use in added:
                self.conn.execute(
                    "INSERT INTO pattern_instantiations (tier, pattern, entity, schema_name, params) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (TIER_DOMAIN, use.name, host.name, host.schema, _json(use.params)),
                )
                times = self.conn.execute(
                    "UPDATE domain_patterns SET times_instantiated = times_instantiated + 1 "
                    "WHERE name = ? RETURNING times_instantiated",
                    (use.name,),
                ).fetchone()[0]
                self.conn.execute(
                    "UPDATE domain_patterns SET popularity = ? WHERE name = ?",
                    (popularity(times), use.name),
                )
                for other in everything:
                    if other != use.name:
                        a, b = sorted((use.name, other))
                        self.conn.execute(
                            "INSERT INTO pattern_cooccurrence (pattern_a, pattern_b, count) "
                            "VALUES (?, ?, 1) ON CONFLICT (pattern_a, pattern_b) "
                            "DO UPDATE SET count = count + 1",
                            (a, b),
                        )


def definition_tier(definition: Mapping) -> int:
    """Which tier a definition is, from its keys (see docs/pattern-library.md)."""
    if isinstance(definition, Mapping):
        if "implementations" in definition:
            return TIER_PRIMITIVE
        if "implementation" in definition:
            return TIER_DOMAIN
        if "namespace" in definition:
            return TIER_TEMPLATE
    raise SpecqlError(
        "not a library definition: a primitive has 'implementations', a domain pattern "
        "'implementation', an entity template 'namespace'"
    )


def _version(row: sqlite3.Row) -> Version:
    return Version(
        row["version"], row["source"], row["note"], row["created_at"], json.loads(row["body"])
    )


def _use(item: str | Mapping | PatternUse) -> PatternUse:
    if isinstance(item, PatternUse):
        return PatternUse(item.name, dict(item.params), pos=item.pos)
    if isinstance(item, str):
        return PatternUse(item, {})
    if isinstance(item, Mapping) and isinstance(item.get("pattern"), str):
        params = item.get("params") or {}
        if not isinstance(params, Mapping):
            raise SpecqlError(f"pattern {item['pattern']}: params must be a mapping")
        return PatternUse(item["pattern"], dict(params))
    raise SpecqlError(
        f"a pattern use is a name or {{pattern: NAME, params: {{...}}}}, got {item!r:.80}"
    )


def _entity_node(entity: Entity | str, schema: str | None) -> Entity:
    if isinstance(entity, Entity):
        return copy.deepcopy(entity)
    if not schema:
        raise SpecqlError(f"a new entity {entity!r} needs a schema (--schema)")
    return load_dialect(entity, schema, {}, f"entity {entity}")


def _json(value) -> str:
    return json.dumps(value, sort_keys=False, ensure_ascii=False, separators=(",", ":"))


def _source(source: str) -> str:
    if source not in SOURCES:
        raise SpecqlError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    return source


def popularity(times: int) -> float:
    """A smooth, bounded popularity from a usage count (0 unused, 1 heavily used)."""
    return 1.0 - math.exp(-times / 20.0)
