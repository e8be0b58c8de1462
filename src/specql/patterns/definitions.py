"""The three kinds of library entries, as typed values, and the check of their definitions.

A *definition* is the plain mapping a seed file holds (docs/pattern-library.md), the same
mapping ``add_pattern`` / ``add_domain_pattern`` / ``add_entity_template`` take and the mapping
stored as each version's body. Definitions can come from an LLM, so every one is checked
against a JSON Schema of its kind (sizes bounded) and its parameter schema is checked too,
before anything is stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jinja2 import Environment, TemplateSyntaxError, nodes

from specql.errors import SpecqlError
from specql.patterns.params import check_schema

LANGUAGES: dict[str, tuple[str, str, str]] = {
    # name -> (display name, kind, file extension)
    "postgresql": ("PostgreSQL", "sql", ".sql"),
    "django": ("Django", "python", ".py"),
    "sqlalchemy": ("SQLAlchemy", "python", ".py"),
}
"""Languages a Tier-1 primitive has a template for."""

TARGET_LANGUAGE = {"postgres": "postgresql", "django": "django", "sqlalchemy": "sqlalchemy"}
"""Generator target -> template language."""

SOURCES = ("manual", "llm_generated", "discovered", "migrated")
TIER_PRIMITIVE, TIER_DOMAIN, TIER_TEMPLATE = 1, 2, 3

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_TEXT = {"type": "string", "maxLength": 4000}
_CATEGORY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}
_SCHEMA_OBJ = {"type": "object"}
_TEMPLATE = {"type": "string", "maxLength": 65536}
_SQL_SNIPPETS = {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 20000}}

PRIMITIVE_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "category", "description", "parameters", "implementations", "examples"],
    "properties": {
        "name": _NAME,
        "category": _CATEGORY,
        "description": _TEXT,
        "parameters": _SCHEMA_OBJ,
        "implementations": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                lang: {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["fragment", "template"],
                    "properties": {
                        "fragment": {"enum": ["declaration", "statement", "ddl", "module"]},
                        "template": _TEMPLATE,
                    },
                }
                for lang in LANGUAGES
            },
        },
        # At least one: it is what proves every template renders before the entry is stored.
        "examples": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "object"}},
    },
}

DOMAIN_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "category", "description", "parameters", "implementation"],
    "properties": {
        "name": _NAME,
        "category": _CATEGORY,
        "description": _TEXT,
        "parameters": _SCHEMA_OBJ,
        "requires": {"type": "array", "maxItems": 10, "items": _NAME},
        "conflicts": {"type": "array", "maxItems": 20, "items": _NAME},
        "implementation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "fields": {"type": "object", "maxProperties": 50},
                "indexes": {"type": "array", "maxItems": 20},
                "entities": {"type": "array", "maxItems": 5, "items": {"type": "object"}},
                "actions": {"type": "array", "maxItems": 9, "items": {"type": "object"}},
                "extensions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {t: _TEMPLATE for t in TARGET_LANGUAGE},
                },
            },
        },
        "tests": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "example": {"type": "object"},
                "behaviour": {"type": "array", "maxItems": 50},
                "matches": _SQL_SNIPPETS,
                "non_matches": _SQL_SNIPPETS,
            },
        },
    },
}

TEMPLATE_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "namespace", "description", "entity", "body"],
    "properties": {
        "name": _NAME,
        "namespace": _NAME,
        "description": _TEXT,
        "entity": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]{0,62}$"},
        "depends_on": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$"},
        },
        "config": _SCHEMA_OBJ,
        "body": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "subdomain": {"type": "string"},
                "fields": {"type": "object", "maxProperties": 100},
                "indexes": {"type": "array", "maxItems": 20},
                "patterns": {"type": "array", "maxItems": 20},
                "actions": {"type": "array", "maxItems": 9},
            },
        },
    },
}

MAX_DEFINITION_BYTES = 512 * 1024


_PARSER = Environment()


def check_templates(value: Any, *, what: str) -> None:
    """Every template string in ``value`` (nested dicts/lists, keys too) parses, and none
    names an attribute or item starting with ``_``: a static check that also covers branches
    a trial render never takes (the sandbox refuses such access when rendering anyway)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_templates(key, what=what)
            check_templates(item, what=what)
    elif isinstance(value, list):
        for item in value:
            check_templates(item, what=what)
    elif isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value):
        try:
            tree = _PARSER.parse(value)
        except TemplateSyntaxError as err:
            raise SpecqlError(f"{what}: template line {err.lineno}: {err.message}") from None
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
            if isinstance(name, str) and name.startswith("_"):
                raise SpecqlError(
                    f"{what}: template line {node.lineno} reaches for {name!r}: templates may "
                    "not touch Python internals"
                )


def _check(definition: Any, schema: dict, what: str) -> dict:
    if not isinstance(definition, Mapping):
        raise SpecqlError(
            f"{what}: a definition must be a mapping, got {type(definition).__name__}"
        )
    size = len(json.dumps(definition, default=str))
    if size > MAX_DEFINITION_BYTES:
        raise SpecqlError(f"{what}: definition is {size} bytes; at most {MAX_DEFINITION_BYTES}")
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(definition), key=lambda e: e.path
    )
    if errors:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in errors[:5]
        )
        raise SpecqlError(f"{what}: invalid definition: {problems}")
    return dict(definition)


@dataclass(slots=True)
class Implementation:
    fragment: str
    template: str


@dataclass(slots=True)
class Lifecycle:
    """What every entry has besides its definition."""

    source: str = "manual"
    version: int = 1
    deprecated_at: str | None = None
    replaced_by: str | None = None
    deprecation_reason: str | None = None

    @property
    def deprecated(self) -> bool:
        return self.deprecated_at is not None


@dataclass(slots=True)
class Primitive:
    """Tier 1: one construct with a template per language."""

    name: str
    category: str
    description: str
    parameters: dict
    implementations: dict[str, Implementation]
    examples: list[dict] = field(default_factory=list)
    life: Lifecycle = field(default_factory=Lifecycle)
    tier = TIER_PRIMITIVE

    @classmethod
    def from_definition(cls, definition: Any) -> Primitive:
        d = _check(definition, PRIMITIVE_SCHEMA, f"primitive {_name_of(definition)}")
        check_schema(d["parameters"], what=f"primitive {d['name']}")
        check_templates(d["implementations"], what=f"primitive {d['name']}")
        return cls(
            name=d["name"],
            category=d["category"],
            description=d["description"],
            parameters=d["parameters"],
            implementations={
                lang: Implementation(impl["fragment"], impl["template"])
                for lang, impl in d["implementations"].items()
            },
            examples=list(d.get("examples", [])),
        )

    def to_definition(self) -> dict:
        d = {
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "parameters": self.parameters,
            "implementations": {
                lang: {"fragment": i.fragment, "template": i.template}
                for lang, i in self.implementations.items()
            },
        }
        if self.examples:
            d["examples"] = self.examples
        return d


@dataclass(slots=True)
class DomainPattern:
    """Tier 2: business logic in the SpecQL step dialect, applied to an entity."""

    name: str
    category: str
    description: str
    parameters: dict
    implementation: dict
    requires: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    tests: dict = field(default_factory=dict)
    times_instantiated: int = 0
    popularity: float = 0.0
    life: Lifecycle = field(default_factory=Lifecycle)
    tier = TIER_DOMAIN

    @classmethod
    def from_definition(cls, definition: Any) -> DomainPattern:
        d = _check(definition, DOMAIN_SCHEMA, f"domain pattern {_name_of(definition)}")
        check_schema(d["parameters"], what=f"domain pattern {d['name']}")
        if "entity" in d["parameters"].get("properties", {}):
            raise SpecqlError(
                f"domain pattern {d['name']}: 'entity' cannot be a parameter (templates get the "
                "entity's names under that key)"
            )
        check_templates(d["implementation"], what=f"domain pattern {d['name']}")
        if d["name"] in d.get("requires", []) or d["name"] in d.get("conflicts", []):
            raise SpecqlError(f"domain pattern {d['name']}: it cannot require or conflict itself")
        return cls(
            name=d["name"],
            category=d["category"],
            description=d["description"],
            parameters=d["parameters"],
            implementation=d["implementation"],
            requires=list(d.get("requires", [])),
            conflicts=list(d.get("conflicts", [])),
            tests=d.get("tests", {}),
        )

    def to_definition(self) -> dict:
        d = {
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "parameters": self.parameters,
            "requires": self.requires,
            "conflicts": self.conflicts,
            "implementation": self.implementation,
        }
        if self.tests:
            d["tests"] = self.tests
        return d


@dataclass(slots=True)
class EntityTemplate:
    """Tier 3: a whole entity, in a namespace, ready to instantiate."""

    namespace: str
    template_name: str
    description: str
    entity: str
    body: dict
    config: dict = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    times_instantiated: int = 0
    life: Lifecycle = field(default_factory=Lifecycle)
    tier = TIER_TEMPLATE

    @property
    def name(self) -> str:
        return f"{self.namespace}.{self.template_name}"

    @property
    def category(self) -> str:
        return self.namespace

    @classmethod
    def from_definition(cls, definition: Any) -> EntityTemplate:
        d = _check(definition, TEMPLATE_SCHEMA, f"entity template {_name_of(definition)}")
        name = f"{d['namespace']}.{d['name']}"
        if d.get("config"):
            check_schema(d["config"], what=f"entity template {name} config")
        check_templates(d["body"], what=f"entity template {name}")
        if name in d.get("depends_on", []):
            raise SpecqlError(f"entity template {name}: it cannot depend on itself")
        return cls(
            namespace=d["namespace"],
            template_name=d["name"],
            description=d["description"],
            entity=d["entity"],
            body=d["body"],
            config=d.get("config", {}),
            depends_on=list(d.get("depends_on", [])),
        )

    def to_definition(self) -> dict:
        d = {
            "name": self.template_name,
            "namespace": self.namespace,
            "description": self.description,
            "entity": self.entity,
            "depends_on": self.depends_on,
            "body": self.body,
        }
        if self.config:
            d["config"] = self.config
        return d


Entry = Primitive | DomainPattern | EntityTemplate
KINDS: dict[int, type] = {
    TIER_PRIMITIVE: Primitive,
    TIER_DOMAIN: DomainPattern,
    TIER_TEMPLATE: EntityTemplate,
}


def _name_of(definition: Any) -> str:
    if isinstance(definition, Mapping) and isinstance(definition.get("name"), str):
        return repr(definition["name"][:64])
    return "(unnamed)"
