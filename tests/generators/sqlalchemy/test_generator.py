"""The SQLAlchemy target's files: layout, codes, determinism; the generated code parses and
is clean by ruff's rules and formatting."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from specql.dsl.loader import load_text
from specql.errors import SpecqlError
from specql.generators.base import get_generator
from tests.generators.sqlalchemy.conftest import (
    EXAMPLES,
    FIXTURE_SPECS,
    generate_into,
    generate_models,
)


def test_the_target_is_registered_by_name():
    assert get_generator("sqlalchemy").name == "sqlalchemy"


def test_examples_give_the_package_with_one_module_per_schema(tmp_path):
    _, files = generate_into(tmp_path, EXAMPLES, "sqlalchemy")
    assert [(f.code, f.name, f.layer, f.path) for f in files] == [
        ("010001", "specql_models", "sqlalchemy", "sqlalchemy/specql_models/__init__.py"),
        ("010002", "base", "sqlalchemy", "sqlalchemy/specql_models/base.py"),
        ("012001", "crm", "sqlalchemy", "sqlalchemy/specql_models/crm.py"),
        ("013001", "catalog", "sqlalchemy", "sqlalchemy/specql_models/catalog.py"),
        ("014001", "projects", "sqlalchemy", "sqlalchemy/specql_models/projects.py"),
    ]
    init = files[0].content
    assert "from . import catalog, crm, projects\n" in init
    crm = files[2].content
    # entities in code order: Note (200), Company (210), Contact (211), Deal (220)
    classes = [line for line in crm.splitlines() if line.startswith("class ") and "Base" in line]
    assert classes == [
        "class Note(AuditMixin, Base):",
        "class Company(AuditMixin, Base):",
        "class Contact(AuditMixin, Base):",
        "class Deal(AuditMixin, Base):",
    ]
    # a ref into another schema: the annotation's class is imported for type checkers only
    assert "if typing.TYPE_CHECKING:\n    from .catalog import Product\n" in crm
    assert 'sa.ForeignKey("catalog.tb_product.pk_product")' in crm


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generating_twice_is_byte_identical_and_leaves_the_registry(tmp_path):
    out, _ = generate_into(tmp_path / "first", EXAMPLES, "sqlalchemy")
    registry = tmp_path / "first" / "registry" / "domain_registry.yaml"
    registry_text = registry.read_text(encoding="utf-8")
    from specql.api import generate

    again = tmp_path / "again"
    generate([EXAMPLES], targets="sqlalchemy", out_dir=again, registry=registry)
    assert registry.read_text(encoding="utf-8") == registry_text
    first, second = _tree(out), _tree(again)
    assert len(first) == 6  # five files and the manifest
    assert first == second


@pytest.fixture(scope="module", params=["examples", "fixtures"])
def generated_package(request, tmp_path_factory) -> Path:
    specs = EXAMPLES if request.param == "examples" else FIXTURE_SPECS
    out, _ = generate_into(tmp_path_factory.mktemp(request.param), specs, "sqlalchemy")
    return out / "sqlalchemy" / "specql_models"


def test_the_generated_code_parses(generated_package):
    sources = sorted(generated_package.glob("*.py"))
    assert len(sources) == 5
    for path in sources:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _ruff() -> str:
    found = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("ruff is not installed")
    return found


def test_the_generated_code_is_clean_and_formatted_by_ruff(generated_package):
    ruff = _ruff()
    options = ["--isolated", "--line-length", "100", "--target-version", "py311"]
    rules = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "E501"]  # long regex CHECKs stay
    check = subprocess.run(
        [ruff, "check", *options, *rules, str(generated_package)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run(
        [ruff, "format", "--diff", *options, str(generated_package)], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


ACCOUNT = "entity: {name}\nschema: {schema}\nsubdomain: {sub}\nfields:\n  name: text!\n"


def test_each_schema_of_a_domain_is_its_own_module(registry_copy):
    entities = [
        load_text(ACCOUNT.format(name="Account", schema="crm", sub="accounts"), "a.yaml"),
        load_text(ACCOUNT.format(name="Lead", schema="sales", sub="pipeline"), "l.yaml"),
    ]
    files = generate_models(entities, registry_copy)
    assert "sqlalchemy/specql_models/sales.py" in files
    assert "from . import crm, sales\n" in files["sqlalchemy/specql_models/__init__.py"]
    from specql.dsl.registry import load_registry
    from specql.generators.sqlalchemy.generator import SqlAlchemyGenerator

    codes = {
        f.name: f.code
        for f in SqlAlchemyGenerator().generate(entities, load_registry(registry_copy))
    }
    assert (codes["crm"], codes["sales"]) == ("012001", "012002")  # domain name, then alias


def test_a_schema_named_like_the_base_module_is_refused(registry_copy):
    text = registry_copy.read_text(encoding="utf-8")
    registry_copy.write_text(text.replace("name: core\n", "name: core\n    aliases: [base]\n", 1))
    entity = load_text(ACCOUNT.format(name="Thing", schema="base", sub="general"), "t.yaml")
    with pytest.raises(SpecqlError, match="schema 'base' cannot be a module"):
        generate_models([entity], registry_copy)
