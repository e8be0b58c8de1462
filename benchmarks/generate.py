"""Benchmark: load + validate + generate PostgreSQL for a large synthetic spec set.

Builds N synthetic entities (default 200) with 5 actions each, varied fields and step kinds,
in a temporary directory with its own domain registry (10 entities per subdomain), then times
each phase (a clean run; memory is measured in a second, identical run under tracemalloc). Prints seconds per phase, the total, peak memory (tracemalloc peak and the
process's ru_maxrss), and as its LAST line one JSON object with the figures.

    python benchmarks/generate.py                  # 200 entities
    python benchmarks/generate.py --entities 50 --profile   # + cProfile top functions

Targets: < 2 s total, < 200 MB peak.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ACTIONS_PER_ENTITY = 5
ENTITIES_PER_SUBDOMAIN = 10
SUBDOMAINS_PER_DOMAIN = 10

# (schema, multi-tenant?) of the synthetic domains, used round-robin as domains fill up.
SCHEMAS = [
    ("sales", True),
    ("inventory", False),
    ("support", True),
    ("billing", True),
    ("reference", False),
]

# Extra field sets, rotated so entities differ.
FIELD_SETS = [
    {"email": "email", "phone": "phone", "website": "url"},
    {"weight": "numeric(10,3)", "ratio": "float", "colour": "color"},
    {"country": "country_code", "currency": "currency_code", "lang": "language_code"},
    {"opened_on": "date", "opened_at": "time", "duration": "duration"},
    {"lat": "latitude", "lon": "longitude", "host_ip": "ip_address"},
    {"version": "semantic_version", "external_id": "uuid", "big": "bigint"},
    {"labels": "list(text)", "attrs": "json", "slug_name": "slug"},
]


def _pascal(i: int) -> str:
    return f"Item{i:04d}"


def entity_spec(i: int, schema: str, subdomain: str, parent: str | None) -> str:
    name = _pascal(i)
    extra = FIELD_SETS[i % len(FIELD_SETS)]
    lines = [
        f"entity: {name}",
        f"schema: {schema}",
        f"subdomain: {subdomain}",
        f"description: Synthetic entity number {i}",
        "fields:",
        "  title: text!",
        "  status: enum(draft, active, closed) = draft",
        "  amount: money",
        "  quantity: { type: integer, nullable: false, default: '0', description: units }",
        "  share: percentage",
        "  active: boolean = true",
        "  happened_at: datetime",
    ]
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    if parent:
        lines.append(f"  parent: ref({parent})")
    lines += [
        "actions:",
        f"  - name: create_{name.lower()}",
        "    params: { title: text!, amount: money }",
        "    steps:",
        "      - validate: $amount IS NULL OR $amount >= 0",
        "        error: negative_amount",
        "        message: The amount cannot be negative",
        f"      - insert: {name}",
        "        values: { title: $title, amount: $amount }",
        "        as: new_id",
        f"  - name: activate_{name.lower()}",
        "    steps:",
        "      - validate: status = 'draft'",
        "        error: not_draft",
        f"      - update: {name} SET status = 'active', happened_at = now()",
        f"      - notify: {{ channel: {name.lower()}_activated, payload: {{ id: $id }} }}",
        f"  - name: close_{name.lower()}",
        "    params: { reason: text }",
        "    steps:",
        "      - if: status = 'closed'",
        "        then:",
        "          - reject: already_closed",
        "        else:",
        f"          - update: {name} SET status = 'closed'",
        "      - declare: { event_id: uuid }",
        f"      - call: app.log_event('{name.lower()}_closed', jsonb_build_object('id', $id))",
        "        store: event_id",
        f"  - name: restock_{name.lower()}",
        "    params: { units: integer! }",
        "    steps:",
        "      - declare: { total: integer = 0 }",
        f"      - query: SELECT count(*) FROM {name} WHERE status = 'active'",
        "        into: active_count",
        "      - assign: total = quantity + $units",
        "      - validate: total <= 100000",
        "        error: too_many_units",
        f"      - update: {name} SET quantity = total",
        "      - return: jsonb_build_object('quantity', total, 'active', active_count)",
    ]
    archive = [
        f"  - name: archive_{name.lower()}",
        "    steps:",
    ]
    if parent:
        archive += [
            f"      - find: {parent.rpartition('.')[2]} WHERE id = parent",
            "        into: owner",
            "        error: parent_not_found",
        ]
    archive += [
        "      - foreach: sibling",
        f"        in: SELECT id FROM {name} WHERE status = 'draft' AND id <> $id",
        "        do:",
        f"          - update: {name} SET active = false WHERE id = sibling.id",
        "      - raw_sql: PERFORM pg_advisory_xact_lock(42)",
        "        reason: advisory locks have no SpecQL form",
        f"      - delete: {name}",
    ]
    lines += archive
    return "\n".join(lines) + "\n"


def build(root: Path, count: int) -> tuple[Path, Path]:
    """Write ``count`` specs and a registry under ``root``; return (specs dir, registry)."""
    specs = root / "specs"
    specs.mkdir()
    per_domain = ENTITIES_PER_SUBDOMAIN * SUBDOMAINS_PER_DOMAIN
    domains_needed = -(-count // per_domain)
    schemas = [SCHEMAS[d % len(SCHEMAS)] for d in range(domains_needed)]
    if domains_needed > 9 or len({s for s, _ in schemas}) != len(schemas):
        raise SystemExit(f"too many entities for the synthetic registry: {count}")
    registry = ["version: 1", "framework_schema: app", "framework_schemas: [common, app, core]"]
    registry.append("domains:")
    for d, (schema, tenant) in enumerate(schemas, start=1):
        registry += [
            f"  {d}:",
            f"    name: {schema}",
            f"    multi_tenant: {'true' if tenant else 'false'}",
            "    subdomains:",
        ]
        registry += [f"      {s}: {{ name: area{s} }}" for s in range(SUBDOMAINS_PER_DOMAIN)]
    reg_path = root / "registry" / "domain_registry.yaml"
    reg_path.parent.mkdir()
    reg_path.write_text("\n".join(registry) + "\n", encoding="utf-8")
    for i in range(count):
        domain = i // per_domain
        schema = schemas[domain][0]
        subdomain = f"area{(i % per_domain) // ENTITIES_PER_SUBDOMAIN}"
        # a ref to the previous entity of the same schema, or across schemas to a shared one
        parent = None
        shared = next((k for k, (_, tenant) in enumerate(schemas) if not tenant), None)
        if i % per_domain >= 1 and i % 3:
            parent = _pascal(i - 1)
        elif shared is not None and shared != domain and i % 5 == 0:
            target = shared * per_domain + i % per_domain
            if target < count:
                parent = f"{schemas[shared][0]}.{_pascal(target)}"
        d = specs / schema
        d.mkdir(exist_ok=True)
        (d / f"item{i:04d}.yaml").write_text(entity_spec(i, schema, subdomain, parent), "utf-8")
    return specs, reg_path


def _pipeline(files_in: list[Path], reg_path: Path) -> tuple[dict[str, float], list, list]:
    """load -> validate -> generate once; seconds per phase, the entities and the files."""
    from specql.dsl import load_paths
    from specql.dsl import validate as validate_entities
    from specql.dsl.registry import load_registry
    from specql.generators.base import get_generator

    t0 = time.perf_counter()
    entities = load_paths(files_in)
    t1 = time.perf_counter()
    problems = [p for p in validate_entities(entities) if p.level.value == "error"]
    t2 = time.perf_counter()
    if problems:
        raise SystemExit("synthetic specs are invalid:\n" + "\n".join(map(str, problems[:20])))
    registry = load_registry(reg_path)
    files = get_generator("postgres").generate(entities, registry)
    t3 = time.perf_counter()
    return {"load": t1 - t0, "validate": t2 - t1, "generate": t3 - t2}, entities, files


def run(count: int, profile: bool) -> dict:
    """Time one clean run, then measure memory in a second identical run (tracemalloc slows
    Python down several times, so it must not be on while timing)."""
    with tempfile.TemporaryDirectory(prefix="specql-bench-") as tmp:
        specs, reg_path = build(Path(tmp), count)
        files_in = sorted(specs.rglob("*.yaml"))
        fresh_registry = reg_path.read_text(encoding="utf-8")
        # warm the imports so the first phase is not charged for them
        import specql.dsl
        import specql.generators.postgres.generator  # noqa: F401

        phases, entities, files = _pipeline(files_in, reg_path)

        reg_path.write_text(fresh_registry, encoding="utf-8")  # same work again: new numbers
        tracemalloc.start()
        _pipeline(files_in, reg_path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        if profile:
            reg_path.write_text(fresh_registry, encoding="utf-8")
            profiler = cProfile.Profile()
            profiler.enable()
            _pipeline(files_in, reg_path)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
            print(out.getvalue(), file=sys.stderr)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "entities": len(entities),
        "actions": sum(len(e.actions) for e in entities),
        "files": len(files),
        "seconds": round(sum(phases.values()), 3),
        "load_s": round(phases["load"], 3),
        "validate_s": round(phases["validate"], 3),
        "generate_s": round(phases["generate"], 3),
        "peak_mb": round(peak / 1_048_576, 1),
        "maxrss_mb": round(rss_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print a cProfile to stderr")
    args = parser.parse_args()
    figures = run(args.entities, args.profile)
    for phase in ("load", "validate", "generate"):
        print(f"{phase:<9} {figures[phase + '_s']:7.3f} s")
    print(f"{'total':<9} {figures['seconds']:7.3f} s  (target < 2 s)")
    print(
        f"peak      {figures['peak_mb']:7.1f} MB traced (tracemalloc), "
        f"{figures['maxrss_mb']:.1f} MB max RSS  (target < 200 MB)"
    )
    print(
        f"output    {figures['files']} files for {figures['entities']} entities, "
        f"{figures['actions']} actions"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
