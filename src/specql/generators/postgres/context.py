"""What the PostgreSQL generator knows about the whole spec set while it compiles one entity."""

from __future__ import annotations

from dataclasses import dataclass, field

from specql.dsl.model import Entity


@dataclass
class CompileContext:
    """Entities by name and the registry facts the compiler needs.

    ``multi_tenant_schemas``: schemas whose tables carry ``tenant_id`` (from the registry).
    ``framework_schema``: where ``mutation_result`` and the helpers live (``app``).
    """

    entities: dict[str, Entity] = field(default_factory=dict)
    multi_tenant_schemas: frozenset[str] = frozenset()
    framework_schema: str = "app"

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
