"""A throwaway Django project around generated apps, run in a subprocess.

Django configures itself once per process (settings, app registry), so every project runs in
its own ``python -m django ...`` or script process, never inside pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SETTINGS_MODULE = "project_settings"

SETTINGS = """\
INSTALLED_APPS = {apps!r}
DATABASES = {{"default": {database!r}}}
USE_TZ = True
SECRET_KEY = "generated-apps-under-test"
"""


def database_settings(uri: str | None) -> dict:
    """Django's ``DATABASES["default"]`` for a PostgreSQL URI (None: a database that is never
    connected to, enough for ``check``)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(uri) if uri else {}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.get("dbname", "unused"),
        "USER": parts.get("user", ""),
        "PASSWORD": parts.get("password", ""),
        "HOST": parts.get("host", ""),
        "PORT": parts.get("port", ""),
    }


@dataclass
class DjangoProject:
    """Settings in ``root``, the generated apps in ``apps_dir`` (``OUT/django``)."""

    root: Path
    apps_dir: Path

    @classmethod
    def create(cls, root: Path, out_dir: Path, apps: list[str], db_uri: str | None = None):
        root.mkdir(parents=True, exist_ok=True)
        text = SETTINGS.format(apps=apps, database=database_settings(db_uri))
        (root / f"{SETTINGS_MODULE}.py").write_text(text, encoding="utf-8")
        return cls(root, out_dir / "django")

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.root), str(self.apps_dir)]),
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        }
        return subprocess.run(
            [sys.executable, *args], cwd=self.root, env=env, capture_output=True, text=True
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """``python -m django <args>``."""
        return self._run(["-m", "django", *args])

    def run_json(self, script: Path) -> dict:
        """Run ``script`` (it calls ``django.setup()``) and return the JSON it prints last."""
        done = self._run([str(script)])
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])
