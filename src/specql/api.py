"""The library API: what the CLI does, callable from Python.

    >>> import specql
    >>> errors = specql.validate(["examples"])          # [] when every spec is valid
    >>> files = specql.generate(["examples"], out_dir="build/example")
    >>> report = specql.apply("build/example", embedded=True)
    >>> report.counts()["tables"]
    10
    >>> rev = specql.reverse(["examples/legacy"], out_dir="build/legacy-specs")
    >>> rev.ok, rev.summary()["functions"]
    (True, 15)
    >>> with specql.PatternLibrary.open() as lib:         # $SPECQL_HOME/library.db
    ...     spec = lib.instantiate_domain_pattern("soft_delete", "Note", schema="catalog")

Paths may be spec files or directories (searched recursively for ``*.yaml`` / ``*.yml``).
Problems a user can fix raise :class:`SpecqlError` (``file:line:col: message``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from specql.errors import ErrorLevel, SourcePos, SpecqlError, SpecqlErrors
from specql.generators.base import FileSpec

__all__ = [  # noqa: F822 - PatternLibrary is provided lazily by __getattr__
    "PatternLibrary",
    "SpecqlError",
    "SpecqlErrors",
    "apply",
    "dump",
    "generate",
    "list_models",
    "llm_call_store",
    "llm_calls",
    "llm_settings",
    "llm_stats",
    "load",
    "probe_model",
    "prune_llm_log",
    "reindex_patterns",
    "reverse",
    "search_patterns",
    "set_default_model",
    "similar_patterns",
    "spec_files",
    "validate",
]

PathLike = str | Path


def __getattr__(name: str):
    if name == "PatternLibrary":  # the library's own API, imported only when asked for
        from specql.patterns import PatternLibrary

        return PatternLibrary
    raise AttributeError(f"module 'specql.api' has no attribute {name!r}")


Progress = Callable[[str], None]


def spec_files(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """The spec files behind ``paths``: files as given, directories searched recursively
    (sorted; hidden and ``registry`` directories skipped, as the loader does). A missing path
    or a directory without specs is a SpecqlError."""
    from specql.dsl.loader import spec_files as walk_spec_files

    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = walk_spec_files([path])
            if not inside:
                raise SpecqlError(
                    "no spec files (*.yaml, *.yml) in this directory", SourcePos(str(path))
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise SpecqlError("not a file or directory", SourcePos(str(path)))
        else:
            raise SpecqlError("no such file or directory", SourcePos(str(path)))
    if not found:
        raise SpecqlError("no spec files given")
    return list(dict.fromkeys(found))  # a file named twice is loaded once


def load(paths: PathLike | Iterable[PathLike]):
    """Load the specs at ``paths`` into :class:`~specql.dsl.model.Entity` nodes (positions
    kept). Raises SpecqlError(s) for files that cannot be read or parsed."""
    from specql.dsl import load_paths

    return load_paths(spec_files(paths))


def _as_error_list(exc: SpecqlError) -> list[SpecqlError]:
    return list(exc.errors) if isinstance(exc, SpecqlErrors) else [exc]


def expand_patterns(entities: list, library=None) -> tuple[list, list[SpecqlError]]:
    """``entities`` with their ``patterns:`` applied from the pattern library (a
    :class:`~specql.patterns.PatternLibrary`, or the path of one, default
    ``$SPECQL_HOME/library.db``), plus the helper entities the patterns create; and the
    warnings (deprecated patterns). The library is opened only when a spec uses a pattern."""
    if not any(e.patterns for e in entities):
        return entities, []
    from specql.patterns import PatternLibrary

    if isinstance(library, PatternLibrary):
        expansion = library.expand(entities)
    else:
        with PatternLibrary.open(library) as lib:
            expansion = lib.expand(entities)
    return expansion.entities, expansion.warnings


def validate(paths: PathLike | Iterable[PathLike], library=None) -> list[SpecqlError]:
    """Every problem in the specs at ``paths`` (load and validation errors, problems with the
    patterns they use, and warnings), sorted by position; ``[]`` when all is well. Never
    raises for a problem in a spec."""
    from specql.dsl import validate as validate_entities

    try:
        entities, warnings = expand_patterns(load(paths), library)
    except SpecqlError as exc:
        return _as_error_list(exc)
    return sorted(
        [*warnings, *validate_entities(entities)],
        key=lambda e: (e.pos.file, e.pos.line, e.pos.col, e.message),
    )


def errors_only(problems: Iterable[SpecqlError]) -> list[SpecqlError]:
    """The problems that make a spec set invalid (warnings left out)."""
    return [p for p in problems if p.level is ErrorLevel.ERROR]


def dump(entity) -> str:
    """The canonical YAML text of an entity (what ``reverse`` writes)."""
    try:
        from specql.dsl import dump as dump_entity
    except ImportError:  # older specql.dsl that does not re-export it
        from specql.dsl.dumper import dump as dump_entity

    return dump_entity(entity)


def parse_targets(targets: str | Iterable[str]) -> list[str]:
    """``"postgres,django"`` or ``["postgres"]`` -> ``["postgres", "django"]`` (duplicates
    dropped, order kept)."""
    if isinstance(targets, str):
        targets = targets.split(",")
    names = [t.strip() for t in targets if t and t.strip()]
    if not names:
        raise SpecqlError("no target given (e.g. --target postgres)")
    return list(dict.fromkeys(names))


def load_registry_for(paths: Iterable[Path], registry=None):
    """The domain registry: ``registry`` itself if it is one, else the file it names, else
    ``$SPECQL_REGISTRY``, else ``registry/domain_registry.yaml`` found upwards of the specs or
    the current directory."""
    from specql.dsl.registry import DomainRegistry, find_registry, load_registry

    if isinstance(registry, DomainRegistry):
        return registry
    return load_registry(find_registry(list(paths), explicit=registry))


def generate(
    paths: PathLike | Iterable[PathLike],
    targets: str | Iterable[str] = ("postgres",),
    out_dir: PathLike | None = None,
    registry=None,
    progress: Progress | None = None,
    library=None,
    warn: Callable[[SpecqlError], None] | None = None,
) -> list[FileSpec]:
    """Generate code for the specs at ``paths``.

    ``patterns:`` in the specs are applied from the pattern library ``library`` (see
    :func:`expand_patterns`); its warnings (deprecated patterns) go to ``warn``.
    The specs must be valid (else SpecqlErrors with every problem). ``registry`` is a
    :class:`~specql.dsl.registry.DomainRegistry` or a path to one (default: found from the
    specs, see :func:`load_registry_for`); new entities get their codes written back to it.
    With ``out_dir`` the files and ``manifest.json`` are written there. Returns every target's
    files, in apply order per target.
    """
    from specql.dsl import validate as validate_entities
    from specql.generators.base import get_generator
    from specql.generators.writer import write_files

    def step(message: str) -> None:
        if progress is not None:
            progress(message)

    names = parse_targets(targets)
    generators = [get_generator(name) for name in names]  # unknown target: fail before work
    files_in = spec_files(paths)
    step(f"loading {len(files_in)} spec file(s)")
    from specql.dsl import load_paths

    entities = load_paths(files_in)
    if any(e.patterns for e in entities):
        step("applying patterns from the pattern library")
        entities, warnings = expand_patterns(entities, library)
        for warning in warnings:
            if warn is not None:
                warn(warning)
    step(f"validating {len(entities)} entities")
    problems = errors_only(validate_entities(entities))
    if problems:
        raise SpecqlErrors(problems)
    reg = load_registry_for(files_in, registry)
    result: list[FileSpec] = []
    for name, generator in zip(names, generators, strict=True):
        step(f"generating {name}")
        files = generator.generate(entities, reg)
        if out_dir is not None:
            step(f"writing {len(files)} {name} file(s) to {out_dir}")
            write_files(files, out_dir, target=name)
        result.extend(files)
    return result


def apply(out_dir: PathLike, dsn: str | None = None, embedded: bool = False):
    """Apply the PostgreSQL files of ``out_dir/manifest.json`` in order, in ONE transaction,
    to the database at ``dsn`` or (``embedded=True``) to a throw-away embedded PostgreSQL that
    is started for the occasion and deleted afterwards. Returns an
    :class:`~specql.generators.postgres.apply.ApplyReport` of the schemas, tables, views,
    functions, types and indexes that were created."""
    from specql.generators.postgres.apply import apply_manifest, embedded_server, manifest_files

    if (dsn is None) == (not embedded):
        raise SpecqlError("give exactly one of a DSN or embedded=True (--dsn URI | --embedded)")
    if embedded:
        manifest_files(out_dir)  # a missing manifest fails before a server is started
        with embedded_server() as uri:
            return apply_manifest(out_dir, uri)
    return apply_manifest(out_dir, dsn)


def reverse(
    paths: PathLike | Iterable[PathLike] | None = None,
    out_dir: PathLike | None = None,
    *,
    dsn: str | None = None,
    schemas: Iterable[str] | None = None,
    jobs: int = 1,
    resume: bool = False,
    progress: Callable[[str, int, int, str], None] | None = None,
    report_path: PathLike | None = None,
    html_path: PathLike | None = None,
    retrieval: bool | None = None,
    library: PathLike | None = None,
    embedder=None,
    ai: str | None = None,
    model: str | None = None,
    use_cloud: bool | None = None,
    max_cost_usd: float | None = None,
    llm=None,
):
    """Reverse-engineer legacy SQL into specs: ``.sql`` files and directories at ``paths``, or
    the live database at ``dsn`` (``schemas`` limits which). One spec per entity is written to
    ``out_dir``; the JSON report to ``report_path`` and an HTML page to ``html_path`` if given.

    Returns a :class:`~specql.reverse.report.ReverseReport` (``report.ok`` is False when a file
    failed or a spec could not be made valid; each problem is one line of ``report.errors``).
    ``jobs`` > 1 parses and maps files in that many processes (same result); ``resume`` skips
    the files an interrupted earlier run into the same ``out_dir`` already finished.
    ``progress(stage, done, total, item)`` is called as files are parsed and mapped.

    ``retrieval``: give every function the :data:`SIMILAR_K` domain patterns of the pattern
    library ``library`` (default ``$SPECQL_HOME/library.db``) it resembles most (hybrid
    search; ``embedder`` defaults to the packaged MiniLM). None: on when the retrieval extra is
    installed; True without it is a SpecqlError saying what to install. A library that cannot
    be searched (e.g. a large one never indexed) costs the matches, with a warning in the
    report, not the run.

    ``ai``: ``local`` (the local model suggests intents, names and pattern verdicts; each is
    validated before it changes anything), ``cloud`` (the same, escalating to the cloud model
    when a local answer fails or is unsure), ``off``, or None: ``$SPECQL_AI``, else local when
    the configured model is installed. ``model`` / ``use_cloud`` / ``max_cost_usd`` override
    the LLM settings (:func:`llm_settings`); ``llm`` is a ready :class:`~specql.llm.Model` to
    use instead of the configured one (tests, benchmarks). Calls are cached and logged in the
    library file. A missing path or a bad argument raises SpecqlError.
    """
    from specql.reverse.pipeline import reverse as run_reverse

    lookup = None
    if _retrieval_on(retrieval, embedder):
        search = _library_search(library, embedder, k=SIMILAR_K, tier=SIMILAR_TIER)
        lookup = _as_similar_entries(search)
    settings = None  # read only when the AI may run: `--ai off` never needs models.yaml
    if ai_choice(ai) != "off":
        settings = llm_settings(model=model, use_cloud=use_cloud, max_cost_usd=max_cost_usd)
    mode = "off" if settings is None else ai_mode(ai, settings, given=llm)
    with _ai_stage(mode, settings, library, llm) as stage:
        return run_reverse(
            paths,
            out_dir,
            dsn=dsn,
            schemas=schemas,
            jobs=jobs,
            resume=resume,
            progress=progress,
            report_path=report_path,
            html_path=html_path,
            lookup=lookup,
            ai=stage,
        )


AI_ENV = "SPECQL_AI"
AI_CHOICES = ("auto", "local", "cloud", "off")


def llm_settings(
    model: str | None = None, use_cloud: bool | None = None, max_cost_usd: float | None = None
):
    """The LLM settings: built-ins < ``$SPECQL_HOME/models.yaml`` < environment < these
    arguments (see :mod:`specql.llm.config`)."""
    from specql.llm import load_settings
    from specql.store import specql_home

    return load_settings(specql_home(), model=model, use_cloud=use_cloud, max_cost_usd=max_cost_usd)


def model_missing(config) -> str | None:
    """Why the model ``config`` cannot run here (a missing package, model file or API key),
    or None. Nothing is loaded and no server is asked: a backend checks its key and URL when
    it is built, and a local model is only looked for."""
    if config.backend == "llamacpp":
        from specql.llm.backends.llamacpp import llamacpp_missing

        if config.model and not Path(config.model).is_file():
            return f"model file not found: {config.model}"
        return llamacpp_missing()
    from specql.llm import LLMError, create_model

    try:
        create_model(config).close()
    except LLMError as exc:
        return exc.message
    return None


def ai_choice(ai: str | None) -> str:
    """``ai``, else ``$SPECQL_AI``, else auto; checked."""
    import os

    choice = (ai or os.environ.get(AI_ENV) or "auto").strip().lower()
    if choice not in AI_CHOICES:
        raise SpecqlError(f"--ai must be one of {', '.join(AI_CHOICES)} (got {choice!r})")
    return choice


def ai_mode(ai: str | None, settings, given=None) -> str:
    """The AI stage's mode (see :func:`reverse`): ``auto`` becomes local when the default
    model can run here, else off; ``cloud`` needs a usable cloud model."""
    choice = ai_choice(ai)
    if choice == "auto":
        return "local" if given is not None or model_missing(settings.model()) is None else "off"
    if choice == "cloud":
        missing = model_missing(settings.cloud_model)
        if missing is not None:
            raise SpecqlError(f"--ai cloud: {missing}")
    return choice


def list_models(model: str | None = None) -> dict:
    """The configured models and settings, for ``specql models list``: each model's backend,
    what it loads or asks for, whether it is the default or the cloud model, and why it cannot
    run here (None when it can)."""
    from specql.llm.config import config_path
    from specql.store import specql_home

    settings = llm_settings(model=model)
    default, cloud = settings.model(), settings.cloud_model
    rows = []
    for name, config in sorted(settings.models.items()):
        missing = model_missing(settings.model(name))
        rows.append(
            {
                "name": name,
                "backend": config.backend,
                "model": config.model
                or ("(packaged Gemma 3 270M)" if config.backend == "llamacpp" else "-"),
                "default": name == default.name,
                "cloud": name == cloud.name,
                "missing": missing,
            }
        )
    return {
        "config": str(config_path(specql_home())),
        "default": default.name,
        "default_from": settings.origin.get("default", "builtin"),
        "cloud": cloud.name,
        "use_cloud": settings.use_cloud,
        "min_confidence": settings.min_confidence,
        "max_cost_usd": settings.max_cost_usd,
        "retries": settings.retries,
        "models": rows,
    }


def set_default_model(ref: str) -> Path:
    """Make ``ref`` (a configured name, backend:model or a .gguf path) the default model in
    ``$SPECQL_HOME/models.yaml``; returns the file."""
    from specql.llm import save_default
    from specql.store import specql_home

    return save_default(ref, specql_home())


PROBE_SQL = "INSERT INTO sales.order_history (order_id, status) SELECT id, status FROM sales.orders"


def probe_model(model: str | None = None, library: PathLike | None = None) -> dict:
    """Load the model (``model`` or the default) and make one grammar-constrained call (the
    ``probe`` task, never answered from the cache; logged like every call). Returns what
    happened: ``ok`` is True when the answer validated. A model that cannot load is a
    SpecqlError."""
    import time

    from specql.llm import LLMClient, create_model
    from specql.llm.tasks import TASKS

    settings = llm_settings(model=model)
    config = settings.model()
    start = time.perf_counter()
    llm = create_model(config)
    try:
        llm.load()
        loaded = time.perf_counter() - start
        with llm_call_store(library) as store:
            client = LLMClient(settings, store, model=llm, use_cache=False)
            begin = time.perf_counter()
            result = client.run(TASKS["probe"], {"sql": PROBE_SQL})
            called = time.perf_counter() - begin
    finally:
        llm.close()
    return {
        "model": config.name,
        "ident": config.ident,
        "backend": config.backend,
        "grammar": llm.capabilities.json_schema,
        "load_seconds": round(loaded, 3),
        "call_seconds": round(called, 3),
        "attempts": result.attempts,
        "ok": result.ok,
        "answer": result.value.model_dump() if result.value is not None else None,
        "errors": list(result.errors),
    }


@contextmanager
def _ai_stage(mode: str, settings, library: PathLike | None, llm):
    """The AI stage of a reverse run (None when ``mode`` is off): the client logs and caches
    in the library file, and validates pattern names against the library's domain patterns."""
    if mode == "off":
        yield None
        return
    from dataclasses import replace

    from specql.llm import LLMClient
    from specql.patterns import PatternLibrary
    from specql.reverse.ai import AiStage
    from specql.store.llm_log import LLMCallStore

    if mode == "cloud":
        settings = replace(settings, use_cloud=True)
    with PatternLibrary.open(library) as lib:
        patterns = {p.name: p.description for p in lib.list_patterns(tier=SIMILAR_TIER)}
        client = LLMClient(settings, LLMCallStore(lib.conn), model=llm)
        try:
            yield AiStage(client, patterns, mode)
        finally:
            client.close()


# What reverse asks the library for each function: the best few domain patterns (tier 2: the
# business-logic patterns a legacy function implements; primitives match every function).
SIMILAR_K = 5
SIMILAR_TIER = 2


def _retrieval_on(retrieval: bool | None, embedder) -> bool:
    """Whether to search the library while reversing (see :func:`reverse`)."""
    if retrieval is False:
        return False
    if embedder is not None:  # the caller brought its own: nothing to install
        return True
    from specql.retrieval import retrieval_missing

    missing = retrieval_missing()
    if missing is not None and retrieval:
        raise SpecqlError(f"pattern retrieval is not available: {missing}")
    return missing is None


@contextmanager
def _pattern_index(library: PathLike | None, embedder):
    """The library at ``library`` opened (seeded when new) with its search index."""
    from specql.patterns import PatternLibrary
    from specql.retrieval import PatternIndex

    with PatternLibrary.open(library) as lib:
        yield PatternIndex(lib.conn, embedder, where=f"library {lib.path}")


def _library_search(library, embedder, *, k: int, tier: int | None, signal: str = "hybrid"):
    """``search(queries) -> hits per query``: the library searched for legacy functions
    (:class:`~specql.reverse.pipeline.FunctionQuery`), one embedding pass per call."""

    def search(queries) -> list[list]:
        nonlocal embedder
        from specql.retrieval import function_document, get_embedder

        if embedder is None and signal != "bm25":  # one for every call: the model loads once
            embedder = get_embedder()
        texts = [
            function_document(q.name, q.body, kind=q.kind, features=q.features) for q in queries
        ]
        with _pattern_index(library, embedder) as index:
            return index.search_many(texts, k=k, tier=tier, signal=signal)

    return search


def _as_similar_entries(search):
    """The reverse pipeline's lookup over ``search``: hits as report entries."""
    from specql.reverse.report import SimilarEntry

    def lookup(queries) -> list[list[SimilarEntry]]:
        return [
            [SimilarEntry(h.name, h.tier, h.score, h.cosine, h.bm25, list(h.signals)) for h in hits]
            for hits in search(queries)
        ]

    return lookup


@dataclass
class FunctionMatches:
    """A legacy function and the library entries it resembles, best first."""

    name: str  # qualified function name
    file: str
    line: int
    kind: str  # function | trigger | procedure | do
    hits: list = field(default_factory=list)  # specql.retrieval.Hit


def similar_patterns(
    path: PathLike,
    *,
    function: str | None = None,
    k: int = 5,
    tier: int | None = SIMILAR_TIER,
    signal: str = "hybrid",
    library: PathLike | None = None,
    embedder=None,
) -> list[FunctionMatches]:
    """The ``k`` library entries (``tier``; None: every tier) each function of the legacy SQL
    file ``path`` resembles, searched as :func:`reverse` searches (the file is reversed in
    memory, nothing is written). ``function`` keeps only that function (qualified or bare
    name; an unknown one is a SpecqlError naming the functions found). A library that cannot
    be searched is a SpecqlError saying what to do."""
    from specql.reverse.pipeline import reverse as run_reverse

    def wanted(name: str) -> bool:
        return function is None or function in (name, name.rpartition(".")[2])

    search = _library_search(library, embedder, k=k, tier=tier, signal=signal)
    hits: list[list] = []
    failure: list[Exception] = []

    def lookup(queries):
        picked = [q for q in queries if wanted(q.name)]
        try:
            found = iter(search(picked) if picked else [])
        except Exception as exc:  # the pipeline would make it a warning: the caller needs it
            failure.append(exc)
            raise
        hits.extend(next(found) if wanted(q.name) else [] for q in queries)
        return [[] for _ in queries]

    report = run_reverse([path], None, lookup=lookup)
    if failure:
        raise failure[0]
    if not report.functions and report.errors:
        raise SpecqlError(report.errors[0])
    matches = [
        FunctionMatches(fn.name, fn.file, fn.line, fn.kind, found)
        for fn, found in zip(report.functions, hits, strict=True)
        if wanted(fn.name)
    ]
    if function is not None and not matches:
        names = ", ".join(fn.name for fn in report.functions) or "none"
        raise SpecqlError(f"no function {function!r} in {path} (functions found: {names})")
    return matches


def search_patterns(
    text: str,
    *,
    k: int = 5,
    signal: str = "hybrid",
    tier: int | None = None,
    category: str | None = None,
    language: str | None = None,
    min_score: float | None = None,
    library: PathLike | None = None,
    embedder=None,
):
    """The ``k`` library entries that best match plain-words ``text`` (``signal``: hybrid,
    embedding or bm25), as :class:`~specql.retrieval.Hit` objects, best first. Embeds the
    library entries that changed since the last search; a large library never indexed is a
    SpecqlError asking for :func:`reindex_patterns`."""
    with _pattern_index(library, embedder) as index:
        return index.search(
            text,
            k=k,
            signal=signal,
            tier=tier,
            category=category,
            language=language,
            min_score=min_score,
        )


def reindex_patterns(
    *,
    library: PathLike | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    embedder=None,
):
    """Embed every library entry without a current embedding (``force``: all of them again);
    returns a :class:`~specql.retrieval.ReindexResult`. Unchanged entries cost nothing."""
    with _pattern_index(library, embedder) as index:
        return index.reindex(force=force, progress=progress)


# --------------------------------------------------------------------------- the LLM call log


@contextmanager
def llm_call_store(library: PathLike | None = None):
    """The LLM answer cache and call log of the library file (default
    ``$SPECQL_HOME/library.db``, created when missing) as a
    :class:`~specql.store.LLMCallStore`, the store an ``LLMClient`` takes; closed on leaving."""
    from specql.store import LLMCallStore, library_path, open_db

    conn = open_db(library_path(library))
    try:
        yield LLMCallStore(conn)
    finally:
        conn.close()


def llm_calls(library: PathLike | None = None, **filters) -> list[dict]:
    """Logged LLM calls, newest first, as dicts of the log's columns. ``filters``: ``limit``
    (default 50, None for all), ``task``, ``outcome``, ``run_id``, ``since`` (an ISO time or
    date, or a datetime)."""
    with llm_call_store(library) as store:
        return store.calls(**filters)


def llm_stats(
    library: PathLike | None = None, by: str = "task", since: str | datetime | None = None
) -> dict:
    """The LLM calls summed up per value of ``by`` (task, model, backend, outcome or run_id):
    ``{"by": by, "groups": [...], "total": {...}}``; each summary has calls, cache hits and
    hit rate, outcome counts, tokens, latency (avg, p50, p95 of calls that reached a model)
    and cost. ``since`` (an ISO time or date, or a datetime) counts only later calls."""
    with llm_call_store(library) as store:
        return {"by": by, "groups": store.stats(by, since), "total": store.totals(since)}


def prune_llm_log(
    library: PathLike | None = None,
    before: str | datetime | None = None,
    cache: bool = False,
) -> dict:
    """Forget the LLM calls logged before ``before`` (an ISO time or date, or a datetime;
    None keeps them all) and, with ``cache``, every cached answer:
    ``{"calls": removed, "cached_answers": removed}``."""
    with llm_call_store(library) as store:
        calls = 0 if before is None else store.prune(before)
        return {"calls": calls, "cached_answers": store.clear_cache() if cache else 0}
