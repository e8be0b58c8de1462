"""The three-tier pattern library behind PatternLibrary (docs/pattern-library.md).

Tier 1 primitives (a template per language), Tier 2 domain patterns (business logic in the
SpecQL step dialect, applied by ``patterns:`` in a spec), Tier 3 entity templates.
"""

from specql.patterns.library import PatternLibrary, Summary, Version

__all__ = ["PatternLibrary", "Summary", "Version"]
