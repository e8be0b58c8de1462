"""Snapshot everything the spec pipeline produces, to prove a refactor changes no output.

For each corpus (the examples, the test fixtures, and the synthetic specs of
``benchmarks/generate.py``) it records the loaded entities (their ``repr``, positions
included), the validator's problems and every generated PostgreSQL file (or the error the
generator raised), one text file per corpus and phase under ``DIR``.

    python benchmarks/output_snapshot.py write DIR   # before the change
    python benchmarks/output_snapshot.py check DIR   # after: lists differences, exit 1 if any
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate as bench  # noqa: E402  (the synthetic spec builder)


def _corpora(tmp: Path) -> dict[str, tuple[list[list[Path]], Path | None]]:
    """name -> (groups of spec files loaded together, registry to generate with or None)."""
    fixtures = REPO / "tests" / "generators" / "postgres" / "fixtures"
    dsl_fixtures = REPO / "tests" / "dsl" / "fixtures"
    (tmp / "synthetic").mkdir()
    specs, registry = bench.build(tmp / "synthetic", 200)
    return {
        "synthetic": ([sorted(specs.rglob("*.yaml"))], registry),
        "examples": (
            [sorted((REPO / "examples").rglob("*.yaml"))],
            REPO / "registry" / "domain_registry.yaml",
        ),
        "generator_fixtures": (
            [sorted(fixtures.glob("*.yaml")), sorted(fixtures.glob("actions/*.yaml"))],
            fixtures / "registry" / "domain_registry.yaml",
        ),
        "dsl_fixtures": ([[p] for p in sorted(dsl_fixtures.rglob("*.yaml"))], None),
    }


def snapshot(out: Path) -> None:
    from specql.dsl import load_paths, validate
    from specql.dsl.registry import load_registry
    from specql.errors import SpecqlError
    from specql.generators.postgres.generator import PostgresGenerator

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="specql-snapshot-") as tmp_name:
        tmp = Path(tmp_name)
        for name, (groups, registry_path) in _corpora(tmp).items():
            loaded, problems, generated = [], [], []
            for n, files in enumerate(groups):
                label = ", ".join(str(p.relative_to(p.parents[1])) for p in files[:3])
                try:
                    entities = load_paths(files)
                except SpecqlError as exc:
                    loaded.append(f"## {label}\nERROR {exc}")
                    continue
                loaded.append(f"## {label}\n" + "\n".join(repr(e) for e in entities))
                problems.append(f"## {label}\n" + "\n".join(str(p) for p in validate(entities)))
                if registry_path is None:
                    continue
                # a copy: generating assigns entity numbers and writes them back
                reg_copy = tmp / f"{name}-{n}" / "domain_registry.yaml"
                reg_copy.parent.mkdir()
                shutil.copy(registry_path, reg_copy)
                try:
                    result = PostgresGenerator().generate(entities, load_registry(reg_copy))
                except SpecqlError as exc:
                    generated.append(f"## {label}\nERROR {exc}")
                    continue
                generated.append(
                    f"## {label}\n"
                    + "\n".join(f"-- {f.path} ({f.code})\n{f.content}" for f in result)
                )
            for phase, texts in (("load", loaded), ("validate", problems), ("generate", generated)):
                # positions name files under the (random) temporary directory: make it fixed
                text = "\n".join(texts).replace(tmp_name, "<tmp>") + "\n"
                (out / f"{name}.{phase}.txt").write_text(text, "utf-8")


def check(expected: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="specql-snapshot-now-") as now_name:
        now = Path(now_name)
        snapshot(now)
        names = sorted({p.name for p in expected.iterdir()} | {p.name for p in now.iterdir()})
        differing = 0
        for name in names:
            a, b = expected / name, now / name
            old = a.read_text("utf-8").splitlines() if a.exists() else []
            new = b.read_text("utf-8").splitlines() if b.exists() else []
            if old != new:
                differing += 1
                diff = difflib.unified_diff(old, new, str(a), str(b), lineterm="", n=2)
                print("\n".join(list(diff)[:60]))
        print(f"{len(names) - differing}/{len(names)} snapshot files identical")
        return 1 if differing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("write", "check"))
    parser.add_argument("dir", type=Path)
    args = parser.parse_args()
    if args.mode == "write":
        snapshot(args.dir)
    else:
        sys.exit(check(args.dir))


if __name__ == "__main__":
    main()
