"""What the tests run in a fresh interpreter against a generated package (never collected).

    python orm_session.py PACKAGE_ROOT URI STEP [STEP...]

PACKAGE_ROOT is the directory that holds ``specql_models``; URI a ``postgresql://`` URI (or
``-`` for steps that need no database). Each step prints one JSON object on its own line:

- ``configure``: import the package, ``configure_mappers()``; the mapped classes by table;
- ``create_all``: create the schemas, then ``Base.metadata.create_all``;
- ``examples``: one row of every example entity through a Session, refs set through the
  relationships; read back in a new session; soft-delete a company and query ``active()``;
- ``cycle``: rows that refer to each other (the fixture specs' Company <-> Contact cycle and
  Category's self-reference), flushed together.
"""

from __future__ import annotations

import datetime
import decimal
import json
import sys
import uuid


def _engine(uri: str):
    import sqlalchemy as sa

    return sa.create_engine(uri.replace("postgresql://", "postgresql+psycopg://", 1))


def configure(_uri: str) -> dict:
    import specql_models
    import sqlalchemy.orm

    sqlalchemy.orm.configure_mappers()
    mappers = specql_models.Base.registry.mappers
    return {
        "classes": sorted(f"{m.class_.__module__}.{m.class_.__name__}" for m in mappers),
        "tables": sorted(specql_models.Base.metadata.tables),
        "imports_specql": any(name.split(".")[0] == "specql" for name in sys.modules),
    }


def create_all(uri: str) -> dict:
    import specql_models
    import sqlalchemy as sa

    metadata = specql_models.Base.metadata
    schemas = sorted({t.schema for t in metadata.tables.values()})
    with _engine(uri).begin() as conn:
        for schema in schemas:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        metadata.create_all(conn)
        tables = sa.inspect(conn).get_table_names
        created = sorted(f"{s}.{t}" for s in schemas for t in tables(schema=s))
    return {"schemas": schemas, "tables": created}


def examples(uri: str) -> dict:
    import sqlalchemy as sa
    from specql_models import active_rows, catalog, crm, projects
    from sqlalchemy.orm import Session

    tenant = uuid.uuid4()
    with Session(_engine(uri)) as session:
        acme = crm.Company(identifier="acme", tenant_id=tenant, name="Acme", country="FR")
        acme.metadata_ = {"source": "legacy", "tier": 2}
        acme.tags = ["b2b", "vip"]
        acme.annual_revenue = decimal.Decimal("1234567.8912")
        ann = crm.Contact(
            identifier="ann", tenant_id=tenant, email="ann@acme.example", first_name="Ann"
        )
        ann.company = acme
        ann.status = crm.ContactStatus.QUALIFIED
        ann.last_contacted_at = datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.UTC)
        note = crm.Note(identifier="n1", tenant_id=tenant, body="met at the fair", contact=ann)
        tools = catalog.Category(identifier="tools", name="Tools", slug="tools", color="#00aa00")
        drill = catalog.Product(identifier="drill", sku="D-1", name="Drill", slug="drill")
        drill.category = tools
        drill.price = decimal.Decimal("99.9")
        drill.colors = ["red", "black"]
        drill.version = "1.2.0"
        prices = catalog.PriceList(
            identifier="eu", name="EU", currency="EUR", valid_from=datetime.date(2024, 1, 1)
        )
        deal = crm.Deal(identifier="d1", tenant_id=tenant, title="Drills", amount=500)
        deal.contact, deal.product = ann, drill
        site = projects.Project(identifier="p1", tenant_id=tenant, name="Site", code="site")
        site.client = acme
        task = projects.Task(identifier="t1", tenant_id=tenant, project=site, title="Dig")
        task.estimate = datetime.timedelta(hours=3)
        entry = projects.TimeEntry(identifier="e1", tenant_id=tenant, task=task, minutes=90)
        entry.work_date = datetime.date(2024, 5, 2)
        entry.client_ip, entry.device_mac = "192.168.1.20", "08:00:2b:01:02:03"
        session.add_all([note, prices, deal, entry])
        session.commit()
        ids = {"ann": ann.id, "acme": acme.id, "entry": entry.id, "drill": drill.id}

    with Session(_engine(uri)) as session:
        ann = session.scalars(sa.select(crm.Contact).where(crm.Contact.id == ids["ann"])).one()
        acme = ann.company
        deal = session.scalars(sa.select(crm.Deal)).one()
        entry = session.scalars(sa.select(projects.TimeEntry)).one()
        drill = session.get(catalog.Product, deal.fk_product)
        seen = {
            "ann": {
                "id_is_uuid": isinstance(ann.id, uuid.UUID),
                "status": ann.status,
                "score": ann.score,  # server default 0
                "company": acme.name,
                "last_contacted_at": ann.last_contacted_at.isoformat(),
            },
            "acme": {
                "metadata": acme.metadata_,
                "tags": acme.tags,
                "industry": acme.industry,  # server default 'other'
                "annual_revenue": str(acme.annual_revenue),
            },
            "deal": {
                "contact": deal.contact.first_name,
                "product": deal.product.name,
                "currency": deal.currency,  # server default 'EUR'
                "stage": deal.stage,
                "probability": str(deal.probability),
            },
            "drill": {
                "category": drill.category.slug,
                "colors": drill.colors,
                "active": drill.active,  # the field, not the soft-delete helper
                "stock_units": drill.stock_units,
            },
            "entry": {
                "client": entry.task.project.client.name,
                "client_ip": [type(entry.client_ip).__name__, str(entry.client_ip)],
                "device_mac": entry.device_mac,
                "estimate_seconds": entry.task.estimate.total_seconds(),
                "billable": entry.billable,
            },
            "notes": [n.body for n in session.scalars(sa.select(crm.Note))],
        }
        before = session.scalars(crm.Company.active()).all()
        acme.soft_delete()
        session.commit()
        after = session.scalars(crm.Company.active()).all()
        products_active = session.scalars(active_rows(catalog.Product)).all()
        seen["soft_delete"] = {
            "active_before": [c.identifier for c in before],
            "active_after": [c.identifier for c in after],
            "still_in_table": session.scalars(sa.select(crm.Company)).one().identifier,
            "deleted_at_set": acme.deleted_at is not None,
            "products_active": [p.identifier for p in products_active],
        }
    return seen


def cycle(uri: str) -> dict:
    import sqlalchemy as sa
    from specql_models import catalog, crm
    from sqlalchemy.orm import Session

    tenant = uuid.uuid4()
    with Session(_engine(uri)) as session:
        acme = crm.Company(identifier="acme", tenant_id=tenant, name="Acme")
        bob = crm.Contact(identifier="bob", tenant_id=tenant, email="bob@acme.example")
        bob.company, acme.primary_contact = acme, bob
        root = catalog.Category(identifier="root", name="Root", slug="root")
        leaf = catalog.Category(identifier="leaf", name="Leaf", slug="leaf", parent=root)
        session.add_all([acme, leaf])
        session.commit()
    with Session(_engine(uri)) as session:
        acme = session.scalars(sa.select(crm.Company)).one()
        leaf = session.scalars(sa.select(catalog.Category).where(catalog.Category.slug == "leaf"))
        return {
            "primary_contact": acme.primary_contact.identifier,
            "back_to_company": acme.primary_contact.company.identifier,
            "leaf_parent": leaf.one().parent.identifier,
        }


STEPS = {"configure": configure, "create_all": create_all, "examples": examples, "cycle": cycle}

if __name__ == "__main__":
    root, uri, *steps = sys.argv[1:]
    sys.path.insert(0, root)
    for step in steps:
        print(json.dumps(STEPS[step](uri), default=str), flush=True)
