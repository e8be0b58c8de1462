"""Speed of the local model and of `specql reverse --ai local`.

    .venv/bin/python benchmarks/llm.py [--model REF] [--example examples/legacy]

Prints, for the model (default: the packaged Gemma 3 270M through llama.cpp):

- load time (the default model is assembled into a fresh specql home first, not timed);
- prompt processing in tokens/s (a ~600-token prompt, one token generated);
- generation in tokens/s, free and under a JSON-schema grammar;
- reverse --ai local on the bundled legacy example: seconds per function on a fresh home,
  and the speed-up of a second, fully cached run (target: >= 20x);

and as the LAST line one JSON object with those figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from specql.llm import create_model, load_settings  # noqa: E402
from specql.llm.base import Message  # noqa: E402

LONG_PROMPT = " ".join(
    f"Table t{i} has columns id, name, status, amount and created_at." for i in range(48)
)
COUNTING = "Count from one to two hundred in words: one, two, three, four, five,"
GRAMMAR_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 400},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 8},
    },
    "required": ["summary", "tags"],
}


def model_figures(ref: str | None, home: Path) -> dict:
    settings = load_settings(home, env={})
    config = settings.model(ref)
    model = create_model(config)
    if hasattr(model, "path"):
        model.path  # noqa: B018 - assembles the packaged model (not part of the load time)
    start = time.perf_counter()
    model.load()
    load = time.perf_counter() - start

    start = time.perf_counter()
    prompt = model.complete([Message("user", LONG_PROMPT)], max_tokens=1)
    prompt_seconds = time.perf_counter() - start

    def generate(schema):
        start = time.perf_counter()
        out = model.complete([Message("user", COUNTING)], schema=schema, max_tokens=128)
        seconds = time.perf_counter() - start
        # the prompt's own time, at the rate measured above, is not generation
        spent = max(seconds - out.tokens_in / (prompt.tokens_in / prompt_seconds), 1e-6)
        return out.tokens_out, spent

    free_tokens, free_seconds = generate(None)
    grammar_tokens, grammar_seconds = generate(GRAMMAR_SCHEMA)
    model.close()
    return {
        "model": config.ident,
        "load_seconds": round(load, 3),
        "prompt_tokens": prompt.tokens_in,
        "prompt_tokens_per_s": round(prompt.tokens_in / prompt_seconds, 1),
        "generation_tokens_per_s": round(free_tokens / free_seconds, 1),
        "grammar_tokens_per_s": round(grammar_tokens / grammar_seconds, 1),
        "generated_tokens": [free_tokens, grammar_tokens],
    }


def reverse_figures(ref: str | None, example: Path, home: Path) -> dict:
    from specql import api

    os.environ["SPECQL_HOME"] = str(home)
    runs = []
    for label in ("first", "cached"):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            report = api.reverse([example], out, ai="local", model=ref)
            seconds = time.perf_counter() - start
        runs.append((label, seconds, report))
    (_, first_s, first), (_, cached_s, cached) = runs
    functions = len(first.functions)
    ai_first = first.timings.get("ai", 0.0)
    ai_cached = cached.timings.get("ai", 0.0)
    return {
        "functions": functions,
        "ai_state": first.ai,
        "tasks": first.ai_usage.get("tasks", 0),
        "changes": first.ai_change_counts(),
        "first_run_seconds": round(first_s, 2),
        "ai_stage_seconds": round(ai_first, 2),
        "seconds_per_function": round(ai_first / functions, 2) if functions else 0,
        "cached_run_seconds": round(cached_s, 3),
        "cached_ai_stage_seconds": round(ai_cached, 3),
        "cached_tasks": cached.ai_usage.get("tasks_cached", 0),
        "ai_stage_speedup": round(ai_first / ai_cached, 1) if ai_cached else None,
        "run_speedup": round(first_s / cached_s, 1) if cached_s else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model reference (default: the default)")
    parser.add_argument("--example", type=Path, default=ROOT / "examples" / "legacy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        model = model_figures(args.model, home)
        print(f"model            {model['model']}")
        print(f"load             {model['load_seconds']:.2f} s")
        print(
            f"prompt           {model['prompt_tokens_per_s']:.0f} tokens/s "
            f"({model['prompt_tokens']} tokens)"
        )
        print(f"generation       {model['generation_tokens_per_s']:.1f} tokens/s")
        print(f"under a grammar  {model['grammar_tokens_per_s']:.1f} tokens/s")
        reverse = reverse_figures(args.model, args.example, home)
        print(
            f"reverse --ai     {reverse['functions']} functions, {reverse['tasks']} tasks: "
            f"AI stage {reverse['ai_stage_seconds']:.1f} s "
            f"({reverse['seconds_per_function']:.2f} s/function), "
            f"whole run {reverse['first_run_seconds']:.1f} s"
        )
        print(
            f"cached rerun     AI stage {reverse['cached_ai_stage_seconds']:.3f} s "
            f"({reverse['ai_stage_speedup']}x faster), whole run "
            f"{reverse['cached_run_seconds']:.2f} s ({reverse['run_speedup']}x faster)"
        )
    print(json.dumps({"model": model, "reverse": reverse}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
