"""The Django target (``specql generate --target django``): models over the PostgreSQL target's
tables, one app per schema. See :mod:`specql.generators.django.generator`."""
