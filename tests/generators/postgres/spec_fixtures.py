"""Helpers of the PostgreSQL generator tests: fixture specs covering every type family, and
applying generated SQL to a real server."""

from __future__ import annotations

from pathlib import Path

from specql.dsl.loader import load_file
from specql.dsl.model import Entity

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The shipped registry's domains with no entity numbers assigned (the shipped one records
# the examples' numbers, which would shift the codes these tests expect).
EMPTY_REGISTRY = FIXTURES / "registry" / "domain_registry.yaml"


def load_spec(path: Path) -> Entity:
    return load_file(path)


def load_fixture_entities(*names: str) -> list[Entity]:
    paths = [FIXTURES / f"{n}.yaml" for n in names] if names else sorted(FIXTURES.glob("*.yaml"))
    return [load_spec(p) for p in paths]


def ddl_scripts(entity_list: list[Entity], multi_tenant_schemas=("crm", "sales", "projects")):
    """Tables, deferred foreign keys and views for ``entity_list``, in apply order."""
    from specql.generators.postgres.context import CompileContext
    from specql.generators.postgres.tables import deferred_fk_ddl, table_ddl, table_order
    from specql.generators.postgres.views import view_ddl

    ctx = CompileContext.of(entity_list, multi_tenant_schemas)
    order, deferred = table_order(entity_list, ctx)
    scripts = [table_ddl(e, ctx, deferred.get(e.name, ())) for e in order]
    scripts += [deferred_fk_ddl(e, deferred[e.name], ctx) for e in order if e.name in deferred]
    scripts += [view_ddl(e, ctx) for e in order]
    return scripts


def apply_sql(dsn: str, scripts) -> None:
    """Run the scripts in one transaction, as ``specql apply`` does."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        for script in scripts:
            conn.execute(script)
