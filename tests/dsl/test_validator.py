"""The validator: every problem in one pass, each at the position of the node it is about."""

from __future__ import annotations

import textwrap

import pytest

from specql.dsl import model as m
from specql.dsl.loader import load_text
from specql.dsl.validator import check, validate
from specql.errors import ErrorLevel, SourcePos, SpecqlErrors

COMPANY = load_text("entity: Company\nschema: crm\nfields:\n  name: text!\n  city: text\n")
NOTE = load_text(
    "entity: Note\nschema: crm\nfields:\n  contact: ref(Contact)!\n  body: text!\n"
    "  pinned: boolean = false\n"
)


def contact(steps: str, params: str = "{ reason: text }") -> m.Entity:
    """A Contact spec with one action made of ``steps`` (YAML list items, any indentation)."""
    body = textwrap.indent(textwrap.dedent(steps).strip("\n"), "      ")
    return load_text(
        "entity: Contact\nschema: crm\nfields:\n  email: email!\n  status: enum(lead, won) = lead\n"
        "  company: ref(Company)\n  score: integer = 0\nactions:\n  - name: act\n"
        f"    params: {params}\n    steps:\n{body}\n",
        "contact.yaml",
    )


def problems(steps: str, params: str = "{ reason: text }") -> list[str]:
    return [
        str(p).removeprefix("contact.yaml:")
        for p in validate([COMPANY, NOTE, contact(steps, params)])
    ]


def test_a_clean_action_has_no_problem() -> None:
    assert (
        problems(
            """
            - declare: { total: integer = 0 }
            - validate: status = 'lead' AND $reason IS NOT NULL AND $id IS NOT NULL
              error: not_a_lead
            - find: Company WHERE name = $reason AND city IS NOT NULL
              into: co
            - insert: Note
              values: { contact: $id, body: co.name }
              as: note_id
            - update: Contact SET status = 'won', score = score + 1 WHERE company = co.id
            - query: SELECT count(*) AS n, max(n2.body) AS last FROM Note n2 WHERE n2.contact = $id
              into: stats
            - assign: total = stats.n + 1
            - foreach: row
              in: SELECT body FROM Note WHERE contact = $id
              do:
                - assign: total = total + length(row.body)
            - notify: { channel: won, payload: { id: $id, note: note_id, user: $user_id } }
            - validate: NOT EXISTS (SELECT 1 FROM Note WHERE body = '' AND contact = $id)
              error: empty_note
            - call: app.log_event(p_event => 'won', p_data => to_jsonb(total))
              store: log_id
            - return: total
            """
        )
        == []
    )


def test_variables_are_in_scope_only_after_the_step_that_introduces_them() -> None:
    assert problems(
        """
        - validate: seen
          error: e
        - find: Company WHERE name = $reason
          into: seen
        - validate: seen.name IS NOT NULL
          error: e
        """
    ) == ["12:9: validate: unknown field or variable 'seen'"]


def test_declare_is_sequential_and_assign_needs_a_declared_variable() -> None:
    assert problems(
        """
        - assign: total = 1
        - declare: { total: integer }
        - assign: total = total + 1
        - assign: ghost = 2
        """
    ) == [
        "12:9: assign to undeclared variable 'total'; declare it first",
        "15:9: assign to undeclared variable 'ghost'; declare it first",
    ]


def test_a_variable_set_inside_an_if_branch_stays_visible_after_it() -> None:
    assert (
        problems(
            """
            - if: score > 1
              then:
                - query: SELECT count(*) FROM Note
                  into: n
            - return: n
            """
        )
        == []
    )


def test_a_foreach_variable_is_scoped_to_its_body() -> None:
    assert problems(
        """
        - foreach: row
          in: SELECT body FROM Note
          do:
            - return: row.body
        - return: row.body
        """
    ) == ["16:9: return: unknown record or entity 'row' in row.body"]


def test_record_columns_come_from_the_entity_or_the_select_list() -> None:
    assert problems(
        """
        - find: Company WHERE name = $reason
          into: co
        - query: SELECT body, pinned AS p FROM Note
          into: r
        - return: co.city || co.nope || co.id || r.body || r.p || r.pinned
        """
    ) == [
        "16:9: return: record 'co' has no column 'nope'",
        "16:9: return: record 'r' has no column 'pinned'",
    ]


def test_select_star_leaves_record_columns_unchecked() -> None:
    assert (
        problems(
            """
        - query: SELECT * FROM Note
          into: r
        - return: r.anything
        """
        )
        == []
    )


def test_values_are_not_records_and_records_are_read_only() -> None:
    assert problems(
        """
        - declare: { total: integer }
        - find: Company WHERE name = $reason
          into: co
        - assign: co = 1
        - return: total.x
        """
    ) == [
        "15:9: assign: 'co' is a record; records are read-only",
        "16:9: return: 'total' is a value, not a record (total.x)",
    ]


def test_reintroducing_a_name_as_another_kind_is_an_error() -> None:
    assert problems(
        """
        - call: now()
          store: x
        - find: Company WHERE name = 'a'
          into: x
        """
    ) == ["14:9: variable 'x' is already defined at line 12 as a value"]


def test_a_query_may_store_into_a_declared_variable() -> None:
    # docs/generated-postgres.md: a declared variable keeps its declared type; only new
    # targets get an inferred one.
    assert problems(
        """
        - declare: { bigger: bigint = 0 }
        - query: SELECT count(*) FROM Note WHERE body = $reason
          into: bigger
        - query: SELECT count(*) FROM Note
          into: fresh
        - validate: bigger = 0 AND fresh > 0 AND fresh.count > 0
          error: e
        """
    ) == ["17:9: validate: 'fresh' is a value, not a record (fresh.count)"]


def test_queries_may_name_physical_tables_and_catalogs() -> None:
    assert problems(
        """
        - query: SELECT n.body FROM crm.tb_note n
          into: a
        - query: SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'r'
          into: b
        - query: SELECT 1 FROM app.tb_event_log
          into: c
        """
    ) == ["16:9: query: unknown entity 'app.tb_event_log' in FROM"]


def test_shadowing_a_field_is_a_warning() -> None:
    found = validate([COMPANY, NOTE, contact("- call: now()\n  store: score\n")])
    assert [(p.level, p.message) for p in found] == [
        (ErrorLevel.WARNING, "variable 'score' hides the field of the same name")
    ]


def test_queries_resolve_aliases_case_insensitive_entities_and_ctes() -> None:
    assert problems(
        """
        - query: |
            WITH recent AS (SELECT contact FROM note WHERE pinned)
            SELECT c.name, count(*) AS n FROM COMPANY c, recent r
            WHERE r.whatever IS NOT NULL GROUP BY c.name ORDER BY n
          into: q
        - query: SELECT c.nope, x.y FROM Company c WHERE nme = 'a'
          into: q2
        """
    ) == [
        "17:9: query: Company has no field 'nope'",
        "17:9: query: unknown field or variable 'nme'; did you mean name?",
        "17:9: query: unknown record or entity 'x' in x.y",
    ]


def test_queries_must_be_selects_over_known_entities() -> None:
    assert problems(
        """
        - query: DELETE FROM Note
          into: q
        - foreach: r
          in: SELECT 1 FROM crm.Nope, sales.Company
          do: []
        - query: SELECT FROM WHERE
          into: q3
        """
    ) == [
        "12:9: query must be a SELECT",
        "14:9: foreach: unknown entity 'crm.nope' in FROM; did you mean Note?",
        "14:9: foreach: unknown entity 'sales.company' in FROM; did you mean Company?",
        "17:9: query: invalid SQL: syntax error at or near \"WHERE\" in 'SELECT FROM WHERE'",
    ]


def test_update_and_insert_target_fields() -> None:
    assert problems(
        """
        - update: Note SET body = 'x', pinned = NOT pinned, created_at = now() WHERE contact = $id
        - insert: Note
          values: { body: $reason }
        - insert: Note
          values: { contact: $id, body: $reason, nope: 1 }
        - delete: Note WHERE nope = 1
          hard: true
        """
    ) == [
        "12:9: update: the framework manages 'created_at'",
        "13:9: insert into Note misses NOT NULL field(s) without default: contact",
        "15:9: insert: Note has no field 'nope'",
        "17:9: delete WHERE: unknown field or variable 'nope'",
    ]


def test_an_insert_may_choose_id_and_identifier_and_an_update_may_change_identifier() -> None:
    assert (
        problems(
            """
            - insert: Note
              values: { id: gen_random_uuid(), identifier: "'n-1'", contact: $id, body: "'b'" }
            - update: Note SET identifier = 'n-2' WHERE contact = $id
            """
        )
        == []
    )


def test_params_and_their_defaults() -> None:
    found = problems(
        "- return: $reason || $missing || $user_id",
        params="{ reason: text = 'x', n: integer = score, tenant_id: uuid, Bad: text }",
    )
    assert found == [
        "10:35: default of param 'n' must not refer to columns; found score",
        "10:55: param name 'tenant_id' is reserved: the generated function already has "
        "p_id, p_user_id and p_tenant_id ($id and $user_id in expressions)",
        "10:72: param name 'Bad' must be a lower-case identifier",
        "12:9: return: unknown param $missing; declared: $Bad, $id, $n, $reason, $tenant_id, "
        "$user_id",
    ]


def test_variable_defaults_may_use_params_and_earlier_variables_but_not_fields() -> None:
    assert problems(
        """
        - declare:
            a: text = $reason
            b: text = a || 'x'
            c: text = email
        """
    ) == ["15:11: default of variable 'c' must not refer to columns; found email"]


def test_raw_sql_without_a_reason_is_a_warning_and_check_ignores_warnings() -> None:
    entity = contact("- raw_sql: SELECT 1\n")
    found = validate([COMPANY, NOTE, entity])
    assert [(str(p.pos), p.level) for p in found] == [("contact.yaml:12:9", ErrorLevel.WARNING)]
    assert str(found[0]).startswith("contact.yaml:12:9: warning: raw_sql without a reason")
    check([COMPANY, NOTE, entity])  # warnings only: no exception


def test_check_raises_every_error_at_once() -> None:
    entity = contact("- return: nope1\n- return: nope2\n- raw_sql: SELECT 1\n")
    with pytest.raises(SpecqlErrors) as err:
        check([COMPANY, NOTE, entity])
    assert [str(e) for e in err.value] == [
        "contact.yaml:12:9: return: unknown field or variable 'nope1'",
        "contact.yaml:13:9: return: unknown field or variable 'nope2'",
    ]


def test_refs_must_resolve_and_be_unambiguous() -> None:
    other_company = load_text("entity: Company\nschema: sales\n", "other.yaml")
    user = load_text(
        "entity: User\nschema: crm\nfields:\n  a: ref(Company)\n  b: ref(sales.Company)\n"
        "  c: ref(crm.Nope)\n",
        "user.yaml",
    )
    assert [str(p) for p in validate([COMPANY, other_company, user])] == [
        "user.yaml:4:3: field 'a': ref to ambiguous entity 'Company': qualify it with its schema",
        "user.yaml:6:3: field 'c': ref to unknown entity 'crm.Nope'",
    ]


def test_types_built_in_code_are_checked_too() -> None:
    entity = m.Entity(
        "Built",
        "crm",
        fields=[
            m.Field("a", m.TypeRef("basic", "varchar"), pos=SourcePos("b.py", 1, 1)),
            m.Field("b", m.TypeRef("enum", "enum", values=("x", "x")), pos=SourcePos("b.py", 2, 1)),
            m.Field("c", m.TypeRef("list", "list", item=m.TypeRef("rich", "email"))),
        ],
    )
    assert [str(p) for p in validate([entity])] == [
        "b.py:1:1: field 'a' has an invalid type 'varchar'",
        "b.py:2:1: field 'b' has an invalid type 'enum(x, x)'",
    ]


def test_rich_defaults_are_checked_against_their_constraint() -> None:
    entity = load_text(
        "entity: Shop\nschema: crm\nfields:\n  a: country_code = 'FR'\n  b: country_code = 'fr'\n"
        "  c: port = 0\n  d: latitude = -45.5\n  e: email = NULL\n  f: enum(x, y) = z\n",
        "shop.yaml",
    )
    assert [str(p) for p in validate([entity])] == [
        "shop.yaml:5:3: default 'fr' of field 'b' is not a valid country_code",
        "shop.yaml:6:3: default 0 of field 'c' is outside port's range 1..65535",
        "shop.yaml:9:3: default 'z' of field 'f' is not one of x, y",
    ]


def test_every_error_is_one_line() -> None:
    entity = contact("- validate: a = = b\n  error: e\n- update: Nope SET x = 1\n")
    for p in validate([COMPANY, NOTE, entity]):
        assert "\n" not in str(p) and str(p).startswith("contact.yaml:")


def test_nodes_built_in_code_that_no_yaml_could_express_are_errors() -> None:
    action = m.Action(
        "act",
        steps=[
            m.UpdateStep(entity="Company", pos=SourcePos("r.py", 3, 1)),
            m.FindStep(entity="Company", where="", into="c", pos=SourcePos("r.py", 4, 1)),
        ],
    )
    entity = m.Entity("Built", "crm", actions=[action])
    assert [str(p) for p in validate([COMPANY, entity])] == [
        "r.py:3:1: update sets nothing: write 'Entity SET field = expression'",
        "r.py:4:1: find WHERE: empty expression in ''",
    ]
