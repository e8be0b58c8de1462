"""The ``specql`` command: a thin shell over :mod:`specql.api`.

Every command's logic lives in the API; this module parses options, prints results (a table,
or JSON with ``--json``) and turns errors into one line on stderr with a non-zero exit code:
1 for problems in the input (specs, files, database), 2 for misuse of the command line.
Unexpected exceptions print one line and a hint to rerun with ``--debug`` for the traceback.
"""

from __future__ import annotations

import json
import textwrap

import click
from rich.console import Console

from specql import __version__, api
from specql.errors import ErrorLevel, SpecqlError, SpecqlErrors

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- output helpers


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def format_error(err: SpecqlError) -> str:
    """One line: ``file:line:col: message``; without a position, ``file: message`` or
    ``error: message``."""
    text = " ".join(str(err.message).split())
    if err.level is not ErrorLevel.ERROR:
        text = f"{err.level.value}: {text}"
    pos = err.pos
    if pos.line > 0:
        return f"{pos.file}:{pos.line}:{pos.col}: {text}"
    if pos.file and pos.file != "<string>":
        return f"{pos.file}: {text}"
    return text if err.level is not ErrorLevel.ERROR else f"error: {text}"


def _error_json(err: SpecqlError) -> dict:
    return {
        "file": err.pos.file,
        "line": err.pos.line,
        "col": err.pos.col,
        "level": err.level.value,
        "message": err.message,
    }


def _print_errors(errors) -> None:
    for err in errors:
        click.echo(format_error(err), err=True)


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class _Status:
    """Progress messages on stderr: a spinner on a terminal, nothing otherwise."""

    def __init__(self) -> None:
        self.console = _stderr()
        self.status = None

    def __enter__(self):
        if self.console.is_terminal:
            self.status = self.console.status("starting")
            self.status.__enter__()
        return self

    def update(self, message: str) -> None:
        if self.status is not None:
            self.status.update(message)

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


# --------------------------------------------------------------------------- the group


class SpecqlGroup(click.Group):
    """Turns errors raised by commands into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SpecqlErrors as exc:
            _print_errors(exc.errors)
            ctx.exit(1)
        except SpecqlError as exc:
            _print_errors([exc])
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
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# --------------------------------------------------------------------------- validate


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def validate(paths: tuple[str, ...], as_json: bool) -> None:
    """Check spec files (or directories of them) without generating anything.

    Exits 0 when every spec is valid, 1 otherwise; each problem is printed on stderr as one
    line `file:line:col: message`.

    \b
    Examples:
      specql validate examples
      specql validate specs/crm/contact.yaml specs/crm/company.yaml --json
    """
    problems = api.validate(list(paths))
    errors = api.errors_only(problems)
    if as_json:
        _emit_json(
            {
                "valid": not errors,
                "errors": [_error_json(e) for e in errors],
                "warnings": [_error_json(e) for e in problems if e not in errors],
            }
        )
        click.get_current_context().exit(1 if errors else 0)
    _print_errors(problems)
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
def generate(
    paths: tuple[str, ...], targets: str, out_dir: str, registry: str | None, as_json: bool
) -> None:
    """Generate code from specs into a directory, files named by their hierarchical code.

    Writes OUT/manifest.json listing the files in the order they must be applied. Generating
    twice writes byte-identical files.

    \b
    Examples:
      specql generate examples --target postgres -o build/example
      specql generate specs/ -o out/ --registry registry/domain_registry.yaml --json
    """
    with _Status() as status:
        files = api.generate(
            list(paths), targets=targets, out_dir=out_dir, registry=registry, progress=status.update
        )
    if as_json:
        _emit_json(
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
    with _Status() as status:
        status.update("starting an embedded PostgreSQL" if embedded else "connecting")
        report = api.apply(out_dir, dsn=dsn, embedded=embedded)
    if as_json:
        _emit_json(report.to_dict())
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="specql")


if __name__ == "__main__":  # pragma: no cover
    main()
