"""What every command prints: one-line errors, JSON, progress on stderr."""

from __future__ import annotations

import json

import click
from rich.console import Console

from specql.errors import ErrorLevel, SourcePos, SpecqlError


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def format_error(err: SpecqlError) -> str:
    """One line: ``file:line:col: message``; without any position, ``error: message``."""
    line = str(err)
    has_place = err.pos.line > 0 or err.pos.file != SourcePos().file
    return line if has_place or err.level is not ErrorLevel.ERROR else f"error: {line}"


def error_json(err: SpecqlError) -> dict:
    return {
        "file": err.pos.file,
        "line": err.pos.line,
        "col": err.pos.col,
        "level": err.level.value,
        "message": err.message,
    }


def print_errors(errors) -> None:
    for err in errors:
        click.echo(format_error(err), err=True)


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class Status:
    """Progress messages on stderr: a spinner on a terminal, nothing otherwise."""

    def __init__(self) -> None:
        self.console = stderr_console()
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
