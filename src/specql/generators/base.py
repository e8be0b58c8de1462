"""What every generator produces and how generators are found.

Generators register by name, built-in ones here and third-party ones through the
``specql.generators`` entry-point group, so ``--target`` never grows an if-chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

from specql.errors import SpecqlError


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One generated file: ``code`` is the 6-digit SSDSEX code, ``layer`` e.g. ``write_side``,
    ``path`` the relative path it is written to (named by the code hierarchy)."""

    code: str
    name: str
    content: str
    layer: str
    path: str


class Generator(Protocol):
    name: str

    def generate(self, entities, registry) -> list[FileSpec]: ...


_BUILTIN: dict[str, str] = {
    "postgres": "specql.generators.postgres.generator:PostgresGenerator",
    "django": "specql.generators.django.generator:DjangoGenerator",
    "sqlalchemy": "specql.generators.sqlalchemy.generator:SqlAlchemyGenerator",
}


def _load(ref: str):
    module, _, attr = ref.partition(":")
    mod = __import__(module, fromlist=[attr])
    return getattr(mod, attr)


def available_generators() -> dict[str, str]:
    """Target name -> 'module:Class' for built-in and entry-point generators."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="specql.generators"):
        found.setdefault(ep.name, ep.value)
    return found


def get_generator(name: str) -> Generator:
    targets = available_generators()
    if name not in targets:
        raise SpecqlError(f"unknown target {name!r}; available: {', '.join(sorted(targets))}")
    return _load(targets[name])()
