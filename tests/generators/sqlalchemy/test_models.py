"""One schema module: enum classes, the mapped classes' attributes, the names Python or
SQLAlchemy reserve, docstrings and comments, pattern code placed after its model."""

from __future__ import annotations

import pytest

from specql.dsl.loader import load_text
from specql.dsl.model import Extension
from specql.errors import SpecqlError
from tests.generators.sqlalchemy.conftest import generate_models

CRM = "sqlalchemy/specql_models/crm.py"

CONTACT = """
entity: Contact
schema: crm
subdomain: accounts
description: A person we sell to.
fields:
  email: { type: email, nullable: false, description: "Where we write to" }
  status: enum(lead, qualified, customer) = lead
  labels: list(enum(vip, partner))
  metadata: json
  pass: text
  active: boolean = true
"""


def _crm(registry_copy, *texts: str, extensions=()) -> str:
    entities = [load_text(text, f"spec{n}.yaml") for n, text in enumerate(texts or (CONTACT,))]
    entities[0].extensions = list(extensions)
    return generate_models(entities, registry_copy)[CRM]


def test_an_enum_is_a_strenum_and_a_check(registry_copy):
    crm = _crm(registry_copy)
    assert (
        "class ContactStatus(enum.StrEnum):\n"
        '    """The values of crm.tb_contact.status: the labels its CHECK allows."""\n'
        "\n"
        '    LEAD = "lead"\n'
        '    QUALIFIED = "qualified"\n'
        '    CUSTOMER = "customer"\n'
    ) in crm
    assert (
        "\"status IN ('lead', 'qualified', 'customer')\", name=\"tb_contact_status_check\"" in crm
    )
    assert "server_default=sa.text(\"'lead'\")" in crm
    # a TEXT column, not a PostgreSQL ENUM type
    assert "status: Mapped[str | None] = mapped_column(" in crm
    assert "sa.Enum" not in crm


def test_a_list_of_enum_gets_the_strenum_and_an_array_check(registry_copy):
    crm = _crm(registry_copy)
    assert "class ContactLabels(enum.StrEnum):" in crm
    assert "labels: Mapped[list[str] | None] = mapped_column(pg.ARRAY(sa.Text())" in crm
    assert "\"labels <@ ARRAY['vip', 'partner']::TEXT[]\"" in crm


def test_a_rich_type_keeps_its_check_with_the_sql_targets_name(registry_copy):
    crm = _crm(registry_copy)
    assert 'name="tb_contact_email_check"' in crm
    assert "email ~ '^[A-Za-z0-9._%+-]+@" in crm


def test_reserved_names_get_a_trailing_underscore_and_keep_their_column(registry_copy):
    crm = _crm(registry_copy)
    assert 'metadata_: Mapped[typing.Any] = mapped_column("metadata", pg.JSONB()' in crm
    assert 'pass_: Mapped[str | None] = mapped_column("pass", sa.Text()' in crm
    # a field named like the soft-delete helper keeps its name: the field wins
    assert "    active: Mapped[bool | None] = mapped_column(" in crm


def test_descriptions_become_docstring_and_comments(registry_copy):
    crm = _crm(registry_copy)
    assert 'class Contact(AuditMixin, Base):\n    """A person we sell to."""\n' in crm
    assert 'comment="Where we write to"' in crm
    assert '{"schema": "crm", "comment": "A person we sell to."}' in crm


def test_trinity_and_tenant_columns(registry_copy):
    crm = _crm(registry_copy)
    assert "sa.Integer(), sa.Identity(always=True), primary_key=True" in crm
    assert (
        'sa.Uuid(), unique=True, nullable=False, server_default=sa.text("gen_random_uuid()")' in crm
    )
    assert "identifier: Mapped[str] = mapped_column(sa.Text(), unique=True, nullable=False)" in crm
    assert (
        "tenant_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid(), nullable=False, index=True)" in crm
    )


def test_soft_delete_lives_in_the_base_module_only(registry_copy):
    files = generate_models([load_text(CONTACT, "c.yaml")], registry_copy)
    base = files["sqlalchemy/specql_models/base.py"]
    assert "class AuditMixin:" in base
    assert "def active(cls)" in base and "def soft_delete(self)" in base
    assert "deleted_at" not in files[CRM]
    assert "def " not in files[CRM]


def test_pattern_code_follows_its_model_verbatim(registry_copy):
    code = "Contact.__doc__ += ' (audited)'\n\n\ndef contact_history(session):\n    return []\n"
    other = "entity: Deal\nschema: crm\nsubdomain: pipeline\nfields:\n  title: text!\n"
    crm = _crm(
        registry_copy,
        CONTACT,
        other,
        extensions=[
            Extension("sqlalchemy", "audit_trail_history", code, "audit_trail"),
            Extension("postgres", "audit_trail_trigger", "CREATE TRIGGER x ...", "audit_trail"),
        ],
    )
    assert code.rstrip("\n") in crm
    assert "CREATE TRIGGER" not in crm
    contact_at = crm.index("class Contact(")
    assert contact_at < crm.index(code.rstrip("\n")) < crm.index("class Deal(")


def test_a_ref_field_with_a_default_is_refused(registry_copy):
    with pytest.raises(SpecqlError, match=r"Note\.contact: a ref field cannot have a default"):
        generate_models(
            [
                load_text(CONTACT, "c.yaml"),
                load_text(
                    "entity: Note\nschema: crm\nfields:\n  contact: { type: ref(Contact), default: '1' }\n",
                    "n.yaml",
                ),
            ],
            registry_copy,
        )


def test_enum_labels_that_make_one_member_are_refused(registry_copy):
    text = "entity: Flag\nschema: crm\nfields:\n  kind: enum(on, ON)\n"
    with pytest.raises(SpecqlError, match="'on' and 'ON' would both be the Python member ON"):
        generate_models([load_text(text, "f.yaml")], registry_copy)


def test_an_enum_class_clashing_with_an_entity_is_refused(registry_copy):
    status = "entity: ContactStatus\nschema: crm\nfields:\n  name: text\n"
    with pytest.raises(SpecqlError, match="class ContactStatus of the crm models would clash"):
        generate_models([load_text(CONTACT, "c.yaml"), load_text(status, "s.yaml")], registry_copy)


def test_fields_that_make_one_attribute_are_refused(registry_copy):
    text = "entity: Pass\nschema: crm\nfields:\n  pass: text\n  pass_: text\n"
    with pytest.raises(SpecqlError, match="'pass' and 'pass_' would both be the class attribute"):
        generate_models([load_text(text, "p.yaml")], registry_copy)
