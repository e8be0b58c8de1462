"""Parse stage, live database: a PostgreSQL catalogue -> :class:`~specql.reverse.source.SqlModule`.

What the catalogue holds is turned back into SQL text, statement by statement, and read by the
same parser as files (:func:`specql.reverse.parse.parse_sql_text`), so a database and a dump of
it give the same tables and functions:

- tables (``relkind`` r/p, partitions excluded): ``CREATE TABLE`` from ``pg_attribute``
  (``format_type``, NOT NULL, ``pg_get_expr`` defaults, identity and generated columns) and
  ``pg_get_constraintdef`` of every PK/UNIQUE/FK/CHECK/EXCLUDE; comments from
  ``obj_description``/``col_description``; ``pg_get_indexdef`` of every index that no
  constraint made (a constraint's own index is the constraint);
- enum, domain and composite types (``CREATE TYPE``/``CREATE DOMAIN``);
- functions and procedures (any language but ``internal`` and ``c``): ``pg_get_functiondef``,
  PL/pgSQL bodies then parsed with the fallback exactly like files;
- triggers: ``pg_get_triggerdef`` (which function each executes), attached to the functions.

System schemas (``pg_*``, ``information_schema``) and objects that belong to an extension are
left out; ``schemas`` restricts the read to the given schemas. Every object's position names
the database and the object (``postgresql://app@db:5432/shop#function shop.f(integer)``), the
password never appears. The session only reads (a read-only transaction) and sets an empty
search_path, so every name the catalogue prints is schema-qualified.

psycopg is imported on first use: without it, :func:`read_catalog` raises a SpecqlError that
says how to install it.
"""

from __future__ import annotations

from specql.errors import SourcePos, SpecqlError
from specql.reverse.parse import attach_triggers, parse_sql_text
from specql.reverse.source import SqlModule

__all__ = ["dsn_display", "read_catalog"]

_USER_SCHEMA = """n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))"""


def _not_extension(classid: str, oid: str) -> str:
    return (
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
        f"'{classid}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
    )


TABLES = f"""
SELECT c.oid, n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       obj_description(c.oid, 'pg_class')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {_USER_SCHEMA}
  AND {_not_extension("pg_class", "c.oid")}
ORDER BY n.nspname, c.relname
"""

COLUMNS = """
SELECT a.attrelid, quote_ident(a.attname), a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
       col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

CONSTRAINTS = """
SELECT conrelid, quote_ident(conname), pg_get_constraintdef(oid)
FROM pg_catalog.pg_constraint
WHERE conrelid = ANY(%(oids)s) AND contype IN ('p', 'u', 'f', 'c', 'x')
ORDER BY conrelid, contype = 'f', conname
"""

INDEXES = """
SELECT i.indrelid, pg_get_indexdef(i.indexrelid)
FROM pg_catalog.pg_index i
WHERE i.indrelid = ANY(%(oids)s)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                  WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                    AND c.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, i.indexrelid
"""

ENUMS = f"""
SELECT n.nspname, t.typname, quote_ident(n.nspname) || '.' || quote_ident(t.typname),
       array_agg(quote_literal(e.enumlabel) ORDER BY e.enumsortorder),
       obj_description(t.oid, 'pg_type')
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
WHERE {_USER_SCHEMA} AND {_not_extension("pg_type", "t.oid")}
GROUP BY t.oid, n.nspname, t.typname
ORDER BY n.nspname, t.typname
"""

DOMAINS = f"""
SELECT n.nspname, t.typname, quote_ident(n.nspname) || '.' || quote_ident(t.typname),
       format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
       ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c
             WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname),
       obj_description(t.oid, 'pg_type')
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND {_USER_SCHEMA} AND {_not_extension("pg_type", "t.oid")}
ORDER BY n.nspname, t.typname
"""

COMPOSITES = f"""
SELECT n.nspname, t.typname, quote_ident(n.nspname) || '.' || quote_ident(t.typname),
       ARRAY(SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
             FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum),
       obj_description(t.oid, 'pg_type')
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
WHERE t.typtype = 'c' AND c.relkind = 'c' AND {_USER_SCHEMA}
  AND {_not_extension("pg_type", "t.oid")}
ORDER BY n.nspname, t.typname
"""

FUNCTIONS = f"""
SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE p.prokind IN ('f', 'p') AND l.lanname NOT IN ('internal', 'c') AND {_USER_SCHEMA}
  AND {_not_extension("pg_proc", "p.oid")}
ORDER BY n.nspname, p.proname, p.oid
"""

TRIGGERS = f"""
SELECT n.nspname || '.' || c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND {_USER_SCHEMA}
ORDER BY n.nspname, c.relname, t.tgname
"""


def dsn_display(dsn: str) -> str:
    """The DSN as ``postgresql://user@host:port/dbname``, without password or options."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # psycopg missing or an unparsable DSN: show nothing secret
        return "postgresql://"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    if "," in host or host.startswith("/"):
        host = "localhost" if host.startswith("/") else host
    port = f":{parts['port']}" if parts.get("port") else ""
    db = f"/{parts['dbname']}" if parts.get("dbname") else ""
    return f"postgresql://{user}{host}{port}{db}"


def _connect(dsn: str, display: str):
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - psycopg is a dev dependency
        raise SpecqlError(
            "reading a database needs psycopg: pip install 'specql[pg]' (or psycopg[binary])",
            SourcePos(display),
        ) from e
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        first = (str(e).strip().splitlines() or ["connection failed"])[0]
        raise SpecqlError(f"cannot connect to {display}: {first}", SourcePos(display)) from e
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    conn.execute("SELECT pg_catalog.set_config('search_path', '', false)")
    return conn


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _merge(module: SqlModule, part: SqlModule) -> None:
    module.tables += part.tables
    module.functions += part.functions
    module.triggers += part.triggers
    module.types += part.types
    module.errors += part.errors
    module.skipped += part.skipped
    module.statements += part.statements


def read_catalog(dsn: str, schemas: list[str] | None = None) -> SqlModule:
    """Read the tables, types, functions and triggers of a live database (see the module
    docstring). Raises SpecqlError when the database cannot be reached."""
    display = dsn_display(dsn)
    module = SqlModule(display)
    params = {"schemas": list(schemas) if schemas else None}
    conn = _connect(dsn, display)
    try:
        with conn.cursor() as cur:
            cur.execute(ENUMS, params)
            for nsp, name, qualified, labels, comment in cur.fetchall():
                sql = f"CREATE TYPE {qualified} AS ENUM ({', '.join(labels)})"
                _read_type(module, sql, f"{display}#type {nsp}.{name}", comment)
            cur.execute(DOMAINS, params)
            for nsp, name, qualified, base, not_null, default, checks, comment in cur.fetchall():
                sql = f"CREATE DOMAIN {qualified} AS {base}"
                sql += " NOT NULL" if not_null else ""
                sql += f" DEFAULT {default}" if default is not None else ""
                sql += "".join(f" {check}" for check in checks)
                _read_type(module, sql, f"{display}#domain {nsp}.{name}", comment)
            cur.execute(COMPOSITES, params)
            for nsp, name, qualified, attributes, comment in cur.fetchall():
                sql = f"CREATE TYPE {qualified} AS ({', '.join(attributes)})"
                _read_type(module, sql, f"{display}#type {nsp}.{name}", comment)
            _read_tables(cur, module, display, params)
            cur.execute(FUNCTIONS, params)
            for identity, definition, comment in cur.fetchall():
                part = parse_sql_text(definition, f"{display}#function {identity}")
                for fn in part.functions:
                    fn.comment = comment
                _merge(module, part)
            cur.execute(TRIGGERS, params)
            for identity, definition in cur.fetchall():
                _merge(module, parse_sql_text(definition, f"{display}#trigger {identity}"))
    finally:
        conn.close()
    attach_triggers(module.functions, module.triggers)
    return module


def _read_type(module: SqlModule, sql: str, source: str, comment: str | None) -> None:
    part = parse_sql_text(sql, source)
    for info in part.types:
        info.comment = comment
    _merge(module, part)


def _read_tables(cur, module: SqlModule, display: str, params: dict) -> None:
    cur.execute(TABLES, params)
    tables = cur.fetchall()
    if not tables:
        return
    oids = [row[0] for row in tables]
    columns: dict[int, list[tuple]] = {}
    cur.execute(COLUMNS, {"oids": oids})
    for row in cur.fetchall():
        columns.setdefault(row[0], []).append(row[1:])
    constraints: dict[int, list[str]] = {}
    cur.execute(CONSTRAINTS, {"oids": oids})
    for relid, name, definition in cur.fetchall():
        constraints.setdefault(relid, []).append(f"CONSTRAINT {name} {definition}")
    indexes: dict[int, list[str]] = {}
    cur.execute(INDEXES, {"oids": oids})
    for relid, definition in cur.fetchall():
        indexes.setdefault(relid, []).append(definition)
    for oid, nsp, rel, qualified, comment in tables:
        items = []
        comments = {}
        for quoted, name, type_, not_null, default, identity, generated, col_comment in columns.get(
            oid, []
        ):
            item = f"{quoted} {type_}"
            if identity:
                item += f" GENERATED {'ALWAYS' if identity == 'a' else 'BY DEFAULT'} AS IDENTITY"
            elif generated == "s" and default is not None:
                item += f" GENERATED ALWAYS AS ({default}) STORED"
            elif default is not None:
                item += f" DEFAULT {default}"
            if not_null:
                item += " NOT NULL"
            items.append(item)
            if col_comment is not None:
                comments[name] = col_comment
        items += constraints.get(oid, [])
        sql = f"CREATE TABLE {qualified} (\n    " + ",\n    ".join(items) + "\n)"
        if comment is not None:
            sql += f";\nCOMMENT ON TABLE {qualified} IS {_literal(comment)}"
        sql += "".join(f";\n{definition}" for definition in indexes.get(oid, []))
        part = parse_sql_text(sql, f"{display}#table {nsp}.{rel}")
        for table in part.tables:
            for col in table.columns:
                col.comment = comments.get(col.name)
        _merge(module, part)
