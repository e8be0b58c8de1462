"""SpecQL dialect: typed nodes, loader (positions kept), validation, canonical dump."""

from specql.dsl.dumper import dump, write_specs
from specql.dsl.loader import load_file, load_paths, load_text
from specql.dsl.types import parse_type
from specql.dsl.validator import check, validate

__all__ = [
    "check",
    "dump",
    "load_file",
    "load_paths",
    "load_text",
    "parse_type",
    "validate",
    "write_specs",
]
