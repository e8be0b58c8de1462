"""The ``specql`` command: a thin shell over :mod:`specql.api`.

Every command's logic lives in the API; this module parses options, prints results (a table,
or JSON with ``--json``) and turns errors into one line on stderr with a non-zero exit code:
1 for problems in the input (specs, files, database), 2 for misuse of the command line.
Unexpected exceptions print one line and a hint to rerun with ``--debug`` for the traceback.
"""

from __future__ import annotations

import textwrap

import click
from rich.console import Console

from specql import __version__, api
from specql.cli.logs import logs_group
from specql.cli.models import models_group
from specql.cli.output import Status, emit_json, error_json, print_errors, stderr_console
from specql.cli.patterns import library_option, patterns_group, templates_group
from specql.errors import SpecqlError, SpecqlErrors

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- the group


class SpecqlGroup(click.Group):
    """Turns errors raised by commands into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SpecqlErrors as exc:
            print_errors(exc.errors)
            ctx.exit(1)
        except SpecqlError as exc:
            print_errors([exc])
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            message = " ".join(str(exc).split()) or type(exc).__name__
            click.echo(
                f"error: unexpected {type(exc).__name__}: {message} "
                "(rerun with `specql --debug ...` for the traceback)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=SpecqlGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="specql")
@click.option("--debug", is_flag=True, help="Show the full traceback of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """specql: declarative SpecQL specs <-> PostgreSQL.

    \b
    Example (the bundled examples, end to end):
      specql validate examples
      specql generate examples --target postgres -o build/example
      specql apply build/example --embedded
      specql reverse examples/legacy -o build/legacy-specs --html build/legacy-report.html
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# --------------------------------------------------------------------------- validate


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@library_option
def validate(paths: tuple[str, ...], as_json: bool, library: str | None) -> None:
    """Check spec files (or directories of them) without generating anything.

    Exits 0 when every spec is valid, 1 otherwise; each problem is printed on stderr as one
    line `file:line:col: message`.

    \b
    Examples:
      specql validate examples
      specql validate specs/crm/contact.yaml specs/crm/company.yaml --json
    """
    problems = api.validate(list(paths), library=library)
    errors = api.errors_only(problems)
    if as_json:
        emit_json(
            {
                "valid": not errors,
                "errors": [error_json(e) for e in errors],
                "warnings": [error_json(e) for e in problems if e not in errors],
            }
        )
        click.get_current_context().exit(1 if errors else 0)
    print_errors(problems)
    if errors:
        click.get_current_context().exit(1)
    count = len(api.spec_files(list(paths)))
    click.echo(f"ok: {count} spec file(s) valid")


# --------------------------------------------------------------------------- generate


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--target",
    "-t",
    "targets",
    default="postgres",
    show_default=True,
    help="Comma-separated targets to generate.",
)
@click.option(
    "--output",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the files and manifest.json to.",
)
@click.option(
    "--registry",
    type=click.Path(dir_okay=False),
    help="Domain registry file (default: $SPECQL_REGISTRY, else "
    "registry/domain_registry.yaml found upwards of the specs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the files written as JSON.")
@library_option
def generate(
    paths: tuple[str, ...],
    targets: str,
    out_dir: str,
    registry: str | None,
    as_json: bool,
    library: str | None,
) -> None:
    """Generate code from specs into a directory, files named by their hierarchical code.

    Writes OUT/manifest.json listing the files in the order they must be applied. Generating
    twice writes byte-identical files.

    \b
    Examples:
      specql generate examples --target postgres -o build/example
      specql generate specs/ -o out/ --registry registry/domain_registry.yaml --json
    """
    with Status() as status:
        files = api.generate(
            list(paths),
            targets=targets,
            out_dir=out_dir,
            registry=registry,
            progress=status.update,
            library=library,
            warn=lambda w: print_errors([w]),
        )
    if as_json:
        emit_json(
            {
                "out_dir": out_dir,
                "files": [
                    {"code": f.code, "name": f.name, "layer": f.layer, "path": f.path}
                    for f in files
                ],
            }
        )
        return
    width = max([len("layer"), *(len(f.layer) for f in files)])
    click.echo(f"{'code':<8}{'layer':<{width + 2}}file")
    for f in files:
        click.echo(f"{f.code:<8}{f.layer:<{width + 2}}{f.path}")
    click.echo(f"{len(files)} file(s) written to {out_dir} (apply order in manifest.json)")


# --------------------------------------------------------------------------- apply


@cli.command("apply")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--dsn", help="PostgreSQL connection URI, e.g. postgresql://user@host/db.")
@click.option(
    "--embedded",
    is_flag=True,
    help="Apply to a throw-away embedded PostgreSQL (started now, deleted afterwards).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
def apply_cmd(out_dir: str, dsn: str | None, embedded: bool, as_json: bool) -> None:
    """Apply generated PostgreSQL (DIR/manifest.json, in order) in ONE transaction.

    Either everything is created or nothing is. Prints the schemas, tables, views and
    functions that were created.

    \b
    Examples:
      specql apply build/example --embedded
      specql apply out/ --dsn postgresql://app@localhost/app_dev --json
    """
    if bool(dsn) == embedded:
        raise click.UsageError("give exactly one of --dsn URI or --embedded")
    with Status() as status:
        status.update("starting an embedded PostgreSQL" if embedded else "connecting")
        report = api.apply(out_dir, dsn=dsn, embedded=embedded)
    if as_json:
        emit_json(report.to_dict())
        return
    where = "an embedded PostgreSQL (now stopped and deleted)" if embedded else "the database"
    click.echo(f"applied {len(report.files)} file(s) to {where} in one transaction")
    for kind in ("schemas", "tables", "views", "functions", "types", "indexes"):
        names = getattr(report, kind)
        head = f"  {kind:<10}{len(names):>4}  "
        if kind == "indexes" or not names:
            click.echo(head.rstrip())
            continue
        lines = textwrap.wrap(", ".join(names), width=100 - len(head), break_on_hyphens=False)
        click.echo(head + lines[0])
        for line in lines[1:]:
            click.echo(" " * len(head) + line)


# --------------------------------------------------------------------------- reverse

# Rows of the function table printed on stdout; the report has all of them.
REVERSE_TABLE_ROWS = 40
REVERSE_WARNINGS_SHOWN = 20


class _ReverseProgress:
    """A progress bar per stage (parse, map) on stderr, when stderr is a terminal."""

    LABELS = {
        "parse": "parsing files",
        "map": "mapping functions",
        "retrieval": "matching patterns",
        "ai": "asking the model",
        "assemble": "assembling",
        "write": "writing specs",
    }

    def __init__(self) -> None:
        self.console = stderr_console()
        self.progress = None
        self.tasks: dict[str, object] = {}

    def __enter__(self):
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.table import Column

            self.progress = Progress(
                TextColumn("{task.description}", table_column=Column(width=18, no_wrap=True)),
                BarColumn(bar_width=30),
                MofNCompleteColumn(table_column=Column(min_width=11, no_wrap=True)),
                TimeElapsedColumn(table_column=Column(min_width=7, no_wrap=True)),
                TextColumn("[dim]{task.fields[item]}", table_column=Column(ratio=1, no_wrap=True)),
                console=self.console,
                transient=False,
                auto_refresh=False,  # no refresh thread: worker processes can be forked
            )
            self.progress.__enter__()
        return self

    def __call__(self, stage: str, done: int, total: int, item: str) -> None:
        if self.progress is None:
            return
        task = self.tasks.get(stage)
        if task is None:
            task = self.progress.add_task(self.LABELS.get(stage, stage), total=total, item="")
            self.tasks[stage] = task
        shown = item if len(item) <= 30 else "…" + item[-29:]
        self.progress.update(task, completed=done, total=total, item=shown)
        self.progress.refresh()

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


def _print_reverse(report, out_dir: str | None) -> None:
    from rich import box
    from rich.table import Table

    console = Console(highlight=False, width=None if _stdout_is_terminal() else 120)
    s = report.summary()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("function", no_wrap=True)
    table.add_column("spec", no_wrap=True)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("triage", no_wrap=True)
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("patterns", overflow="fold")
    for fn in report.functions[:REVERSE_TABLE_ROWS]:
        spec = (fn.entity or "").rpartition(".")[2] or "(not written)"
        converted = (
            f"{fn.statements_converted}/{fn.statements_total}" if fn.statements_total else "-"
        )
        table.add_row(
            fn.name,
            spec,
            f"{fn.confidence:.2f}",
            fn.triage,
            converted,
            ", ".join(p.pattern for p in fn.patterns),
        )
    if report.functions:
        console.print(table)
    hidden = len(report.functions) - REVERSE_TABLE_ROWS
    if hidden > 0:
        console.print(f"… {hidden} more function(s) in the report (--report FILE, --html FILE)")
    triage = s["triage"]
    lines = [
        f"files       {s['files']:>5}  ({s['files_failed']} failed, {s['files_resumed']} resumed)",
        f"functions   {s['functions']:>5}  auto-accept {triage['auto-accept']}, spot-check "
        f"{triage['spot-check']}, must-review {triage['must-review']}; "
        f"avg confidence {s['avg_confidence']:.2f}",
        f"statements  {s['statements_total']:>5}  {s['converted_pct']}% converted to steps",
        _retrieval_line(s),
        _ai_line(s),
        f"specs       {s['entities']:>5}  written to {out_dir}"
        if out_dir
        else f"specs       {s['entities']:>5}",
    ]
    for line in lines:
        console.print(line, markup=False)


def _retrieval_line(summary: dict) -> str:
    state = summary["retrieval"]
    if state == "on":
        return (
            f"retrieval   {summary['functions_with_similar']:>5}  function(s) matched library "
            "patterns (see the report)"
        )
    why = "see the warning above" if state == "failed" else "--retrieval to turn it on"
    return f"retrieval   {state:>5}  ({why})"


def _ai_line(summary: dict) -> str:
    state = summary["ai"]
    if state in ("local", "cloud"):
        changes = summary["ai_changes"]
        changed = ", ".join(f"{n} {kind}" for kind, n in sorted(changes.items())) or "nothing"
        usage = summary["ai_usage"]
        return (
            f"ai          {state:>5}  changed: {changed}; {usage.get('tasks', 0)} task(s),"
            f" {usage.get('tasks_cached', 0)} cached, ${usage.get('cost_usd', 0):.4f}"
        )
    why = "see the warning above" if state == "failed" else "--ai local to turn it on"
    return f"ai          {state:>5}  ({why})"


def _stdout_is_terminal() -> bool:
    return Console().is_terminal


@cli.command("reverse")
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option(
    "--output",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write one spec per entity to (<schema>/<entity>.yaml).",
)
@click.option("--dsn", help="Read a live database instead of files: postgresql://user@host/db.")
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    help="With --dsn: only this schema (repeat for several; default: all user schemas).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON on stdout.")
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False), help="Write the JSON report here."
)
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Write an HTML report here."
)
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Parse and map files in this many processes (same result as 1).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Skip the files an interrupted earlier run into the same -o directory finished.",
)
@click.option(
    "--retrieval/--no-retrieval",
    default=None,
    help="Match every function against the pattern library's domain patterns (default: on "
    "when the retrieval extra is installed).",
)
@click.option(
    "--ai",
    type=click.Choice(api.AI_CHOICES),
    default=None,
    help="Let a language model suggest intents, names and pattern verdicts, each validated "
    "(local: the local model; cloud: local first, escalating unsure or invalid answers to the "
    "cloud model; default: $SPECQL_AI, else local when the model is installed).",
)
@click.option("--model", help="The model for --ai: a configured name, backend:model or .gguf.")
@click.option(
    "--use-cloud", is_flag=True, default=None, help="Allow escalation to the cloud model."
)
@click.option(
    "--max-cost",
    "max_cost_usd",
    type=click.FloatRange(min=0),
    help="Cap on the cloud cost of this run in US dollars (default from the settings).",
)
@library_option
def reverse_cmd(
    paths: tuple[str, ...],
    out_dir: str,
    dsn: str | None,
    schemas: tuple[str, ...],
    as_json: bool,
    report_path: str | None,
    html_path: str | None,
    jobs: int,
    resume: bool,
    retrieval: bool | None,
    ai: str | None,
    model: str | None,
    use_cloud: bool | None,
    max_cost_usd: float | None,
    library: str | None,
) -> None:
    """Reverse-engineer legacy SQL (.sql files, directories, or a live database) into specs.

    Writes one YAML spec per entity (functions go to the entity whose table they write
    most; the others to a <Schema>Functions module spec) and reports, per function, the
    confidence, triage, detected patterns, the library patterns it resembles (with scores
    and the signal that found them) and what stayed raw SQL and why. A broken file
    does not stop the batch: each problem is one line on stderr and in the report. Exits 0
    when everything converted without error, 1 when a file failed or a spec could not be
    made valid.

    \b
    Examples:
      specql reverse examples/legacy -o build/legacy-specs --html build/legacy-report.html
      specql reverse legacy/ -o specs/ --jobs 4 --report reverse.json --resume
      specql reverse legacy/ -o specs/ --library team.db --html report.html  # or --no-retrieval
      specql reverse legacy/ -o specs/ --ai local --html report.html  # or --ai off
      specql reverse --dsn postgresql://app@localhost/legacy --schema shop -o specs/ --json
    """
    if bool(paths) == bool(dsn):
        raise click.UsageError("give PATH... (.sql files or directories) or --dsn URI, not both")
    if schemas and not dsn:
        raise click.UsageError("--schema needs --dsn")
    with _ReverseProgress() as progress:
        report = api.reverse(
            list(paths) if paths else None,
            out_dir,
            dsn=dsn,
            schemas=list(schemas) or None,
            jobs=jobs,
            resume=resume,
            progress=progress,
            report_path=report_path,
            html_path=html_path,
            retrieval=retrieval,
            library=library,
            ai=ai,
            model=model,
            use_cloud=use_cloud,
            max_cost_usd=max_cost_usd,
        )
    ctx = click.get_current_context()
    for line in report.errors:
        click.echo(line, err=True)
    for line in report.warnings[:REVERSE_WARNINGS_SHOWN]:
        click.echo(line, err=True)
    if len(report.warnings) > REVERSE_WARNINGS_SHOWN:
        more = len(report.warnings) - REVERSE_WARNINGS_SHOWN
        click.echo(f"… {more} more warning(s) in the report", err=True)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_reverse(report, out_dir)
        for label, path in (("report", report_path), ("html", html_path)):
            if path:
                click.echo(f"{label:<11} {path}")
    if not report.ok:
        failed = report.summary()
        click.echo(
            f"reverse: {failed['errors']} error(s) ({failed['files_failed']} file(s) failed, "
            f"{failed['functions_failed']} function(s) not made valid); see above",
            err=True,
        )
        ctx.exit(1)


cli.add_command(patterns_group)
cli.add_command(templates_group)
cli.add_command(logs_group)
cli.add_command(models_group)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="specql")


if __name__ == "__main__":  # pragma: no cover
    main()
