"""``specql patterns …`` and ``specql templates …``: thin commands over PatternLibrary.

Every command takes ``--library PATH`` (default ``$SPECQL_HOME/library.db``, created and
seeded on first use) and ``--json``. Spec files are written whole or not at all (a temporary
file renamed into place), and an existing file is only replaced with ``--force``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from specql.cli.output import emit_json, stderr_console
from specql.errors import SourcePos, SpecqlError
from specql.files import write_text_atomic
from specql.retrieval.index import SIGNALS

TIERS = {"primitive": 1, "domain": 2, "template": 3, "1": 1, "2": 2, "3": 3}

library_option = click.option(
    "--library",
    "library",
    type=click.Path(dir_okay=False),
    help="Pattern library file (default: $SPECQL_HOME/library.db, ~/.specql if unset).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def entity_options(command):
    """The options that say which entity patterns go on: a new one or an existing spec."""
    for option in reversed(
        [
            click.option(
                "--entity", required=True, help="Entity name (PascalCase), new or --into's."
            ),
            click.option("--schema", help="Schema of a new entity, e.g. catalog."),
            click.option(
                "--into",
                "into",
                type=click.Path(dir_okay=False, exists=True),
                help="Add the patterns to this existing spec instead of a new entity.",
            ),
            click.option(
                "--field",
                "fields",
                multiple=True,
                metavar="NAME:TYPE",
                help="A field of a new entity, e.g. name:text!.",
            ),
        ]
    ):
        command = option(command)
    return command


def _open(library: str | None):
    from specql.patterns import PatternLibrary

    return PatternLibrary.open(library)


def _parse_fields(items: tuple[str, ...]) -> dict[str, str]:
    """``--field name:type`` (the spec shorthand, e.g. ``email:email!``) -> {name: type}."""
    fields: dict[str, str] = {}
    for item in items:
        name, sep, type_text = item.partition(":")
        if not sep or not name.strip() or not type_text.strip():
            raise SpecqlError(f"--field {item!r}: expected NAME:TYPE, e.g. email:email!")
        fields[name.strip()] = type_text.strip()
    return fields


def _write_spec(entity, path: Path, force: bool) -> None:
    """The entity as a canonical spec at ``path``: atomically, never over a file unasked."""
    from specql.dsl import dump

    if path.exists() and not force:
        raise SpecqlError("file exists; pass --force to replace it", SourcePos(str(path)))
    write_text_atomic(path, dump(entity))


def _summary_table(rows, columns: list[tuple[str, str]]) -> None:
    widths = [max(len(title), *(len(str(r[key])) for r in rows)) for key, title in columns]
    click.echo(
        "  ".join(title.ljust(w) for (_, title), w in zip(columns, widths, strict=True)).rstrip()
    )
    for r in rows:
        click.echo(
            "  ".join(
                str(r[key]).ljust(w) for (key, _), w in zip(columns, widths, strict=True)
            ).rstrip()
        )


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- patterns


@click.group("patterns")
def patterns_group() -> None:
    """The pattern library: primitives (tier 1), domain patterns (tier 2), entity templates
    (tier 3).

    \b
    Examples:
      specql patterns list --tier domain
      specql patterns show state_machine
      specql patterns instantiate soft_delete --entity Widget --schema catalog -o widget.yaml
    """


@patterns_group.command("list")
@click.option("--tier", type=click.Choice(sorted(TIERS)), help="Only this tier.")
@click.option("--category", help="Only this category (a template's namespace).")
@click.option("--all", "include_deprecated", is_flag=True, help="Include deprecated entries.")
@library_option
@json_option
def list_cmd(tier, category, include_deprecated, library, as_json) -> None:
    """List library entries: name, tier, category.

    \b
    Examples:
      specql patterns list
      specql patterns list --tier primitive --category queries --json
    """
    with _open(library) as lib:
        found = lib.list_patterns(
            tier=TIERS[tier] if tier else None,
            category=category,
            include_deprecated=include_deprecated,
        )
    rows = [s.to_json() for s in found]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no entries match")
        return
    for r in rows:
        r["description"] = _short(r["description"])
        r["name"] += " (deprecated)" if r["deprecated"] else ""
    _summary_table(
        rows, [("name", "name"), ("kind", "tier"), ("category", "category"), ("description", "")]
    )
    click.echo(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")


@patterns_group.command("show")
@click.argument("name")
@click.option(
    "--tier",
    type=click.Choice(sorted(TIERS)),
    help="The tier to look in, where a primitive and a domain pattern share a name.",
)
@library_option
@json_option
def show_cmd(name, tier, library, as_json) -> None:
    """Show one entry's definition, lifecycle and history.

    \b
    Examples:
      specql patterns show audit_trail
      specql patterns show upsert --tier primitive
      specql patterns show crm.contact --json
    """
    with _open(library) as lib:
        entry = lib.get_pattern(name, tier=TIERS[tier] if tier else None)
        history = lib.versions(name, tier=entry.tier)
    info = {
        "tier": entry.tier,
        "source": entry.life.source,
        "version": entry.life.version,
        "deprecated": entry.life.deprecated,
        "replaced_by": entry.life.replaced_by,
        "deprecation_reason": entry.life.deprecation_reason,
        "versions": [
            {"version": v.version, "source": v.source, "note": v.note, "at": v.created_at}
            for v in history
        ],
    }
    if as_json:
        emit_json({"definition": entry.to_definition(), **info})
        return
    click.echo(yaml.safe_dump(entry.to_definition(), sort_keys=False, allow_unicode=True), nl=False)
    state = "deprecated" + (f", use {entry.life.replaced_by}" if entry.life.replaced_by else "")
    click.echo(
        f"# tier {entry.tier}, version {entry.life.version}, source {entry.life.source}"
        + (f", {state}" if entry.life.deprecated else "")
    )


def _parse_params(items: tuple[str, ...]) -> dict:
    from specql.patterns.params import parse_cli_params

    return parse_cli_params(list(items))


@patterns_group.command("instantiate")
@click.argument("name")
@entity_options
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter; VALUE is YAML (states=[draft,done], limit=3).",
)
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Spec file to write.",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@library_option
@json_option
def instantiate_cmd(name, entity, schema, into, params, fields, output, force, library, as_json):
    """Write a spec that uses domain pattern NAME, ready for `specql generate`.

    \b
    Examples:
      specql patterns instantiate state_machine --entity Ticket --schema catalog \\
          --param 'states=[open,closed]' --param 'transitions={open: [closed]}' -o ticket.yaml
      specql patterns instantiate audit_trail --entity Contact --into specs/contact.yaml \\
          -o specs/contact.yaml --force
    """
    _compose(
        library,
        entity,
        schema,
        into,
        fields,
        [(name, _parse_params(params))],
        output,
        force,
        as_json,
    )


@patterns_group.command("compose")
@click.argument("names", nargs=-1, required=True)
@entity_options
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="PATTERN.KEY=VALUE",
    help="A parameter of one of the patterns; VALUE is YAML.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False),
    help="Spec file to write (default: print the spec).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@library_option
@json_option
def compose_cmd(names, entity, schema, into, params, fields, output, force, library, as_json):
    """Apply several domain patterns to one entity, checking they compose (requirements
    pulled in, conflicts refused).

    \b
    Examples:
      specql patterns compose audit_trail soft_delete --entity Note --schema catalog \\
          --field body:text! -o note.yaml
      specql patterns compose state_machine audit_trail --entity Order --schema crm \\
          --param 'state_machine.states=[new,paid]' \\
          --param 'state_machine.transitions={new: [paid]}'
    """
    by_pattern: dict[str, dict] = {n: {} for n in names}
    for key, value in _parse_params(params).items():
        pattern, dot, param = key.partition(".")
        if not dot or pattern not in by_pattern:
            raise SpecqlError(
                f"--param {key}: expected PATTERN.KEY=VALUE with PATTERN one of {', '.join(names)}"
            )
        by_pattern[pattern][param] = value
    _compose(
        library, entity, schema, into, fields, list(by_pattern.items()), output, force, as_json
    )


def _compose(library, entity, schema, into, fields, uses, output, force, as_json) -> None:
    from specql.dsl import dump, load_file

    if into:
        host = load_file(into)
        if host.name != entity:
            raise SpecqlError(f"--entity {entity} but the spec defines {host.name}", host.pos)
        if fields:
            raise SpecqlError("--field only applies to a new entity (not with --into)")
    else:
        if not schema:
            raise SpecqlError("a new entity needs --schema (or --into SPEC)")
        from specql.patterns.expand import load_dialect

        host = load_dialect(
            entity, schema, {"fields": _parse_fields(fields)} if fields else {}, f"entity {entity}"
        )
    with _open(library) as lib:
        result = lib.compose_patterns(
            host, [{"pattern": n, "params": p} for n, p in uses], record=False
        )
        if output is not None:  # only a spec written counts as a use
            _write_spec(result, Path(output), force)
            lib.record_uses(result, result.patterns[len(result.patterns) - len(uses) :])
    if as_json:
        emit_json(
            {
                "entity": result.name,
                "schema": result.schema,
                "output": output,
                "patterns": [{"pattern": u.name, "params": u.params} for u in result.patterns],
                "spec": dump(result),
            }
        )
    elif output is None:
        click.echo(dump(result), nl=False)
    else:
        click.echo(
            f"wrote {output}: {result.name} ({result.schema}) with "
            f"{', '.join(u.name for u in result.patterns)}"
        )


@patterns_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@library_option
@json_option
def validate_cmd(paths, library, as_json) -> None:
    """Check pattern definition files (any tier) without adding them: the definition, its
    parameter schema, what it names, and a trial (examples compile, the example
    instantiates).

    \b
    Examples:
      specql patterns validate my_patterns/approval_chain.yaml
      specql patterns validate src/specql/patterns/seed/domain/*.yaml --json
    """
    from specql.dsl.loader import decode_utf8

    results = []
    with _open(library) as lib:
        for path in paths:
            try:
                data = yaml.safe_load(decode_utf8(Path(path).read_bytes(), path))
                entry = lib.check_definition(data)
                results.append(
                    {
                        "file": path,
                        "name": entry.name,
                        "tier": entry.tier,
                        "valid": True,
                        "error": None,
                    }
                )
            except (SpecqlError, yaml.YAMLError) as err:
                message = (
                    err.message if isinstance(err, SpecqlError) else " ".join(str(err).split())
                )
                results.append(
                    {"file": path, "name": None, "tier": None, "valid": False, "error": message}
                )
    if as_json:
        emit_json(results)
    else:
        for r in results:
            if r["valid"]:
                click.echo(f"ok: {r['file']}: {r['name']} (tier {r['tier']})")
            else:
                click.echo(f"{r['file']}: {r['error']}", err=True)
    if not all(r["valid"] for r in results):
        click.get_current_context().exit(1)


@patterns_group.command("deprecate")
@click.argument("name")
@click.option("--replaced-by", help="The entry to use instead.")
@click.option("--reason", default="", help="Why, for the history.")
@library_option
@json_option
def deprecate_cmd(name, replaced_by, reason, library, as_json) -> None:
    """Deprecate an entry: kept for existing specs (they get a warning), hidden from lists.

    \b
    Example:
      specql patterns deprecate old_audit --replaced-by audit_trail --reason "merged"
    """
    with _open(library) as lib:
        entry = lib.deprecate(name, replaced_by=replaced_by, reason=reason)
    if as_json:
        emit_json(
            {
                "name": entry.name,
                "version": entry.life.version,
                "replaced_by": entry.life.replaced_by,
            }
        )
    else:
        click.echo(f"deprecated {entry.name} (version {entry.life.version})")


# --------------------------------------------------------------------------- retrieval

ALL_TIERS = "all"
k_option = click.option(
    "-k",
    "k",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many entries to show.",
)
signal_option = click.option(
    "--signal",
    type=click.Choice(SIGNALS),
    default="hybrid",
    show_default=True,
    help="Rank by embeddings, BM25 full text, or both fused (bm25 needs no model).",
)


def _hits_table(hits, indent: str = "") -> None:
    rows = []
    for rank, hit in enumerate(hits, 1):
        rows.append(
            {
                **hit.to_json(),
                "rank": f"{indent}{rank}",
                "score": f"{hit.score:.4f}",
                "cosine": "-" if hit.cosine is None else f"{hit.cosine:.4f}",
                "signals": "+".join(hit.signals),
            }
        )
    _summary_table(
        rows,
        [
            ("rank", f"{indent}#"),
            ("name", "name"),
            ("kind", "kind"),
            ("category", "category"),
            ("score", "score"),
            ("cosine", "cosine"),
            ("signals", "found by"),
        ],
    )


@patterns_group.command("search")
@click.argument("text")
@click.option("--category", help="Only this category (a template's namespace).")
@click.option("--language", help="Only entries implemented in this language, e.g. django.")
@click.option("--tier", type=click.Choice(sorted(TIERS)), help="Only this tier.")
@k_option
@signal_option
@click.option(
    "--min-score",
    type=float,
    help="Drop hits below this cosine similarity (BM25 score with --signal bm25).",
)
@library_option
@json_option
def search_cmd(text, category, language, tier, k, signal, min_score, library, as_json) -> None:
    """Find library entries by what they do, in plain words (TEXT; - reads it from stdin).

    Entries that changed since the last search are embedded first; a large library that
    was never indexed asks for `specql patterns reindex`.

    \b
    Examples:
      specql patterns search "writes old and new row values to a history table"
      specql patterns search "approve or reject a request" --tier domain -k 3 --json
      specql patterns search "soft delete" --signal bm25 --category data
    """
    from specql import api

    if text == "-":
        text = sys.stdin.read()
    hits = api.search_patterns(
        text,
        k=k,
        signal=signal,
        tier=TIERS[tier] if tier else None,
        category=category,
        language=language,
        min_score=min_score,
        library=library,
    )
    if as_json:
        query = {
            "text": text,
            "k": k,
            "signal": signal,
            "tier": TIERS[tier] if tier else None,
            "category": category,
            "language": language,
            "min_score": min_score,
        }
        emit_json({"query": query, "hits": [hit.to_json() for hit in hits]})
        return
    if not hits:
        click.echo("no entries match")
        return
    _hits_table(hits)


@patterns_group.command("similar")
@click.argument("path", metavar="FILE.sql", type=click.Path(exists=True, dir_okay=False))
@click.option("--function", "function", help="Only this function of the file.")
@k_option
@click.option(
    "--tier",
    type=click.Choice([*sorted(TIERS), ALL_TIERS]),
    default="domain",
    show_default=True,
    help="The tier to match against.",
)
@signal_option
@library_option
@json_option
def similar_cmd(path, function, k, tier, signal, library, as_json) -> None:
    """The library entries each function of a legacy SQL file resembles, with scores.

    \b
    Examples:
      specql patterns similar legacy/orders.sql
      specql patterns similar legacy/orders.sql --function approve_order -k 3 --json
    """
    from specql import api

    found = api.similar_patterns(
        path,
        function=function,
        k=k,
        tier=None if tier == ALL_TIERS else TIERS[tier],
        signal=signal,
        library=library,
    )
    if as_json:
        emit_json(
            [
                {
                    "name": fn.name,
                    "file": fn.file,
                    "line": fn.line,
                    "kind": fn.kind,
                    "hits": [hit.to_json() for hit in fn.hits],
                }
                for fn in found
            ]
        )
        return
    if not found:
        click.echo(f"no functions in {path}")
        return
    for fn in found:
        click.echo(f"{fn.name} ({fn.kind}, {fn.file}:{fn.line})")
        if fn.hits:
            _hits_table(fn.hits, indent="  ")
        else:
            click.echo("  no entries match")


class _EmbeddingProgress:
    """A progress bar of texts embedded, on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.console = stderr_console()
        self.progress = None
        self.task = None

    def __enter__(self):
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.progress = Progress(
                "embedding texts",
                BarColumn(bar_width=30),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.progress.__enter__()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task("embedding", total=total)
        self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


@patterns_group.command("reindex")
@click.option("--force", is_flag=True, help="Embed every entry again, changed or not.")
@library_option
@json_option
def reindex_cmd(force, library, as_json) -> None:
    """Embed the library entries that have no current embedding (searches do it for a few
    changed entries on their own; a large or never indexed library needs this once).

    \b
    Examples:
      specql patterns reindex
      specql patterns reindex --force --json
    """
    from specql import api

    with _EmbeddingProgress() as progress:
        result = api.reindex_patterns(library=library, force=force, progress=progress)
    if as_json:
        emit_json(result.to_json())
        return
    unchanged = result.documents - result.embedded - result.reused
    click.echo(
        f"{result.documents} documents, model {result.model}: {result.embedded} embedded "
        f"({result.texts} texts), {result.reused} reused, {unchanged} unchanged "
        f"in {result.seconds:.2f} s"
    )


# --------------------------------------------------------------------------- templates


@click.group("templates")
def templates_group() -> None:
    """Entity templates (tier 3 of the pattern library), by namespace.

    \b
    Examples:
      specql templates list --namespace crm
      specql templates instantiate crm.contact --entity Customer --schema crm -o specs/
    """


@templates_group.command("list")
@click.option("--namespace", help="Only this namespace, e.g. crm.")
@click.option("--all", "include_deprecated", is_flag=True, help="Include deprecated templates.")
@library_option
@json_option
def templates_list_cmd(namespace, include_deprecated, library, as_json) -> None:
    """List entity templates: name, namespace, description.

    \b
    Example:
      specql templates list --json
    """
    with _open(library) as lib:
        found = lib.list_patterns(tier=3, category=namespace, include_deprecated=include_deprecated)
    rows = [
        {
            "name": s.name,
            "namespace": s.category,
            "description": s.description,
            "version": s.version,
            "deprecated": s.deprecated,
        }
        for s in found
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no templates match")
        return
    for r in rows:
        r["description"] = _short(r["description"])
    _summary_table(rows, [("name", "name"), ("namespace", "namespace"), ("description", "")])
    click.echo(f"{len(rows)} template(s)")


@templates_group.command("instantiate")
@click.argument("name")
@click.option("--entity", help="Entity name (default: the template's).")
@click.option("--schema", required=True, help="Schema of the entities, e.g. crm.")
@click.option(
    "--config",
    "config",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template option; VALUE is YAML (with_address=false).",
)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME:TYPE",
    help="An extra field, e.g. loyalty_tier:text.",
)
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the specs to (one file per entity).",
)
@click.option("--force", is_flag=True, help="Replace spec files that exist.")
@library_option
@json_option
def templates_instantiate_cmd(
    name, entity, schema, config, fields, output, force, library, as_json
):
    """Write the specs of entity template NAME (and of the templates it depends on).

    \b
    Examples:
      specql templates instantiate crm.contact --schema crm -o specs/crm
      specql templates instantiate ecommerce.order --entity Purchase --schema catalog \\
          --config with_shipping=false -o specs/shop
    """
    from specql.generators.postgres.naming import snake

    with _open(library) as lib:
        entities = lib.instantiate_entity_template(
            name,
            entity,
            _parse_fields(fields),
            _parse_params(config),
            schema=schema,
            record=False,
        )
        out = Path(output)
        targets = [out / f"{snake(e.name)}.yaml" for e in entities]
        existing = [str(t) for t in targets if t.exists()]
        if existing and not force:
            raise SpecqlError(f"{existing[0]}: file exists; pass --force to replace it")
        for ent, path in zip(entities, targets, strict=True):
            _write_spec(ent, path, force=True)
        lib.record_template_use(name, entities[0].name, schema, _parse_params(config))
    if as_json:
        emit_json(
            {
                "template": name,
                "files": [
                    {"entity": e.name, "schema": e.schema, "path": str(p)}
                    for e, p in zip(entities, targets, strict=True)
                ],
            }
        )
    else:
        for ent, path in zip(entities, targets, strict=True):
            click.echo(f"wrote {path}: {ent.name} ({ent.schema})")
