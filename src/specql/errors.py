"""specql's one error type: every user-facing problem is a SpecqlError with a source position.

Layer 0: imports nothing from specql.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class ErrorLevel(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where something came from: file path, 1-based line and column (0 when unknown)."""

    file: str = "<string>"
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class SpecqlError(Exception):
    """A problem a user can fix. ``str(err)`` is one line: ``file:line:col: message``."""

    def __init__(
        self,
        message: str,
        pos: SourcePos | None = None,
        level: ErrorLevel = ErrorLevel.ERROR,
    ) -> None:
        # One line, always: multi-line messages from parsers are folded.
        self.message = " ".join(message.split())
        self.pos = pos or SourcePos()
        self.level = level
        super().__init__(str(self))

    def __str__(self) -> str:
        """``file:line:col: message``; ``file: message`` when only the file is known; the bare
        message when nothing is. A warning's message starts with ``warning:``."""
        text = (
            self.message
            if self.level is ErrorLevel.ERROR
            else f"{self.level.value}: {self.message}"
        )
        if self.pos.line > 0:
            return f"{self.pos}: {text}"
        if self.pos.file and self.pos.file != SourcePos().file:
            return f"{self.pos.file}: {text}"
        return text


class SpecqlErrors(SpecqlError):
    """Several errors found in one pass (the validator collects them all)."""

    def __init__(self, errors: Iterable[SpecqlError]) -> None:
        self.errors: list[SpecqlError] = sorted(
            errors, key=lambda e: (e.pos.file, e.pos.line, e.pos.col, e.message)
        )
        if not self.errors:
            raise ValueError("SpecqlErrors needs at least one error")
        first = self.errors[0]
        super().__init__(first.message, first.pos, first.level)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    def __iter__(self):
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)
