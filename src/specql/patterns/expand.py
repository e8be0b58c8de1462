"""Applying domain patterns to entities: what ``patterns:`` in a spec means.

For each pattern use of an entity, in order: the pattern is looked up, its ``requires`` are
pulled in (with their default parameters) unless the entity already uses them, declared
``conflicts`` are refused, the parameters are validated (JSON Schema, defaults applied), the
implementation is rendered in the sandbox with the parameters and the entity's names, the
rendered dialect is loaded by the ordinary spec loader, and the pieces are merged into the
entity. A field, index, action or helper entity that two sources both define is a conflict
(both named) unless both define it identically; nothing is merged blindly.

Pure: the library is reached only through ``resolve(name) -> DomainPattern``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import yaml

from specql.dsl.loader import load_text
from specql.dsl.model import Entity, Extension, PatternUse
from specql.errors import ErrorLevel, SpecqlError, SpecqlErrors
from specql.generators.postgres.naming import snake, table_name, view_name
from specql.patterns.definitions import DomainPattern
from specql.patterns.params import validate_params
from specql.patterns.render import render_template, render_tree

Resolve = Callable[[str], DomainPattern]
MAX_USES = 20  # pulled-in requirements included: a cycle of `requires` stops here too


@dataclass(slots=True)
class Expansion:
    """The entities with their patterns applied (helper entities after their host), and the
    warnings (deprecated patterns)."""

    entities: list[Entity] = field(default_factory=list)
    warnings: list[SpecqlError] = field(default_factory=list)


def entity_context(entity: Entity) -> dict:
    """What a pattern's templates know of the entity they are applied to."""
    return {
        "name": entity.name,
        "schema": entity.schema,
        "snake": snake(entity.name),
        "table": table_name(entity.name),
        "view": view_name(entity.name),
        "fields": [f.name for f in entity.fields],
    }


def resolve_uses(
    uses: Iterable[PatternUse], resolve: Resolve
) -> list[tuple[PatternUse, DomainPattern, dict]]:
    """(use, pattern, validated params) for every use, requirements pulled in before the
    pattern that needs them; duplicate uses and declared conflicts are errors."""
    out: list[tuple[PatternUse, DomainPattern, dict]] = []
    given = {u.name for u in uses}
    seen: dict[str, PatternUse] = {}

    def add(use: PatternUse, chain: tuple[str, ...]) -> None:
        if use.name in seen:
            if not chain:  # the spec names it twice; a requirement met twice is fine
                raise SpecqlError(
                    f"pattern {use.name} is used twice (first at line {seen[use.name].pos.line})",
                    use.pos,
                )
            return
        if len(seen) >= MAX_USES:
            raise SpecqlError(f"more than {MAX_USES} patterns on one entity", use.pos)
        pattern = _resolve(resolve, use)
        for required in pattern.requires:
            if required in chain or required == use.name:
                raise SpecqlError(
                    f"pattern {use.name}: requirement cycle {' -> '.join((*chain, use.name, required))}",
                    use.pos,
                )
            if required not in given:
                add(PatternUse(required, {}, pos=use.pos), (*chain, use.name))
        seen[use.name] = use
        params = validate_params(pattern.parameters, use.params, what=f"pattern {use.name}")
        out.append((use, pattern, params))

    for use in uses:
        try:
            add(use, ())
        except SpecqlError as err:
            raise _at(err, use) from None
    names = {p.name for _, p, _ in out}
    for use, pattern, _ in out:
        clash = sorted(names & set(pattern.conflicts))
        if clash:
            raise SpecqlError(
                f"pattern {pattern.name} conflicts with {', '.join(clash)}: they cannot be "
                "applied to the same entity",
                use.pos,
            )
    return out


def _resolve(resolve: Resolve, use: PatternUse) -> DomainPattern:
    pattern = resolve(use.name)
    if not isinstance(pattern, DomainPattern):
        raise SpecqlError(
            f"{use.name} is a tier-{pattern.tier} library entry, not a domain pattern; "
            "only domain patterns go under 'patterns:'",
            use.pos,
        )
    return pattern


def _at(err: SpecqlError, use: PatternUse) -> SpecqlError:
    """Errors without a position of their own point at the pattern use in the spec."""
    if err.pos.line or not use.pos.line:
        return err
    return SpecqlError(err.message, use.pos, err.level)


def expand_entity(entity: Entity, resolve: Resolve) -> Expansion:
    """``entity`` with its ``patterns:`` applied (a new node; the input is not changed), then
    the helper entities the patterns create."""
    result = Expansion()
    if not entity.patterns:
        result.entities.append(entity)
        return result
    host = copy.deepcopy(entity)
    host.extensions = list(entity.extensions)
    owners: dict[tuple[str, str], str] = {}
    for f in host.fields:
        owners[("field", f.name)] = "the spec"
    for a in host.actions:
        owners[("action", a.name)] = "the spec"
    helpers: list[Entity] = []
    for use, pattern, params in resolve_uses(entity.patterns, resolve):
        if pattern.life.deprecated:
            hint = f"; use {pattern.life.replaced_by}" if pattern.life.replaced_by else ""
            result.warnings.append(
                SpecqlError(
                    f"pattern {pattern.name} is deprecated{hint}", use.pos, ErrorLevel.WARNING
                )
            )
        try:
            piece, piece_helpers, extensions = render_pattern(pattern, params, host)
        except SpecqlError as err:
            raise _at(err, use) from None
        source = f"pattern {pattern.name}"
        for f in piece.fields:
            if _claim(owners, ("field", f.name), source, host.field_named(f.name), f, use):
                host.fields.append(f)
        for index in piece.indexes:
            if index not in host.indexes:
                host.indexes.append(index)
        for action in piece.actions:
            existing = next((a for a in host.actions if a.name == action.name), None)
            if _claim(owners, ("action", action.name), source, existing, action, use):
                host.actions.append(action)
        for helper in piece_helpers:
            existing = next((h for h in helpers if h.name == helper.name), None)
            if _claim(owners, ("entity", helper.name), source, existing, helper, use):
                helpers.append(helper)
        host.extensions.extend(extensions)
    result.entities = [host, *helpers]
    return result


def _claim(owners, key, source, existing, new, use: PatternUse) -> bool:
    """True when ``new`` is to be added; False when an identical definition is already there;
    a different one is a conflict naming both sources."""
    if existing is None:
        owners[key] = source
        return True
    if existing == new:
        return False
    kind, name = key
    raise SpecqlError(
        f"{source} defines {kind} {name!r}, which {owners.get(key, 'the spec')} already "
        "defines differently; rename one or drop a pattern",
        use.pos,
    )


def render_pattern(
    pattern: DomainPattern, params: dict, entity: Entity
) -> tuple[Entity, list[Entity], list[Extension]]:
    """The pattern's implementation rendered for ``entity``: the piece to merge (an entity
    node holding the fields, indexes and actions), the helper entities, the extensions."""
    what = f"pattern {pattern.name}"
    context = {**params, "entity": entity_context(entity)}
    impl = pattern.implementation
    body = render_tree(
        {k: impl[k] for k in ("fields", "indexes", "actions") if k in impl},
        context,
        what=what,
    )
    piece = load_dialect(entity.name, entity.schema, body, what)
    helpers = []
    for raw in impl.get("entities", []):
        doc = render_tree(raw, context, what=f"{what}, helper entity")
        name = doc.get("entity")
        helper = load_dialect(
            name, entity.schema, {k: v for k, v in doc.items() if k != "entity"}, what
        )
        helper.subdomain = entity.subdomain
        helpers.append(helper)
    extensions = [
        Extension(
            target=target,
            name=pattern.name,
            content=render_template(source, context, what=f"{what}, {target} extension"),
            pattern=pattern.name,
        )
        for target, source in sorted(impl.get("extensions", {}).items())
    ]
    return piece, helpers, extensions


def load_dialect(name, schema: str, body: dict, what: str) -> Entity:
    """Rendered dialect -> an entity node, read by the ordinary spec loader, so a pattern
    is held to exactly the rules of a spec. Errors name the pattern."""
    if not isinstance(name, str) or not name:
        raise SpecqlError(f"{what}: a helper entity needs 'entity: <Name>'")
    doc = {"entity": name, "schema": schema, **body}
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)
    try:
        return load_text(text, file=f"<{what}>")
    except SpecqlErrors as errs:
        first = errs.errors[0]
        raise SpecqlError(f"{what}: rendered implementation is invalid: {first.message}") from None
    except SpecqlError as err:
        raise SpecqlError(f"{what}: rendered implementation is invalid: {err.message}") from None


def expand_entities(entities: Iterable[Entity], resolve: Resolve) -> Expansion:
    """Every entity expanded; helper entities that collide with a spec's entity (or with each
    other) are errors. All problems are collected."""
    result = Expansion()
    errors: list[SpecqlError] = []
    entities = list(entities)
    names = {e.name: "the spec" for e in entities}
    for entity in entities:
        try:
            one = expand_entity(entity, resolve)
        except SpecqlErrors as errs:
            errors.extend(errs.errors)
            continue
        except SpecqlError as err:
            errors.append(err)
            continue
        host, *helpers = one.entities
        result.entities.append(host)
        result.warnings.extend(one.warnings)
        for helper in helpers:
            if helper.name in names:
                errors.append(
                    SpecqlError(
                        f"a pattern of {entity.name} creates entity {helper.name}, which "
                        f"{names[helper.name]} already defines",
                        entity.pos,
                    )
                )
                continue
            names[helper.name] = f"a pattern of {entity.name}"
            result.entities.append(helper)
    if errors:
        raise SpecqlErrors(errors)
    return result
