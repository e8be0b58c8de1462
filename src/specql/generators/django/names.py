"""Names in the generated Django code: classes, attributes, index names.

Table, column and constraint names are the PostgreSQL target's own
(:mod:`specql.generators.postgres.naming`), so both targets describe the same database.
"""

from __future__ import annotations

import hashlib
import keyword

from specql.dsl.model import Entity, Field
from specql.errors import SpecqlError
from specql.generators.postgres.naming import pk_column, table_name

# Django refuses index names longer than this (models.E034).
MAX_INDEX_NAME = 30
HASH_CHARS = 8

# Attributes every generated model has besides its fields (the managers), and what
# django.db.models.Model itself defines: a field of the same name would silently replace it.
MANAGER_ATTRIBUTES = ("objects", "all_objects")
MODEL_ATTRIBUTES = frozenset(
    {
        *MANAGER_ATTRIBUTES,
        "adelete",
        "arefresh_from_db",
        "asave",
        "check",
        "clean",
        "clean_fields",
        "date_error_message",
        "delete",
        "from_db",
        "full_clean",
        "get_constraints",
        "get_deferred_fields",
        "pk",
        "prepare_database_save",
        "refresh_from_db",
        "save",
        "save_base",
        "serializable_value",
        "unique_error_message",
        "validate_constraints",
        "validate_unique",
    }
)


def pascal(name: str) -> str:
    """``price_list`` -> ``PriceList``; ``PriceList`` stays as it is."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def app_config_class(schema: str) -> str:
    """``crm`` -> ``CrmConfig``."""
    return f"{pascal(schema)}Config"


def choices_class(entity: Entity, field: Field) -> str:
    """``Contact.status`` -> ``ContactStatus`` (the ``TextChoices`` of an enum field)."""
    return f"{entity.name}{pascal(field.name)}"


def choice_member(label: str) -> str:
    """``lead`` -> ``LEAD``: the ``TextChoices`` member of an enum label."""
    return label.upper()


def pk_attribute(entity: Entity) -> str:
    """The primary key field: ``pk_contact``, named like its column."""
    return pk_column(entity.name)


def db_table(entity: Entity) -> str:
    """``crm"."tb_contact``: Django quotes ``db_table`` as one identifier, so the inner quotes
    make PostgreSQL read a schema-qualified name (``"crm"."tb_contact"``)."""
    return f'{entity.schema}"."{table_name(entity.name)}'


def field_attribute(entity: Entity, field: Field) -> str:
    """The model attribute of a spec field: its own name, when Django and Python allow it."""
    name = field.name
    problem = None
    if keyword.iskeyword(name):
        problem = "is a Python keyword"
    elif name.endswith("_") or "__" in name:
        problem = "ends with '_' or contains '__', which Django forbids in field names"
    elif name in MODEL_ATTRIBUTES or name == pk_attribute(entity):
        problem = "is already an attribute of every generated Django model"
    if problem:
        raise SpecqlError(
            f"{entity.name}.{name}: field name {name!r} {problem}; rename the field "
            "for the django target",
            field.pos,
        )
    return name


def short_name(name: str, limit: int = MAX_INDEX_NAME) -> str:
    """``name`` if it fits ``limit`` characters, else its head and ``_`` + 8 hex digits of its
    SHA-256: deterministic, and two long names that share a head still differ."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_CHARS]
    return f"{name[: limit - HASH_CHARS - 1]}_{digest}"
