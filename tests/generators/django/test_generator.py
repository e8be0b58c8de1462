"""The Django target's files: layout, codes, order, determinism, valid Python."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from specql import api
from specql.dsl import load_paths
from specql.dsl.model import Extension
from specql.generators.base import get_generator
from specql.generators.django.generator import DjangoGenerator
from tests.conftest import EXAMPLES


@pytest.fixture
def files(registry):
    return DjangoGenerator().generate(load_paths([EXAMPLES]), registry)


def test_registered_under_its_name():
    assert isinstance(get_generator("django"), DjangoGenerator)
    assert DjangoGenerator.name == "django"


def test_one_app_per_schema_with_codes_of_its_domain(files):
    assert [(f.code, f.path, f.name, f.layer) for f in files] == [
        ("012000", "django/crm/__init__.py", "__init__", "django"),
        ("012001", "django/crm/apps.py", "apps", "django"),
        ("012002", "django/crm/models.py", "models", "django"),
        ("013000", "django/catalog/__init__.py", "__init__", "django"),
        ("013001", "django/catalog/apps.py", "apps", "django"),
        ("013002", "django/catalog/models.py", "models", "django"),
        ("014000", "django/projects/__init__.py", "__init__", "django"),
        ("014001", "django/projects/apps.py", "apps", "django"),
        ("014002", "django/projects/models.py", "models", "django"),
    ]


def test_app_config_names_the_schema(files):
    apps = next(f for f in files if f.path == "django/crm/apps.py").content
    assert "class CrmConfig(AppConfig):" in apps
    assert '    name = "crm"\n    label = "crm"\n' in apps


def test_models_in_code_order(files):
    tree = ast.parse(next(f for f in files if f.path == "django/crm/models.py").content)
    models = [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef) and ast.unparse(node.bases[0]) == "models.Model"
    ]
    assert models == ["Note", "Company", "Contact", "Deal"]  # codes 0200, 0210, 0211, 0220


def test_every_file_parses_and_passes_pyflakes(files, tmp_path):
    for f in files:
        ast.parse(f.content, filename=f.path)
        (tmp_path / f.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.path).write_text(f.content, encoding="utf-8")
    ruff = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "F,E9",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    if ruff.returncode != 0 and "No module named ruff" in ruff.stderr:
        pytest.skip("ruff not installed")
    assert ruff.returncode == 0, ruff.stdout  # no undefined names, no unused imports


def test_soft_delete_manager_defined_once_per_module(files):
    for f in (f for f in files if f.name == "models"):
        assert f.content.count("class ActiveManager(") == 1
        tree = ast.parse(f.content)
        models = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name != "ActiveManager"]
        for model in (m for m in models if ast.unparse(m.bases[0]) == "models.Model"):
            body = {ast.unparse(s) for s in model.body if isinstance(s, ast.Assign)}
            assert "objects = ActiveManager()" in body
            assert "all_objects = models.Manager()" in body


def test_generating_twice_is_byte_identical(tmp_path, registry_copy):
    first = api.generate(
        [EXAMPLES], targets="django", out_dir=tmp_path / "a", registry=registry_copy
    )
    registry_text = registry_copy.read_text(encoding="utf-8")
    second = api.generate(
        [EXAMPLES], targets="django", out_dir=tmp_path / "b", registry=registry_copy
    )
    assert [(f.path, f.content) for f in first] == [(f.path, f.content) for f in second]
    assert registry_copy.read_text(encoding="utf-8") == registry_text
    for f in first:
        assert (tmp_path / "b" / f.path).read_text(encoding="utf-8") == f.content


def test_django_extensions_follow_their_model(registry):
    entities = load_paths([EXAMPLES])
    contact = next(e for e in entities if e.name == "Contact")
    contact.extensions = [
        Extension("django", "audit", "def audit_contact():\n    return 'django'\n", "audit"),
        Extension("postgres", "audit", "CREATE TRIGGER t ...;\n", "audit"),
    ]
    files = DjangoGenerator().generate(entities, registry)
    models = next(f for f in files if f.path == "django/crm/models.py").content
    assert "CREATE TRIGGER" not in models
    after_contact = models.split("class Contact(models.Model):", 1)[1]
    assert after_contact.index("def audit_contact():") < after_contact.index("class DealStage(")
    ast.parse(models)
