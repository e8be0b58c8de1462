"""``specql models``: which language models are configured, which one is the default, and
whether it answers (a thin shell over :mod:`specql.api`)."""

from __future__ import annotations

import click
from rich import box
from rich.console import Console
from rich.table import Table

from specql import api
from specql.cli.output import emit_json
from specql.cli.patterns import json_option, library_option


@click.group("models")
def models_group() -> None:
    """Language models: list them, test one, choose the default.

    Settings come from built-ins < $SPECQL_HOME/models.yaml < environment (SPECQL_MODEL,
    SPECQL_USE_CLOUD, SPECQL_MAX_COST, ...) < command-line flags (--model).

    \b
    Examples:
      specql models list
      specql models test                      # load the default model, one constrained call
      specql models test --model openai:llama3.1
      specql models default ~/.specql/models/llama-3.1-8b.gguf
    """


@models_group.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """The configured models; the default and the cloud model are marked.

    \b
    Example:
      specql models list --json
    """
    data = api.list_models()
    if as_json:
        emit_json(data)
        return
    console = Console(highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("name", "backend", "model", "role", "status"):
        table.add_column(column, overflow="fold")
    for row in data["models"]:
        role = ", ".join(r for r in ("default", "cloud") if row[r])
        table.add_row(row["name"], row["backend"], row["model"], role, row["missing"] or "ready")
    console.print(table)
    console.print(
        f"default {data['default']} (from {data['default_from']}); cloud escalation "
        f"{'on' if data['use_cloud'] else 'off'} to {data['cloud']}, cap "
        f"${data['max_cost_usd']:.2f} per run; config {data['config']}",
        markup=False,
    )


@models_group.command("test")
@click.option("--model", "model", help="A configured name, backend:model or a .gguf path.")
@json_option
@library_option
def test_cmd(model: str | None, as_json: bool, library: str | None) -> None:
    """Load the model and make one grammar-constrained call; exit 0 on a valid answer.

    \b
    Example:
      specql models test --model local
    """
    result = api.probe_model(model, library=library)
    if as_json:
        emit_json(result)
    else:
        how = "grammar-constrained" if result["grammar"] else "schema in the prompt"
        click.echo(
            f"{result['model']} ({result['ident']}): loaded in {result['load_seconds']:.2f} s, "
            f"{how} call in {result['call_seconds']:.2f} s, {result['attempts']} attempt(s)"
        )
        if result["ok"]:
            click.echo(f"valid answer: {result['answer']}")
    if not result["ok"]:
        click.echo(
            f"models test: no valid answer from {result['model']}: "
            + "; ".join(result["errors"][-2:]),
            err=True,
        )
        click.get_current_context().exit(1)


@models_group.command("default")
@click.argument("model")
def default_cmd(model: str) -> None:
    """Make MODEL the default (written to $SPECQL_HOME/models.yaml).

    \b
    Example:
      specql models default openai:llama3.1
    """
    path = api.set_default_model(model)
    click.echo(f"default model: {model} (in {path})")
