"""An entity's ``indexes:`` in the models: field lists, functional indexes through
``sa.func``, the SQL target's names; proven with ``create_all`` against the SQL target's own
indexes; what cannot be translated is refused naming the entity and the index."""

from __future__ import annotations

import pytest

from specql.dsl.loader import load_text
from specql.dsl.model import Index
from specql.errors import SpecqlError
from specql.generators.postgres.apply import apply_manifest
from tests.generators.sqlalchemy.conftest import (
    catalog,
    generate_models,
    run_models,
    write_both_targets,
)

COMPANY = """
entity: Company
schema: crm
subdomain: accounts
fields:
  name: text!
"""
CONTACT = """
entity: Contact
schema: crm
subdomain: accounts
fields:
  email: email!
  first_name: text
  last_name: text
  status: enum(lead, customer) = lead
  company: ref(Company)
"""


def _entities(*indexes: Index):
    """Company and a Contact with ``indexes`` (built in Python: the YAML form is the loader's
    business)."""
    contact = load_text(CONTACT, "contact.yaml")
    contact.indexes = list(indexes)
    return [load_text(COMPANY, "company.yaml"), contact]


INDEXES = (
    Index(expression="lower(email)", unique=True),
    Index(fields=["last_name", "first_name"]),
    Index(fields=["company", "status"]),
    Index(expression="coalesce(last_name, '')", name="contact_last_name_or_blank"),
    Index(fields=["tenant_id", "email"], unique=True, name="contact_email_per_tenant"),
)


def test_indexes_render_as_table_args(registry_copy):
    crm = generate_models(_entities(*INDEXES), registry_copy)["sqlalchemy/specql_models/crm.py"]
    assert (
        'sa.Index("idx_tb_contact_lower_email", sa.func.lower(sa.column("email")), unique=True)'
        in crm
    )
    assert 'sa.Index("idx_tb_contact_last_name_first_name", "last_name", "first_name")' in crm
    assert 'sa.Index("idx_tb_contact_company_status", "fk_company", "status")' in crm
    assert (
        'sa.Index("contact_last_name_or_blank", sa.func.coalesce(sa.column("last_name"), ""))'
        in crm
    )
    assert 'sa.Index("contact_email_per_tenant", "tenant_id", "email", unique=True)' in crm


@pytest.mark.postgres
def test_create_all_creates_the_indexes_the_sql_target_creates(
    registry_copy, tmp_path, pg_database, second_database
):
    out = write_both_targets(_entities(*INDEXES), registry_copy, tmp_path / "out")
    run_models(out, pg_database, "create_all")
    apply_manifest(out, second_database)
    from_models = catalog(pg_database, ["crm"])["indexes"]
    assert from_models == catalog(second_database, ["crm"])["indexes"]
    definitions = {row[2]: row[3] for row in from_models}
    assert definitions["idx_tb_contact_lower_email"] == (
        "CREATE UNIQUE INDEX idx_tb_contact_lower_email ON crm.tb_contact USING btree (lower(email))"
    )
    assert "(COALESCE(last_name, ''::text))" in definitions["contact_last_name_or_blank"]


def test_an_untranslatable_expression_is_refused_naming_entity_and_index(registry_copy):
    entities = _entities(Index(expression="first_name || last_name", name="contact_full_name"))
    with pytest.raises(SpecqlError) as caught:
        generate_models(entities, registry_copy)
    message = str(caught.value)
    assert message.startswith("Contact index contact_full_name: cannot translate")
    assert "'first_name || last_name'" in message


def test_an_unknown_field_is_refused_naming_entity_and_index(registry_copy):
    entities = _entities(Index(fields=["email", "nickname"]))
    with pytest.raises(SpecqlError, match=r"Contact index email, nickname: .*no field 'nickname'"):
        generate_models(entities, registry_copy)


def test_tenant_id_is_no_column_of_a_shared_schema(registry_copy):
    category = load_text("entity: Category\nschema: catalog\nfields:\n  name: text!\n", "c.yaml")
    category.indexes = [Index(fields=["tenant_id", "name"])]
    with pytest.raises(SpecqlError, match="no field 'tenant_id'"):
        generate_models([category], registry_copy)


def test_a_name_another_index_of_the_table_has_is_refused(registry_copy):
    entities = _entities(Index(fields=["company"], unique=True, name="idx_tb_contact_fk_company"))
    with pytest.raises(SpecqlError, match="name of another index of its table"):
        generate_models(entities, registry_copy)
