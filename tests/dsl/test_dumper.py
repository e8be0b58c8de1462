"""The canonical dumper: documented forms, and load(dump(e)) == e for every spec we have."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specql.dsl import model as m
from specql.dsl.dumper import dump, spec_path, to_data, write_specs
from specql.dsl.loader import load_file, load_text
from specql.dsl.types import BASIC_TYPES, RICH_TYPES, parse_type

TESTS = Path(__file__).parent
REPO = TESTS.parents[1]
SPECS = sorted((TESTS / "fixtures" / "valid").glob("*.yaml")) + sorted(
    p for p in (REPO / "examples").rglob("*.y*ml") if "registry" not in p.parts
)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(REPO)))
def test_round_trip_of_every_spec(path: Path) -> None:
    entity = load_file(path)
    text = dump(entity)
    again = load_text(text, "dumped.yaml")
    assert again == entity
    assert dump(again) == text  # stable: dumping twice gives the same text


def test_key_order_and_shorthand_forms() -> None:
    entity = load_file(TESTS / "fixtures" / "valid" / "contact.yaml")
    data = to_data(entity)
    assert list(data) == [
        "entity",
        "schema",
        "subdomain",
        "description",
        "fields",
        "patterns",
        "actions",
    ]
    assert data["fields"]["email"] == "email!"
    assert data["fields"]["status"] == "enum(lead, qualified, customer) = lead"
    # A description forces the mapping form; nullable is only written when false.
    assert data["fields"]["score"] == {
        "type": "integer",
        "default": "0",
        "description": "lead score",
    }
    assert data["patterns"][0] == "audit_trail"
    assert list(data["actions"][0]) == ["name", "description", "params", "steps"]


def test_index_forms() -> None:
    entity = load_file(TESTS / "fixtures" / "valid" / "lead.yaml")
    assert list(to_data(entity)) == ["entity", "schema", "description", "fields", "indexes"]
    text = dump(entity)
    assert text.endswith(
        "indexes:\n"
        "  - fields: [last_name, first_name]\n"
        "  - expression: lower(email)\n"
        "    unique: true\n"
        "    name: lead_email_ci\n"
        "  - fields: [company, created_at]\n"
        "  - fields: [owner]\n"
        "    unique: true\n"
        "  - expression: coalesce(source, 'web')\n"
    )
    # Canonical whatever the input spelling: block lists, key order, unique: false left out.
    again = load_text(
        "entity: Lead\nschema: crm\nindexes:\n  - name: by_name\n    unique: false\n"
        "    fields:\n      - last_name\n      - 'no'\n",
        "lead.yaml",
    )
    assert dump(again).endswith("indexes:\n  - fields: [last_name, 'no']\n    name: by_name\n")


def test_every_step_form() -> None:
    text = dump(load_file(TESTS / "fixtures" / "valid" / "order.yaml"))
    for expected in [
        "      - update: Order SET status = 'placed', total = line_total WHERE id = $id\n",
        "      - delete: OrderLine WHERE order_ref = $id\n        hard: true\n",
        "      - delete: Order\n      - delete",
        "      - find: Company WHERE name = $company_name\n        into: supplier\n"
        "        error: company_not_found\n",
        "      - assign: lines = line_count\n",
        "          kind: \"'placed'\"\n",  # SQL literal: double-quoted, not 'it''s'
        "        as: event_id\n",
        "      - declare:\n          line_total: numeric(12,2) = 0\n          seen: boolean\n",
        "      - foreach: line\n        in: SELECT quantity, price FROM OrderLine",
        "        else:\n          - assign: lines = line_count\n",
        "      - notify:\n          channel: order_placed\n          payload:\n            id: $id\n",
        "      - return: null\n",
        "  - name: cancel\n    steps:\n",
    ]:
        assert expected in text, expected
    assert "&" not in text and "*id" not in text  # no anchors or aliases


def test_awkward_strings_survive() -> None:
    entity = m.Entity(
        "Odd",
        "crm",
        description="Line one: with colon # and hash\n  indented second line\n",
        fields=[
            m.Field("no", parse_type("text"), description="yes"),
            m.Field("note", parse_type("text"), default="  'padded'  "),
            m.Field("v", parse_type("text"), default="'it''s'"),
            m.Field("empty", parse_type("text"), default=""),
            m.Field("uni", parse_type("text"), description="caf\u00e9 \u2014 \U0001f600\ttab"),
        ],
        actions=[
            m.Action(
                "act",
                steps=[
                    m.RawSqlStep(sql="SELECT 1;\n\n-- comment\n", reason="'quoted' \"double\""),
                    m.RawSqlStep(sql="SELECT 2;  \n-- trailing spaces force quoting", reason="r"),
                    m.ValidateStep(condition="true", error="404", message="null"),
                    m.InsertStep(entity="Odd", values={"no": "NULL", "note": "- dash"}),
                    m.ReturnStep(expression="'{a: 1}'::jsonb"),
                    m.CallStep(call="f('\r\x85\u2028\u2029')"),  # YAML line breaks
                ],
            )
        ],
    )
    text = dump(entity)
    assert load_text(text) == entity
    assert dump(load_text(text)) == text
    assert "raw_sql: |\n          SELECT 1;\n\n          -- comment\n" in text  # literal block


def test_a_very_long_expression_is_not_folded() -> None:
    condition = " AND ".join(f"field_{i} IS NOT NULL" for i in range(40))
    entity = m.Entity(
        "Long",
        "crm",
        actions=[m.Action("a", steps=[m.ValidateStep(condition=condition, error="e")])],
    )
    text = dump(entity)
    assert f"validate: {condition}\n" in text
    assert load_text(text) == entity


def test_spec_path_and_write_specs_are_idempotent(tmp_path: Path) -> None:
    entities = [load_file(p) for p in sorted((TESTS / "fixtures" / "valid").glob("*.yaml"))]
    assert spec_path(entities[-1]) == Path("sales/order_line.yaml")
    paths = write_specs(entities, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == [
        "crm/company.yaml",
        "crm/contact.yaml",
        "crm/lead.yaml",
        "sales/order.yaml",
        "sales/order_event.yaml",
        "sales/order_line.yaml",
    ]
    mtimes = [p.stat().st_mtime_ns for p in paths]
    assert write_specs(entities, tmp_path) == paths
    assert [p.stat().st_mtime_ns for p in paths] == mtimes
    assert [load_file(p) for p in paths] == entities


def test_output_is_plain_yaml_any_reader_understands() -> None:
    text = dump(load_file(TESTS / "fixtures" / "valid" / "order.yaml"))
    data = yaml.safe_load(text)
    assert data["fields"]["total"] == "numeric(12,2)! = 0"
    assert data["actions"][1]["steps"][2] == {"return": None}


# --------------------------------------------------------------------------- property

EXAMPLES = int(os.environ.get("SPECQL_FUZZ_EXAMPLES", "300"))

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
free_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)
scalar_types = st.sampled_from(
    [*BASIC_TYPES, *RICH_TYPES, "numeric(12,2)", "enum(a, b)", "ref(crm.Other)", "list(text)"]
).map(parse_type)
defaults = st.none() | st.sampled_from(["0", "'x'", "now()", "a", "'it''s'", "NULL", "-1.5"])
expressions = st.sampled_from(
    ["true", "status = 'a'", "$id IS NOT NULL", "a + 1", "lower(b) LIKE '%x%'", "NULL"]
)


@st.composite
def typed_fields(draw):
    t = draw(scalar_types)
    default = draw(defaults)
    if t.kind == "enum" and default is not None:
        default = draw(st.sampled_from(t.values))
    return m.Field(draw(names), t, draw(st.booleans()), default, draw(st.none() | free_text))


def simple_steps():
    return st.one_of(
        st.builds(
            m.ValidateStep, condition=expressions, error=names, message=st.none() | free_text
        ),
        st.builds(m.RejectStep, error=names, message=st.none() | free_text),
        st.builds(m.RawSqlStep, sql=free_text.filter(str.strip), reason=st.just("") | free_text),
        st.builds(m.ReturnStep, expression=st.none() | expressions),
        st.builds(m.AssignStep, target=names, expression=expressions),
        st.builds(m.CallStep, call=st.just("now()"), store=st.none() | names),
        st.builds(
            m.NotifyStep,
            channel=names,
            payload=st.dictionaries(names, expressions, max_size=3),
        ),
        st.builds(
            m.InsertStep,
            entity=st.just("Other"),
            values=st.dictionaries(names, expressions, max_size=3),
            as_=st.none() | names,
        ),
        st.builds(m.QueryStep, sql=st.just("SELECT count(*) FROM Other"), into=names),
        st.builds(
            m.DeleteStep,
            entity=st.just("Other"),
            where=st.none() | st.just("a = 1"),
            hard=st.booleans(),
        ),
        st.builds(
            m.UpdateStep,
            entity=st.just("Other"),
            assignments=st.dictionaries(names, st.just("a + 1"), min_size=1, max_size=3),
            where=st.none() | st.just("a = $id"),
        ),
        st.builds(
            m.FindStep,
            entity=st.just("Other"),
            where=st.just("a = 1"),
            into=names,
            error=st.none() | names,
        ),
    )


steps = st.recursive(
    simple_steps().map(lambda s: [s]),
    lambda inner: st.one_of(
        st.builds(
            lambda c, t, e: [m.IfStep(condition=c, then=t, else_=e)], expressions, inner, inner
        ),
        st.builds(
            lambda v, b: [m.ForeachStep(variable=v, query="SELECT 1 FROM Other", body=b)],
            names,
            inner,
        ),
        st.builds(lambda a, b: a + b, inner, inner),
    ),
    max_leaves=8,
)


indexes = st.builds(
    m.Index,
    fields=st.lists(names | st.sampled_from(["no", "null", "1", "true"]), min_size=1, max_size=3),
    unique=st.booleans(),
    name=st.none() | names,
) | st.builds(
    m.Index,
    expression=expressions | free_text.filter(str.strip),
    unique=st.booleans(),
    name=st.none() | names,
)


@st.composite
def entities(draw):
    fields = draw(st.lists(typed_fields(), max_size=6, unique_by=lambda f: f.name))
    actions = draw(
        st.lists(
            st.builds(
                m.Action,
                name=names,
                params=st.lists(
                    typed_fields().map(
                        lambda f: m.Param(f.name, f.type, f.nullable, f.default, f.description)
                    ),
                    max_size=3,
                    unique_by=lambda p: p.name,
                ),
                steps=steps,
                description=st.none() | free_text,
            ),
            max_size=2,
        )
    )
    patterns = draw(
        st.lists(
            st.builds(
                m.PatternUse,
                name=names,
                params=st.dictionaries(
                    names,
                    st.integers() | free_text | st.lists(names, max_size=2) | st.booleans(),
                    max_size=3,
                ),
            ),
            max_size=2,
        )
    )
    return m.Entity(
        draw(st.from_regex(r"[A-Z][a-zA-Z0-9]{0,10}", fullmatch=True)),
        draw(names),
        description=draw(st.none() | free_text),
        subdomain=draw(st.none() | names),
        fields=fields,
        indexes=draw(st.lists(indexes, max_size=3)),
        patterns=patterns,
        actions=actions,
    )


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entities())
def test_any_entity_round_trips(entity: m.Entity) -> None:
    text = dump(entity)
    loaded = load_text(text, "prop.yaml")
    assert loaded == entity
    assert dump(loaded) == text
