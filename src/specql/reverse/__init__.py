"""Legacy PostgreSQL to SpecQL specs.

``specql.reverse`` is both this package and the library call of DESIGN §7
(``specql.reverse(["legacy/"], out_dir="specs/")``): once a submodule is imported, Python binds
the package to the name ``specql.reverse``, so the package itself is callable and runs
:func:`specql.reverse.pipeline.reverse` (the same function as :func:`specql.api.reverse`).
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from specql.reverse.pipeline import reverse

        return reverse(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
