"""Regenerate the golden files of the steps fixtures: ``fixtures/steps/<name>.expected.yaml``.

    .venv/bin/python tests/reverse/regen_golden.py [name ...]

Review every changed golden file (git diff) before committing it: the test compares against
these files, so a wrong mapping written here would be locked in.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reverse.steps_support import fixture_names, golden_path, golden_text


def main(names: list[str]) -> int:
    for name in names or fixture_names():
        path = golden_path(name)
        text = golden_text(name)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
            print(f"{'updated' if old is not None else 'created'} {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
