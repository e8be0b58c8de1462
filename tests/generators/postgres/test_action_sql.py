"""The SQL the action compiler emits: exact step shapes (``specql reverse`` reads them back),
name rewriting on the AST, and compile-time errors. No database needed; the behaviour on a
real server is in test_actions.py."""

from __future__ import annotations

import textwrap

import pglast
import pytest

from specql.dsl.loader import load_text
from specql.errors import SpecqlError
from specql.generators.postgres.actions import compile_action
from specql.generators.postgres.context import CompileContext

ACCOUNT = """
entity: Account
schema: crm
fields:
  name: text!
  status: enum(active, closed) = active
  balance: { type: integer, default: "0" }
  parent: ref(Account)
"""

INVOICE = """
entity: Invoice
schema: crm
fields:
  account: ref(Account)!
  amount: integer!
  paid: boolean = false
"""

GADGET = """
entity: Gadget
schema: catalog
fields:
  code: text!
"""


def spec(base: str, steps: str, params: str = "") -> str:
    action = "actions:\n  - name: act\n"
    if params:
        action += textwrap.indent(textwrap.dedent(params).strip(), "    ") + "\n"
    action += "    steps:\n" + textwrap.indent(textwrap.dedent(steps).strip(), "      ") + "\n"
    return base + action


def compile_steps(steps: str, base: str = ACCOUNT, params: str = "") -> str:
    entity = load_text(spec(base, steps, params))
    others = [load_text(t) for t in (ACCOUNT, INVOICE, GADGET) if t is not base]
    ctx = CompileContext.of([entity, *others], ["crm"])
    sql = compile_action(entity, entity.actions[0], ctx)
    pglast.parse_sql(sql)
    return sql


def body_lines(sql: str) -> list[str]:
    """The lines of the steps (between the instance load / checks and the final RETURN)."""
    lines = [line.strip() for line in sql.splitlines()]
    start = lines.index("BEGIN", lines.index("BEGIN") + 1) + 1
    end = max(i for i, line in enumerate(lines) if line == "EXCEPTION")
    return lines[start:end]


def steps_of(sql: str) -> list[str]:
    """The step lines: without the NOT NULL param checks and the instance load."""
    lines = body_lines(sql)
    while lines and lines[0].startswith("IF p_") and lines[0].endswith(" IS NULL THEN"):
        lines = lines[3:]
    if lines and lines[0].endswith("FOR UPDATE;"):
        lines = lines[4:]  # SELECT … INTO v_<entity> + IF NOT FOUND … END IF
    return lines


# --------------------------------------------------------------------------- function frame


def test_function_frame():
    sql = compile_steps(
        "- update: Account SET name = $new_name", params="params: { new_name: text! }"
    )
    assert sql.startswith(
        "CREATE OR REPLACE FUNCTION crm.fn_crm_act(\n"
        "    p_tenant_id UUID,\n"
        "    p_user_id UUID,\n"
        "    p_id UUID DEFAULT NULL,\n"
        "    p_new_name TEXT DEFAULT NULL\n"
        ")\n"
        "RETURNS app.mutation_result\n"
        "LANGUAGE plpgsql\n"
        "AS $fn$\n"
        "DECLARE\n"
        "    v_account RECORD;\n"
        "    _error_code TEXT;\n"
        "    _error_message TEXT;\n"
        "BEGIN\n"
        "    BEGIN\n"
        "        IF p_new_name IS NULL THEN\n"
        "            PERFORM app.raise_business_error('missing_new_name', "
        "'Parameter new_name is required');\n"
        "        END IF;\n"
        "        SELECT * INTO v_account FROM crm.tb_account AS account WHERE account.id = p_id "
        "AND account.tenant_id = p_tenant_id AND account.deleted_at IS NULL FOR UPDATE;\n"
        "        IF NOT FOUND THEN\n"
        "            PERFORM app.raise_business_error('not_found', 'Account not found');\n"
        "        END IF;\n"
    )
    assert sql.endswith(
        "        RETURN ROW('success', 'act succeeded', p_id, (SELECT tv_account.data FROM "
        "crm.tv_account WHERE tv_account.id = p_id))::app.mutation_result;\n"
        "    EXCEPTION\n"
        "        WHEN SQLSTATE 'SQB01' THEN\n"
        "            GET STACKED DIAGNOSTICS _error_code = PG_EXCEPTION_DETAIL, "
        "_error_message = MESSAGE_TEXT;\n"
        "            RETURN ROW('error:' || _error_code, _error_message, p_id, NULL)"
        "::app.mutation_result;\n"
        "    END;\n"
        "END;\n"
        "$fn$;\n"
    )


def test_shared_schema_has_no_tenant_and_no_instance_when_unused():
    sql = compile_steps(
        """
        - insert: Gadget
          values: { code: $code }
        """,
        base=GADGET,
        params="params: { code: text }",
    )
    assert "p_tenant_id" not in sql
    assert "v_gadget RECORD" not in sql
    assert "COALESCE(p_id, _created_id)" in sql
    assert steps_of(sql) == [
        "_new_id := gen_random_uuid();",
        "INSERT INTO catalog.tb_gadget (id, identifier, code)",
        "VALUES (_new_id, _new_id::text, p_code);",
        "_created_id := _new_id;",
        "RETURN ROW('success', 'act succeeded', COALESCE(p_id, _created_id), (SELECT "
        "tv_gadget.data FROM catalog.tv_gadget WHERE tv_gadget.id = COALESCE(p_id, "
        "_created_id)))::app.mutation_result;",
    ]


# --------------------------------------------------------------------------- step shapes


def test_validate_and_if_shapes():
    sql = compile_steps(
        """
        - validate: status = 'active'
          error: closed
        - if: balance > 10
          then:
            - reject: too_rich
              message: "It's too much"
          else: []
        """
    )
    assert steps_of(sql)[:7] == [
        "IF NOT COALESCE((v_account.status = 'active'), false) THEN",
        "PERFORM app.raise_business_error('closed', 'Closed');",
        "END IF;",
        "IF v_account.balance > 10 THEN",
        "PERFORM app.raise_business_error('too_rich', 'It''s too much');",
        "END IF;",
        "RETURN ROW('success', 'act succeeded', p_id, (SELECT tv_account.data FROM "
        "crm.tv_account WHERE tv_account.id = p_id))::app.mutation_result;",
    ]


def test_if_else_and_empty_branch():
    sql = compile_steps(
        """
        - if: paid
          then: []
          else:
            - update: Invoice SET paid = true
        """,
        base=INVOICE,
    )
    assert steps_of(sql)[:7] == [
        "IF v_invoice.paid THEN",
        "NULL;",
        "ELSE",
        "UPDATE crm.tb_invoice AS invoice",
        "SET paid = TRUE, updated_at = now()",
        "WHERE invoice.id = p_id AND invoice.tenant_id = p_tenant_id AND "
        "invoice.deleted_at IS NULL;",
        "END IF;",
    ]


def test_insert_of_another_entity_with_a_ref_and_as():
    sql = compile_steps(
        """
        - insert: Invoice
          values: { account: $id, amount: balance * 2 }
          as: inv
        """
    )
    assert "    v_inv UUID;\n    _new_id UUID;\n" in sql
    assert "_created_id" not in sql
    assert steps_of(sql)[:4] == [
        "_new_id := gen_random_uuid();",
        "INSERT INTO crm.tb_invoice (id, tenant_id, identifier, fk_account, amount)",
        "VALUES (_new_id, p_tenant_id, _new_id::text, (SELECT tb_account.pk_account FROM "
        "crm.tb_account WHERE tb_account.id = p_id AND tb_account.tenant_id = p_tenant_id), "
        "v_account.balance * 2);",
        "v_inv := _new_id;",
    ]


def test_insert_with_given_id_and_identifier():
    sql = compile_steps(
        """
        - insert: Account
          values: { id: $new_id, identifier: "'A-' || $name", name: $name }
        """,
        params="params: { new_id: uuid!, name: text! }",
    )
    lines = steps_of(sql)
    assert lines[:3] == [
        "_new_id := p_new_id;",
        "INSERT INTO crm.tb_account (id, tenant_id, identifier, name)",
        "VALUES (_new_id, p_tenant_id, 'A-' || p_name, p_name);",
    ]


def test_update_delete_shapes():
    sql = compile_steps(
        """
        - update: Invoice SET amount = amount + 1, account = $other WHERE paid AND account = $id
        - delete: Invoice WHERE amount = 0
        - delete: Invoice WHERE amount < 0
          hard: true
        - delete: Account
        """,
        params="params: { other: uuid }",
    )
    key = (
        "(SELECT tb_account.pk_account FROM crm.tb_account WHERE tb_account.id = {} AND "
        "tb_account.tenant_id = p_tenant_id)"
    )
    assert steps_of(sql)[:11] == [
        "UPDATE crm.tb_invoice AS invoice",
        f"SET amount = invoice.amount + 1, fk_account = {key.format('p_other')}, "
        "updated_at = now()",
        f"WHERE invoice.paid AND invoice.fk_account = {key.format('p_id')} AND "
        "invoice.tenant_id = p_tenant_id AND invoice.deleted_at IS NULL;",
        "UPDATE crm.tb_invoice AS invoice",
        "SET deleted_at = now(), updated_at = now()",
        "WHERE invoice.amount = 0 AND invoice.tenant_id = p_tenant_id AND "
        "invoice.deleted_at IS NULL;",
        "DELETE FROM crm.tb_invoice AS invoice",
        "WHERE invoice.amount < 0 AND invoice.tenant_id = p_tenant_id;",
        "UPDATE crm.tb_account AS account",
        "SET deleted_at = now(), updated_at = now()",
        "WHERE account.id = p_id AND account.tenant_id = p_tenant_id AND "
        "account.deleted_at IS NULL;",
    ]


def test_find_query_declare_assign_call_notify_foreach_return_shapes():
    sql = compile_steps(
        """
        - find: Account WHERE name = $name
          into: other
          error: other_missing
        - find: Gadget WHERE code = 'x'
          into: g
        - declare: { total: integer = 0, since: datetime = now(), copy: integer = balance }
        - query: SELECT count(*) FROM Invoice WHERE account = other.id
          into: n
        - assign: total = total + n
        - call: app.log_event('e', jsonb_build_object('n', n))
        - call: app.log_event('e', NULL)
          store: event
        - notify: { channel: "it's", payload: { id: $id, n: n } }
        - foreach: inv
          in: SELECT amount FROM Invoice WHERE NOT paid
          do:
            - assign: total = total + inv.amount
        - raw_sql: SELECT 1
          reason: test
        - return: total
        """,
        params="params: { name: text }",
    )
    assert (
        "DECLARE\n"
        "    v_account RECORD;\n"
        "    v_other RECORD;\n"
        "    v_g RECORD;\n"
        "    v_total INTEGER := 0;\n"
        "    v_since TIMESTAMPTZ := now();\n"
        "    v_copy INTEGER;\n"
        "    v_n BIGINT;\n"
        "    v_event UUID;\n"
        "    v_inv RECORD;\n"
    ) in sql
    assert steps_of(sql) == [
        "SELECT * INTO v_other FROM crm.tb_account AS account WHERE account.name = p_name AND "
        "account.tenant_id = p_tenant_id AND account.deleted_at IS NULL;",
        "IF NOT FOUND THEN",
        "PERFORM app.raise_business_error('other_missing', 'Other missing');",
        "END IF;",
        "SELECT * INTO v_g FROM catalog.tb_gadget AS gadget WHERE gadget.code = 'x' AND "
        "gadget.deleted_at IS NULL;",
        "v_copy := v_account.balance;",
        "SELECT count(*) INTO v_n FROM crm.tb_invoice AS invoice WHERE invoice.fk_account = "
        "v_other.pk_account AND invoice.tenant_id = p_tenant_id AND "
        "invoice.deleted_at IS NULL;",
        "v_total := v_total + v_n;",
        "PERFORM app.log_event('e', jsonb_build_object('n', v_n));",
        "v_event := app.log_event('e', NULL);",
        "PERFORM pg_notify('it''s', jsonb_build_object('id', p_id, 'n', v_n)::text);",
        "FOR v_inv IN SELECT invoice.amount FROM crm.tb_invoice AS invoice WHERE NOT "
        "invoice.paid AND invoice.tenant_id = p_tenant_id AND invoice.deleted_at IS NULL LOOP",
        "v_total := v_total + v_inv.amount;",
        "END LOOP;",
        "PERFORM 1;",
        "RETURN ROW('success', 'act succeeded', p_id, to_jsonb(v_total))::app.mutation_result;",
    ]


def test_raw_sql_is_kept_and_the_dollar_tag_avoids_it():
    sql = compile_steps(
        """
        - raw_sql: "RAISE NOTICE '$fn$ %', 1"
          reason: test
        """,
        base=GADGET,
    )
    assert "AS $fn1$\n" in sql and sql.endswith("$fn1$;\n")
    assert "        RAISE NOTICE '$fn$ %', 1;\n" in sql
    pglast.parse_sql(sql)


# --------------------------------------------------------------------------- name rewriting


def test_subqueries_in_expressions_get_tenant_and_soft_delete_filters():
    sql = compile_steps(
        """
        - validate: NOT EXISTS (SELECT 1 FROM Invoice i WHERE i.account = $id AND NOT paid)
          error: unpaid
        """
    )
    assert (
        "IF NOT COALESCE((NOT EXISTS (SELECT 1 FROM crm.tb_invoice AS i WHERE i.fk_account = "
        "(SELECT tb_account.pk_account FROM crm.tb_account WHERE tb_account.id = p_id AND "
        "tb_account.tenant_id = p_tenant_id) AND NOT i.paid AND i.tenant_id = p_tenant_id AND "
        "i.deleted_at IS NULL)), false) THEN"
    ) in sql


def test_outer_join_filters_the_nullable_side_in_on():
    sql = compile_steps(
        """
        - query: SELECT count(i.id) FROM Account a LEFT JOIN Invoice i ON i.account = a.id
          into: n
        """
    )
    assert (
        "SELECT count(i.id) INTO v_n FROM crm.tb_account AS a LEFT JOIN crm.tb_invoice AS i "
        "ON i.fk_account = a.pk_account AND i.tenant_id = p_tenant_id AND i.deleted_at IS NULL "
        "WHERE a.tenant_id = p_tenant_id AND a.deleted_at IS NULL;"
    ) in sql


def test_ref_columns_read_as_uuids_and_keep_their_name():
    sql = compile_steps(
        """
        - foreach: row
          in: SELECT account, amount AS total FROM Invoice WHERE account IS NOT NULL ORDER BY total
          do: []
        """
    )
    assert (
        "FOR v_row IN SELECT (SELECT tb_account.id FROM crm.tb_account WHERE "
        "tb_account.pk_account = invoice.fk_account) AS account, invoice.amount AS total FROM "
        "crm.tb_invoice AS invoice WHERE invoice.fk_account IS NOT NULL AND "
        "invoice.tenant_id = p_tenant_id AND invoice.deleted_at IS NULL ORDER BY total LOOP"
    ) in sql


def test_instance_ref_compared_with_an_id_uses_the_key():
    sql = compile_steps(
        """
        - find: Account WHERE id = account
          into: owner
        - validate: account = $other
          error: other
        """,
        base=INVOICE,
        params="params: { other: uuid }",
    )
    assert "WHERE account.pk_account = v_invoice.fk_account AND" in sql
    assert (
        "IF NOT COALESCE(((SELECT tb_account.id FROM crm.tb_account WHERE "
        "tb_account.pk_account = v_invoice.fk_account) = p_other), false) THEN"
    ) in sql


def test_ctes_and_unknown_relations_are_left_alone():
    sql = compile_steps(
        """
        - query: WITH account AS (SELECT 1 AS x) SELECT sum(x)::integer FROM account
          into: n
        """
    )
    assert (
        "WITH account AS (SELECT 1 AS x) SELECT CAST(sum(x) AS integer) INTO v_n FROM account;"
        in sql
    )


def test_variables_shadow_fields_outside_queries():
    sql = compile_steps(
        """
        - declare: { name: text = 'x' }
        - validate: name = 'x'
          error: e
        - query: SELECT count(*) FROM Account WHERE name = name
          into: n
        """
    )
    assert "IF NOT COALESCE((v_name = 'x'), false) THEN" in sql
    assert "WHERE account.name = account.name AND" in sql  # inside a query: the column


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("steps", "params", "message"),
    [
        ("- validate: nope = 1\n  error: e", "", "unknown name 'nope'"),
        ("- validate: $nope = 1\n  error: e", "", "unknown parameter $nope"),
        ("- find: Nope WHERE x = 1\n  into: r", "", "unknown entity 'Nope'"),
        ("- update: Invoice SET paid = true", "", "say which rows, with WHERE"),
        ("- assign: nope = $x", "params: { x: text }", "assign to undeclared variable 'nope'"),
        ("- call: my_fn(1)\n  store: r", "", "cannot infer the type of variable 'r'"),
        ("- validate: r.x = 1\n  error: e", "", "'r' is not a record"),
        ("- update: Account SET nope = 1", "", "Account has no field 'nope'"),
        ("- update: Account SET identifier = 'x'", "", None),
        ("- update: Account SET created_at = now()", "", "Account has no field 'created_at'"),
        ("- insert: Invoice\n  values: { nope: 1 }", "", "Invoice has no field 'nope'"),
        ("- validate: \"'); DROP TABLE x; --' <> name\"\n  error: e", "", None),
        ("- validate: 1 = 1); DROP TABLE x; --\n  error: e", "", "invalid SQL"),
        (
            "- query: SELECT count(*) FROM Account a JOIN Invoice i ON true WHERE amount = 1 "
            "AND name = created_at\n  into: n",
            "",
            "'created_at' is ambiguous",
        ),
        ("- query: UPDATE Account SET name = 'x'\n  into: n", "", "expected a SELECT"),
        ("- declare: { account: text }\n- validate: name = 'x'\n  error: e", "", "would hide"),
    ],
)
def test_compile_errors(steps, params, message):
    if message is None:  # valid: compiles (an inferred variable, a string literal)
        compile_steps(steps, params=params)
        return
    with pytest.raises(SpecqlError, match=message.replace("$", r"\$").replace("(", r"\(")):
        compile_steps(steps, params=params)


def test_shared_actions_cannot_touch_tenant_tables():
    with pytest.raises(SpecqlError, match="multi-tenant entity 'Account'"):
        compile_steps("- find: Account WHERE name = 'x'\n  into: a", base=GADGET)


def test_reserved_parameter_names():
    with pytest.raises(SpecqlError, match="parameter 'id' is reserved"):
        compile_steps("- validate: true\n  error: e", params="params: { id: uuid }")


@pytest.mark.parametrize(
    ("expression", "declared"),
    [
        ("balance * 2", "v_x INTEGER;"),
        ("balance / 2.5", "v_x NUMERIC;"),
        ("name || '!'", "v_x TEXT;"),
        ("(SELECT count(*) FROM Invoice)", "v_x BIGINT;"),
        ("status = 'active' AND balance > 0", "v_x BOOLEAN;"),
        ("COALESCE($when, now())", "v_x TIMESTAMPTZ;"),
        ("parent", "v_x UUID;"),
        ("crm.fn_crm_act(p_user_id => $user_id)", "v_x RECORD;"),
        ("(current_date - created_at::date)::integer", "v_x INTEGER;"),
    ],
)
def test_types_of_undeclared_variables(expression, declared):
    sql = compile_steps(
        f'- query: "SELECT {expression}"\n  into: x', params="params: { when: datetime }"
    )
    assert f"    {declared}\n" in sql


def test_a_type_that_cannot_be_inferred_asks_for_a_declare():
    with pytest.raises(SpecqlError, match=r"declare it \(declare: \{ x: <type> \}\)"):
        compile_steps("- query: SELECT current_date - created_at::date\n  into: x")


def test_assign_needs_a_declared_target():
    with pytest.raises(SpecqlError, match="assign to undeclared variable 'x'; declare it first"):
        compile_steps("- assign: x = 1")
