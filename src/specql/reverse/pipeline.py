"""The reverse pipeline: legacy SQL files (or a live database) -> specs + a report.

:func:`reverse` runs the stages of :mod:`specql.reverse.source` over a whole run:

1. **parse** every ``.sql`` file on its own (in parallel with ``jobs > 1``); a file that cannot
   be read or parsed is an entry of the report, never the end of the batch;
2. **link** the files (:func:`~specql.reverse.parse.link_modules`: ALTER TABLE / COMMENT ON /
   CREATE TRIGGER in one file reach the tables and functions of another), then build one
   **entity** per table (:func:`~specql.reverse.entities.table_to_entity`; entity names made
   unique per schema);
3. per file (in parallel with ``jobs > 1``), per function: **steps**
   (:func:`~specql.reverse.steps.map_function`), **heuristics** (facts, pattern findings,
   variable purposes, :func:`~specql.reverse.features.retrieval_features`) and
   **confidence**, timed per function;
4. **retrieval** (when a ``lookup`` is given): the lookup gets every function of the run (a
   few hundred per call, for progress) and returns each one's most similar library patterns
   (:data:`Lookup`; the API builds it over the pattern library, this layer only knows the
   protocol). Retrieval is advice: when it fails the report gets a warning and the run goes
   on without it;
5. **AI** (when an ``ai`` stage is given, :mod:`specql.reverse.ai`): a language model's
   intent, names and pattern verdicts per function, each validated before it may change
   anything (an action's description, a finding's score), each recorded in the report; a
   model that cannot answer costs the suggestions, with a warning, not the run;
6. **assemble** (:mod:`specql.reverse.assemble`): actions grouped onto entities or module
   specs, every spec valid and round-tripping; each spec's checked YAML written where and as
   :func:`~specql.dsl.write_specs` writes it (unchanged files are not touched; specs an earlier
   run wrote that this run no longer makes are removed).

``jobs > 1`` uses a process pool for stages 1 and 3 (``fork`` when no other thread runs, else
``spawn``); results are gathered in file order, so the specs and the report (timings aside)
are the same as with ``jobs=1``.

Resume: after each file of stage 3 the file's results are appended to the journal in the
output directory (:mod:`specql.reverse.state`); ``resume=True`` skips the files the journal
holds (same path, size and time or content; same tables) and still produces the full report.
The retrieval stage runs over every function, resumed ones too (the journal keeps their body
and features; the lookup caches the embeddings of texts it has seen), so the report always
shows the library as it is now.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import gc
import hashlib
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from specql.dsl import model as m
from specql.dsl.dumper import spec_path
from specql.dsl.validator import SQL_RESERVED
from specql.errors import ErrorLevel, SourcePos, SpecqlError
from specql.reverse import state as st
from specql.reverse.assemble import EntitySource, FunctionOutcome, assemble
from specql.reverse.report import (
    AiEntry,
    EntityEntry,
    FileEntry,
    FunctionEntry,
    PatternEntry,
    ReverseReport,
    SimilarEntry,
    UnconvertedEntry,
)
from specql.reverse.source import FunctionInfo, SqlModule, TableInfo, TypeInfo, Unconverted

SPECS_NAME = ".specql-reverse-specs.json"  # the specs the last run wrote (to remove stale ones)

# progress(stage, done, total, item): stage is "parse", "map", "retrieval", "ai", "assemble"
# or "write".
ProgressFn = Callable[[str, int, int, str], None]


@dataclass(frozen=True, slots=True)
class FunctionQuery:
    """What the retrieval stage asks about one function."""

    name: str  # qualified function name
    kind: str  # function | trigger | procedure | do
    body: str
    features: tuple[str, ...]  # what its statements do (specql.reverse.features)


# lookup(queries) -> for each query (same order), the library patterns it resembles, best
# first. When it raises (a SpecqlError such as a library that needs reindexing, or a bug),
# the run goes on without matches and the report has a warning saying why.
Lookup = Callable[[list[FunctionQuery]], list[list[SimilarEntry]]]


def _crash(where: str, stage: str, exc: BaseException) -> str:
    message = " ".join(str(exc).split()) or type(exc).__name__
    return f"{where}: internal error in the {stage} stage: {type(exc).__name__}: {message}"


# --------------------------------------------------------------------------- stage 1: parse


@dataclass
class ParsedFile:
    path: str
    key: dict
    sha256: str = ""
    module: SqlModule | None = None
    skeleton: dict | None = None  # encoded module without functions, before linking
    ms: float = 0.0
    crash: str | None = None  # the parser raised (a bug, reported as this file's error)
    record: dict | None = None  # journal record (read back when resumed, else once done)
    resumed: bool = False  # taken from the journal of an earlier run


def _skeleton(module: SqlModule) -> dict:
    return st.encode(dataclasses.replace(module, functions=[]))


def parse_one(path: str, max_bytes: int | None = None, with_state: bool = True) -> ParsedFile:
    """Stage 1 for one file (runs in a worker process with ``jobs > 1``)."""
    from specql.reverse.parse import DEFAULT_MAX_BYTES, parse_sql_file

    start = time.perf_counter()
    try:
        key = st.file_key(path)
    except OSError as exc:
        key = {"size": -1, "mtime_ns": 0}
        module = SqlModule(
            path, errors=[SpecqlError(f"cannot read file: {exc.strerror}", SourcePos(path))]
        )
        return ParsedFile(path, key, module=module, ms=_ms(start))
    result = ParsedFile(path, key)
    try:
        result.module = parse_sql_file(path, max_bytes=max_bytes or DEFAULT_MAX_BYTES)
        if with_state:
            result.sha256 = st.file_hash(path)
            result.skeleton = _skeleton(result.module)
    except Exception as exc:  # a parser bug must not stop the batch
        result.crash = _crash(path, "parse", exc)
        result.module = SqlModule(path)
    result.ms = _ms(start)
    return result


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


# --------------------------------------------------------------------------- stage 2: entities


def build_entities(tables: list[TableInfo], types: list[TypeInfo]) -> list[EntitySource]:
    """One entity per table (:func:`~specql.reverse.entities.table_to_entity`), names usable
    and unique per schema: a reserved SQL word gets ``Record`` (``orders`` -> ``Order`` ->
    ``OrderRecord``: ``FROM Order`` would not parse), a clash takes the table's own name in
    PascalCase (``orders`` next to ``order``: ``Orders``), then a number; refs follow the
    renames. Raises :class:`EntityCrash` if the stage fails."""
    from specql.reverse.entities import table_to_entity

    sources: list[EntitySource] = []
    taken: dict[str, set[str]] = {}
    renamed: dict[tuple[str, str], str] = {}  # (schema, reserved name) -> the name it got
    for table in tables:
        try:
            result = table_to_entity(table, tables, types)
        except Exception as exc:
            raise EntityCrash(
                _crash(_where(table.pos, table.qualified_name), "entities", exc)
            ) from exc
        entity = result.entity
        notes = [str(note) for note in result.notes]
        names = taken.setdefault(entity.schema, set())
        if entity.name.lower() in SQL_RESERVED or entity.name in names:
            # A reserved word cannot name a table in a spec query (FROM Order is a syntax
            # error); a taken name would be a duplicate entity.
            name = _free_entity_name(table.name, entity.name, names)
            why = "is a reserved SQL word" if entity.name.lower() in SQL_RESERVED else "is taken"
            notes.append(f"info: entity name {entity.name} {why} in {entity.schema}: named {name}")
            if entity.name.lower() in SQL_RESERVED:
                renamed[(entity.schema, entity.name)] = name
            entity = dataclasses.replace(entity, name=name)
        names.add(entity.name)
        sources.append(EntitySource(table.qualified_name, entity, notes, result))
    if renamed:
        for source in sources:
            source.entity = _renamed_refs(source.entity, renamed)
    for source in sources:  # the steps stage reads the final entity with its column map
        if source.result is not None and source.result.entity is not source.entity:
            source.result = dataclasses.replace(source.result, entity=source.entity)
    return sources


def _renamed_refs(entity: m.Entity, renamed: dict[tuple[str, str], str]) -> m.Entity:
    fields = []
    for f in entity.fields:
        t = f.type
        if t.kind == "ref" and (t.target_schema or entity.schema, t.target) in renamed:
            new = renamed[(t.target_schema or entity.schema, t.target)]
            f = dataclasses.replace(f, type=dataclasses.replace(t, target=new))
        fields.append(f)
    return dataclasses.replace(entity, fields=fields)


def _free_entity_name(table: str, wanted: str, taken: set[str]) -> str:
    """A free entity name for a table whose natural one is reserved or taken: ``Order`` (a
    reserved word) -> ``OrderRecord``; a second ``Order`` in a schema -> the table's own name
    (``orders`` -> ``Orders``), else a number."""
    from specql.reverse.naming import pascal

    candidates = [wanted + "Record"] if wanted.lower() in SQL_RESERVED else []
    if not table.lower().startswith("tb_"):
        candidates.append(pascal(table))
    for name in candidates:
        if name and name[0].isupper() and name.lower() not in SQL_RESERVED and name not in taken:
            return name
    base = candidates[0] if candidates and candidates[0] else wanted
    name, n = f"{base}2", 3
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


class EntityCrash(Exception):
    """The entities stage raised (a bug): the run reports it and goes on without entities."""


def _where(pos: SourcePos, fallback: str) -> str:
    return f"{pos.file}:{pos.line}:{pos.col}" if pos.line else (pos.file or fallback)


# --------------------------------------------------------------------------- stage 3: map


@dataclass
class MapContext:
    """What every function of a run is mapped against (sent once to each worker)."""

    tables: dict[str, TableInfo]
    entities: list  # the entities stage's results (entity + column -> field map), per table
    types: list[TypeInfo] = field(default_factory=list)
    _lookup: object = field(default=None, repr=False)

    def lookup(self):
        if self._lookup is None:
            from specql.reverse.steps import entity_tables

            self._lookup = entity_tables(self.tables, self.entities, self.types)
        return self._lookup


_WORKER_CONTEXT: MapContext | None = None


def _init_worker(context: MapContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


_INHERITED: tuple[list[ParsedFile], MapContext] | None = None  # for forked map workers


def _map_inherited(index: int) -> tuple[int, list[FunctionOutcome]]:
    assert _INHERITED is not None, "only in a worker forked by map_all"
    parsed, context = _INHERITED
    return index, map_functions(parsed[index].module.functions, context)


def _map_in_worker(index: int, functions: list[FunctionInfo]) -> tuple[int, list[FunctionOutcome]]:
    assert _WORKER_CONTEXT is not None
    return index, map_functions(functions, _WORKER_CONTEXT)


def function_kind(fn: FunctionInfo) -> str:
    if fn.is_trigger:
        return "trigger"
    if fn.returns is None:
        return "do" if fn.name.startswith("do_block_") else "procedure"
    return "function"


def _is_generated(fn: FunctionInfo) -> bool:
    """Written by our own generator (its frame is recognised)."""
    if not fn.name.startswith("fn_") or fn.plpgsql is None:
        return False
    from specql.reverse.framework import detect_frame

    plpgsql = fn.plpgsql[0] if isinstance(fn.plpgsql, list) and fn.plpgsql else fn.plpgsql
    if isinstance(plpgsql, dict) and "PLpgSQL_function" in plpgsql:
        plpgsql = plpgsql["PLpgSQL_function"]
    if not isinstance(plpgsql, dict):
        return False
    try:
        return detect_frame(plpgsql.get("action")) is not None
    except Exception:
        return False


def _raw_action(fn: FunctionInfo, reason: str) -> m.Action:
    """Every statement kept as raw_sql: when the steps stage itself failed."""
    from specql.reverse.naming import action_name_for_function

    if fn.raw_statements:
        steps = [m.RawSqlStep(sql=sql, reason=reason, pos=pos) for sql, pos in fn.raw_statements]
    else:
        steps = [m.RawSqlStep(sql=fn.body.strip() or fn.source, reason=reason, pos=fn.pos)]
    return m.Action(name=action_name_for_function(fn.schema, fn.name), steps=steps, pos=fn.pos)


def map_one(fn: FunctionInfo, context: MapContext) -> FunctionOutcome:
    """Stage 3 for one function: steps, heuristics, confidence; never raises."""
    from specql.reverse.confidence import function_confidence
    from specql.reverse.facts import extract_facts
    from specql.reverse.features import retrieval_features
    from specql.reverse.heuristics import detect_patterns, variable_purposes
    from specql.reverse.source import MappedFunction
    from specql.reverse.steps import map_function

    start = time.perf_counter()
    pos = fn.pos
    out = FunctionOutcome(
        name=fn.qualified_name,
        schema=fn.schema,
        file=pos.file,
        line=pos.line,
        col=pos.col,
        kind=function_kind(fn),
        parse_path=fn.parse_path,
        body=fn.body,
        body_line=fn.body_line,
    )
    where = f"{pos.file}:{pos.line}:{pos.col}"
    try:
        mapped = map_function(fn, context.tables, context.lookup())
    except Exception as exc:
        out.error = _crash(where, "steps", exc)
        reason = f"the steps stage failed on this function ({type(exc).__name__})"
        action = _raw_action(fn, reason)
        mapped = MappedFunction(
            function=fn,
            action=action,
            statements_total=len(action.steps),
            unconverted=[Unconverted(s.pos, s.sql, reason) for s in action.steps],
        )
    after_steps = time.perf_counter()
    out.steps_ms = (after_steps - start) * 1000
    out.action = mapped.action
    out.entity_hint = mapped.entity_hint
    out.bound = fn.is_trigger or _is_generated(fn)
    out.generated = out.bound and not fn.is_trigger
    out.tables_written = dict(mapped.tables_written)
    out.tables_read = dict(mapped.tables_read)
    out.statements_total = mapped.statements_total
    out.statements_converted = mapped.statements_converted
    out.unconverted = list(mapped.unconverted)
    try:
        facts = extract_facts(fn)
        out.writes = dict(facts.tables_written)
        out.patterns = detect_patterns(facts)
        out.variable_purposes = dict(variable_purposes(facts))
        out.features = retrieval_features(facts, fn.triggers)
    except Exception as exc:
        # Findings are advice: a heuristics bug costs the findings, not the function.
        out.unconverted.append(
            Unconverted(pos, "", _crash(where, "heuristics", exc).split(": ", 1)[1])
        )
    out.variable_purposes.update(mapped.variable_purposes or {})
    out.heuristics_ms = _ms(after_steps)
    try:
        out.confidence = function_confidence(mapped)
    except Exception as exc:
        out.error = out.error or _crash(where, "confidence", exc)
        out.confidence = 0.0
    if out.error is not None:
        out.confidence = 0.0
    out.ms = _ms(start)
    return out


def map_functions(functions: list[FunctionInfo], context: MapContext) -> list[FunctionOutcome]:
    return [map_one(fn, context) for fn in functions]


# --------------------------------------------------------------------------- stage 4: retrieval

RETRIEVAL_SKIPPED = "warning: pattern retrieval skipped"
# Functions per lookup call: the progress step (embedding a few hundred function texts takes
# seconds the first time; the lookup caches them for later runs).
RETRIEVAL_BATCH = 256


def retrieve(
    outcomes: list[FunctionOutcome], lookup: Lookup, progress: ProgressFn | None = None
) -> tuple[list[list[SimilarEntry]], str | None]:
    """Stage 4: each function's similar library patterns (``lookup`` called once per
    :data:`RETRIEVAL_BATCH` functions, ``progress`` told after each), and None; or no
    patterns at all and the warning line saying why the lookup failed."""
    none: list[list[SimilarEntry]] = [[] for _ in outcomes]
    queries = [FunctionQuery(o.name, o.kind, o.body, tuple(o.features)) for o in outcomes]
    found: list[list[SimilarEntry]] = []
    for start in range(0, len(queries), RETRIEVAL_BATCH):
        batch = queries[start : start + RETRIEVAL_BATCH]
        try:
            answer = lookup(batch)
        except SpecqlError as exc:  # e.g. a library never indexed: the message says what to do
            return none, f"{RETRIEVAL_SKIPPED}: {exc}"
        except Exception as exc:  # retrieval is advice: its bug costs the advice, not the run
            return none, _crash(RETRIEVAL_SKIPPED, "retrieval", exc)
        if len(answer) != len(batch):
            return none, (
                f"{RETRIEVAL_SKIPPED}: the lookup answered {len(answer)} of {len(batch)} functions"
            )
        found.extend(list(hits) for hits in answer)
        if progress is not None:
            progress("retrieval", len(found), len(queries), batch[-1].name)
    return found, None


# --------------------------------------------------------------------------- stage 5: AI


def enhance(
    stage, outcomes: list[FunctionOutcome], similar, progress: ProgressFn | None = None
) -> tuple[list[AiEntry | None], str | None]:
    """Stage 5: the AI stage's suggestions per function (:mod:`specql.reverse.ai`), and the
    warning line when it stopped (a model that cannot answer) or crashed; the functions it
    did not reach keep their non-AI result."""
    try:
        entries = stage.run(outcomes, similar, progress)
    except Exception as exc:  # advice again: a bug in it costs the advice, not the run
        return [None] * len(outcomes), _crash("warning: AI stage skipped", "ai", exc)
    return entries, stage.stopped


# --------------------------------------------------------------------------- the run


class _Run:
    def __init__(
        self,
        out_dir: Path | None,
        jobs: int,
        resume: bool,
        progress: ProgressFn | None,
        max_bytes: int | None,
    ) -> None:
        self.out_dir = out_dir
        self.jobs = max(1, int(jobs))
        self.resume = resume
        self.progress = progress
        self.max_bytes = max_bytes
        self.journal = st.Journal(out_dir) if out_dir is not None else None
        self._pool: cf.ProcessPoolExecutor | None = None

    def tell(self, stage: str, done: int, total: int, item: str = "") -> None:
        if self.progress is not None:
            self.progress(stage, done, total, item)

    # ---- stage 1

    def parse_all(self, files: list[str], cached: dict[str, dict]) -> list[ParsedFile]:
        results: list[ParsedFile | None] = [None] * len(files)
        todo: list[int] = []
        for i, path in enumerate(files):
            record = cached.get(path)
            if record is not None:
                module = st.decode(record["module"])
                results[i] = ParsedFile(
                    path,
                    {"size": record["size"], "mtime_ns": record["mtime_ns"]},
                    record.get("sha256", ""),
                    module=module,
                    skeleton=record["module"],
                    record=record,
                    resumed=True,
                )
            else:
                todo.append(i)
        done = len(files) - len(todo)
        self.tell("parse", done, len(files), "")
        with_state = self.journal is not None
        if self.jobs > 1 and len(todo) > 1:
            pool = self.pool()
            futures = {
                pool.submit(parse_one, files[i], self.max_bytes, with_state): i for i in todo
            }
            retry: list[int] = []
            for future in cf.as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception:  # a worker died (memory, signal): the pool is broken
                    retry.append(i)
                    continue
                done += 1
                self.tell("parse", done, len(files), files[i])
            if retry:  # parse what is left here, one file at a time
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                for i in sorted(retry):
                    results[i] = parse_one(files[i], self.max_bytes, with_state)
                    done += 1
                    self.tell("parse", done, len(files), files[i])
        else:
            for i in todo:
                results[i] = parse_one(files[i], self.max_bytes, with_state)
                done += 1
                self.tell("parse", done, len(files), files[i])
        return [r for r in results if r is not None]

    def pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=_mp_context())
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self.journal is not None:
            self.journal.close()

    # ---- stage 3

    def map_all(
        self, parsed: list[ParsedFile], context: MapContext, fingerprint: str
    ) -> list[list[FunctionOutcome]]:
        outcomes: list[list[FunctionOutcome] | None] = [None] * len(parsed)
        todo: list[int] = []
        for i, pf in enumerate(parsed):
            if pf.record is not None:
                outcomes[i] = [st.decode(o) for o in pf.record["outcomes"]]
            elif not pf.module.functions:
                outcomes[i] = []
                self.finished(pf, [], fingerprint)
            else:
                todo.append(i)
        total = sum(len(pf.module.functions) for pf in parsed if pf.record is None)
        total += sum(len(pf.record["outcomes"]) for pf in parsed if pf.record is not None)
        done = total - sum(len(parsed[i].module.functions) for i in todo)
        self.tell("map", done, total, "")
        if self.jobs > 1 and len(todo) > 1:
            global _INHERITED
            mp = _mp_context()
            if mp.get_start_method() == "fork":
                # Forked workers have the parsed files already: send indexes, not ASTs.
                _INHERITED = (parsed, context)
                pool = cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=mp)
                submit = lambda i: pool.submit(_map_inherited, i)  # noqa: E731
            else:
                pool = cf.ProcessPoolExecutor(
                    max_workers=self.jobs,
                    mp_context=mp,
                    initializer=_init_worker,
                    initargs=(context,),
                )
                submit = lambda i: pool.submit(  # noqa: E731
                    _map_in_worker, i, parsed[i].module.functions
                )
            with pool:
                futures = [submit(i) for i in todo]
                for future in cf.as_completed(futures):
                    try:
                        i, result = future.result()
                    except Exception as exc:  # the worker died: map this file here instead
                        i = todo[futures.index(future)]
                        result = self.map_here(parsed[i], context, exc)
                    outcomes[i] = result
                    self.finished(parsed[i], result, fingerprint)
                    done += len(result)
                    self.tell("map", done, total, parsed[i].path)
            _INHERITED = None
        else:
            for i in todo:
                result = map_functions(parsed[i].module.functions, context)
                outcomes[i] = result
                self.finished(parsed[i], result, fingerprint)
                done += len(result)
                self.tell("map", done, total, parsed[i].path)
        return [o or [] for o in outcomes]

    def map_here(self, pf: ParsedFile, context: MapContext, exc: BaseException):
        result = map_functions(pf.module.functions, context)
        note = _crash(pf.path, "map (worker process)", exc)
        for o in result:  # keep a trace: these came from the fallback path
            o.unconverted.append(Unconverted(SourcePos(o.file, o.line, o.col), "", note))
        return result

    def finished(self, pf: ParsedFile, outcomes: list[FunctionOutcome], fingerprint: str):
        for fn in pf.module.functions:  # the AST is not needed any more
            fn.plpgsql = None
        if self.journal is None or pf.skeleton is None:
            return
        pf.record = {
            "v": st.STATE_VERSION,
            "path": pf.path,
            "size": pf.key["size"],
            "mtime_ns": pf.key["mtime_ns"],
            "sha256": pf.sha256,
            "fingerprint": fingerprint,
            "parse_ms": pf.ms,
            "crash": pf.crash,
            "module": pf.skeleton,
            "outcomes": [st.encode(o) for o in outcomes],
        }
        self.journal.append(pf.record)


def _mp_context():
    """``fork`` where it is safe (POSIX, no other thread running: workers start at once and
    inherit the imported stages), else ``spawn`` (which re-imports the caller's main module:
    scripts calling ``reverse(jobs=N)`` need the ``if __name__ == "__main__":`` guard)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform != "darwin" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _fingerprint(modules: Iterable[SqlModule]) -> str:
    h = hashlib.sha256()
    for module in modules:
        data = st.encode([module.tables, module.types])
        h.update(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return h.hexdigest()


def _file_entry(pf: ParsedFile, outcomes: list[FunctionOutcome]) -> tuple[FileEntry, list, list]:
    module = pf.module
    errors: list[str] = []
    warnings: list[str] = []
    if pf.crash:
        errors.append(pf.crash)
    for err in module.errors:
        (errors if err.level is ErrorLevel.ERROR else warnings).append(str(err))
    if not errors and module.statements == 0 and not outcomes and not module.tables:
        warnings.append(f"{pf.path}: warning: no SQL statements in this file")
    entry = FileEntry(
        path=pf.path,
        functions=len(outcomes),
        tables=len(module.tables),
        statements=module.statements,
        ms=(pf.record or {}).get("parse_ms", pf.ms) + sum(o.ms for o in outcomes),
        resumed=pf.resumed,
        warnings=warnings,
    )
    if errors:
        entry.error = errors[0] if len(errors) == 1 else f"{errors[0]} (and {len(errors) - 1} more)"
    return entry, errors, warnings


def _function_entry(
    o: FunctionOutcome, similar: list[SimilarEntry], ai_entry: AiEntry | None = None
) -> FunctionEntry:
    return FunctionEntry(
        name=o.name,
        file=o.file,
        line=o.line,
        col=o.col,
        entity=o.entity,
        action=o.action_name,
        kind=o.kind,
        confidence=o.confidence,
        parse_path=o.parse_path,
        patterns=[PatternEntry(p.pattern, p.score, list(p.evidence)) for p in o.patterns],
        unconverted=[UnconvertedEntry(u.pos.line, u.sql, u.reason) for u in o.unconverted],
        statements_total=o.statements_total,
        statements_converted=o.statements_converted,
        variable_purposes=dict(o.variable_purposes),
        features=list(o.features),
        similar=similar,
        ai=ai_entry,
        ms=o.ms,
        error=o.error,
    )


def write_spec_texts(specs: list[m.Entity], texts: list[str], out_dir: Path) -> list[Path]:
    """Write each spec's checked canonical YAML where :func:`specql.dsl.write_specs` would
    (``<schema>/<snake name>.yaml``), with its rule: a file whose content is already identical
    is left untouched. (The texts were made, and checked to load back, by assembly; dumping
    them again in ``write_specs`` would cost a third of the run.)"""
    written: list[Path] = []
    existed: dict[Path, bool] = {}  # directory -> it was there before this call
    for spec, text in zip(specs, texts, strict=True):
        path = out_dir / spec_path(spec)
        folder = path.parent
        was_there = existed.get(folder)
        if was_there is None:  # one look (and mkdir) per directory, not per spec
            was_there = existed[folder] = folder.is_dir()
            if not was_there:
                folder.mkdir(parents=True, exist_ok=True)
        same = False
        if was_there:  # a new directory holds no earlier spec to compare with
            try:
                same = path.read_text(encoding="utf-8") == text
            except (OSError, UnicodeDecodeError):
                same = False
        if not same:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _remove_stale_specs(out_dir: Path, written: list[Path]) -> None:
    """Remove the specs the previous run wrote that this run did not (entities gone)."""
    record = out_dir / SPECS_NAME
    now = sorted(str(p.relative_to(out_dir)) for p in written)
    try:
        before = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = []
    for rel in before if isinstance(before, list) else []:
        if (
            isinstance(rel, str)
            and rel not in now
            and not Path(rel).is_absolute()
            and ".." not in Path(rel).parts
        ):
            (out_dir / rel).unlink(missing_ok=True)
    from specql.files import write_text_atomic

    write_text_atomic(record, json.dumps(now, indent=0) + "\n")


def reverse(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    dsn: str | None = None,
    schemas: Iterable[str] | None = None,
    jobs: int = 1,
    resume: bool = False,
    progress: ProgressFn | None = None,
    report_path: str | os.PathLike | None = None,
    html_path: str | os.PathLike | None = None,
    max_bytes: int | None = None,
    lookup: Lookup | None = None,
    ai=None,
) -> ReverseReport:
    """Reverse-engineer legacy SQL into specs (see the module docstring).

    ``paths``: ``.sql`` files and directories (searched recursively), or ``dsn``: a PostgreSQL
    URI whose catalogue is read (``schemas`` limits it). ``out_dir``: where the specs go (None:
    nothing is written, the report is still made). ``lookup``: the retrieval stage's search
    (:data:`Lookup`; None: no retrieval). ``ai``: the AI stage
    (:class:`specql.reverse.ai.AiStage`; None: off). Problems in the input are entries of the returned
    report (``report.ok`` is False); a missing path or a bad argument raises SpecqlError.
    """
    if (paths is None) == (dsn is None):
        raise SpecqlError("give either paths to .sql files/directories or a DSN (--dsn URI)")
    if jobs < 1:
        raise SpecqlError(f"jobs must be at least 1 (got {jobs})")
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and out.exists() and not out.is_dir():
        raise SpecqlError("output path exists and is not a directory", SourcePos(str(out)))
    if dsn is not None:
        files: list[str] = []
        sources = [_redact(dsn)]
        resume = False
    else:
        from specql.reverse.parse import sql_files

        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        paths = [str(p) for p in paths]
        files = [str(p) for p in sql_files(paths)]
        if not files:
            raise SpecqlError(f"no .sql files in {', '.join(paths)}")
        sources = paths
    run = _Run(out if dsn is None else None, jobs, resume, progress, max_bytes)
    if out is not None and dsn is not None:
        out.mkdir(parents=True, exist_ok=True)
    try:
        with _fewer_collections():
            return _reverse(
                run, files, sources, dsn, schemas, out, report_path, html_path, started, lookup, ai
            )
    finally:
        run.close()


# Objects allocated (net) between two collections of the youngest generation while a run is
# on; Python's default is 700. A run keeps hundreds of thousands of objects alive (ASTs,
# entities, specs) and makes millions of short-lived ones, mostly freed by reference
# counting: at 700 the collector ran about 2,400 times and took a quarter of the run (each
# full collection walks every live object). Memory stays the same: cycles are still collected.
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def _fewer_collections():
    """Collect garbage cycles less often for the duration of a run (restored afterwards)."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], GC_YOUNG_THRESHOLD), *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _redact(dsn: str) -> str:
    """A DSN without its password (``postgresql://user:secret@host`` -> ``user:***@host``)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(dsn)
        if parts.password:
            host = parts.hostname or ""
            if parts.port:
                host += f":{parts.port}"
            netloc = f"{parts.username}:***@{host}"
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<dsn>"
    return dsn


def _read_catalog(dsn: str, schemas) -> ParsedFile:
    from specql.reverse.catalog import read_catalog

    start = time.perf_counter()
    module = read_catalog(dsn, schemas=list(schemas) if schemas else None)
    return ParsedFile(
        module.source or _redact(dsn), {"size": 0, "mtime_ns": 0}, module=module, ms=_ms(start)
    )


def _reverse(
    run: _Run, files, sources, dsn, schemas, out, report_path, html_path, started, lookup, ai
):
    from specql.reverse.parse import link_modules

    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    cached: dict[str, dict] = {}
    if run.journal is not None and run.resume:
        for path, record in run.journal.read().items():
            if path in files:
                try:
                    if st.same_file(record, path, st.file_key(path)):
                        cached[path] = record
                except OSError:
                    continue
    if dsn is not None:
        parsed = [_read_catalog(dsn, schemas)]
        run.tell("parse", 1, 1, parsed[0].path)
    else:
        parsed = run.parse_all(files, cached)
    lap("parse")
    modules = [pf.module for pf in parsed]
    link_modules(modules)
    fingerprint = _fingerprint(modules)
    lap("link")
    stale = [
        pf for pf in parsed if pf.record is not None and pf.record.get("fingerprint") != fingerprint
    ]
    if stale:  # the tables changed since those files were done: do everything again
        parsed = run.parse_all(files, {})
        modules = [pf.module for pf in parsed]
        link_modules(modules)
        fingerprint = _fingerprint(modules)
        lap("parse")
    if run.journal is not None:
        run.journal.start([pf.record for pf in parsed if pf.record is not None])

    tables = [t for module in modules for t in module.tables]
    types = [t for module in modules for t in module.types]
    errors: list[str] = []
    try:
        entity_sources = build_entities(tables, types)
    except EntityCrash as exc:
        errors.append(str(exc))
        entity_sources = []
    lap("entities")
    context = MapContext(
        tables={t.qualified_name: t for t in tables},
        entities=[s.result if s.result is not None else s.entity for s in entity_sources],
        types=types,
    )
    context.lookup()  # built once, before workers are forked
    per_file = run.map_all(parsed, context, fingerprint)
    outcomes = [o for result in per_file for o in result]
    lap("map")
    fresh = [
        o for pf, result in zip(parsed, per_file, strict=True) if not pf.resumed for o in result
    ]
    timings["map:steps"] = sum(o.steps_ms for o in fresh) / 1000
    timings["map:heuristics"] = sum(o.heuristics_ms for o in fresh) / 1000

    similar: list[list[SimilarEntry]] = [[] for _ in outcomes]
    retrieval, retrieval_warning = "off", None
    if lookup is not None:
        run.tell("retrieval", 0, len(outcomes), "")
        similar, retrieval_warning = retrieve(outcomes, lookup, run.tell)
        retrieval = "on" if retrieval_warning is None else "failed"
        lap("retrieval")

    ai_entries = [None] * len(outcomes)
    ai_state, ai_warning = "off", None
    if ai is not None:
        run.tell("ai", 0, len(outcomes), "")
        ai_entries, ai_warning = enhance(ai, outcomes, similar, run.tell)
        ai_state = ai.mode if ai_warning is None else "failed"
        lap("ai")

    run.tell("assemble", 0, 1, "")
    assembly = assemble(entity_sources, outcomes)
    run.tell("assemble", 1, 1, "")
    lap("assemble")

    report = ReverseReport(out_dir=str(out) if out is not None else None, sources=list(sources))
    report.tables = len(tables)
    report.retrieval = retrieval
    report.ai = ai_state
    if ai is not None:
        report.ai_usage = ai.usage()
    warnings: list[str] = [w for w in (retrieval_warning, ai_warning) if w]
    for pf, result in zip(parsed, per_file, strict=True):
        entry, file_errors, file_warnings = _file_entry(pf, result)
        report.files.append(entry)
        errors.extend(file_errors)
        warnings.extend(file_warnings)
    for o, hits, ai_entry in zip(outcomes, similar, ai_entries, strict=True):
        report.functions.append(_function_entry(o, hits, ai_entry))
        if o.error is not None and o.error not in assembly.errors:
            errors.append(o.error)
    errors.extend(assembly.errors)

    written: list[Path] = []
    if out is not None:
        run.tell("write", 0, len(assembly.specs), "")
        out.mkdir(parents=True, exist_ok=True)
        written = write_spec_texts(assembly.specs, assembly.texts, out)
        _remove_stale_specs(out, written)
        run.tell("write", len(assembly.specs), len(assembly.specs), "")
        report.specs_written = [str(p) for p in written]
    lap("write")
    for spec in assembly.specs:
        key = f"{spec.schema}.{spec.name}"
        report.entities.append(
            EntityEntry(
                entity=key,
                table=assembly.tables.get(key),
                spec=str(spec_path(spec)),
                actions=[a.name for a in spec.actions],
                patterns=[p.name for p in spec.patterns] + assembly.detected.get(key, []),
                module=assembly.tables.get(key, "") is None,
                notes=assembly.notes.get(key, []),
            )
        )
    report.errors = errors
    report.warnings = warnings
    if run.journal is not None:
        run.journal.finish()
    lap("write")
    report.timings = {k: round(v, 3) for k, v in timings.items()}
    report.seconds = time.perf_counter() - started
    if report_path is not None:
        report.write_json(report_path)
    if html_path is not None:
        report.write_html(html_path)
    return report


__all__ = [
    "SPECS_NAME",
    "FunctionQuery",
    "Lookup",
    "MapContext",
    "ParsedFile",
    "build_entities",
    "map_one",
    "parse_one",
    "retrieve",
    "reverse",
]
