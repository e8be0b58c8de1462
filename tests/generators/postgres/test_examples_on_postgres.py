"""Every action of every bundled example, run on a real PostgreSQL.

The examples are loaded with the loader, generated with the PostgreSQL generator (registry: a
copy of ``registry/domain_registry.yaml``), written with the writer and applied once to one
database. Then every case of ``action_cases/<schema>_<entity>.yaml`` runs in its own
transaction (rolled back afterwards) with fresh tenant and user ids.

Case file format::

    entity: crm.Contact                 # the entity whose actions the cases call
    cases:
      - name: qualify_lead succeeds     # unique in the file; case id = <file stem>.<name>
        action: qualify_lead
        setup:                          # optional, in order
          - row: crm.Company            # INSERT straight into the generated table
            as: acme                    # the row is $acme (its id) / $acme.pk afterwards
            tenant: b                   # a (default) or b; ignored for shared schemas
            values: { name: Acme }      # by field name; a ref field takes $row
          - action: crm.Company.register_company   # or call another action (must succeed)
            params: { name: Acme }
            id: $acme                   # optional p_id
            as: acme2                   # the result's id
          - sql: UPDATE ... WHERE id = %(acme)s    # anything else, psycopg named params
        call: { id: $ann, tenant: a, params: { reason: fit } }
        expect:
          status: success               # or error:<code>
          message: some words           # optional: the message contains this text
          id: $ann                      # optional: $ref, new (not null) or null
          object_data: { status: qualified }   # optional: subset of the returned JSONB
        notifications:                  # optional: the case commits and must receive these
          - { channel: contact_qualified, payload: { id: $ann } }
        assert:                         # SQL with %(ref)s params (refs, ref_pk, tenant_a,
          - sql: SELECT status FROM crm.tb_contact WHERE id = %(ann)s   # tenant_b, user,
            rows: [[qualified]]                                          # result)
          - sql: SELECT count(*) FROM crm.tb_note
            value: 0

Expected values: numbers compare numerically, strings against ``str(actual)``, ``$ref`` against
the ref's id, dicts as subsets. For an ``error:`` status, every table of the applied schemas is
snapshotted before the call and must be identical afterwards, and ``object_data`` must be NULL.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
REGISTRY = REPO / "registry" / "domain_registry.yaml"
CASES_DIR = Path(__file__).parent / "action_cases"

pytestmark = pytest.mark.postgres

_REF = re.compile(r"^\$([a-z_][a-z0-9_]*)(\.pk)?$")
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower()


# --------------------------------------------------------------------------- case files


@dataclass
class Case:
    id: str
    file: Path
    entity: str  # schema.Entity
    action: str
    spec: dict

    @property
    def status(self) -> str:
        return str(self.spec.get("expect", {}).get("status", ""))


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        entity = doc["entity"]
        for spec in doc["cases"]:
            cases.append(Case(f"{path.stem}.{spec['name']}", path, entity, spec["action"], spec))
    return cases


CASES = load_cases()


def _example_actions() -> dict[str, list[str]]:
    """schema.Entity -> action names, read from the example YAML files directly."""
    found: dict[str, list[str]] = {}
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[f"{doc['schema']}.{doc['entity']}"] = [a["name"] for a in doc.get("actions", [])]
    return found


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_action_has_a_succeeding_and_a_failing_case():
    """Coverage can't silently shrink: each example action needs both kinds of case."""
    actions = _example_actions()
    assert len(actions) >= 8
    missing = []
    for entity, names in actions.items():
        schema, _, name = entity.partition(".")
        expected_file = CASES_DIR / f"{schema}_{_snake(name)}.yaml"
        for action in names:
            mine = [c for c in CASES if c.entity == entity and c.action == action]
            if not any(c.file == expected_file for c in mine):
                missing.append(f"{entity}.{action}: no case in {expected_file.name}")
            if not any(c.status == "success" for c in mine):
                missing.append(f"{entity}.{action}: no succeeding case")
            if not any(c.status.startswith("error:") for c in mine):
                missing.append(f"{entity}.{action}: no failing case")
    assert not missing, "\n".join(missing)


def test_cases_name_existing_actions():
    actions = _example_actions()
    wrong = [c.id for c in CASES if c.action not in actions.get(c.entity, [])]
    assert not wrong, wrong


def test_there_is_a_tenant_isolation_case():
    isolation = [
        c
        for c in CASES
        if c.status == "error:not_found"
        and any(s.get("tenant") == "b" for s in c.spec.get("setup", []))
    ]
    assert isolation


# --------------------------------------------------------------------------- generation


def _generate(registry_path: Path, out_dir: Path):
    from specql.dsl import load_paths
    from specql.dsl.registry import load_registry
    from specql.generators.postgres.generator import PostgresGenerator
    from specql.generators.writer import write_files

    entities = load_paths(sorted(EXAMPLES.rglob("*.yaml")))
    registry = load_registry(registry_path)
    files = PostgresGenerator().generate(entities, registry)
    if getattr(registry, "changed", False):
        registry.save()
    write_files(files, out_dir)
    return entities, registry, files


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("examples")
    registry_path = tmp / "registry" / "domain_registry.yaml"
    registry_path.parent.mkdir()
    shutil.copy(REGISTRY, registry_path)
    out = tmp / "out"
    entities, registry, files = _generate(registry_path, out)
    return {
        "entities": {f"{e.schema}.{e.name}": e for e in entities},
        "registry": registry,
        "registry_path": registry_path,
        "files": files,
        "out": out,
    }


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_generating_twice_is_byte_identical(generated, tmp_path):
    out2 = tmp_path / "again"
    registry_text = generated["registry_path"].read_text(encoding="utf-8")
    _, _, files2 = _generate(generated["registry_path"], out2)
    assert generated["registry_path"].read_text(encoding="utf-8") == registry_text
    first = {p.relative_to(generated["out"]): p.read_bytes() for p in _files(generated["out"])}
    second = {p.relative_to(out2): p.read_bytes() for p in _files(out2)}
    assert sorted(first) == sorted(second)
    assert first == second
    assert [(f.code, f.path, f.content) for f in generated["files"]] == [
        (f.code, f.path, f.content) for f in files2
    ]


@pytest.fixture(scope="module")
def examples_dsn(pg_server, generated):
    import psycopg

    from specql.generators.postgres.apply import apply_manifest

    name = "specql_examples_cases"
    admin = pg_server.get_uri("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg_server.get_uri(name)
    apply_manifest(generated["out"], dsn)
    yield dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def conn(examples_dsn):
    import psycopg

    with psycopg.connect(examples_dsn) as connection:
        yield connection


def test_examples_apply_with_every_table_view_and_function(conn, generated):
    rows = conn.execute(
        """SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('crm', 'catalog', 'projects')"""
    ).fetchall()
    procs = conn.execute(
        """SELECT n.nspname || '.' || p.proname FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname IN ('crm', 'catalog', 'projects')"""
    ).fetchall()
    conn.rollback()
    relations = {(s, n, k) for s, n, k in rows}
    functions = {r[0] for r in procs}
    for qname, entity in generated["entities"].items():
        schema = entity.schema
        assert (schema, f"tb_{_snake(entity.name)}", "r") in relations, qname
        assert (schema, f"tv_{_snake(entity.name)}", "v") in relations, qname
        for action in entity.actions:
            assert f"{schema}.fn_{schema}_{action.name}" in functions, (qname, action.name)


# --------------------------------------------------------------------------- running cases


class CaseRun:
    """State of one case: tenants, user and the rows created so far."""

    def __init__(self, conn, generated, case: Case) -> None:
        self.conn = conn
        self.entities = generated["entities"]
        self.registry = generated["registry"]
        self.case = case
        self.refs: dict[str, uuid.UUID] = {}
        self.pks: dict[str, int] = {}
        self.tenants = {"a": uuid.uuid4(), "b": uuid.uuid4()}
        self.user = uuid.uuid4()
        self.result_id: uuid.UUID | None = None

    # -- values

    def ref(self, text: str):
        m = _REF.match(text)
        if not m:
            return None
        name, pk = m.group(1), m.group(2)
        if name in ("tenant_a", "tenant_b"):
            return self.tenants[name[-1]]
        if name == "user":
            return self.user
        if name == "result":
            return self.result_id
        if name not in self.refs:
            raise AssertionError(f"{self.case.id}: unknown ref ${name}")
        return self.pks[name] if pk else self.refs[name]

    def resolve(self, value):
        if isinstance(value, str) and _REF.match(value):
            return self.ref(value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def sql_params(self) -> dict:
        params: dict = {
            "tenant_a": self.tenants["a"],
            "tenant_b": self.tenants["b"],
            "user": self.user,
            "result": self.result_id,
        }
        for name, value in self.refs.items():
            params[name] = value
            if name in self.pks:
                params[f"{name}_pk"] = self.pks[name]
        return params

    def entity(self, qualified: str):
        if qualified not in self.entities:
            raise AssertionError(f"{self.case.id}: unknown entity {qualified}")
        return self.entities[qualified]

    def multi_tenant(self, schema: str) -> bool:
        return self.registry.is_multi_tenant(schema)

    # -- setup

    def setup(self) -> None:
        for step in self.case.spec.get("setup", []) or []:
            if "row" in step:
                self.insert_row(step)
            elif "action" in step:
                qualified, _, action = step["action"].rpartition(".")
                result = self.call(qualified, action, step)
                expected = step.get("expect", "success")
                assert result["status"] == expected, f"setup {step['action']}: {result}"
                if step.get("as"):
                    self.remember(step["as"], qualified, result["id"])
            elif "sql" in step:
                self.conn.execute(step["sql"], self.sql_params())
            else:
                raise AssertionError(f"{self.case.id}: unknown setup step {step}")

    def insert_row(self, step: dict) -> None:
        from psycopg.types.json import Jsonb

        entity = self.entity(step["row"])
        table = f"{entity.schema}.tb_{_snake(entity.name)}"
        name = step.get("as") or _snake(entity.name)
        columns: dict = {}
        if self.multi_tenant(entity.schema):
            columns["tenant_id"] = self.tenants[step.get("tenant", "a")]
        columns["identifier"] = f"{name}-{uuid.uuid4().hex[:12]}"
        for key, raw in (step.get("values") or {}).items():
            field = entity.field_named(key)
            if field is not None and field.type.kind == "ref":
                m = _REF.match(str(raw)) if raw is not None else None
                if raw is not None and not m:
                    raise AssertionError(f"{self.case.id}: ref field {key} takes $row")
                columns[f"fk_{key}"] = None if raw is None else self.pks[m.group(1)]
                continue
            value = self.resolve(raw)
            if isinstance(value, dict):
                value = Jsonb(value)
            columns[key] = value
        cols = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        pk = f"pk_{_snake(entity.name)}"
        row = self.conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks}) RETURNING id, {pk}",
            list(columns.values()),
        ).fetchone()
        self.refs[name] = row[0]
        self.pks[name] = row[1]

    def remember(self, name: str, qualified: str, row_id) -> None:
        entity = self.entity(qualified)
        assert row_id is not None, f"{self.case.id}: setup {name} returned no id"
        pk = self.conn.execute(
            f"SELECT pk_{_snake(entity.name)} FROM {entity.schema}.tb_{_snake(entity.name)}"
            " WHERE id = %s",
            [row_id],
        ).fetchone()
        self.refs[name] = row_id
        if pk is not None:
            self.pks[name] = pk[0]

    # -- the call

    def call(self, qualified: str, action: str, spec: dict) -> dict:
        from psycopg.rows import dict_row

        entity = self.entity(qualified)
        schema = entity.schema
        args: dict = {}
        if self.multi_tenant(schema):
            args["p_tenant_id"] = str(self.tenants[spec.get("tenant", "a")])
        user = spec.get("user")
        args["p_user_id"] = str(self.resolve(user) if user else self.user)
        if spec.get("id") is not None:
            args["p_id"] = _as_param(self.resolve(spec["id"]))
        for key, value in (spec.get("params") or {}).items():
            args[f"p_{key}"] = _as_param(self.resolve(value))
        named = ", ".join(f"{k} => %({k})s" for k in args)
        sql = f"SELECT status, message, id, object_data FROM {schema}.fn_{schema}_{action}({named})"
        cur = self.conn.cursor(row_factory=dict_row)
        return cur.execute(sql, args).fetchone()

    # -- checks

    def snapshot(self) -> dict[str, list[str]]:
        schemas = sorted({e.schema for e in self.entities.values()} | {"app"})
        tables = self.conn.execute(
            """SELECT table_schema || '.' || table_name FROM information_schema.tables
               WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1""",
            [schemas],
        ).fetchall()
        snap: dict[str, list[str]] = {}
        for (table,) in tables:
            rows = self.conn.execute(f"SELECT t::text FROM {table} t ORDER BY 1").fetchall()
            snap[table] = [r[0] for r in rows]
        return snap

    def check_expectation(self, result: dict) -> None:
        expect = self.case.spec.get("expect", {})
        where = f"{self.case.id}: result {result}"
        assert result["status"] == expect["status"], where
        if "message" in expect:
            assert expect["message"].lower() in (result["message"] or "").lower(), where
        if "id" in expect:
            want = expect["id"]
            if want == "new":
                assert result["id"] is not None, where
                assert result["id"] not in self.refs.values(), where
            elif want is None or want == "null":
                assert result["id"] is None, where
            else:
                assert result["id"] == self.resolve(want), where
        if expect["status"].startswith("error:"):
            assert result["object_data"] is None, where
        if "object_data" in expect:
            assert _same(self.resolve(expect["object_data"]), result["object_data"]), where

    def check_assertions(self) -> None:
        for check in self.case.spec.get("assert", []) or []:
            rows = self.conn.execute(check["sql"], self.sql_params()).fetchall()
            actual = [list(r) for r in rows]
            if "value" in check:
                assert len(actual) == 1 and len(actual[0]) == 1, (check["sql"], actual)
                expected = self.resolve(check["value"])
                ok = _same(expected, actual[0][0])
                assert ok, f"{self.case.id}: {check['sql']} -> {actual[0][0]!r}, want {expected!r}"
            else:
                expected = self.resolve(check["rows"])
                ok = _same(expected, actual)
                assert ok, f"{self.case.id}: {check['sql']} -> {actual!r}, want {expected!r}"


def _as_param(value):
    """Call arguments go as untyped text literals, so PostgreSQL casts each one to the
    parameter's declared type (numbers, dates, inet...) exactly as a SQL caller's literal."""
    from psycopg.types.json import Jsonb

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return Jsonb(value)
    if isinstance(value, list):
        return [_as_param(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)


def _same(expected, actual) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float, decimal.Decimal)):
            return False
        return decimal.Decimal(str(expected)) == decimal.Decimal(str(actual))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _same(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, (dt.date, dt.datetime)):
        # JSONB carries dates as ISO strings
        return actual == expected or str(actual) == expected.isoformat()
    return actual is not None and str(actual) == str(expected)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_action_case(case: Case, conn, generated):
    run = CaseRun(conn, generated, case)
    notifications = case.spec.get("notifications") or []
    try:
        for note in notifications:
            conn.execute(f'LISTEN "{note["channel"]}"')
        conn.commit()
        run.setup()
        failing = case.status.startswith("error:")
        before = run.snapshot() if failing else None
        result = run.call(case.entity, case.action, case.spec.get("call") or {})
        run.result_id = result["id"]
        run.check_expectation(result)
        if failing:
            assert run.snapshot() == before, f"{case.id}: a failing action changed data"
        run.check_assertions()
        if notifications:
            conn.commit()  # notifications are delivered on commit
            got = [
                (n.channel, n.payload)
                for n in conn.notifies(timeout=2, stop_after=len(notifications))
            ]
            for note in notifications:
                want = run.resolve(note.get("payload") or {})
                assert any(
                    ch == note["channel"] and _same(want, json.loads(payload))
                    for ch, payload in got
                ), f"{case.id}: no notification {note} in {got}"
    finally:
        conn.rollback()
        if notifications:
            conn.execute("UNLISTEN *")
            conn.commit()
