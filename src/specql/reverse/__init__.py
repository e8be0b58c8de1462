"""Legacy PostgreSQL to SpecQL specs.

``specql.reverse`` is both this package and the library call of DESIGN §7
(``specql.reverse(["legacy/"], out_dir="specs/")``): once a submodule is imported, Python binds
the package to the name ``specql.reverse``, so the package itself is callable and runs
:func:`specql.api.reverse` (the pipeline of :func:`specql.reverse.pipeline.reverse` with the
pattern library's retrieval wired in). This package is below the API and does not import it:
the call goes through the top-level ``specql`` package, which re-exports the API.
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        import specql

        return specql._reverse_call(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
