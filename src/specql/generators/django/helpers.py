"""Helper classes a generated ``models.py`` defines once, before its models, when used.

Django has no built-in for a few things the PostgreSQL target's tables need; rather than a
support package every project would have to install, each ``models.py`` carries the few lines
it uses, so the generated apps import nothing but Django.
"""

from __future__ import annotations

# name -> source (``{models}``: the module's name for django.db.models); emitted in this order.
HELPERS: dict[str, str] = {
    "ActiveManager": '''class ActiveManager({models}.Manager):
    """Rows that are not soft-deleted (``deleted_at IS NULL``); ``all_objects`` sees all."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)
''',
    "NumericField": '''class NumericField({models}.DecimalField):
    """NUMERIC without precision or scale, which Django's DecimalField cannot express."""

    def check(self, **kwargs):
        return {models}.Field.check(self, **kwargs)  # skip DecimalField's digit checks

    def db_type(self, connection):
        return "numeric"
''',
    "MacAddressField": '''class MacAddressField({models}.TextField):
    """A PostgreSQL MACADDR column (values are read and written as text)."""

    def db_type(self, connection):
        return "macaddr"
''',
}


def render_helpers(names: set[str], models: str) -> list[str]:
    """The sources of the helpers in ``names``, in :data:`HELPERS` order; ``models`` is the
    name ``django.db.models`` is bound to in the module."""
    unknown = names - HELPERS.keys()
    if unknown:
        raise ValueError(f"unknown helper(s): {', '.join(sorted(unknown))}")
    return [source.format(models=models) for name, source in HELPERS.items() if name in names]
