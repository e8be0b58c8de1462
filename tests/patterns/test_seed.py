"""Seeding a library from the package's seed files, keeping it up to date, and two processes
using one library at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import yaml

from specql.dsl.types import BASIC_TYPES, RICH_TYPES
from specql.patterns import PatternLibrary
from specql.patterns.seed import SEED_NOTE, seed_entries

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_fresh_library_holds_the_whole_seed(tmp_path) -> None:
    with PatternLibrary.open(tmp_path / "lib.db") as lib:
        by_tier = {t: len(lib.list_patterns(tier=t)) for t in (1, 2, 3)}
        namespaces = {s.category for s in lib.list_patterns(tier=3)}
        types = lib.conn.execute("SELECT count(*) FROM universal_types").fetchone()[0]
        mapped = dict(
            lib.conn.execute("SELECT language, count(*) FROM type_mappings GROUP BY language")
        )
        email = dict(
            lib.conn.execute(
                "SELECT language, native FROM type_mappings WHERE universal_type = 'email'"
            )
        )
        operators = lib.conn.execute("SELECT count(*) FROM expression_patterns").fetchone()[0]
        capabilities = lib.conn.execute(
            "SELECT count(DISTINCT language) FROM language_capabilities"
        ).fetchone()[0]
    assert by_tier[1] >= 25 and by_tier[2] >= 15 and by_tier[3] >= 20, by_tier
    assert len(namespaces) >= 5, namespaces
    assert types == len(BASIC_TYPES) + len(RICH_TYPES)
    assert mapped == {"postgresql": types, "django": types, "sqlalchemy": types}
    assert email == {
        "postgresql": "TEXT",
        "django": "models.TextField()",
        "sqlalchemy": "sa.Text()",
    }
    assert operators > 20 and capabilities == 3
    assert by_tier == {t: sum(1 for e in seed_entries() if e.tier == t) for t in (1, 2, 3)}


def test_reopening_an_up_to_date_library_writes_nothing(tmp_path) -> None:
    path = tmp_path / "lib.db"
    PatternLibrary.open(path).close()
    with PatternLibrary.open(path) as lib:
        changes = lib.conn.total_changes
        PatternLibrary.open(path).close()
        assert lib.conn.execute("SELECT count(*) FROM pattern_versions").fetchone()[0] > 0
        assert lib.conn.total_changes == changes


def test_a_seed_update_refreshes_seed_entries_but_not_user_edits(tmp_path) -> None:
    path = tmp_path / "lib.db"
    with PatternLibrary.open(path) as lib:
        seeded, edited = [s.name for s in lib.list_patterns(tier=2)][:2]
        # An older seed had another description for `seeded`; the user edited `edited`.
        stale = lib.get_pattern(seeded).to_definition() | {"description": "an older text"}
        lib.update(stale, tier=2, note=SEED_NOTE)
        mine = lib.get_pattern(edited).to_definition() | {"description": "my own words"}
        lib.update(mine, tier=2, note="edited by hand")
        lib.conn.execute("UPDATE meta SET value = 'older' WHERE key = 'seed_hash'")
    with PatternLibrary.open(path) as lib:
        assert lib.get_pattern(seeded).description != "an older text"
        assert lib.versions(seeded)[-1].note == SEED_NOTE
        assert [v.version for v in lib.versions(seeded)] == [1, 2, 3]
        assert lib.get_pattern(edited).description == "my own words"


def _writer(path: str, prefix: str, count: int, barrier) -> None:
    base = yaml.safe_load((FIXTURES / "flagging.yaml").read_text())
    barrier.wait()
    with PatternLibrary.open(path) as lib:
        for i in range(count):
            lib.add_domain_pattern(base | {"name": f"{prefix}_{i}"})
            lib.instantiate_domain_pattern(
                "audit_trail", f"Thing{prefix.title()}{i}", schema="catalog"
            )


def test_two_processes_writing_at_once_lose_nothing(tmp_path) -> None:
    path = str(tmp_path / "shared.db")  # fresh: both processes also race to create and seed it
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_writer, args=(path, p, 25, barrier)) for p in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    with PatternLibrary.open(path) as lib:
        names = {s.name for s in lib.list_patterns(tier=2)}
        assert {f"{p}_{i}" for p in "ab" for i in range(25)} <= names
        assert lib.get_pattern("audit_trail").times_instantiated == 50
        uses = lib.conn.execute(
            "SELECT count(*) FROM pattern_instantiations WHERE pattern = 'audit_trail'"
        ).fetchone()[0]
        assert uses == 50
        seeds = lib.conn.execute(
            "SELECT count(*) FROM pattern_versions WHERE note = ? AND version = 1", (SEED_NOTE,)
        ).fetchone()[0]
        assert seeds == len(list(seed_entries()))  # seeded once, not twice
