"""Assembly: grouping actions onto entities, entity patterns, and the repairs that make every
spec valid and round-tripping (nothing dropped silently)."""

from __future__ import annotations

from specql.dsl import dump, load_text, validate
from specql.dsl import model as m
from specql.dsl.types import parse_type
from specql.errors import ErrorLevel, SourcePos
from specql.reverse.assemble import (
    EntitySource,
    FunctionOutcome,
    assemble,
    host_table,
    module_entity_name,
    module_schema,
    source_text,
)
from specql.reverse.source import PatternFinding

T = parse_type


def entity(entity_name: str, schema: str = "shop", **fields: str) -> m.Entity:
    return m.Entity(
        name=entity_name,
        schema=schema,
        fields=[
            m.Field(k, T(v.rstrip("!")), nullable=not v.endswith("!")) for k, v in fields.items()
        ],
    )


def outcome(name: str, steps: list[m.Step], **kw) -> FunctionOutcome:
    schema, _, bare = name.rpartition(".")
    params = kw.pop("params", [])
    out = FunctionOutcome(
        name=name,
        schema=schema or None,
        file="legacy.sql",
        line=kw.pop("line", 1),
        col=1,
        action=m.Action(name=bare, params=params, steps=steps),
        statements_total=kw.pop("total", len(steps)),
        statements_converted=kw.pop("converted", len(steps)),
        confidence=kw.pop("confidence", 1.0),
        **kw,
    )
    return out


def errors_of(specs) -> list[str]:
    return [str(p) for p in validate(specs) if p.level is ErrorLevel.ERROR]


def round_trips(spec: m.Entity) -> bool:
    return load_text(dump(spec)) == spec


# --------------------------------------------------------------------------- grouping


def test_host_is_the_table_written_most_ties_go_to_the_first_written() -> None:
    known = {"shop.orders", "shop.customers", "shop.lines"}
    o = outcome("shop.f", [], writes={"shop.customers": 1, "shop.orders": 2})
    assert host_table(o, known) == "shop.orders"
    tie = outcome("shop.g", [], writes={"shop.lines": 1, "shop.orders": 1})
    assert host_table(tie, known) == "shop.lines"
    # unqualified names resolve through the function's schema
    bare = outcome("shop.h", [], writes={"customers": 3})
    assert host_table(bare, known) == "shop.customers"


def test_bound_functions_stay_on_their_own_entity() -> None:
    known = {"shop.orders", "shop.order_history"}
    trigger = outcome(
        "shop.trg_audit",
        [],
        writes={"shop.order_history": 3},
        entity_hint="shop.orders",
        bound=True,
    )
    assert host_table(trigger, known) == "shop.orders"


def test_functions_writing_no_entity_table_go_to_a_module_spec() -> None:
    read_only = outcome(
        "shop.balance",
        [m.QueryStep(sql="SELECT count(*) FROM Customer", into="n"), m.ReturnStep(expression="n")],
        tables_read={"shop.customers": 1},
    )
    result = assemble(
        [EntitySource("shop.customers", entity("Customer", name="text"))], [read_only]
    )
    names = [s.name for s in result.specs]
    assert names == ["Customer", "ShopFunctions"]
    module = result.specs[1]
    assert module.fields == [] and [a.name for a in module.actions] == ["balance"]
    assert result.tables["shop.ShopFunctions"] is None
    assert read_only.entity == "shop.ShopFunctions" and read_only.action_name == "balance"
    assert not errors_of(result.specs)
    assert all(round_trips(s) for s in result.specs)


def test_module_names_avoid_taken_entity_names_and_odd_schemas() -> None:
    assert module_entity_name("shop", set()) == "ShopFunctions"
    assert module_entity_name("shop", {"ShopFunctions"}) == "ShopFunctions2"
    assert module_schema(None) == "public"
    assert module_schema("Sales-EU") == "sales_eu"


def test_duplicate_action_names_get_a_suffix() -> None:
    first = outcome("shop.touch", [m.ReturnStep(expression="1")], writes={"shop.items": 1})
    second = outcome("other.touch", [m.ReturnStep(expression="2")], writes={"shop.items": 1})
    result = assemble([EntitySource("shop.items", entity("Item", name="text"))], [first, second])
    assert [a.name for a in result.specs[0].actions] == ["touch", "touch_2"]
    assert second.action_name == "touch_2"
    assert not errors_of(result.specs)


# --------------------------------------------------------------------------- patterns


def test_entity_patterns_come_from_entity_level_findings_only() -> None:
    findings = [
        PatternFinding("validation_chain", 0.9, ["line 3: IF … RAISE"]),
        PatternFinding("soft_delete", 0.9, ["line 5: SET deleted_at = now()"]),
        PatternFinding("state_machine", 0.4, ["weak"]),  # under the threshold
    ]
    legacy = outcome("shop.remove", [m.ReturnStep()], writes={"shop.items": 1}, patterns=findings)
    generated = outcome(
        "shop.fn_shop_archive",
        [m.ReturnStep()],
        writes={"shop.items": 1},
        patterns=[PatternFinding("audit_trail", 0.9, ["x"])],
        generated=True,
    )
    result = assemble(
        [EntitySource("shop.items", entity("Item", name="text"))], [legacy, generated]
    )
    assert result.detected == {"shop.Item": ["soft_delete"]}
    assert result.specs[0].patterns == []  # detected in legacy code, not to be generated again


def test_a_module_spec_gets_no_patterns() -> None:
    o = outcome("shop.f", [m.ReturnStep()], patterns=[PatternFinding("soft_delete", 1.0, ["x"])])
    result = assemble([], [o])
    assert result.specs[0].name == "ShopFunctions" and result.specs[0].patterns == []
    assert not result.detected.get("shop.ShopFunctions")


# --------------------------------------------------------------------------- repairs

BODY = """
DECLARE
    v_n integer;
BEGIN
    UPDATE shop.items SET colour = 'red' WHERE item_id = p_id;
    SELECT count(*) INTO v_n FROM shop.items;
    IF v_n > 10 THEN
        RAISE EXCEPTION 'too many';
    END IF;
END;
"""


def test_a_rejected_step_becomes_raw_sql_of_its_legacy_text() -> None:
    # body line 1 is file line 10: the UPDATE is on file line 14, the SELECT on 15
    bad = m.UpdateStep(
        entity="Item", assignments={"colour": "'red'"}, where="id = $id", pos=SourcePos("l", 14, 0)
    )
    good = m.QueryStep(sql="SELECT count(*) FROM Item", into="n", pos=SourcePos("l", 15, 0))
    check = m.ValidateStep(condition="n <= 10", error="too_many", pos=SourcePos("l", 16, 0))
    o = outcome(
        "shop.paint",
        [bad, good, check],
        writes={"shop.items": 1},
        body=BODY,
        body_line=10,
        total=3,
        converted=3,
        confidence=1.0,
    )
    result = assemble([EntitySource("shop.items", entity("Item", name="text"))], [o])
    (spec,) = result.specs
    steps = spec.actions[0].steps
    assert isinstance(steps[0], m.RawSqlStep)
    assert steps[0].sql == "UPDATE shop.items SET colour = 'red' WHERE item_id = p_id;"
    assert "not valid SpecQL" in steps[0].reason and "colour" in steps[0].reason
    assert steps[1:] == [good, check]  # the others are untouched
    assert o.statements_converted == 2 and o.confidence < 0.95  # raw SQL is never auto-accepted
    assert o.unconverted[-1].reason == steps[0].reason and o.downgraded == 1
    assert not errors_of(result.specs) and round_trips(spec)
    assert result.errors == []


def test_steps_made_from_one_statement_become_one_raw_sql() -> None:
    # A SELECT a, b INTO x, y became a find + two assigns (one source line); the find is
    # rejected: the statement must come back once, not three times.
    line = SourcePos("l", 15, 0)
    find = m.FindStep(entity="Nope", where="id = $id", into="r", pos=line)
    a1 = m.AssignStep(target="x", expression="r.a", pos=line)
    a2 = m.AssignStep(target="y", expression="r.b", pos=line)
    declare = m.DeclareStep(
        variables=[m.Variable("x", T("integer")), m.Variable("y", T("integer"))]
    )
    after = m.ReturnStep(expression="x", pos=SourcePos("l", 16, 0))
    o = outcome(
        "shop.pick",
        [declare, find, a1, a2, after],
        writes={"shop.items": 1},
        body=BODY,
        body_line=10,
    )
    result = assemble([EntitySource("shop.items", entity("Item", name="text"))], [o])
    steps = result.specs[0].actions[0].steps
    raws = [s for s in steps if isinstance(s, m.RawSqlStep)]
    assert len(raws) == 1
    assert raws[0].sql == "SELECT count(*) INTO v_n FROM shop.items;"
    assert steps[-1] == after
    assert not errors_of(result.specs)


def test_source_text_cuts_simple_and_compound_statements() -> None:
    assert source_text(BODY, 10, 15) == "SELECT count(*) INTO v_n FROM shop.items;"
    assert source_text(BODY, 10, 16) == (
        "IF v_n > 10 THEN\n        RAISE EXCEPTION 'too many';\n    END IF;"
    )
    # bounded by the next step's line: a step may stand for several statements
    assert source_text(BODY, 10, 14, until_line=16).splitlines() == [
        "UPDATE shop.items SET colour = 'red' WHERE item_id = p_id;",
        "    SELECT count(*) INTO v_n FROM shop.items;",
    ]
    assert source_text("", 1, 3) is None and source_text(BODY, 10, 0) is None


def test_a_bad_field_is_left_out_with_a_note_and_the_steps_using_it_follow() -> None:
    bad_ref = m.Field("owner", T("ref(Ghost)"))
    item = m.Entity(name="Item", schema="shop", fields=[m.Field("name", T("text")), bad_ref])
    uses = m.UpdateStep(
        entity="Item", assignments={"owner": "$o"}, where="id = $id", pos=SourcePos("l", 14, 0)
    )
    o = outcome(
        "shop.own",
        [uses],
        writes={"shop.items": 1},
        params=[m.Param("o", T("uuid"))],
        body=BODY,
        body_line=10,
    )
    result = assemble([EntitySource("shop.items", item)], [o])
    (spec,) = result.specs
    assert [f.name for f in spec.fields] == ["name"]
    assert any("owner" in n and "Ghost" in n for n in result.notes["shop.Item"])
    assert isinstance(spec.actions[0].steps[0], m.RawSqlStep)
    assert not errors_of(result.specs)


def test_an_index_the_validator_rejects_is_left_out_with_a_note() -> None:
    item = entity("Item", name="text", code="text")
    item.indexes = [
        m.Index(fields=["name", "code"], name="items_name_code"),
        m.Index(fields=["name", "code"], unique=True, name="items_name_code_key"),  # a repeat
        m.Index(expression="lower(code)"),
    ]
    result = assemble([EntitySource("shop.items", item)], [])
    (spec,) = result.specs
    assert [i.name for i in spec.indexes] == ["items_name_code", None]
    assert any(
        n.startswith("index on (name, code) left out: duplicate index")
        for n in result.notes["shop.Item"]
    )
    assert not errors_of(result.specs) and round_trips(spec)


def test_an_action_that_cannot_be_repaired_is_reported_not_written() -> None:
    o = outcome(
        "shop.weird",
        [m.ReturnStep()],
        writes={"shop.items": 1},
        params=[m.Param("id", T("integer"))],  # reserved: no step to downgrade
    )
    result = assemble([EntitySource("shop.items", entity("Item", name="text"))], [o])
    assert result.specs[0].actions == []
    assert len(result.errors) == 1 and "legacy.sql:1:1: function shop.weird" in result.errors[0]
    assert o.error == result.errors[0] and o.entity is None
    assert not errors_of(result.specs)


def test_an_invalid_entity_is_reported_and_not_written() -> None:
    bad = m.Entity(name="item", schema="shop", fields=[m.Field("name", T("text"))])
    o = outcome("shop.f", [m.ReturnStep()], writes={"shop.items": 1})
    result = assemble([EntitySource("shop.items", bad)], [o])
    assert result.specs == []
    assert any("spec shop.item" in e and "PascalCase" in e for e in result.errors)
    assert o.error is not None and "shop.item" in o.error


def test_a_step_that_does_not_round_trip_becomes_raw_sql() -> None:
    # valid, but the dumper's shorthand strips the spaces of the default: it loads back
    # different. Assembly must notice and repair.
    declare = m.DeclareStep(
        variables=[m.Variable("n", T("integer"), default=" 1 ")], pos=SourcePos("l", 12, 0)
    )
    o = outcome(
        "shop.count",
        [declare, m.ReturnStep(expression="n", pos=SourcePos("l", 14, 0))],
        writes={"shop.items": 1},
        body=BODY,
        body_line=10,
    )
    spec_in = m.Entity(name="Item", schema="shop", actions=[m.Action("x", steps=[declare])])
    assert not errors_of([spec_in]) and not round_trips(spec_in)
    result = assemble([EntitySource("shop.items", entity("Item", name="text"))], [o])
    (spec,) = result.specs
    assert round_trips(spec) and not errors_of([spec])
    assert isinstance(spec.actions[0].steps[0], m.RawSqlStep)
    assert "does not load back" in spec.actions[0].steps[0].reason
    assert result.texts == [dump(spec)]


def test_where_texts_take_the_canonical_form_the_loader_reads() -> None:
    # The loader keeps the WHERE/SET texts of update, delete and find deparsed by PostgreSQL's
    # parser: unquoted names come back lower-cased (FROM Item -> FROM item, the same
    # relation). That is no reason for raw_sql: the spec takes the stable canonical text.
    where = "id IN (SELECT id FROM Item WHERE name = 'x')"
    delete = m.DeleteStep(entity="Item", where=where, hard=True, pos=SourcePos("l", 13, 0))
    update = m.UpdateStep(
        entity="Item",
        assignments={"name": "(SELECT max(name) FROM Item)"},
        where=where,
        pos=SourcePos("l", 14, 0),
    )
    o = outcome("shop.prune", [delete, update], writes={"shop.items": 2}, body=BODY, body_line=10)
    spec_in = m.Entity(name="Item", schema="shop", actions=[m.Action("x", steps=[delete])])
    assert not round_trips(spec_in)
    result = assemble([EntitySource("shop.items", entity("Item", name="text"))], [o])
    (spec,) = result.specs
    assert round_trips(spec) and not errors_of([spec])
    assert [type(s) for s in spec.actions[0].steps] == [m.DeleteStep, m.UpdateStep]
    assert spec.actions[0].steps[0].where == "id IN (SELECT id FROM item WHERE name = 'x')"
    assert spec.actions[0].steps[1].assignments == {"name": "(SELECT max(name) FROM item)"}
    assert o.downgraded == 0 and o.statements_converted == 2 and not o.unconverted
    assert result.texts == [dump(spec)]
