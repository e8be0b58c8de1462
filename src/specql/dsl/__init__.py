"""SpecQL dialect: typed nodes, loader (positions kept), validation, canonical dump."""

from specql.dsl.loader import load_file, load_paths, load_text
from specql.dsl.types import parse_type

__all__ = ["load_file", "load_paths", "load_text", "parse_type"]
