"""Stage 5 of reverse (``--ai local|cloud``): a language model's suggestions, each validated
before it may change anything, and each recorded with its source.

For each function (each question asked of every function before the next kind, see
:meth:`AiStage.run`):

1. **intent** — one sentence saying what the function does. Validated (a sentence, one line,
   bounded) it becomes the action's ``description`` when the action has none, marked as an
   unreviewed suggestion of the model that wrote it (:func:`ai_description`): a spec reader
   must see that no human wrote or checked it.
2. **names** — clearer names for unclear parameters and variables (``p1``, ``v_x``, ``tmp``).
   A rename must name an existing parameter or variable, be a lower_snake_case identifier, not
   an SQL reserved word and not clash. Renames are *suggested*, never applied: a rename would
   rewrite step expressions, and this stage never changes what the steps do.
3. **pattern check** — for each pattern the heuristics found (score >= :data:`CHECK_FLOOR`, at
   most :data:`MAX_CHECKS`): does the function implement it? A validated "yes" raises the
   finding's score by :data:`CONFIRM_BONUS` (up to :data:`CONFIRM_CAP`) and adds the model's
   reason to the evidence; a "no" is recorded as a disagreement and changes nothing. A
   pattern that is not in the library is not asked about.
4. **pattern suggestion** — for a function no heuristic matched: which of the library
   patterns retrieval found similar (a closed list: the grammar allows only those names or
   "none") it implements. A suggestion is kept only when a second question, the pattern
   check, agrees; it is reported as a suggestion (score :data:`SUGGESTION_SCORE`, below the
   heuristics' reporting threshold), not as a detection. (The suggestions are all asked
   before their checks.)

So the stage can only raise a confidence, and only through an answer that passed every check;
an invalid, failed or refused answer changes nothing. The steps are never touched.

A model that cannot answer at all (missing model file, dead server) stops the stage after
:data:`MAX_FAILURES` such errors in a row: the run goes on with the non-AI result and a
warning.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from specql.dsl import model as m
from specql.dsl.validator import SQL_RESERVED
from specql.llm.client import LLMClient, TaskResult
from specql.llm.tasks import NONE_PATTERN, TASKS
from specql.reverse.assemble import FunctionOutcome
from specql.reverse.heuristics import THRESHOLD
from specql.reverse.report import AiEntry, AiSuggestion, SimilarEntry
from specql.reverse.source import PatternFinding

CHECK_FLOOR = THRESHOLD  # the findings the report shows are the ones checked
MAX_CHECKS = 2
CONFIRM_BONUS = 0.10
CONFIRM_CAP = 0.95
SUGGESTION_SCORE = 0.45
MAX_CANDIDATES = 3
MAX_NAMES = 8
MAX_FAILURES = 3  # model errors in a row before the stage gives up
AI_SKIPPED = "warning: AI stage stopped"

# Names that say nothing: one or two letters, a letter and digits, tmp/temp/var/val/rec/res
# with or without digits, v_/p_ plus one or two letters.
_UNCLEAR = re.compile(
    r"^(?:[a-z]{1,2}\d*|[a-z]\d+|(?:tmp|temp|var|val|rec|res|ret|aux)\d*|[vp]_[a-z]{1,2}\d*)$"
)


def ai_description(intent: str, model: str) -> str:
    """An action description written from a model's intent, saying so."""
    return f"{intent} (suggested by {model}, unreviewed)"


def unclear_name(name: str) -> bool:
    return bool(_UNCLEAR.match(name.lower()))


@dataclass
class AiStage:
    """What the stage needs: a client (the model, cache, log, escalation policy) and the
    library's domain patterns (name -> description) to validate pattern names against."""

    client: LLMClient
    patterns: Mapping[str, str]
    mode: str = "local"
    failures: int = 0
    stopped: str | None = None  # why the stage gave up (the warning line)
    calls: int = 0
    cached: int = 0
    seconds: float = field(default=0.0)

    def _run(self, task: str, context: dict, entry: AiEntry) -> TaskResult | None:
        if self.stopped is not None:
            return None
        result = self.client.run(TASKS[task], context)
        self.calls += 1
        self.cached += result.cached
        if result.outcome == "error":
            self.failures += 1
            if self.failures >= MAX_FAILURES:
                self.stopped = f"{AI_SKIPPED}: {result.errors[-1] if result.errors else 'error'}"
        else:
            self.failures = 0
        entry.calls += 1
        if not result.ok:
            entry.errors.extend(f"{task}: {e}" for e in result.errors[-2:])
            return None
        entry.models.add(f"{result.source}:{result.model}")
        return result

    # ------------------------------------------------------------------ one question

    def _work(self, outcome: FunctionOutcome, similar: list[SimilarEntry]) -> _Work:
        candidates = [
            {"name": hit.name, "description": self.patterns[hit.name]}
            for hit in similar
            if hit.name in self.patterns
        ][:MAX_CANDIDATES]
        base = {
            "name": outcome.name,
            "kind": outcome.kind,
            "features": list(outcome.features),
            "tables": sorted({*outcome.writes, *outcome.tables_written, *outcome.tables_read}),
            "sql": outcome.body,
            "candidates": candidates,
        }
        return _Work(outcome, base, AiEntry())

    def _intent(self, work: _Work) -> None:
        outcome, base, entry = work.outcome, work.base, work.entry
        result = self._run("intent", base, entry)
        if result is None:
            return
        intent = " ".join(result.value.intent.split())
        entry.intent = intent
        applied = outcome.action is not None and not outcome.action.description
        if applied:
            outcome.action.description = ai_description(intent, result.model)
        entry.suggestions.append(
            AiSuggestion(
                "intent",
                {"intent": intent},
                source=result.source,
                model=result.model,
                applied=applied,
                note="" if applied else "the action already has a description",
            )
        )

    def _names(self, work: _Work) -> None:
        base, entry = work.base, work.entry
        action = work.outcome.action
        if action is None:
            return
        declared = [
            (v.name, v.type.name)
            for step in m.walk_steps(action.steps)
            if isinstance(step, m.DeclareStep)
            for v in step.variables
        ]
        every = [(p.name, p.type.name) for p in action.params] + declared
        unclear = [(n, t) for n, t in every if unclear_name(n)][:MAX_NAMES]
        if not unclear:
            return
        context = {
            **base,
            "variables": [{"name": n, "type": t} for n, t in unclear],
            "names": [n for n, _ in unclear],
            "taken": [n for n, _ in every],
        }
        result = self._run("names", context, entry)
        if result is None:
            return
        for rename in result.value.renames:
            if rename.old == rename.new:
                continue
            refused = "an SQL reserved word" if rename.new in SQL_RESERVED else ""
            entry.suggestions.append(
                AiSuggestion(
                    "rename",
                    {"old": rename.old, "new": rename.new, "reason": rename.reason},
                    source=result.source,
                    model=result.model,
                    valid=not refused,
                    applied=False,
                    note=refused or "suggested only: a rename would rewrite the steps",
                )
            )

    def _verdict(self, pattern: str, base: dict, entry: AiEntry):
        context = {**base, "pattern": pattern, "description": self.patterns[pattern]}
        return self._run("pattern_check", context, entry)

    def _check_findings(self, work: _Work) -> None:
        base, entry = work.base, work.entry
        findings = sorted(
            (
                f
                for f in work.outcome.patterns
                if f.score >= CHECK_FLOOR and f.pattern in self.patterns
            ),
            key=lambda f: -f.score,
        )[:MAX_CHECKS]
        for finding in findings:
            result = self._verdict(finding.pattern, base, entry)
            if result is None:
                continue
            verdict = result.value
            before = finding.score
            if verdict.implements:
                # never lower: a finding already above the cap keeps its score
                finding.score = max(before, round(min(CONFIRM_CAP, before + CONFIRM_BONUS), 2))
                finding.evidence.append(f"confirmed by {result.model}: {verdict.reason}")
            entry.suggestions.append(
                AiSuggestion(
                    "pattern_confirmed" if verdict.implements else "pattern_rejected",
                    {
                        "pattern": finding.pattern,
                        "reason": verdict.reason,
                        "confidence": verdict.confidence,
                        "score_before": before,
                        "score_after": finding.score,
                    },
                    source=result.source,
                    model=result.model,
                    applied=finding.score != before,
                    note="" if verdict.implements else "disagrees with the heuristics; kept",
                )
            )

    def _suggest(self, work: _Work) -> None:
        matched = any(f.score >= CHECK_FLOOR for f in work.outcome.patterns)
        if matched or not work.base["candidates"]:
            return
        result = self._run("pattern_suggest", work.base, work.entry)
        if result is not None and result.value.pattern != NONE_PATTERN:
            work.suggestion = result

    def _check_suggestion(self, work: _Work) -> None:
        result = work.suggestion
        if result is None:
            return
        pattern = result.value.pattern
        verdict = self._verdict(pattern, work.base, work.entry)
        agreed = verdict is not None and verdict.value.implements
        if agreed:
            work.outcome.patterns.append(
                PatternFinding(
                    pattern,
                    SUGGESTION_SCORE,
                    [f"suggested by {result.model}: {result.value.reason}"],
                )
            )
        work.entry.suggestions.append(
            AiSuggestion(
                "pattern_suggested",
                {"pattern": pattern, "reason": result.value.reason},
                source=result.source,
                model=result.model,
                valid=agreed,
                applied=agreed,
                note="" if agreed else "the pattern check did not agree",
            )
        )

    # ------------------------------------------------------------------ the run

    def usage(self) -> dict:
        """The stage's figures for the report's summary."""
        return {
            "tasks": self.calls,
            "tasks_cached": self.cached,
            "cost_usd": round(self.client.spent_usd, 6),
            "seconds": round(self.seconds, 3),
            "run_id": self.client.run_id,
        }

    def run(
        self,
        outcomes: list[FunctionOutcome],
        similar: list[list[SimilarEntry]],
        progress: Callable[[str, int, int, str], None] | None = None,
    ) -> list[AiEntry | None]:
        """Every function's questions asked, validated and applied (see the module
        docstring); None for a function the stage never asked about because it stopped.

        One kind of question is asked of every function before the next kind: the prompts of
        a task share their long beginning (instructions and examples), which a local model
        keeps evaluated from one call to the next, so only each function's own part is new.
        Asked function by function, the tasks alternate and every prompt is evaluated whole.
        """
        work = [self._work(o, hits) for o, hits in zip(outcomes, similar, strict=True)]
        phases = (
            self._intent,
            self._names,
            self._check_findings,
            self._suggest,
            self._check_suggestion,
        )
        steps = len(phases) * len(work)
        for number, (phase, item) in enumerate(
            ((phase, item) for phase in phases for item in work), 1
        ):
            if self.stopped is not None:
                break
            start = time.perf_counter()
            phase(item)
            item.entry.seconds += time.perf_counter() - start
            if progress is not None:
                progress("ai", number, steps, item.outcome.name)
        self.seconds += sum(item.entry.seconds for item in work)
        return [item.entry if item.entry.calls else None for item in work]


@dataclass
class _Work:
    """One function on its way through the stage's questions."""

    outcome: FunctionOutcome
    base: dict  # what every prompt about the function is rendered from
    entry: AiEntry
    suggestion: TaskResult | None = None  # a suggested pattern waiting for its check


__all__ = [
    "AI_SKIPPED",
    "CHECK_FLOOR",
    "CONFIRM_BONUS",
    "CONFIRM_CAP",
    "SUGGESTION_SCORE",
    "AiStage",
    "ai_description",
    "unclear_name",
]
