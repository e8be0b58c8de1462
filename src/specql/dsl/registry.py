"""The domain registry (``registry/domain_registry.yaml``): which schema is which tier, and the
numbers behind the hierarchical file codes ``SSDSEX``.

The file is read with ruamel.yaml in round-trip mode and kept alongside the typed view, so that
assigning an entity number (:meth:`DomainRegistry.set_entity_number`) and writing the file back
(:meth:`DomainRegistry.save`) keeps the user's comments and key order.

Format::

    version: 1
    framework_schema: app            # where the result type and helpers live
    framework_schemas: [common, app, core]
    domains:
      2:                             # domain number 1-9 (0 is the framework's)
        name: crm                    # the schema name
        aliases: [sales]             # other schema names of the same domain
        description: ...
        multi_tenant: true           # tables get tenant_id
        subdomains:
          0: { name: general }       # subdomain number 0-9
          1:
            name: accounts
            entities: { Contact: 0, Company: 1 }   # entity number 0-9, assigned once
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

from specql.errors import SourcePos, SpecqlError, SpecqlErrors

REGISTRY_ENV = "SPECQL_REGISTRY"
REGISTRY_RELPATH = Path("registry") / "domain_registry.yaml"
DEFAULT_FRAMEWORK_SCHEMA = "app"
DEFAULT_FRAMEWORK_SCHEMAS = ("common", "app", "core")


@dataclass(slots=True)
class Subdomain:
    number: int
    name: str
    entities: dict[str, int] = field(default_factory=dict)  # entity name -> number 0-9
    description: str | None = None
    pos: SourcePos = field(default_factory=SourcePos, compare=False, repr=False)

    def free_numbers(self) -> list[int]:
        used = set(self.entities.values())
        return [n for n in range(10) if n not in used]


@dataclass(slots=True)
class Domain:
    number: int
    name: str
    aliases: tuple[str, ...] = ()
    description: str | None = None
    multi_tenant: bool = False
    subdomains: dict[int, Subdomain] = field(default_factory=dict)
    pos: SourcePos = field(default_factory=SourcePos, compare=False, repr=False)

    @property
    def schemas(self) -> tuple[str, ...]:
        """The schema names of this domain: its name, then its aliases."""
        return (self.name, *self.aliases)

    def subdomain_named(self, name: str) -> Subdomain | None:
        return next((s for s in self.subdomains.values() if s.name == name), None)

    def default_subdomain(self) -> Subdomain | None:
        """The lowest-numbered subdomain: where entities without a ``subdomain`` go."""
        return self.subdomains[min(self.subdomains)] if self.subdomains else None

    def entity_location(self, entity_name: str) -> tuple[Subdomain, int] | None:
        """Where an entity already has a number in this domain."""
        for sub in self.subdomains.values():
            if entity_name in sub.entities:
                return sub, sub.entities[entity_name]
        return None


def _yaml() -> YAML:
    yaml = YAML()  # round-trip mode: comments, key order and quoting survive a write-back
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


@dataclass
class DomainRegistry:
    """Typed view of the registry file, plus the round-trip document it was read from."""

    domains: dict[int, Domain] = field(default_factory=dict)
    framework_schema: str = DEFAULT_FRAMEWORK_SCHEMA
    framework_schemas: tuple[str, ...] = DEFAULT_FRAMEWORK_SCHEMAS
    path: Path | None = None
    version: int = 1
    _doc: CommentedMap | None = field(default=None, repr=False, compare=False)
    changed: bool = field(default=False, compare=False)

    # ------------------------------------------------------------------ lookups

    @property
    def source(self) -> str:
        """How error messages name this registry."""
        return str(self.path) if self.path is not None else "<registry>"

    def known_schemas(self) -> list[str]:
        return sorted({s for d in self.domains.values() for s in d.schemas})

    def find_domain(self, schema: str) -> Domain | None:
        return next((d for d in self.domains.values() if schema in d.schemas), None)

    def domain_for_schema(self, schema: str, pos: SourcePos | None = None) -> Domain:
        """The domain whose name or alias is ``schema``; unknown -> SpecqlError at ``pos``."""
        domain = self.find_domain(schema)
        if domain is None:
            known = ", ".join(self.known_schemas()) or "none"
            raise SpecqlError(
                f"schema {schema!r} has no domain in the registry {self.source}; "
                f"known schemas: {known}",
                pos or SourcePos(self.source, 0, 0),
            )
        return domain

    def is_multi_tenant(self, schema: str) -> bool:
        """True when ``schema`` belongs to a ``multi_tenant: true`` domain."""
        domain = self.find_domain(schema)
        return bool(domain and domain.multi_tenant)

    def multi_tenant_schemas(self) -> frozenset[str]:
        return frozenset(s for d in self.domains.values() if d.multi_tenant for s in d.schemas)

    def subdomain_for(
        self, domain: Domain, name: str | None, pos: SourcePos | None = None
    ) -> Subdomain:
        """The subdomain called ``name`` (None: the domain's lowest-numbered one)."""
        if name is None:
            sub = domain.default_subdomain()
            if sub is None:
                raise SpecqlError(
                    f"domain {domain.number} ({domain.name}) has no subdomains in the registry "
                    f"{self.source}",
                    pos or domain.pos,
                )
            return sub
        sub = domain.subdomain_named(name)
        if sub is None:
            known = ", ".join(s.name for _, s in sorted(domain.subdomains.items())) or "none"
            raise SpecqlError(
                f"unknown subdomain {name!r} in domain {domain.number} ({domain.name}) of the "
                f"registry {self.source}; known subdomains: {known}",
                pos or domain.pos,
            )
        return sub

    # ------------------------------------------------------------------ changes

    def set_entity_number(
        self, domain: Domain, subdomain: Subdomain, entity_name: str, number: int
    ) -> None:
        """Record ``entity_name`` as entity ``number`` of ``subdomain`` (typed view and the
        round-trip document). Marks the registry changed."""
        if not 0 <= number <= 9:
            raise ValueError(f"entity number {number} out of 0-9")
        subdomain.entities[entity_name] = number
        self.changed = True
        if self._doc is None:
            return
        sub_doc = self._doc["domains"][domain.number]["subdomains"][subdomain.number]
        if sub_doc is None or not isinstance(sub_doc, CommentedMap):
            new_doc = CommentedMap()
            new_doc["name"] = subdomain.name
            self._doc["domains"][domain.number]["subdomains"][subdomain.number] = new_doc
            sub_doc = new_doc
        entities = sub_doc.get("entities")
        if not isinstance(entities, CommentedMap):
            entities = CommentedMap()
            sub_doc["entities"] = entities
            # A one-line `{ name: general }` grows into a block once it lists entities.
            sub_doc.fa.set_block_style()
        entities[entity_name] = number

    def dumps(self) -> str:
        """The registry as YAML text (the original document with its comments, if loaded)."""
        doc = self._doc if self._doc is not None else self._to_doc()
        out = io.StringIO()
        _yaml().dump(doc, out)
        return out.getvalue()

    def save(self, path: str | Path | None = None) -> bool:
        """Write the registry back to ``path`` (default: where it was loaded from) if its text
        differs from what is there. Returns True when the file was written."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise SpecqlError("the registry has no file to be saved to")
        text = self.dumps()
        if target.exists() and target.read_text(encoding="utf-8") == text:
            self.changed = False
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="\n")
        tmp.replace(target)
        self.changed = False
        return True

    def _to_doc(self) -> CommentedMap:
        doc = CommentedMap()
        doc["version"] = self.version
        doc["framework_schema"] = self.framework_schema
        doc["framework_schemas"] = list(self.framework_schemas)
        domains = CommentedMap()
        for number, dom in sorted(self.domains.items()):
            d = CommentedMap()
            d["name"] = dom.name
            if dom.aliases:
                d["aliases"] = list(dom.aliases)
            if dom.description:
                d["description"] = dom.description
            d["multi_tenant"] = dom.multi_tenant
            subs = CommentedMap()
            for snum, sub in sorted(dom.subdomains.items()):
                s = CommentedMap()
                s["name"] = sub.name
                if sub.description:
                    s["description"] = sub.description
                if sub.entities:
                    s["entities"] = CommentedMap(sorted(sub.entities.items(), key=lambda kv: kv[1]))
                subs[snum] = s
            d["subdomains"] = subs
            domains[number] = d
        doc["domains"] = domains
        self._doc = doc
        return doc


# ---------------------------------------------------------------------- loading


class _Builder:
    """Turns the round-trip document into the typed registry, collecting every error."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[SpecqlError] = []

    def pos_key(self, mapping, key) -> SourcePos:
        try:
            line, col = mapping.lc.key(key)
            return SourcePos(self.file, line + 1, col + 1)
        except (AttributeError, KeyError, TypeError):
            return self.pos_of(mapping)

    def pos_value(self, mapping, key) -> SourcePos:
        try:
            line, col = mapping.lc.value(key)
            return SourcePos(self.file, line + 1, col + 1)
        except (AttributeError, KeyError, TypeError):
            return self.pos_key(mapping, key)

    def pos_of(self, node) -> SourcePos:
        lc = getattr(node, "lc", None)
        if lc is not None and lc.line is not None:
            return SourcePos(self.file, lc.line + 1, lc.col + 1)
        return SourcePos(self.file, 1, 1)

    def error(self, message: str, pos: SourcePos) -> None:
        self.errors.append(SpecqlError(message, pos))

    def check_keys(self, mapping, known: set[str], lead: str) -> None:
        """An error for each key of ``mapping`` not in ``known``: "<lead> 'key' (expected...)"."""
        for key in mapping:
            if key not in known:
                self.error(
                    f"{lead} {key!r} (expected one of: {', '.join(sorted(known))})",
                    self.pos_key(mapping, key),
                )

    def string(self, mapping, key, what: str, required: bool = True) -> str | None:
        if key not in mapping or mapping[key] is None:
            if required:
                self.error(f"{what}: missing '{key}'", self.pos_of(mapping))
            return None
        value = mapping[key]
        if not isinstance(value, str) or not value.strip():
            self.error(f"{what}: '{key}' must be a non-empty string", self.pos_value(mapping, key))
            return None
        return str(value)

    def build(self, doc) -> DomainRegistry:
        reg = DomainRegistry()
        if doc is None:
            doc = CommentedMap()
        if not isinstance(doc, CommentedMap):
            self.error("the registry must be a mapping", SourcePos(self.file, 1, 1))
            return reg
        reg._doc = doc
        known = {"version", "framework_schema", "framework_schemas", "domains"}
        self.check_keys(doc, known, "unknown registry key")
        version = doc.get("version", 1)
        if version != 1:
            self.error(
                f"unsupported registry version {version!r} (expected 1)",
                self.pos_value(doc, "version"),
            )
        if "framework_schema" in doc:
            fs = self.string(doc, "framework_schema", "registry")
            if fs:
                reg.framework_schema = fs
        if "framework_schemas" in doc:
            value = doc["framework_schemas"]
            if not isinstance(value, list) or not all(
                isinstance(s, str) and s.strip() for s in value
            ):
                self.error(
                    "'framework_schemas' must be a list of schema names",
                    self.pos_value(doc, "framework_schemas"),
                )
            else:
                reg.framework_schemas = tuple(str(s) for s in value)
        domains = doc.get("domains")
        if domains is None:
            self.error("the registry has no 'domains'", SourcePos(self.file, 1, 1))
            return reg
        if not isinstance(domains, CommentedMap):
            self.error("'domains' must be a mapping of numbers 1-9", self.pos_value(doc, "domains"))
            return reg
        schema_owner: dict[str, int] = {}
        for number, body in domains.items():
            pos = self.pos_key(domains, number)
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 9:
                self.error(
                    f"domain number {number!r} out of range: domains are numbered 1-9 "
                    "(0 is the framework's)",
                    pos,
                )
                continue
            dom = self.domain(number, body, pos)
            if dom is None:
                continue
            for schema in dom.schemas:
                if schema in schema_owner:
                    self.error(
                        f"schema name {schema!r} of domain {number} is already used by domain "
                        f"{schema_owner[schema]}",
                        dom.pos,
                    )
                else:
                    schema_owner[schema] = number
            reg.domains[number] = dom
        return reg

    def domain(self, number: int, body, pos: SourcePos) -> Domain | None:
        what = f"domain {number}"
        if not isinstance(body, CommentedMap):
            self.error(f"{what} must be a mapping with 'name' and 'subdomains'", pos)
            return None
        known = {"name", "aliases", "description", "multi_tenant", "subdomains"}
        self.check_keys(body, known, f"{what}: unknown key")
        name = self.string(body, "name", what)
        description = self.string(body, "description", what, required=False)
        aliases: tuple[str, ...] = ()
        if body.get("aliases") is not None:
            raw = body["aliases"]
            if not isinstance(raw, list) or not all(isinstance(a, str) and a for a in raw):
                self.error(
                    f"{what}: 'aliases' must be a list of names", self.pos_value(body, "aliases")
                )
            else:
                aliases = tuple(str(a) for a in raw)
                seen = {name}
                for alias in aliases:
                    if alias in seen:
                        self.error(
                            f"{what}: duplicate schema name {alias!r} in name/aliases",
                            self.pos_value(body, "aliases"),
                        )
                    seen.add(alias)
        multi_tenant = body.get("multi_tenant", False)
        if not isinstance(multi_tenant, bool):
            self.error(
                f"{what}: 'multi_tenant' must be true or false",
                self.pos_value(body, "multi_tenant"),
            )
            multi_tenant = False
        dom = Domain(
            number=number,
            name=name or f"domain{number}",
            aliases=tuple(dict.fromkeys(aliases)),
            description=description,
            multi_tenant=multi_tenant,
            pos=pos,
        )
        subs = body.get("subdomains")
        if subs is None:
            self.error(f"{what} ({dom.name}) has no 'subdomains'", pos)
        elif not isinstance(subs, CommentedMap):
            self.error(
                f"{what}: 'subdomains' must be a mapping of numbers 0-9",
                self.pos_value(body, "subdomains"),
            )
        else:
            sub_names: dict[str, int] = {}
            entity_home: dict[str, int] = {}
            for snum, sbody in subs.items():
                spos = self.pos_key(subs, snum)
                if not isinstance(snum, int) or isinstance(snum, bool) or not 0 <= snum <= 9:
                    self.error(f"{what}: subdomain number {snum!r} out of range 0-9", spos)
                    continue
                sub = self.subdomain(f"{what} subdomain {snum}", snum, sbody, spos)
                if sub is None:
                    continue
                if sub.name in sub_names:
                    self.error(
                        f"{what}: duplicate subdomain name {sub.name!r} (also subdomain "
                        f"{sub_names[sub.name]})",
                        sub.pos,
                    )
                sub_names.setdefault(sub.name, snum)
                for ent in sub.entities:
                    if ent in entity_home:
                        self.error(
                            f"{what}: entity {ent!r} is numbered in subdomains "
                            f"{entity_home[ent]} and {snum}",
                            sub.pos,
                        )
                    entity_home.setdefault(ent, snum)
                dom.subdomains[snum] = sub
        return dom

    def subdomain(self, what: str, number: int, body, pos: SourcePos) -> Subdomain | None:
        if not isinstance(body, CommentedMap):
            self.error(f"{what} must be a mapping with a 'name'", pos)
            return None
        self.check_keys(body, {"name", "description", "entities"}, f"{what}: unknown key")
        name = self.string(body, "name", what)
        sub = Subdomain(
            number=number,
            name=name or f"subdomain{number}",
            description=self.string(body, "description", what, required=False),
            pos=pos,
        )
        entities = body.get("entities")
        if entities is None:
            return sub
        if not isinstance(entities, CommentedMap):
            self.error(
                f"{what}: 'entities' must be a mapping of entity name to number 0-9",
                self.pos_value(body, "entities"),
            )
            return sub
        by_number: dict[int, str] = {}
        for ent, num in entities.items():
            epos = self.pos_value(entities, ent)
            if not isinstance(ent, str) or not ent:
                self.error(f"{what}: entity names must be strings, got {ent!r}", epos)
                continue
            if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num <= 9:
                self.error(f"{what}: entity {ent!r} has number {num!r}, out of range 0-9", epos)
                continue
            if num in by_number:
                self.error(
                    f"{what}: entity number {num} is used by both {by_number[num]!r} and {ent!r}",
                    epos,
                )
                continue
            by_number[num] = ent
            sub.entities[ent] = num
        return sub


def loads_registry(text: str, file: str = "<registry>") -> DomainRegistry:
    """Parse and validate registry text. Raises SpecqlError(s) with ``file:line:col``."""
    try:
        doc = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = SourcePos(file, mark.line + 1, mark.column + 1) if mark else SourcePos(file, 1, 1)
        raise SpecqlError(f"invalid YAML: {exc.problem or exc.context}", pos) from None
    builder = _Builder(file)
    reg = builder.build(doc)
    if builder.errors:
        if len(builder.errors) == 1:
            raise builder.errors[0]
        raise SpecqlErrors(builder.errors)
    return reg


def load_registry(path: str | Path) -> DomainRegistry:
    """Read, validate and type the registry file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecqlError(
            f"cannot read registry: {exc.strerror or exc}", SourcePos(str(p), 0, 0)
        ) from None
    reg = loads_registry(text, file=str(p))
    reg.path = p
    return reg


def find_registry(
    start_paths: Iterable[str | Path] = (), explicit: str | Path | None = None
) -> Path:
    """Where the registry is: ``explicit`` if given, else ``$SPECQL_REGISTRY``, else the first
    ``registry/domain_registry.yaml`` found walking up from each start path, then from the
    current directory. None found -> SpecqlError saying where it looked."""
    if explicit is not None:
        p = Path(explicit)
        if not p.is_file():
            raise SpecqlError(f"registry file not found: {p}", SourcePos(str(p), 0, 0))
        return p
    env = os.environ.get(REGISTRY_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise SpecqlError(
                f"registry file not found: {p} (from ${REGISTRY_ENV})", SourcePos(str(p), 0, 0)
            )
        return p
    starts = [Path(s) for s in start_paths] + [Path.cwd()]
    looked: list[str] = []
    for start in starts:
        here = start.resolve()
        if not here.is_dir():
            here = here.parent
        for directory in (here, *here.parents):
            candidate = directory / REGISTRY_RELPATH
            if candidate.is_file():
                return candidate
        looked.append(str(here))
    raise SpecqlError(
        f"no domain registry found: pass one explicitly, set ${REGISTRY_ENV}, or create "
        f"{REGISTRY_RELPATH} (looked upwards from: {', '.join(dict.fromkeys(looked))})"
    )
