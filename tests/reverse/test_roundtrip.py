"""Round trip: for every example spec, ``reverse(generate(spec))`` equals the spec in meaning.

The examples are generated with the real :class:`PostgresGenerator` (registry: a copy of the
shipped one), every generated file is read back with the parse stage, the tables become
entities (:func:`specql.reverse.entities.tables_to_entities`) and every action function is
mapped to steps against those reversed entities (:func:`specql.reverse.steps.map_function`).

"Equal in meaning" is checked four ways:

1. entities: same names, schemas, descriptions, fields (names, types, refs, NOT NULL,
   defaults, descriptions) and indexes (fields or expression, unique, name);
2. actions step by step: same action names, params (name, NOT NULL, default, and type as the
   generated function sees it: ``email`` and ``text`` are both ``TEXT`` params), and the same
   steps with every expression compared after PostgreSQL's parser normalised it. Differences
   that cannot change what the generated function does are normalised on both sides, each
   listed in :func:`normalise`;
3. the reversed specs validate, and load back from their canonical YAML unchanged;
4. generating the reversed specs gives the same function bodies as the originals (the DECLARE
   section compared as a set: a ``declare`` step may stand anywhere before its first use).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from specql.dsl import dump, load_paths, load_text, validate
from specql.dsl.expressions import deparse_spec, parse_expression, parse_statement
from specql.dsl.model import (
    CallStep,
    DeclareStep,
    Entity,
    ForeachStep,
    IfStep,
    RawSqlStep,
    ReturnStep,
    Step,
)
from specql.dsl.registry import load_registry
from specql.errors import ErrorLevel
from specql.generators.postgres.generator import PostgresGenerator
from specql.generators.postgres.types import param_sql_type
from specql.reverse.confidence import function_confidence
from specql.reverse.entities import tables_to_entities
from specql.reverse.naming import snake
from specql.reverse.parse import parse_sql_text
from specql.reverse.steps import entity_tables, map_function

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
REGISTRY = REPO / "registry" / "domain_registry.yaml"


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    registry_path = tmp_path_factory.mktemp("registry") / "domain_registry.yaml"
    shutil.copy(REGISTRY, registry_path)
    originals = load_paths(sorted(EXAMPLES.rglob("*.yaml")))
    files = PostgresGenerator().generate(originals, load_registry(registry_path))
    module = parse_sql_text("\n".join(f.content for f in files), "generated.sql")
    assert not [e for e in module.errors if e.level is ErrorLevel.ERROR]
    results = tables_to_entities(
        [t for t in module.tables if t.schema in {e.schema for e in originals}], module.types
    )
    tables = entity_tables(module.tables, results, module.types)
    mapped = {
        (fn.schema, fn.name): map_function(fn, module.tables, tables)
        for fn in module.functions
        if fn.name.startswith(f"fn_{fn.schema}_")
    }
    from_tables = {(r.entity.schema, r.entity.name): r.entity for r in results}
    reversed_entities = []
    for e in originals:
        entity = from_tables[(e.schema, e.name)]
        actions = [
            m.action
            for (schema, _), m in mapped.items()
            if m.entity_hint == (f"{e.schema}.tb_{snake(e.name)}")
        ]
        # what the assembly stage adds from the registry / file layout, not from the SQL
        reversed_entities.append(
            dataclasses.replace(entity, subdomain=e.subdomain, patterns=e.patterns, actions=actions)
        )
    return {
        "originals": originals,
        "reversed": reversed_entities,
        "mapped": mapped,
        "files": files,
        "registry": registry_path,
    }


def _ids():
    return [p.stem for p in sorted(EXAMPLES.rglob("*.yaml"))]


# --------------------------------------------------------------------------- normalising


def _expr(text: str | None) -> str | None:
    return None if text is None else deparse_spec(parse_expression(text))


def _query(text: str) -> str:
    return deparse_spec(parse_statement(text))


def _humanized(code: str) -> str:
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _perform_call(sql: str) -> str | None:
    """``PERFORM f(x)`` (or ``SELECT f(x)``) as written in a raw_sql step -> ``f(x)``."""
    text = sql.strip().rstrip(";").strip()
    head, _, rest = text.partition(" ")
    if head.upper() not in ("PERFORM", "SELECT"):
        return None
    try:
        return _expr(rest)
    except Exception:
        return None


def normalise(steps: list[Step]) -> list[tuple]:
    """Steps as comparable tuples. Normalised on both sides (none changes the generated
    function's behaviour):

    - expressions and queries: parsed and deparsed (``x::text`` = ``CAST(x AS text)``);
    - a ``message`` equal to the humanized error code is no message (the generator writes
      exactly that when there is none);
    - ``raw_sql: PERFORM f(...)`` is ``call: f(...)`` (the generator emits both the same way);
    - ``declare`` steps are left out here and compared as a set of variables (PL/pgSQL
      declares every variable up front, wherever the step stands);
    - a bare ``return`` as the last step is left out (the generated function returns the same
      result after its last step anyway).
    """
    out = []
    for step in steps:
        if isinstance(step, DeclareStep):
            continue
        if isinstance(step, RawSqlStep) and _perform_call(step.sql) is not None:
            step = CallStep(call=_perform_call(step.sql))
        out.append(_step(step))
    if out and out[-1] == ("return", None):
        out.pop()
    return out


def _step(s: Step) -> tuple:
    kind = s.kind
    if kind == "validate":
        message = None if s.message == _humanized(s.error) else s.message
        return (kind, _expr(s.condition), s.error, message)
    if kind == "if":
        return (kind, _expr(s.condition), tuple(normalise(s.then)), tuple(normalise(s.else_)))
    if kind == "insert":
        return (kind, s.entity, tuple((k, _expr(v)) for k, v in s.values.items()), s.as_)
    if kind == "update":
        return (
            kind,
            s.entity,
            tuple((k, _expr(v)) for k, v in s.assignments.items()),
            _expr(s.where),
        )
    if kind == "delete":
        return (kind, s.entity, _expr(s.where), s.hard)
    if kind == "find":
        return (kind, s.entity, _expr(s.where), s.into, s.error)
    if kind == "query":
        return (kind, _query(s.sql), s.into)
    if kind == "assign":
        return (kind, s.target, _expr(s.expression))
    if kind == "call":
        return (kind, _expr(s.call), s.store)
    if kind == "notify":
        return (kind, s.channel, tuple((k, _expr(v)) for k, v in s.payload.items()))
    if kind == "reject":
        return (kind, s.error, None if s.message == _humanized(s.error) else s.message)
    if kind == "foreach":
        return (kind, s.variable, _query(s.query), tuple(normalise(s.body)))
    if kind == "return":
        return (kind, _expr(s.expression))
    if kind == "raw_sql":
        return (kind, s.sql.strip().rstrip(";"))
    raise AssertionError(f"unexpected step kind {kind}")


def declared(steps: list[Step]) -> set[tuple]:
    found = set()
    stack = list(steps)
    while stack:
        step = stack.pop()
        if isinstance(step, DeclareStep):
            for v in step.variables:
                found.add((v.name, param_sql_type(v.type), _expr(v.default)))
        if isinstance(step, IfStep):
            stack += step.then + step.else_
        elif isinstance(step, ForeachStep):
            stack += step.body
    return found


def params(action) -> list[tuple]:
    return [(p.name, param_sql_type(p.type), p.nullable, _expr(p.default)) for p in action.params]


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("stem", _ids())
def test_entities_come_back_with_their_fields_types_and_refs(round_trip, stem):
    original = next(e for e in round_trip["originals"] if e.pos.file.endswith(f"/{stem}.yaml"))
    back = next(e for e in round_trip["reversed"] if e.name == original.name)
    assert (back.name, back.schema, back.description) == (
        original.name,
        original.schema,
        original.description,
    )
    assert back.fields == original.fields
    assert back.indexes == original.indexes


def test_round_trip_covers_every_index_form(round_trip):
    indexes = [i for e in round_trip["originals"] for i in e.indexes]
    assert any(i.expression is not None and i.unique for i in indexes)
    assert any(len(i.fields) > 1 for i in indexes)
    assert any(i.name is not None for i in indexes)
    assert any(
        f.type.kind == "ref"
        for e in round_trip["originals"]
        for i in e.indexes
        for f in e.fields
        if f.name in i.fields
    )


@pytest.mark.parametrize("stem", _ids())
def test_actions_come_back_step_by_step(round_trip, stem):
    original = next(e for e in round_trip["originals"] if e.pos.file.endswith(f"/{stem}.yaml"))
    back = next(e for e in round_trip["reversed"] if e.name == original.name)
    assert [a.name for a in back.actions] == [a.name for a in original.actions]
    for want, got in zip(original.actions, back.actions, strict=True):
        assert params(got) == params(want), want.name
        assert normalise(got.steps) == normalise(want.steps), want.name
        assert declared(got.steps) == declared(want.steps), want.name


@pytest.mark.parametrize("stem", _ids())
def test_every_statement_is_converted_with_full_confidence(round_trip, stem):
    original = next(e for e in round_trip["originals"] if e.pos.file.endswith(f"/{stem}.yaml"))
    for action in original.actions:
        mapped = round_trip["mapped"][(original.schema, f"fn_{original.schema}_{action.name}")]
        assert mapped.unconverted == [], action.name
        assert mapped.statements_converted == mapped.statements_total > 0
        assert mapped.entity_hint == f"{original.schema}.tb_{snake(original.name)}"
        assert function_confidence(mapped) == 1.0, action.name


def test_reversed_specs_validate_and_load_back_unchanged(round_trip):
    problems = [p for p in validate(round_trip["reversed"]) if p.level is ErrorLevel.ERROR]
    assert problems == []
    for entity in round_trip["reversed"]:
        text = dump(entity)
        again = load_text(text, f"{entity.name}.yaml")
        assert again == entity, text


def _function_bodies(files) -> dict[str, tuple]:
    """Function files by name, with the DECLARE lines as a set (their order follows where
    declare steps stand, which does not change what the function does)."""
    out = {}
    for f in files:
        if f.layer != "functions":
            continue
        lines = f.content.splitlines()
        start = lines.index("DECLARE")
        end = lines.index("BEGIN", start)
        out[f.name] = (
            tuple(lines[:start]),
            frozenset(lines[start + 1 : end]),
            tuple(lines[end:]),
        )
    return out


def test_generating_the_reversed_specs_gives_the_same_functions(round_trip, tmp_path):
    registry_path = tmp_path / "domain_registry.yaml"
    shutil.copy(round_trip["registry"], registry_path)
    again = PostgresGenerator().generate(round_trip["reversed"], load_registry(registry_path))
    first = _function_bodies(round_trip["files"])
    second = _function_bodies(again)
    assert sorted(first) == sorted(second)
    for name in first:
        assert second[name] == first[name], name


def test_round_trip_covers_every_example_action(round_trip):
    count = sum(len(e.actions) for e in round_trip["originals"])
    assert count >= 30
    assert len(round_trip["mapped"]) == count


def test_normalise_keeps_real_differences_apart():
    a = load_text(
        "entity: X\nschema: crm\nfields: {n: integer}\nactions:\n"
        "  - name: a\n    steps:\n      - validate: n > 1\n        error: too_small\n",
        "a.yaml",
    )
    b = dataclasses.replace(a.actions[0].steps[0], condition="n >= 1")
    assert normalise(a.actions[0].steps) != normalise([b])
    c = ReturnStep()
    assert normalise([*a.actions[0].steps, c]) == normalise(a.actions[0].steps)
    assert isinstance(Entity, type)
