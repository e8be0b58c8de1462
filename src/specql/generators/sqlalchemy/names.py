"""Names in the generated SQLAlchemy code: package, modules, classes, attributes.

Table, column, constraint and index names are the SQL target's
(:mod:`specql.generators.postgres.naming`); this module only adds the Python side.
"""

from __future__ import annotations

import keyword

from specql.dsl.model import Entity, Field
from specql.errors import SpecqlError

PACKAGE = "specql_models"
PACKAGE_DIR = f"sqlalchemy/{PACKAGE}"
BASE_MODULE = "base"
BASE_CLASS = "Base"
AUDIT_MIXIN = "AuditMixin"

# Names a mapped class may not use for a column: the declarative API keeps them for itself.
DECLARATIVE_RESERVED = frozenset({"metadata", "registry"})

# Module-level names every generated schema module may bind; an entity or enum class with one
# of these names would replace it.
MODULE_NAMES = frozenset({"Mapped", "mapped_column", "relationship", BASE_CLASS, AUDIT_MIXIN})


def pascal(name: str) -> str:
    """``preferred_language`` -> ``PreferredLanguage``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def attribute_name(entity: Entity, name: str) -> str:
    """The class attribute of a column or relationship named ``name`` in the spec: the name
    itself, or with a trailing ``_`` when Python or the declarative API reserves it
    (``metadata`` -> ``metadata_``; the column keeps its name)."""
    if name.startswith("__"):
        raise SpecqlError(
            f"{entity.name}.{name}: a name starting with '__' cannot be a Python class "
            "attribute (Python mangles it); rename the field",
            entity.pos,
        )
    if keyword.iskeyword(name) or name in DECLARATIVE_RESERVED:
        return name + "_"
    return name


def enum_class_name(entity: Entity, field: Field) -> str:
    """``Contact.status`` -> ``ContactStatus``."""
    return entity.name + pascal(field.name)


def enum_member_name(entity: Entity, field: Field, label: str) -> str:
    """``lead`` -> ``LEAD``. A label starting with ``_`` is no enum member in Python."""
    if label.startswith("_"):
        raise SpecqlError(
            f"{entity.name}.{field.name}: enum label {label!r} cannot be a Python enum member "
            "(names starting with '_' are not members)",
            field.pos,
        )
    return label.upper()


def schema_module(schema: str) -> str:
    """The module of a schema's models (``crm`` -> ``crm``), refused when it would be no
    importable module or would be the base module."""
    if keyword.iskeyword(schema) or not schema.isidentifier() or schema == BASE_MODULE:
        raise SpecqlError(
            f"schema {schema!r} cannot be a module of the {PACKAGE} package "
            f"(a Python keyword, or the {BASE_MODULE} module the models share)"
        )
    return schema
