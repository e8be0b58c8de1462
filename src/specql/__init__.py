"""specql: legacy PostgreSQL <-> declarative SpecQL specs, and code generation from specs.

The public API lives in :mod:`specql.api` and is re-exported here lazily, so that importing a
low layer (``specql.dsl``) never drags in the layers above it.
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = {
    "load",
    "validate",
    "dump",
    "generate",
    "apply",
    "reverse",
    "SpecqlError",
    "SpecqlErrors",
    "PatternLibrary",
    "search_patterns",
    "similar_patterns",
    "reindex_patterns",
}


def _reverse_call(*args, **kwargs):
    """What calling the ``specql.reverse`` package runs: the API's reverse (which wires the
    pattern library into the pipeline). The package sits below the API and must not import
    it; it calls up through here, the package that re-exports the API."""
    from specql import api

    return api.reverse(*args, **kwargs)


def __getattr__(name: str):
    if name == "reverse":
        # The subpackage is callable (specql.reverse(...) runs the pipeline); importing it
        # binds it here, so the name means the same whether or not it was imported before.
        import specql.reverse as package

        return package
    if name in _API:
        from specql import api

        return getattr(api, name)
    raise AttributeError(f"module 'specql' has no attribute {name!r}")
