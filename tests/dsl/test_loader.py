"""The loader: YAML -> model nodes with positions; bad input -> one clear SpecqlError."""

from __future__ import annotations

from pathlib import Path

import pytest

from specql.dsl import model as m
from specql.dsl.loader import MAX_SPEC_BYTES, load_file, load_paths, load_text, spec_files
from specql.dsl.types import parse_type
from specql.errors import SourcePos, SpecqlError, SpecqlErrors

FIXTURES = Path(__file__).parent / "fixtures"
VALID = FIXTURES / "valid"


def T(text: str) -> m.TypeRef:
    return parse_type(text)


def load_error(text: str, file: str = "spec.yaml") -> SpecqlError:
    with pytest.raises(SpecqlError) as err:
        load_text(text, file)
    return err.value


def head(body: str) -> str:
    return "entity: Thing\nschema: crm\n" + body


def steps_of(body: str) -> list[m.Step]:
    text = head("actions:\n  - name: act\n    steps:\n" + body)
    return load_text(text).actions[0].steps


# --------------------------------------------------------------------------- well-formed specs


def test_contact_fixture_loads_every_part() -> None:
    e = load_file(VALID / "contact.yaml")
    assert (e.name, e.schema, e.subdomain, e.description) == (
        "Contact",
        "crm",
        "contacts",
        "A person we sell to",
    )
    assert [(f.name, f.type, f.nullable, f.default, f.description) for f in e.fields] == [
        ("email", T("email"), False, None, None),
        ("first_name", T("text"), True, None, None),
        ("status", T("enum(lead, qualified, customer)"), True, "lead", None),
        ("company", T("ref(Company)"), True, None, None),
        ("score", T("integer"), True, "0", "lead score"),
        ("tags", T("list(text)"), True, None, None),
    ]
    assert e.patterns == [
        m.PatternUse("audit_trail"),
        m.PatternUse(
            "state_machine",
            {
                "field": "status",
                "transitions": {"lead": ["qualified"], "qualified": ["customer"]},
                "strict": True,
                "max_hops": 3,
            },
        ),
    ]
    (action,) = e.actions
    assert action.name == "qualify_lead" and action.description == "Move a lead forward"
    assert [(p.name, p.nullable) for p in action.params] == [("reason", False), ("note", True)]
    assert action.steps == [
        m.ValidateStep(
            condition="status = 'lead'",
            error="not_a_lead",
            message="Only leads can be qualified",
        ),
        m.UpdateStep(entity="Contact", assignments={"status": "'qualified'", "score": "score + 1"}),
        m.NotifyStep(channel="contact_qualified", payload={"id": "$id", "reason": "$reason"}),
    ]


def test_positions_of_every_node_kind() -> None:
    path = VALID / "contact.yaml"
    e = load_file(path)
    file = str(path)
    assert e.pos == SourcePos(file, 1, 9)  # the entity name
    assert [f.pos.line for f in e.fields] == [6, 7, 8, 9, 10, 11]
    assert e.fields[0].pos == SourcePos(file, 6, 3)
    assert e.patterns[0].pos == SourcePos(file, 13, 5)
    assert e.patterns[1].pos == SourcePos(file, 14, 5)
    action = e.actions[0]
    assert action.pos == SourcePos(file, 21, 11)  # the action name
    assert action.params[0].pos == SourcePos(file, 23, 15)
    assert [s.pos for s in action.steps] == [
        SourcePos(file, 25, 9),
        SourcePos(file, 28, 9),
        SourcePos(file, 29, 9),
    ]


def test_every_step_kind_loads() -> None:
    order = load_file(VALID / "order.yaml")
    place, cancel = order.actions
    kinds = {s.kind for s in m.walk_steps(place.steps + cancel.steps)}
    assert kinds == set(m.STEP_TYPES)
    by_kind = {s.kind: s for s in m.walk_steps(place.steps)}
    assert by_kind["declare"].variables == [
        m.Variable("line_total", T("numeric(12,2)"), "0"),
        m.Variable("seen", T("boolean")),
        m.Variable("lines", T("integer"), "0"),
    ]
    assert by_kind["find"] == m.FindStep(
        entity="Company", where="name = $company_name", into="supplier", error="company_not_found"
    )
    assert by_kind["query"] == m.QueryStep(
        sql="SELECT count(*) FROM OrderLine WHERE order_ref = $id", into="line_count"
    )
    assert by_kind["insert"] == m.InsertStep(
        entity="OrderEvent",
        values={"order_ref": "$id", "kind": "'placed'", "note": "$note"},
        as_="event_id",
    )
    assert by_kind["update"] == m.UpdateStep(
        entity="Order",  # a reserved word in SQL: still parses
        assignments={"status": "'placed'", "total": "line_total"},
        where="id = $id",
    )
    assert by_kind["call"].store == "log_id"
    assert by_kind["raw_sql"].reason == "advisory locks have no SpecQL form"
    assert by_kind["return"].expression == "line_total"
    foreach = by_kind["foreach"]
    assert foreach.variable == "line" and len(foreach.body) == 2
    if_step = place.steps[4]
    assert isinstance(if_step, m.IfStep)
    assert if_step.then == [m.RejectStep(error="empty_order", message="An order needs lines")]
    assert if_step.else_ == [m.AssignStep(target="lines", expression="line_count")]
    assert cancel.steps == [
        m.DeleteStep(entity="Order"),
        m.DeleteStep(entity="OrderLine", where="order_ref = $id", hard=True),
        m.ReturnStep(expression=None),
    ]


def test_both_field_forms_and_every_type_family() -> None:
    order = load_file(VALID / "order.yaml")
    fields = {f.name: f for f in order.fields}
    assert {f.type.kind for f in order.fields} == {"basic", "rich", "enum", "ref", "list"}
    assert fields["total"].type == T("numeric(12,2)") and not fields["total"].nullable
    assert fields["total"].default == "0"
    assert fields["customer"].type == m.TypeRef("ref", "ref", target="Contact", target_schema="crm")
    assert fields["contact_email"].nullable is False
    assert fields["contact_email"].description == "where confirmations go"
    assert fields["priority"].default == "low"
    assert fields["is_gift"].default == "false"
    assert order.actions[0].params[1].description == "amount paid"
    assert order.actions[0].params[2].default == "'ACME'"


@pytest.mark.parametrize(
    ("shorthand", "expected"),
    [
        ("text", (T("text"), True, None)),
        ("text!", (T("text"), False, None)),
        ("text ! = 'x'", (T("text"), False, "'x'")),
        ("enum(a, b) = b", (T("enum(a, b)"), True, "b")),
        ("enum(a, b)='b'", (T("enum(a, b)"), True, "b")),  # the SQL spelling of a label
        ("integer = (1 + 2) * 3", (T("integer"), True, "(1 + 2) * 3")),
        ("boolean = (a = b)", (T("boolean"), True, "(a = b)")),
        ("datetime = now()", (T("datetime"), True, "now()")),
    ],
)
def test_field_shorthand(shorthand: str, expected) -> None:
    (f,) = load_text(head(f"fields:\n  x: {shorthand}\n")).fields
    assert (f.type, f.nullable, f.default) == expected


def test_yaml_scalars_keep_their_raw_text() -> None:
    e = load_text(
        head(
            "description: 42\n"
            "fields:\n  no: text\n  amount: { type: 'numeric(6,2)', default: 0.50 }\n"
            "actions:\n  - name: a\n    steps:\n"
            "      - validate: true\n        error: 404\n"
            "      - insert: Thing\n        values: { amount: 1e3, no: null, yes: ~ }\n"
        )
    )
    assert e.description == "42"
    assert [f.name for f in e.fields] == ["no", "amount"]  # not the boolean false
    assert e.fields[1].default == "0.50"
    validate, insert = e.actions[0].steps
    assert (validate.condition, validate.error) == ("true", "404")
    assert insert.values == {"amount": "1e3", "no": "NULL", "yes": "NULL"}


def test_update_delete_find_are_parsed_into_parts() -> None:
    update, delete, find = steps_of(
        "      - update: Thing SET a = $x, b = '\"$y\"', c = lower($z) WHERE id = $id AND b LIKE '%a'\n"
        "      - delete: crm.Thing WHERE a IS NULL\n        hard: yes\n"
        "      - find: Thing WHERE a = $x::text\n        into: r\n"
    )
    assert update.assignments == {"a": "$x", "b": "'\"$y\"'", "c": "lower($z)"}
    assert update.where == "id = $id AND b LIKE '%a'"
    assert delete == m.DeleteStep(entity="crm.Thing", where="a IS NULL", hard=True)
    assert find.where == "a = CAST($x AS text)" and find.entity == "Thing"


def test_assign_accepts_both_spellings() -> None:
    a, b = steps_of("      - assign: total = total + 1\n      - assign: 'x := (y = 2)'\n")
    assert (a.target, a.expression) == ("total", "total + 1")
    assert (b.target, b.expression) == ("x", "(y = 2)")


def test_empty_sections_are_empty_lists() -> None:
    e = load_text(head("fields:\nindexes:\nactions:\n  - name: a\n    steps:\n"))
    assert e.fields == [] and e.indexes == [] and e.actions[0].steps == []


def test_indexes_load_in_both_list_styles_with_their_positions() -> None:
    path = VALID / "lead.yaml"
    e = load_file(path)
    assert e.indexes == [
        m.Index(fields=["last_name", "first_name"]),
        m.Index(expression="lower(email)", unique=True, name="lead_email_ci"),
        m.Index(fields=["company", "created_at"]),
        m.Index(fields=["owner"], unique=True),
        m.Index(expression="coalesce(source, 'web')"),
    ]
    assert [i.pos for i in e.indexes] == [
        SourcePos(str(path), line, 5) for line in (12, 13, 16, 17, 19)
    ]
    block = load_text(head("indexes:\n  - fields:\n      - a\n      - 'no'\n    name: null\n"))
    assert block.indexes == [m.Index(fields=["a", "no"])]  # a name, not the boolean false


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + head("").encode())
    assert load_file(path).name == "Thing"


# --------------------------------------------------------------------------- directories


def test_load_paths_walks_directories_sorted_and_skips_registry(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "registry").mkdir()
    (tmp_path / "b" / "nested").mkdir()
    (tmp_path / "a.yaml").write_text("entity: A\nschema: s\n")
    (tmp_path / "b" / "c.yml").write_text("entity: C\nschema: s\n")
    (tmp_path / "b" / "nested" / "d.yaml").write_text("entity: D\nschema: s\n")
    (tmp_path / "b" / "notes.txt").write_text("not a spec")
    (tmp_path / "registry" / "domain_registry.yaml").write_text("domains: {}\n")
    (tmp_path / ".git").mkdir()  # hidden directories (VCS, caches) hold no specs
    (tmp_path / ".git" / "config.yaml").write_text("not: a spec\n")
    assert [e.name for e in load_paths([tmp_path])] == ["A", "C", "D"]
    assert spec_files([tmp_path / "a.yaml"]) == [tmp_path / "a.yaml"]


def test_load_paths_collects_errors_from_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("entity: A\nschema: s\nfields:\n  x: texte\n")
    (tmp_path / "b.yaml").write_text("entity: B\nschema: s\nfeilds: {}\n")
    (tmp_path / "ok.yaml").write_text("entity: C\nschema: s\n")
    with pytest.raises(SpecqlErrors) as err:
        load_paths([tmp_path, tmp_path / "missing.yaml"])
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{tmp_path / 'a.yaml'}:4:6: unknown type 'texte'")
    assert lines[1].startswith(f"{tmp_path / 'b.yaml'}:3:1: unknown key 'feilds'")
    assert lines[2] == f"{tmp_path / 'missing.yaml'}: no such file or directory"


def test_one_file_reports_all_its_structural_errors() -> None:
    with pytest.raises(SpecqlErrors) as err:
        load_text(
            head("fields:\n  a: texte\n  b: text\n  c: {type: integer, nullable: maybe}\n"),
            "s.yaml",
        )
    assert [str(e) for e in err.value] == [
        "s.yaml:4:6: unknown type 'texte'; did you mean text?",
        "s.yaml:6:32: nullable must be true or false, found 'maybe'",
    ]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        (
            "entity: X\nschema: crm\nfields:\n  a: [text\n",
            "5:1",
            "invalid YAML: while parsing a flow sequence",
        ),
        (
            "entity: X\nschema: crm\nfields:\n  a: text\n b: text\n",
            "5:2",
            "invalid YAML: while parsing a block mapping",
        ),
        ("entity: X\n\tschema: crm\n", "2:1", "tab character"),
        ("entity: X\x00\n", "1:10", "unacceptable character #x0000"),
        (
            "entity: X\nschema: crm\nfeilds: {}\n",
            "3:1",
            "unknown key 'feilds' in the entity; allowed: entity, schema",
        ),
        (
            "entity: X\nschema: crm\nfields: &f\n  a: text\nactions: *f\n",
            "5:10",
            "YAML aliases (*f) are not allowed",
        ),
        ("entity: X\nschema: crm\n---\nentity: Y\n", "3:1", "one YAML document"),
        ("- a\n- b\n", "1:1", "a spec must be a mapping with 'entity:' at the top, found a list"),
        ("just text", "1:1", "found 'just text'"),
        ("", "1:1", "empty spec file"),
        ("# only a comment\n", "1:1", "empty spec file"),
        (
            "schema: crm\nfields: {}\n",
            "1:1",
            "not an entity spec: the top-level key 'entity' is missing",
        ),
        ("entity: X\n", "1:1", "entity X has no 'schema'"),
        ("entity: [X]\nschema: crm\n", "1:9", "entity must be text, found a list"),
        ("entity: X\nschema: {a: 1}\n", "2:9", "schema must be text, found a mapping"),
        (
            "entity: X\nschema: crm\nfields: [a, b]\n",
            "3:9",
            "fields must be a mapping, found a list",
        ),
        (
            "entity: X\nschema: crm\nactions: {a: 1}\n",
            "3:10",
            "actions must be a list, found a mapping",
        ),
        (
            "entity: X\nschema: crm\nfields:\n  a: text\n  a: integer\n",
            "5:3",
            "duplicate key 'a' in fields (first at line 4)",
        ),
        ("entity: X\nschema: crm\nfields:\n  a:\n", "4:5", "field 'a' needs a type"),
        ("entity: X\nschema: crm\nfields:\n  a: [text]\n", "4:6", "field 'a' needs a type"),
        (
            "entity: X\nschema: crm\nfields:\n  a: {nullable: false}\n",
            "4:6",
            "field 'a' has no 'type'",
        ),
        (
            "entity: X\nschema: crm\nfields:\n  a: {type: text, size: 3}\n",
            "4:19",
            "unknown key 'size' in field 'a'; allowed: type, nullable, default, description",
        ),
        (
            "entity: X\nschema: crm\nfields:\n  a: {type: text!, nullable: true}\n",
            "4:30",
            "contradicts 'nullable: true'",
        ),
        ("entity: X\nschema: crm\nfields:\n  a: text =\n", "4:12", "nothing after '='"),
        (
            "entity: X\nschema: crm\nfields:\n  a: 'numeric(1,5)'\n",
            "4:15",
            "numeric scale must be between 0 and the precision 1",
        ),
        (
            'entity: X\nschema: crm\nfields:\n  a: "enum(x, x)"\n',
            "4:15",
            "duplicate enum label 'x'",
        ),
        (
            "entity: X\nschema: crm\npatterns: [{params: {}}]\n",
            "3:12",
            "a pattern use needs 'pattern: <name>'",
        ),
        (
            "entity: X\nschema: crm\npatterns: [{pattern: p, params: [1]}]\n",
            "3:33",
            "pattern params must be a mapping",
        ),
        ("entity: X\nschema: crm\nactions:\n  - steps: []\n", "4:5", "an action needs a 'name'"),
        (
            "entity: X\nschema: crm\nactions:\n  - name: a\n    step: []\n",
            "5:5",
            "unknown key 'step' in an action",
        ),
    ],
)
def test_bad_input_gives_one_positioned_line(text: str, where: str, fragment: str) -> None:
    err = load_error(text)
    assert not isinstance(err, SpecqlErrors) or len(err) == 1
    assert str(err).startswith(f"spec.yaml:{where}: "), str(err)
    assert fragment in str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    ("step", "where", "fragment"),
    [
        (
            "- frobnicate: x",
            "6:9",
            "unknown step 'frobnicate'; a step starts with one of: validate, if",
        ),
        ("- validate: a", "6:9", "a validate step needs 'error'"),
        (
            "- validate: a\n        error: e\n        eror: f",
            "8:9",
            "unknown key 'eror' in a validate step; allowed: validate, error, message",
        ),
        (
            "- validate: a\n        update: X SET a = 1",
            "7:9",
            "a step has exactly one kind, found validate and update",
        ),
        ("- return", "6:9", "a step must be a mapping like '- validate: ...', found 'return'"),
        ("- validate: [a]\n        error: e", "6:19", "validate must be text, found a list"),
        ("- validate: ''\n        error: e", "6:20", "validate is empty"),
        (
            "- update: X SET a = = 1",
            "6:27",
            "invalid SQL: syntax error at or near \"=\" in 'X SET a = = 1'",
        ),
        ("- update: X SET a = 1 FROM y", "6:17", "update does not support FROM"),
        ("- update: X SET a = 1 RETURNING a", "6:17", "update does not support RETURNING"),
        ("- update: X SET a = 1, a = 2", "6:17", "update sets 'a' twice"),
        ("- update: X SET a.b = 1", "6:17", "plain 'field = expression' assignments only"),
        ("- update: X c SET a = 1", "6:17", "without alias"),
        ("- update: 'SET a = 1'", "6:24", "syntax error at or near \"=\" in 'SET a = 1'"),
        ("- delete: X WHERE", "6:17", "syntax error at end of input"),
        ("- delete: X USING y", "6:17", "delete does not support USING"),
        ("- delete: X\n        hard: 'yes'", "7:16", "hard must be true or false"),
        ("- find: X\n        into: r", "6:15", "find needs a condition"),
        ("- find: X WHERE a ORDER BY b\n        into: r", "6:15", "find does not support ORDER BY"),
        ("- find: X WHERE a", "6:9", "a find step needs 'into'"),
        ("- query: SELECT 1", "6:9", "a query step needs 'into'"),
        ("- foreach: r\n        do: []", "6:9", "a foreach step needs 'in'"),
        ("- if: a\n        else: []", "6:9", "an if step needs 'then'".replace("an if", "a if")),
        ("- assign: x == 1", "6:17", "assign must read 'variable = expression'"),
        ("- assign: 1 = x", "6:17", "assign must read"),
        (
            "- declare: {t: numeric(12,2)}",
            "6:32",
            "(inside { } quote a type that contains a comma)",
        ),
        ("- declare: {t: text!}", "6:22", "'!' (NOT NULL) applies to fields and params"),
        ("- declare: [a]", "6:18", "declare must be a mapping"),
        ("- notify: chan", "6:17", "notify must be a mapping"),
        ("- notify: {payload: {}}", "6:17", "notify needs a 'channel'"),
        ("- notify: {channel: c, payload: {a: [1]}}", "6:43", "payload 'a' must be text"),
        ("- notify: {channel: c, to: x}", "6:30", "unknown key 'to' in notify"),
        ("- insert: X\n        values: [a]", "7:17", "values must be a mapping"),
        ("- if: a\n        then: x", "7:15", "then must be a list"),
    ],
)
def test_bad_steps(step: str, where: str, fragment: str) -> None:
    err = load_error(head(f"actions:\n  - name: a\n    steps:\n      {step}\n"))
    assert str(err).startswith(f"spec.yaml:{where}: "), str(err)
    assert fragment in str(err)


def test_error_inside_a_literal_block_points_at_the_right_line_and_column() -> None:
    err = load_error(
        head(
            "actions:\n  - name: a\n    steps:\n"
            "      - update: |\n          X SET a = 1,\n             b = = 2\n"
        )
    )
    assert str(err).startswith('spec.yaml:8:18: invalid SQL: syntax error at or near "="')


def test_a_five_megabyte_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    body = "".join(f"  field_{i}: text\n" for i in range(5 * 1024 * 1024 // 18))
    path.write_text(head("fields:\n" + body)[: 5 * 1024 * 1024])
    assert path.stat().st_size == 5 * 1024 * 1024
    with pytest.raises(SpecqlError) as err:
        load_file(path)
    assert str(err.value) == f"{path}:1:1: spec file is 5.0 MB; the limit is 2 MB (MAX_SPEC_BYTES)"
    with pytest.raises(SpecqlError, match="the limit is 2 MB"):
        load_text(path.read_text(), str(path))


def test_a_file_just_under_the_cap_loads(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    text = head("description: |\n" + "  words words words\n" * ((MAX_SPEC_BYTES - 100) // 20))
    path.write_text(text)
    assert MAX_SPEC_BYTES - 200 < path.stat().st_size <= MAX_SPEC_BYTES
    assert load_file(path).description.startswith("words words")


def test_non_utf8_bytes_are_reported_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"entity: X\nschema: crm\ndescription: caf\xe9 au lait\n")
    with pytest.raises(SpecqlError) as err:
        load_file(path)
    assert str(err.value) == f"{path}:3:17: not UTF-8: invalid byte 0xe9 at byte offset 38"


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    err = load_error(head("description: d\n") + "\n".join(lines) + "\n")
    assert "YAML aliases (*a0) are not allowed" in str(err)
    assert str(err).startswith("spec.yaml:5:10: ")


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200))],
)
def test_deep_nesting_is_refused_not_a_crash(text: str) -> None:
    err = load_error(text)
    assert "nested deeper than 64 levels" in str(err)


def test_too_many_nodes_are_refused() -> None:
    err = load_error(head("description: d\nx: [" + ",".join(["1"] * 250_000) + "]\n"))
    assert "too many YAML nodes" in str(err)


def test_huge_expressions_are_refused_not_a_crash() -> None:
    expr = "+".join(["a"] * 40_000)
    err = load_error(head(f"actions:\n  - name: a\n    steps:\n      - update: X SET a = {expr}\n"))
    assert "longer than 20000 characters" in str(err)


def test_expressions_too_deep_to_deparse_are_an_error() -> None:
    expr = "+".join(["a"] * 3000)
    err = load_error(head(f"actions:\n  - name: a\n    steps:\n      - update: X SET a = {expr}\n"))
    assert str(err).startswith("spec.yaml:6:17: SQL nested too deeply")


def test_lone_surrogates_are_an_error() -> None:
    err = load_error("entity: \ud800\n")
    assert "not valid Unicode" in str(err)


def test_unreadable_path() -> None:
    with pytest.raises(SpecqlError, match="cannot read spec"):
        load_file("/nonexistent/spec.yaml")
