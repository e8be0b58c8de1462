"""The seed content shipped in the package, and bringing a library up to date with it.

Seed files (docs/pattern-library.md): ``seed/primitives/*.yaml`` (Tier 1), ``seed/domain/*.yaml``
(Tier 2), ``seed/templates/<namespace>/*.yaml`` (Tier 3). The reference tables of Tier 1 are
not files: languages and operators come from :mod:`specql.patterns.definitions` and
:mod:`specql.patterns.expressions`, the types from :mod:`specql.dsl.types`, and each type's
mapping from the generators' own type tables, so there is one truth for each.

A library remembers the hash of the seed it was last brought up to date with; opening it costs
one query while the package's seed is unchanged. When it changed, each seed entry is added if
missing, or updated (a new version) if its latest version came from the seed; an entry a user
changed since is left alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable

import yaml

from specql.dsl.model import TypeRef
from specql.dsl.types import BASIC_TYPES, RICH_TYPES, parse_type
from specql.errors import SpecqlError
from specql.patterns.definitions import (
    KINDS,
    TIER_DOMAIN,
    TIER_PRIMITIVE,
    TIER_TEMPLATE,
)
from specql.patterns.expressions import seed_rows

SEED_NOTE = "seed"
SEED_FORMAT = "1"  # bump when the meaning of seed files changes without their bytes changing
TIER_DIRS = {TIER_PRIMITIVE: "primitives", TIER_DOMAIN: "domain", TIER_TEMPLATE: "templates"}


def seed_root() -> Traversable:
    return files("specql.patterns") / "seed"


def seed_files() -> Iterator[tuple[int, Traversable]]:
    """(tier, file) for every seed file, in a stable order."""
    root = seed_root()
    for tier, sub in TIER_DIRS.items():
        folder = root / sub
        if not folder.is_dir():
            continue
        items = sorted(folder.iterdir(), key=lambda p: p.name)
        if tier == TIER_TEMPLATE:
            items = [
                f for d in items if d.is_dir() for f in sorted(d.iterdir(), key=lambda p: p.name)
            ]
        for item in items:
            if item.name.endswith(".yaml") and item.is_file():
                yield tier, item


# The package's own files, shallow by construction: libyaml's parser is safe on them, and is
# what keeps seeding a fresh library fast (the pure-Python parser took 3/4 of the time).
_SEED_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_seed_file(item: Traversable) -> dict:
    try:
        data = yaml.load(item.read_text(encoding="utf-8"), Loader=_SEED_LOADER)
    except yaml.YAMLError as err:
        raise SpecqlError(f"seed file {item.name}: {err}") from None
    if not isinstance(data, dict):
        raise SpecqlError(f"seed file {item.name}: expected a mapping")
    return data


def seed_hash() -> str:
    digest = hashlib.sha256(SEED_FORMAT.encode())
    for tier, item in seed_files():
        digest.update(f"{tier}/{item.name}\0".encode())
        digest.update(item.read_bytes())
    return digest.hexdigest()


def seed_entries():
    """Every seed entry, checked (a broken seed file is a bug: it fails loudly, naming it)."""
    for tier, item in seed_files():
        try:
            yield KINDS[tier].from_definition(read_seed_file(item))
        except SpecqlError as err:
            raise SpecqlError(f"seed file {item.name}: {err.message}") from None


# Type mappings per language: the generators' own type tables, imported when seeding only.
def _postgres_native(t: TypeRef) -> str:
    from specql.generators.postgres.types import sql_type

    return sql_type(t)


def _django_native(t: TypeRef) -> str:
    from specql.generators.django.fields import scalar_field

    field = scalar_field(t)
    args = ", ".join(f"{k}={v}" for k, v in field.kwargs)
    return f"{field.cls}({args})"


def _sqlalchemy_native(t: TypeRef) -> str:
    from specql.generators.sqlalchemy.types import column_type

    return column_type(t).sqlalchemy.replace("({args})", "()")


TYPE_MAPPERS: dict[str, Callable[[TypeRef], str]] = {
    "postgresql": _postgres_native,
    "django": _django_native,
    "sqlalchemy": _sqlalchemy_native,
}


def universal_types() -> list[tuple[str, str, str]]:
    """(name, kind, description) of every type a spec can name without arguments."""
    out = [(name, "basic", "") for name in BASIC_TYPES]
    out += [(name, "rich", rich.description) for name, rich in RICH_TYPES.items()]
    return out


def ensure_seeded(lib) -> bool:
    """Bring ``lib`` up to date with the package's seed; True when something was written."""
    conn = lib.conn
    wanted = seed_hash()
    row = conn.execute("SELECT value FROM meta WHERE key = 'seed_hash'").fetchone()
    if row is not None and row[0] == wanted:
        return False
    entries = list(seed_entries())
    with lib.transaction():
        row = conn.execute("SELECT value FROM meta WHERE key = 'seed_hash'").fetchone()
        if row is not None and row[0] == wanted:  # another process seeded it meanwhile
            return False
        _seed_reference_tables(conn)
        for entry in entries:
            current = lib.latest_version(entry.tier, entry.name)
            if current is None:
                lib.store_new(entry, source="manual", note=SEED_NOTE)
            elif current.note == SEED_NOTE and current.definition != entry.to_definition():
                lib.store_update(entry, source="manual", note=SEED_NOTE)
        for entry in entries:
            lib.check_references(entry)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('seed_hash', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (wanted,),
        )
    return True


def _seed_reference_tables(conn) -> None:
    types = universal_types()
    conn.executemany(
        "INSERT OR REPLACE INTO universal_types (name, kind, description) VALUES (?, ?, ?)", types
    )
    mappings = []
    for language, native in TYPE_MAPPERS.items():
        for name, _, _ in types:
            mappings.append((name, language, native(parse_type(name))))
    conn.executemany(
        "INSERT OR REPLACE INTO type_mappings (universal_type, language, native) VALUES (?, ?, ?)",
        mappings,
    )
    conn.executemany(
        "INSERT OR REPLACE INTO expression_patterns (name, language, template) VALUES (?, ?, ?)",
        seed_rows(),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO language_capabilities (language, capability, supported, note) "
        "VALUES (?, ?, ?, ?)",
        [
            (lang, cap, int(ok), note)
            for lang, caps in CAPABILITIES.items()
            for cap, (ok, note) in caps.items()
        ],
    )


CAPABILITIES: dict[str, dict[str, tuple[bool, str]]] = {
    "postgresql": {
        "transactions": (True, "every action runs in one transaction"),
        "triggers": (True, ""),
        "row_locks": (True, "SELECT ... FOR UPDATE"),
        "notify": (True, "pg_notify"),
        "check_constraints": (True, ""),
        "functional_indexes": (True, ""),
    },
    "django": {
        "transactions": (True, "transaction.atomic"),
        "triggers": (False, "signals run in Python, not in the database"),
        "row_locks": (True, "select_for_update"),
        "notify": (False, "needs raw SQL (pg_notify) or a signal"),
        "check_constraints": (True, "Meta.constraints"),
        "functional_indexes": (True, "Meta.indexes with expressions"),
    },
    "sqlalchemy": {
        "transactions": (True, "Session.begin / begin_nested"),
        "triggers": (False, "ORM events run in Python, not in the database"),
        "row_locks": (True, "with_for_update"),
        "notify": (True, "func.pg_notify"),
        "check_constraints": (True, "CheckConstraint"),
        "functional_indexes": (True, "Index with func expressions"),
    },
}
"""What each language can express natively (Tier-1 language_capabilities)."""
