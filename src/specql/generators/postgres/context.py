"""What the PostgreSQL generator knows about the whole spec set while it compiles one entity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from specql.dsl.model import Entity
from specql.generators.postgres.naming import function_name, snake, table_name

T = TypeVar("T")


@dataclass
class CompileContext:
    """Entities by name and the registry facts the compiler needs.

    ``multi_tenant_schemas``: schemas whose tables carry ``tenant_id`` (from the registry).
    ``framework_schema``: where ``mutation_result`` and the helpers live (``app``).

    The indexes over the entities (:attr:`relations`, :attr:`action_functions`) are built on
    first use and kept: every action of every entity needs them, and the spec set does not
    change while it is being compiled.
    """

    entities: dict[str, Entity] = field(default_factory=dict)
    multi_tenant_schemas: frozenset[str] = frozenset()
    framework_schema: str = "app"
    _per_entity: dict[tuple[str, str], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def of(cls, entities: list[Entity], multi_tenant_schemas=(), framework_schema="app"):
        return cls(
            entities={e.name: e for e in entities},
            multi_tenant_schemas=frozenset(multi_tenant_schemas),
            framework_schema=framework_schema,
        )

    @classmethod
    def from_registry(cls, entities: list[Entity], registry) -> CompileContext:
        """The context for ``entities`` under a :class:`~specql.dsl.registry.DomainRegistry`:
        multi-tenant schemas (names and aliases) and the framework schema come from it."""
        return cls.of(
            entities,
            multi_tenant_schemas=registry.multi_tenant_schemas(),
            framework_schema=registry.framework_schema,
        )

    def entity(self, name: str) -> Entity | None:
        """Find an entity by its spec name (``Contact``) or qualified (``crm.Contact``)."""
        if "." in name:
            schema, _, bare = name.partition(".")
            found = self.entities.get(bare)
            return found if found is not None and found.schema == schema else None
        return self.entities.get(name)

    def is_multi_tenant(self, entity: Entity) -> bool:
        return entity.schema in self.multi_tenant_schemas

    def per_entity(self, entity: Entity, what: str, build: Callable[[], T]) -> T:
        """``build()``, kept under ``what`` for an entity of the spec set: for a compiled piece
        that depends on nothing but the entity and this context, the same for each of its
        actions. An entity outside the spec set (tests compile those) is built every time.
        The value is shared: callers must not change it."""
        if self.entities.get(entity.name) is not entity:
            return build()
        key = (entity.name, what)
        if key not in self._per_entity:
            self._per_entity[key] = build()
        return self._per_entity[key]

    @cached_property
    def relations(self) -> dict[str, list[Entity]]:
        """Entities by each of their :func:`relation_names`, in entity order."""
        by_name: dict[str, list[Entity]] = {}
        for ent in self.entities.values():
            for key in relation_names(ent):
                by_name.setdefault(key, []).append(ent)
        return by_name

    @cached_property
    def action_functions(self) -> frozenset[tuple[str, str]]:
        """``(schema, fn_<schema>_<action>)`` of every generated action function."""
        return frozenset(
            (e.schema, function_name(e.schema, a.name))
            for e in self.entities.values()
            for a in e.actions
        )


def relation_names(entity: Entity) -> set[str]:
    """The names a FROM item may give an entity: ``contact`` (its name, lower-cased, as the
    parser reads it), its snake name and its physical table ``tb_contact``."""
    return {entity.name.lower(), snake(entity.name), table_name(entity.name)}
