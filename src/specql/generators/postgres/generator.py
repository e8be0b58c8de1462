"""The PostgreSQL target: specs -> code-named SQL files in apply order.

Files (docs/generated-postgres.md), in this order — the order ``specql apply`` runs them:

1. framework (``app`` schema, result type, helpers): code ``010001``;
2. tables (layer 01, ``X = 1``) in reference order;
3. foreign keys that close a reference cycle (layer 01, ``X = 2`` of the referencing entity);
3b. code that domain patterns attach to an entity (``Entity.extensions`` for this target, e.g.
   audit_trail's trigger; layer 01, ``X = 3..9`` in the order the patterns are used), after
   every table, since it may write to another entity's table (a history table);
4. views (layer 02, ``X = 1``) in code order;
5. action functions (layer 03, ``X = 1..9`` in action order), entities in code order.

Paths: ``<SS>_<layer>/<D>_<domain>/<D><S>_<subdomain>/<code>_<name>.sql``.

Entity numbers new to the registry are assigned here; the registry file is written back only
after every file was generated without error, and only when something new was assigned.
"""

from __future__ import annotations

from collections.abc import Iterable

from specql.dsl.model import Entity
from specql.dsl.registry import DomainRegistry
from specql.errors import SpecqlError
from specql.generators.base import FileSpec
from specql.generators.codes import FRAMEWORK_CODE, LAYERS, EntityCode, assign_codes, code
from specql.generators.postgres.actions import compile_action, framework_sql
from specql.generators.postgres.context import CompileContext
from specql.generators.postgres.naming import function_name, table_name, view_name
from specql.generators.postgres.tables import deferred_fk_ddl, table_ddl, table_order
from specql.generators.postgres.views import view_ddl

FRAMEWORK_NAME = "framework"
MAX_ACTIONS = 9
TABLE_FILE = 1
DEFERRED_FK_FILE = 2
VIEW_FILE = 1
FIRST_EXTENSION_FILE = 3
TARGET = "postgres"


def file_path(layer: str, domain: str, subdomain: str, file_code: str, name: str) -> str:
    """``01_write_side/2_crm/21_accounts/012101_tb_contact.sql`` (POSIX, relative)."""
    d, s = file_code[2], file_code[3]
    return f"{layer}_{LAYERS[layer]}/{d}_{domain}/{d}{s}_{subdomain}/{file_code}_{name}.sql"


class PostgresGenerator:
    name = "postgres"

    def generate(self, entities: Iterable[Entity], registry: DomainRegistry) -> list[FileSpec]:
        """Every file for ``entities``, in apply order. See the module docstring."""
        entity_list = list(entities)
        ctx = CompileContext.from_registry(entity_list, registry)
        _check_actions(entity_list)
        codes = assign_codes(entity_list, registry, save=False)
        by_code = sorted(entity_list, key=lambda e: (codes[e.name], e.name))

        def place(ent: Entity, layer: str, file_no: int, name: str, content: str) -> FileSpec:
            ec = codes[ent.name]
            domain = registry.domains[ec.domain]
            sub = domain.subdomains[ec.subdomain]
            c = code(layer, ec, file_no)
            return FileSpec(
                code=c,
                name=name,
                content=content,
                layer=LAYERS[layer],
                path=file_path(layer, domain.name, sub.name, c, name),
            )

        files = [self._framework(registry)]
        order, deferred = table_order(by_code, ctx)
        for ent in order:
            ddl = table_ddl(ent, ctx, deferred.get(ent.name, ()))
            files.append(place(ent, "01", TABLE_FILE, table_name(ent.name), ddl))
        for ent in order:
            if deferred.get(ent.name):
                ddl = deferred_fk_ddl(ent, deferred[ent.name], ctx)
                files.append(place(ent, "01", DEFERRED_FK_FILE, f"{table_name(ent.name)}_fk", ddl))
        for ent in order:
            extensions = [x for x in ent.extensions if x.target == TARGET]
            for number, ext in enumerate(extensions, start=FIRST_EXTENSION_FILE):
                content = ext.content if ext.content.endswith("\n") else ext.content + "\n"
                files.append(
                    place(ent, "01", number, f"{table_name(ent.name)}_{ext.name}", content)
                )
        for ent in by_code:
            files.append(place(ent, "02", VIEW_FILE, view_name(ent.name), view_ddl(ent, ctx)))
        for ent in by_code:
            for number, action in enumerate(ent.actions, start=1):
                sql = compile_action(ent, action, ctx)
                if not sql.endswith("\n"):
                    sql += "\n"
                fn = function_name(ent.schema, action.name)
                files.append(place(ent, "03", number, fn, sql))

        if registry.changed and registry.path is not None:
            registry.save()
        return files

    @staticmethod
    def _framework(registry: DomainRegistry) -> FileSpec:
        c = code("01", FRAMEWORK_CODE, 1)
        sql = framework_sql(registry.framework_schema)
        if not sql.endswith("\n"):
            sql += "\n"
        return FileSpec(
            code=c,
            name=FRAMEWORK_NAME,
            content=sql,
            layer=LAYERS["01"],
            path=file_path("01", FRAMEWORK_NAME, FRAMEWORK_NAME, c, FRAMEWORK_NAME),
        )


def _check_actions(entities: list[Entity]) -> None:
    """At most 9 actions per entity (one code digit), no more pattern code files than the
    digits left after the table files, and no two actions that would share a function name
    (``fn_<schema>_<action>``)."""
    owners: dict[str, tuple[Entity, object]] = {}
    room = 9 - FIRST_EXTENSION_FILE + 1
    for ent in entities:
        if sum(x.target == TARGET for x in ent.extensions) > room:
            raise SpecqlError(
                f"entity {ent.name!r} uses more than {room} patterns with PostgreSQL code; "
                "at most that many fit the file codes",
                ent.pos,
            )
        if len(ent.actions) > MAX_ACTIONS:
            raise SpecqlError(
                f"entity {ent.name!r} has {len(ent.actions)} actions; at most {MAX_ACTIONS} fit "
                "the file codes (one digit per action). Move some actions to another entity",
                ent.pos,
            )
        for action in ent.actions:
            fn = function_name(ent.schema, action.name)
            if fn in owners:
                other, other_action = owners[fn]
                raise SpecqlError(
                    f"action {action.name!r} of {ent.name} and action {action.name!r} of "
                    f"{other.name} would both be the function {ent.schema}.{fn} "
                    f"(also at {other_action.pos}); rename one of them",
                    action.pos,
                )
            owners[fn] = (ent, action)


__all__ = ["EntityCode", "PostgresGenerator", "file_path"]
