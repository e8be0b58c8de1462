"""Model classes and the models module of a schema, from entities built in the test."""

from __future__ import annotations

import ast

import pytest

from specql.dsl import load_text
from specql.errors import SpecqlError
from specql.generators.django.entities import ModelWriter
from specql.generators.postgres.context import CompileContext


def module(*specs: str, multi_tenant: bool = True) -> str:
    entities = [load_text(text, f"spec{i}.yaml") for i, text in enumerate(specs)]
    ctx = CompileContext.of(entities, multi_tenant_schemas=["crm"] if multi_tenant else [])
    return ModelWriter(ctx, multi_tenant, entities).module(entities[0].schema)


COMPANY = "entity: Company\nschema: crm\nfields: { name: text! }\n"


def model_class(source: str, name: str) -> ast.ClassDef:
    return next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == name)


def assignments(cls: ast.ClassDef) -> dict[str, str]:
    return {
        ast.unparse(s.targets[0]): ast.unparse(s.value)
        for s in cls.body
        if isinstance(s, ast.Assign)
    }


def test_trinity_tenant_and_audit_fields():
    fields = assignments(model_class(module(COMPANY), "Company"))
    assert list(fields) == [
        "pk_company",
        "id",
        "identifier",
        "tenant_id",
        "name",
        "created_at",
        "updated_at",
        "deleted_at",
        "objects",
        "all_objects",
    ]
    assert fields["pk_company"] == "models.AutoField(primary_key=True, db_column='pk_company')"
    assert fields["id"] == (
        "models.UUIDField(unique=True, default=uuid.uuid4, editable=False, "
        "db_default=RawSQL('gen_random_uuid()', []))"
    )
    assert fields["identifier"] == "models.TextField(unique=True)"
    assert fields["deleted_at"] == "models.DateTimeField(null=True, blank=True)"


def test_shared_schema_has_no_tenant_id():
    source = module(
        "entity: Category\nschema: catalog\nfields: { name: text }\n", multi_tenant=False
    )
    assert "tenant_id" not in source


def test_ref_is_a_protected_foreign_key_on_the_fk_column():
    contact = "entity: Contact\nschema: crm\nfields: { employer: ref(Company)! }\n"
    fields = assignments(model_class(module(COMPANY, contact), "Contact"))
    assert fields["employer"] == (
        "models.ForeignKey('crm.Company', on_delete=models.PROTECT, db_column='fk_employer', "
        "db_index=False, related_name='+')"
    )


def test_ref_to_an_entity_outside_the_spec_set_is_an_error():
    with pytest.raises(SpecqlError, match="refers to no entity of the spec set"):
        module("entity: Contact\nschema: crm\nfields: { employer: ref(Company) }\n")


def test_enum_gets_choices_before_its_model():
    source = module("entity: Deal\nschema: crm\nfields:\n  stage: enum(open, won) = open\n")
    assert source.index("class DealStage(models.TextChoices):") < source.index("class Deal(")
    assert '    OPEN = "open"\n    WON = "won"' in source


def test_docstring_and_str():
    source = module('entity: Note\nschema: crm\ndescription: "A note, with \\"quotes\\""\n')
    note = model_class(source, "Note")
    assert ast.get_docstring(note) == 'A note, with "quotes"'
    method = next(n for n in note.body if isinstance(n, ast.FunctionDef))
    assert ast.unparse(method) == "def __str__(self):\n    return self.identifier"
    plain = model_class(module("entity: Note\nschema: crm\n"), "Note")
    assert ast.get_docstring(plain) == "The table crm.tb_note."


def test_field_named_like_an_import_gets_the_import_aliased():
    source = module("entity: Site\nschema: crm\nfields: { timezone: timezone, models: text }\n")
    assert "from django.utils import timezone as timezone_" in source
    assert "from django.db import models as models_" in source
    assert "created_at = models_.DateTimeField(default=timezone_.now" in source
    assert "class ActiveManager(models_.Manager):" in source
    compile(source, "models.py", "exec")


def test_enum_choices_named_like_an_entity_is_an_error():
    contact = "entity: Contact\nschema: crm\nfields:\n  status: enum(a, b)\n"
    clash = "entity: ContactStatus\nschema: crm\n"
    with pytest.raises(SpecqlError, match="would define ContactStatus twice"):
        module(contact, clash)


def test_entity_named_like_an_import_is_an_error():
    with pytest.raises(SpecqlError, match="would define RawSQL twice"):
        module("entity: RawSQL\nschema: crm\n")


def test_enum_labels_that_collide_upper_cased_are_an_error():
    with pytest.raises(SpecqlError, match=r"Contact\.kind: enum labels a, A do not make distinct"):
        module("entity: Contact\nschema: crm\nfields:\n  kind: enum(a, A)\n")
