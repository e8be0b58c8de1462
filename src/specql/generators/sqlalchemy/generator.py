"""The SQLAlchemy target: specs -> a package of SQLAlchemy 2.x declarative models that map the
tables the PostgreSQL target creates (and that ``Base.metadata.create_all`` creates alike).

Files, under ``sqlalchemy/specql_models/`` (layer ``sqlalchemy``):

- ``__init__.py`` (code ``010001``): imports every schema module;
- ``base.py`` (``010002``): ``Base`` with its MetaData and naming convention, the audit mixin
  with soft delete;
- ``<schema>.py`` per schema (``01D001`` for the schema that is domain D's name, ``01D002``
  for its first alias...): the entities' models in code order.

Use: ``specql generate specs/ --target sqlalchemy -o out/``, put ``out/sqlalchemy`` on the
import path, ``import specql_models`` (it needs SQLAlchemy 2 and a PostgreSQL driver, not
specql), then either run the SQL target's files or ``Base.metadata.create_all(engine)`` after
creating the schemas. Models: ``crm.Contact`` maps ``crm.tb_contact``; a ``ref`` field
``company`` is the ``fk_company`` column plus the ``company`` relationship; an enum field has
a ``StrEnum`` (``ContactStatus``); a field named like a Python keyword or a declarative name
gets a trailing ``_`` (``metadata_``); ``Contact.active()`` selects the rows not soft-deleted,
``row.soft_delete()`` marks one.
"""

from __future__ import annotations

from collections.abc import Iterable

from specql.dsl.model import Entity
from specql.dsl.registry import DomainRegistry
from specql.generators.base import FileSpec
from specql.generators.codes import FRAMEWORK_CODE, EntityCode, assign_codes, code
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.tables import table_order
from specql.generators.sqlalchemy.columns import SpecSet
from specql.generators.sqlalchemy.models import TARGET, schema_module
from specql.generators.sqlalchemy.names import BASE_MODULE, PACKAGE, PACKAGE_DIR
from specql.generators.sqlalchemy.names import schema_module as module_name
from specql.generators.sqlalchemy.package import BASE_SOURCE, init_source

LAYER = "01"
INIT_FILE = 1
BASE_FILE = 2


def _file(file_code: str, name: str, module: str, content: str) -> FileSpec:
    return FileSpec(
        code=file_code,
        name=name,
        content=content,
        layer=TARGET,
        path=f"{PACKAGE_DIR}/{module}.py",
    )


class SqlAlchemyGenerator:
    name = TARGET

    def generate(self, entities: Iterable[Entity], registry: DomainRegistry) -> list[FileSpec]:
        """The package's files: ``__init__.py``, ``base.py``, then the schema modules in code
        order. See the module docstring."""
        entity_list = list(entities)
        codes = assign_codes(entity_list, registry, save=False)
        by_code = sorted(entity_list, key=lambda e: (codes[e.name], e.name))
        ctx = CompileContext.from_registry(entity_list, registry)
        _, deferred = table_order(by_code, ctx)

        schema_codes: dict[str, str] = {}
        for ent in by_code:
            domain = registry.domains[codes[ent.name].domain]
            file_no = domain.schemas.index(ent.schema) + 1
            schema_codes[ent.schema] = code(LAYER, EntityCode(domain.number, 0, 0), file_no)
        schemas = sorted(schema_codes, key=lambda s: schema_codes[s])
        specs = SpecSet(
            ctx=ctx,
            module_of={e.name: module_name(e.schema) for e in entity_list},
            deferred=frozenset((name, f) for name, fields in deferred.items() for f in fields),
        )

        files = [
            _file(
                code(LAYER, FRAMEWORK_CODE, INIT_FILE), PACKAGE, "__init__", init_source(schemas)
            ),
            _file(code(LAYER, FRAMEWORK_CODE, BASE_FILE), BASE_MODULE, BASE_MODULE, BASE_SOURCE),
        ]
        for schema in schemas:
            members = [e for e in by_code if e.schema == schema]
            source = schema_module(schema, members, specs)
            files.append(_file(schema_codes[schema], schema, module_name(schema), source))

        if registry.changed and registry.path is not None:
            registry.save()
        return files
