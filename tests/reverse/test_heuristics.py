"""Pattern heuristics on hand-written legacy PL/pgSQL (tests/reverse/fixtures/patterns).

Every pattern folder holds ``positive_*.sql`` files (must be detected; a ``-- expect: text``
header names something the evidence must mention) and ``negative_*.sql`` hard negatives (look
like the pattern, are not it: the pattern must not be reported).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specql.reverse.facts import extract_facts
from specql.reverse.heuristics import (
    DETECTORS,
    PATTERNS,
    THRESHOLD,
    detect_patterns,
    variable_purposes,
)
from specql.reverse.source import FunctionInfo

parse = pytest.importorskip("specql.reverse.parse", reason="the parse stage is not there yet")

FIXTURES = Path(__file__).parent / "fixtures" / "patterns"
FILES = sorted(FIXTURES.glob("*/*.sql"))


def function_from_sql(sql: str, source: str = "<test>") -> FunctionInfo:
    module = parse.parse_sql_text(sql, source=source)
    assert module.functions, f"no function parsed from {source}: {module.errors}"
    return module.functions[0]


def findings(sql: str, threshold: float = THRESHOLD) -> dict:
    facts = extract_facts(function_from_sql(sql))
    return {f.pattern: f for f in detect_patterns(facts, threshold=threshold)}


def test_one_detector_per_pattern() -> None:
    assert list(DETECTORS) == list(PATTERNS)
    assert len(PATTERNS) == 13


def test_every_pattern_has_a_positive_and_a_hard_negative() -> None:
    for pattern in PATTERNS:
        names = [p.name for p in (FIXTURES / pattern).glob("*.sql")]
        assert any(n.startswith("positive_") for n in names), pattern
        assert any(n.startswith("negative_") for n in names), pattern


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(path: Path) -> None:
    pattern = path.parent.name
    sql = path.read_text(encoding="utf-8")
    found = findings(sql, threshold=0.0)
    finding = found.get(pattern)
    if path.name.startswith("positive_"):
        assert finding is not None and finding.score >= THRESHOLD, (
            f"{pattern} not detected: {finding}"
        )
        assert finding.evidence and all(e.strip() for e in finding.evidence)
        expect = re.search(r"^-- expect: (.+)$", sql, re.M)
        assert expect, "positive fixtures name what the evidence must mention"
        needle = expect.group(1).strip().lower()
        assert any(needle in e.lower() for e in finding.evidence), finding.evidence
        # evidence cites where it was seen
        assert any(re.search(r"\bline \d+", e) for e in finding.evidence) or pattern in (
            "approval_workflow",
            "multi_tenant",
            "temporal_versioning",
        )
    else:
        score = finding.score if finding else 0.0
        assert score < THRESHOLD, f"hard negative reported as {pattern}: {finding}"


def test_threshold_is_the_one_cut() -> None:
    sql = (FIXTURES / "temporal_versioning" / "negative_restore_defaults.sql").read_text()
    everything = findings(sql, threshold=0.0)
    reported = findings(sql)
    assert set(reported) <= set(everything)
    assert all(f.score >= THRESHOLD for f in reported.values())
    assert "temporal_versioning" in everything  # a weak name signal, below the threshold
    assert "temporal_versioning" not in reported


def test_findings_are_sorted_and_deterministic() -> None:
    sql = (FIXTURES / "state_machine" / "positive_order_transition.sql").read_text()
    facts = extract_facts(function_from_sql(sql))
    a = detect_patterns(facts)
    b = detect_patterns(extract_facts(function_from_sql(sql)))
    assert [(f.pattern, f.score, f.evidence) for f in a] == [
        (f.pattern, f.score, f.evidence) for f in b
    ]
    assert [f.score for f in a] == sorted((f.score for f in a), reverse=True)


def test_evidence_uses_file_lines() -> None:
    sql = (
        "\n\n-- two blank lines and a comment above\n"
        + (FIXTURES / "counter_cache" / "positive_comment_count.sql").read_text()
    )
    finding = findings(sql)["counter_cache"]
    line = next(i for i, t in enumerate(sql.split("\n"), 1) if "comment_count + 1" in t)
    assert any(f"line {line}:" in e for e in finding.evidence), finding.evidence


def test_dynamic_sql_counter_and_upsert() -> None:
    sql = """
    CREATE FUNCTION stats.bump(p_table text, p_key integer, p_by integer) RETURNS void AS $$
    BEGIN
        EXECUTE format('INSERT INTO %I AS t (key, hits) VALUES ($1, $2)
                        ON CONFLICT (key) DO UPDATE SET hits_count = t.hits_count + $2', p_table)
        USING p_key, p_by;
    END;
    $$ LANGUAGE plpgsql;
    """
    found = findings(sql)
    assert "upsert" in found
    assert "counter_cache" in found


def test_raw_path_still_gets_findings() -> None:
    """A body parse_plpgsql rejects (parse_path 'raw') is read token by token."""
    body = """
    DECLARE
        v_row inventory.items%ROWTYPE;
    BEGIN
        IF p_qty <= 0 THEN
            RAISE EXCEPTION 'quantity must be positive';
        END IF;
        UPDATE inventory.items SET on_hand = on_hand - p_qty WHERE id = p_item;
        IF NOT FOUND THEN
            INSERT INTO inventory.items (id, on_hand) VALUES (p_item, -p_qty);
        END IF;
        PERFORM pg_notify('stock', p_item::text);
    END;
    """
    fn = FunctionInfo(
        schema="inventory",
        name="take",
        body=body,
        plpgsql=None,
        parse_path="raw",
        body_line=10,
    )
    found = {f.pattern: f for f in detect_patterns(extract_facts(fn))}
    assert {"validation_chain", "upsert", "notification", "accumulator"} <= set(found)
    raise_line = 10 + next(i for i, t in enumerate(body.split("\n")) if "RAISE" in t)
    assert any(f"line {raise_line}" in e for e in found["validation_chain"].evidence)


def test_variable_purposes() -> None:
    sql = """
    CREATE FUNCTION shop.summarise(p_customer integer) RETURNS text AS $$
    DECLARE
        n_orders integer;
        v_sum numeric;
        v_running numeric := 0;
        v_seen integer := 0;
        has_open boolean := false;
        r record;
        q text;
        v_label text;
        v_new_id integer;
    BEGIN
        SELECT count(*) INTO n_orders FROM shop.orders WHERE customer_id = p_customer;
        SELECT sum(total) INTO v_sum FROM shop.orders WHERE customer_id = p_customer;
        FOR r IN SELECT total, state FROM shop.orders WHERE customer_id = p_customer LOOP
            v_running := v_running + r.total;
            v_seen := v_seen + 1;
            IF r.state = 'open' THEN
                has_open := true;
            END IF;
        END LOOP;
        q := 'UPDATE shop.customers SET score = score + 1 WHERE id = ' || p_customer;
        EXECUTE q;
        INSERT INTO shop.notes (customer_id) VALUES (p_customer) RETURNING id INTO v_new_id;
        v_label := n_orders || ' orders';
        RETURN v_label;
    END;
    $$ LANGUAGE plpgsql;
    """
    purposes = variable_purposes(extract_facts(function_from_sql(sql)))
    assert purposes["n_orders"] == "count"
    assert purposes["v_sum"] == "total"
    assert purposes["v_running"] == "accumulator"
    assert purposes["v_seen"] == "count"
    assert purposes["has_open"] == "flag"
    assert purposes["r"] == "loop"
    assert purposes["q"] == "sql"
    assert purposes["v_new_id"] == "id"
    assert purposes["v_label"] == "temp"
    assert "p_customer" not in purposes  # arguments are not variables
