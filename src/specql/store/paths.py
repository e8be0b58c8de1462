"""Where specql keeps its files: the user's specql home and the pattern library in it."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = "~/.specql"
LIBRARY_FILE = "library.db"


def specql_home() -> Path:
    """``$SPECQL_HOME`` when set (and not empty), else ``~/.specql``; ``~`` expanded."""
    return Path(os.environ.get("SPECQL_HOME") or DEFAULT_HOME).expanduser()


def library_path(explicit: str | Path | None = None) -> Path:
    """The library file: ``explicit`` (e.g. a ``--library`` option) when given, else
    ``library.db`` in the specql home."""
    if explicit is not None:
        return Path(explicit).expanduser()
    return specql_home() / LIBRARY_FILE
