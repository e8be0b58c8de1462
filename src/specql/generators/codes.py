"""Hierarchical file codes ``SSDSEX`` (DESIGN §4, docs/generated-postgres.md).

An entity's ``D`` (domain), ``S`` (subdomain) and ``E`` (entity) numbers come from the domain
registry. The first time an entity is generated it gets the lowest free entity number of its
subdomain and the registry file is written back; from then on the number never changes, so
generating twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from specql.dsl.model import Entity
from specql.dsl.registry import DomainRegistry
from specql.errors import SpecqlError

LAYERS: dict[str, str] = {"01": "write_side", "02": "read_side", "03": "functions"}
"""Layer code -> layer name (the ``SS`` part of a code and the first path directory)."""

FRAMEWORK_DOMAIN = 0


@dataclass(frozen=True, slots=True, order=True)
class EntityCode:
    """The ``D``, ``S`` and ``E`` digits of an entity's codes."""

    domain: int
    subdomain: int
    entity: int

    def __str__(self) -> str:
        return f"{self.domain}{self.subdomain}{self.entity}"


FRAMEWORK_CODE = EntityCode(FRAMEWORK_DOMAIN, 0, 0)


def code(layer: str, ec: EntityCode, file_no: int) -> str:
    """The 6-digit code ``SSDSEX``: ``code("01", EntityCode(2, 1, 0), 1) == "012101"``."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    for what, value in (
        ("domain", ec.domain),
        ("subdomain", ec.subdomain),
        ("entity", ec.entity),
        ("file", file_no),
    ):
        if not 0 <= value <= 9:
            raise ValueError(f"{what} number {value} out of range 0-9")
    return f"{layer}{ec.domain}{ec.subdomain}{ec.entity}{file_no}"


def assign_codes(
    entities: Iterable[Entity], registry: DomainRegistry, save: bool = True
) -> dict[str, EntityCode]:
    """Entity name -> its code digits.

    Entities the registry already numbers keep their number (wherever their subdomain is).
    New ones get the lowest free number in their subdomain (``entity.subdomain``, else the
    domain's lowest-numbered subdomain), in name order. When something new was assigned and
    ``save`` is true, the registry is written back to its file (comments kept).

    Errors (SpecqlError at the entity's position, naming the registry file): a schema with no
    domain, an unknown subdomain, a full subdomain, two entities with the same name.
    """
    entity_list = list(entities)
    seen: dict[str, Entity] = {}
    for ent in entity_list:
        if ent.name in seen:
            raise SpecqlError(
                f"entity {ent.name!r} is defined twice (also at {seen[ent.name].pos}); "
                "entity names must be unique across the spec set",
                ent.pos,
            )
        seen[ent.name] = ent

    result: dict[str, EntityCode] = {}
    new: list[tuple[Entity, int]] = []
    for ent in entity_list:
        domain = registry.domain_for_schema(ent.schema, ent.pos)
        if ent.subdomain is not None:
            registry.subdomain_for(domain, ent.subdomain, ent.pos)  # unknown name -> error
        found = domain.entity_location(ent.name)
        if found is not None:
            sub, number = found
            result[ent.name] = EntityCode(domain.number, sub.number, number)
        else:
            new.append((ent, domain.number))

    for ent, dnum in sorted(new, key=lambda item: (item[1], item[0].subdomain or "", item[0].name)):
        domain = registry.domains[dnum]
        sub = registry.subdomain_for(domain, ent.subdomain, ent.pos)
        free = sub.free_numbers()
        if not free:
            taken = ", ".join(
                f"{n}={e}" for e, n in sorted(sub.entities.items(), key=lambda x: x[1])
            )
            raise SpecqlError(
                f"subdomain {sub.number} ({sub.name}) of domain {domain.number} ({domain.name}) "
                f"is full: all 10 entity numbers are taken ({taken}); cannot number entity "
                f"{ent.name!r}. Put it in another subdomain (`subdomain:` in the spec) or add a "
                f"subdomain to the registry {registry.source}",
                ent.pos,
            )
        registry.set_entity_number(domain, sub, ent.name, free[0])
        result[ent.name] = EntityCode(domain.number, sub.number, free[0])

    if new and save and registry.path is not None:
        registry.save()
    return result
