"""The report of a reverse run: JSON (``--json`` / ``--report``) and one self-contained HTML page.

:class:`ReverseReport` is what :func:`specql.reverse.pipeline.reverse` returns. Its JSON form
(:meth:`ReverseReport.to_dict`, schema version :data:`REPORT_VERSION`)::

    {
      "report": "specql-reverse", "version": 1,
      "summary": {files, files_failed, files_resumed, functions, tables, entities,
                  specs_written, errors, warnings, avg_confidence, triage {auto-accept,
                  spot-check, must-review}, parse_paths {ast, rewritten, raw},
                  statements_total, statements_converted, converted_pct, seconds, ok},
      "files":     [{path, functions, tables, statements, ms, resumed, error?, warnings?}],
      "entities":  [{entity, table, spec, actions, patterns, module, notes}],
      "functions": [{name, file, line, col, entity, action, kind, confidence, triage,
                     parse_path, patterns [{pattern, score, evidence}],
                     unconverted [{line, sql, reason}], statements_total,
                     statements_converted, variable_purposes, features,
                     similar [{name, tier, score, cosine, bm25, signals}], ms, error?}],
      "errors":    ["file:line:col: message", ...],     # one line each; any -> exit 1
      "warnings":  ["file:line:col: warning: ...", ...] # one line each
      "timings":   {parse, link, entities, map, map:steps, map:heuristics, retrieval,
                    assemble, write}
    }

``similar`` are the library patterns the function resembles, best first, as the retrieval
stage found them (``signals``: which of embedding / bm25 had it among its candidates);
``summary.retrieval`` says whether that stage ran (``on``), was not asked for (``off``) or
could not run (``failed``, with a warning saying why).

Triage thresholds live here and only here (:data:`AUTO_ACCEPT`, :data:`SPOT_CHECK`).

The HTML page (:func:`render_html`) has the summary, an inline SVG bar chart of triage
decisions and of the confidence distribution, a table of functions sortable by any column,
and per function its patterns with evidence, the library patterns it resembles and what was
not converted. Legacy SQL is
untrusted input: every text goes through :func:`html.escape`, and the page's Content Security
Policy allows no resource but its own inline style and the one script whose hash it names.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from specql.files import write_text_atomic

REPORT_VERSION = 1

# Triage of a function by its confidence (DESIGN §5 "triage": the default thresholds).
AUTO_ACCEPT = 0.95  # confidence >= AUTO_ACCEPT: auto-accept
SPOT_CHECK = 0.80  # SPOT_CHECK <= confidence < AUTO_ACCEPT: spot-check; below: must-review
TRIAGE_ORDER = ("auto-accept", "spot-check", "must-review")
PARSE_PATHS = ("ast", "rewritten", "raw")

# Unconverted SQL is cut to this many characters in the report (the spec keeps all of it).
SQL_PREVIEW = 300
RETRIEVAL_STATES = ("off", "on", "failed")  # ReverseReport.retrieval


def triage(confidence: float) -> str:
    """auto-accept (>= 0.95), spot-check (0.80-0.95) or must-review (< 0.80)."""
    if confidence >= AUTO_ACCEPT:
        return "auto-accept"
    if confidence >= SPOT_CHECK:
        return "spot-check"
    return "must-review"


def truncate(text: str, limit: int = SQL_PREVIEW) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- the model


@dataclass
class PatternEntry:
    pattern: str
    score: float
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"pattern": self.pattern, "score": self.score, "evidence": list(self.evidence)}


@dataclass
class SimilarEntry:
    """A library pattern a function resembles (a retrieval hit). ``score`` is what ranked it
    (a fused rank score for hybrid search); ``cosine`` and ``bm25`` are each signal's own
    score, None when that signal did not consider it."""

    name: str
    tier: int
    score: float
    cosine: float | None = None
    bm25: float | None = None
    signals: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "tier": self.tier,
            "score": round(self.score, 4),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
            "bm25": None if self.bm25 is None else round(self.bm25, 4),
            "signals": list(self.signals),
        }


AI_STATES = ("off", "local", "cloud", "failed")  # ReverseReport.ai


@dataclass
class AiSuggestion:
    """One suggestion of the AI stage: ``kind`` (intent, rename, pattern_confirmed,
    pattern_rejected, pattern_suggested), what it says, which model said it (``source``: local
    or cloud), whether it passed validation and whether it changed the result."""

    kind: str
    detail: dict
    source: str = "local"
    model: str = ""
    valid: bool = True
    applied: bool = False
    note: str = ""  # why it was not applied, or was refused

    def to_dict(self) -> dict:
        data = {
            "kind": self.kind,
            **self.detail,
            "source": self.source,
            "model": self.model,
            "valid": self.valid,
            "applied": self.applied,
        }
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class AiEntry:
    """What the AI stage did for one function."""

    intent: str | None = None
    suggestions: list[AiSuggestion] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # answers refused or calls failed
    calls: int = 0
    models: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def changes(self) -> list[AiSuggestion]:
        return [s for s in self.suggestions if s.applied]

    def to_dict(self) -> dict:
        return {
            "intent": self.intent,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "changed": len(self.changes),
            "errors": list(self.errors),
            "calls": self.calls,
            "models": sorted(self.models),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class UnconvertedEntry:
    line: int
    sql: str
    reason: str

    def to_dict(self) -> dict:
        return {"line": self.line, "sql": truncate(self.sql), "reason": self.reason}


@dataclass
class FunctionEntry:
    name: str  # qualified function name
    file: str
    line: int
    col: int
    entity: str | None  # schema.Entity the action was put on
    action: str | None  # action name in that spec
    kind: str = "function"  # function | trigger | procedure | do
    confidence: float = 0.0
    parse_path: str = "ast"
    patterns: list[PatternEntry] = field(default_factory=list)
    unconverted: list[UnconvertedEntry] = field(default_factory=list)
    statements_total: int = 0
    statements_converted: int = 0
    variable_purposes: dict[str, str] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)  # what its statements do, in words
    similar: list[SimilarEntry] = field(default_factory=list)  # library patterns, best first
    ai: AiEntry | None = None  # what the AI stage suggested and changed (None: it did not run)
    ms: float = 0.0
    error: str | None = None  # the function could not be turned into a valid action

    @property
    def triage(self) -> str:
        return triage(self.confidence)

    def to_dict(self) -> dict:
        data = {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "entity": self.entity,
            "action": self.action,
            "kind": self.kind,
            "confidence": self.confidence,
            "triage": self.triage,
            "parse_path": self.parse_path,
            "patterns": [p.to_dict() for p in self.patterns],
            "unconverted": [u.to_dict() for u in self.unconverted],
            "statements_total": self.statements_total,
            "statements_converted": self.statements_converted,
            "variable_purposes": dict(self.variable_purposes),
            "features": list(self.features),
            "similar": [s.to_dict() for s in self.similar],
            "ms": round(self.ms, 2),
        }
        if self.ai is not None:
            data["ai"] = self.ai.to_dict()
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class FileEntry:
    path: str
    functions: int = 0
    tables: int = 0
    statements: int = 0
    ms: float = 0.0
    resumed: bool = False  # taken from the state of an earlier, interrupted run
    error: str | None = None  # first error of the file, one line
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        data: dict = {
            "path": self.path,
            "functions": self.functions,
            "tables": self.tables,
            "statements": self.statements,
            "ms": round(self.ms, 2),
            "resumed": self.resumed,
        }
        if self.error is not None:
            data["error"] = self.error
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


@dataclass
class EntityEntry:
    entity: str  # schema.Entity
    table: str | None  # the legacy table (None for a module spec)
    spec: str | None  # path of the written spec, relative to the output directory
    actions: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    module: bool = False  # a module spec: functions that write no entity table
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "entity": self.entity,
            "table": self.table,
            "spec": self.spec,
            "actions": list(self.actions),
            "patterns": list(self.patterns),
            "module": self.module,
            "notes": list(self.notes),
        }


@dataclass
class ReverseReport:
    out_dir: str | None = None
    sources: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    entities: list[EntityEntry] = field(default_factory=list)
    functions: list[FunctionEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: int = 0
    specs_written: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage
    retrieval: str = "off"  # one of RETRIEVAL_STATES
    ai: str = "off"  # one of AI_STATES
    ai_usage: dict = field(default_factory=dict)  # calls, cache hits, cost of the AI stage

    # ---- derived figures

    @property
    def ok(self) -> bool:
        """True when everything was read and turned into valid specs without an error."""
        return not self.errors

    @property
    def failed_files(self) -> list[FileEntry]:
        return [f for f in self.files if f.error is not None]

    def triage_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(TRIAGE_ORDER, 0)
        for fn in self.functions:
            counts[fn.triage] += 1
        return counts

    def parse_path_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(PARSE_PATHS, 0)
        for fn in self.functions:
            counts[fn.parse_path] = counts.get(fn.parse_path, 0) + 1
        return counts

    def ai_change_counts(self) -> dict[str, int]:
        """Applied AI suggestions by kind (what the AI stage changed)."""
        counts: dict[str, int] = {}
        for fn in self.functions:
            for change in fn.ai.changes if fn.ai is not None else ():
                counts[change.kind] = counts.get(change.kind, 0) + 1
        return counts

    def summary(self) -> dict:
        total = sum(f.statements_total for f in self.functions)
        converted = sum(f.statements_converted for f in self.functions)
        confidences = [f.confidence for f in self.functions]
        return {
            "files": len(self.files),
            "files_failed": len(self.failed_files),
            "files_resumed": sum(1 for f in self.files if f.resumed),
            "functions": len(self.functions),
            "functions_failed": sum(1 for f in self.functions if f.error is not None),
            "tables": self.tables,
            "entities": len(self.entities),
            "specs_written": len(self.specs_written),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "avg_confidence": round(sum(confidences) / len(confidences), 3) if confidences else 0,
            "triage": self.triage_counts(),
            "parse_paths": self.parse_path_counts(),
            "statements_total": total,
            "statements_converted": converted,
            "converted_pct": round(100 * converted / total, 1) if total else 100.0,
            "retrieval": self.retrieval,
            "functions_with_similar": sum(1 for f in self.functions if f.similar),
            "ai": self.ai,
            "ai_changes": self.ai_change_counts(),
            "ai_usage": dict(self.ai_usage),
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }

    def to_dict(self) -> dict:
        return {
            "report": "specql-reverse",
            "version": REPORT_VERSION,
            "out_dir": self.out_dir,
            "sources": list(self.sources),
            "summary": self.summary(),
            "files": [f.to_dict() for f in self.files],
            "entities": [e.to_dict() for e in self.entities],
            "functions": [f.to_dict() for f in self.functions],
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "timings": dict(self.timings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write_json(self, path: str | os.PathLike) -> Path:
        return write_text_atomic(path, self.to_json())

    def write_html(self, path: str | os.PathLike) -> Path:
        return write_text_atomic(path, render_html(self))


# --------------------------------------------------------------------------- HTML

_TRIAGE_COLOURS = {"auto-accept": "#2e7d32", "spot-check": "#f9a825", "must-review": "#c62828"}

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em}
.muted{color:#666}.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}
.card b{display:block;font-size:1.4em}.charts{display:flex;flex-wrap:wrap;gap:2em}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eee;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f6f6f6;cursor:pointer;user-select:none;
position:sticky;top:0}th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.tag{display:inline-block;border-radius:3px;padding:0 .4em;color:#fff;font-size:.85em}
.pat{display:inline-block;background:#e8eaf6;border-radius:3px;padding:0 .35em;margin:1px;
font-size:.85em}.sim{display:inline-block;background:#e0f2f1;border-radius:3px;padding:0 .35em;
margin:1px;font-size:.85em}.sim small{color:#555}
pre{background:#f7f7f7;padding:.4em;white-space:pre-wrap;word-break:break-word;margin:.3em 0;
max-height:14em;overflow:auto}details{margin:.2em 0}.err{color:#c62828}
ul.lines{padding-left:1.2em;font-family:ui-monospace,monospace;font-size:.9em}
"""

# Sorts the function table by a clicked header (numbers by data-sort, else text).
_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function(table){
  var heads=table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('sorted-asc');
      Array.prototype.forEach.call(heads,function(h){h.classList.remove('sorted-asc','sorted-desc');});
      th.classList.add(asc?'sorted-asc':'sorted-desc');
      var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      function key(row){var c=row.cells[col];var v=c.getAttribute('data-sort');
        if(v!==null&&v!==''&&!isNaN(v))return parseFloat(v);return (v||c.textContent).toLowerCase();}
      rows.sort(function(a,b){var x=key(a),y=key(b);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _script_hash() -> str:
    digest = hashlib.sha256(_SCRIPT.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _bar_chart(title: str, bars: list[tuple[str, int, str]], width: int = 420) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour) per bar."""
    row, label_w, top = 26, 110, 28
    high = max([value for _, value, _ in bars] + [1])
    plot_w = width - label_w - 50
    height = top + row * len(bars) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}">',
        f'<text x="0" y="16" font-weight="bold" font-size="13">{_e(title)}</text>',
    ]
    for i, (label, value, colour) in enumerate(bars):
        y = top + i * row
        w = 0 if value == 0 else max(2, round(plot_w * value / high))
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{_e(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}" '
            f'fill="{_e(colour)}"><title>{_e(label)}: {value}</title></rect>'
        )
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="12">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _confidence_buckets(report: ReverseReport) -> list[tuple[str, int, str]]:
    edges = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)]
    bars = []
    for low, high in edges:
        count = sum(1 for f in report.functions if low <= f.confidence < high)
        label = f"{low:.2f}-{min(high, 1.0):.2f}"
        bars.append((label, count, _TRIAGE_COLOURS[triage(low)]))
    return bars


def _similar_title(s: SimilarEntry) -> str:
    parts = [f"tier {s.tier}", f"score {s.score:.4f}"]
    if s.cosine is not None:
        parts.append(f"cosine {s.cosine:.3f}")
    if s.bm25 is not None:
        parts.append(f"bm25 {s.bm25:.2f}")
    parts.append("found by " + (", ".join(s.signals) or "—"))
    return " · ".join(parts)


def _similar_cell(fn: FunctionEntry) -> str:
    """The library patterns the function resembles, best first; cosine shown, the rest in
    the tooltip. Sorted by the best cosine."""
    spans = " ".join(
        f'<span class="sim" title="{_e(_similar_title(s))}">{_e(s.name)}'
        + (f" <small>{s.cosine:.2f}</small>" if s.cosine is not None else "")
        + "</span>"
        for s in fn.similar
    )
    best = max((s.cosine for s in fn.similar if s.cosine is not None), default=-1.0)
    return f'<td data-sort="{best:.4f}">{spans}</td>'


def _function_row(fn: FunctionEntry, index: int) -> str:
    colour = _TRIAGE_COLOURS[fn.triage]
    patterns = " ".join(
        f'<span class="pat" title="{_e("; ".join(p.evidence))}">{_e(p.pattern)} '
        f"{p.score:.2f}</span>"
        for p in fn.patterns
    )
    details: list[str] = []
    for p in fn.patterns:
        items = "".join(f"<li>{_e(ev)}</li>" for ev in p.evidence)
        details.append(
            f'<div><b>{_e(p.pattern)}</b> ({p.score:.2f})<ul class="lines">{items}</ul></div>'
        )
    for u in fn.unconverted:
        details.append(
            f"<div>line {u.line}: <i>{_e(u.reason)}</i><pre>{_e(truncate(u.sql))}</pre></div>"
        )
    details.extend(_ai_details(fn.ai))
    ai_count = f", {len(fn.ai.suggestions)} AI suggestion(s)" if fn.ai and fn.ai.suggestions else ""
    if fn.error:
        details.append(f'<div class="err">{_e(fn.error)}</div>')
    more = (
        f"<details><summary>{len(fn.patterns)} pattern(s), {len(fn.unconverted)} "
        f"unconverted{ai_count}</summary>{''.join(details)}</details>"
        if details
        else ""
    )
    converted = f"{fn.statements_converted}/{fn.statements_total}" if fn.statements_total else "—"
    intent = f'<div class="muted">AI: {_e(fn.ai.intent)}</div>' if fn.ai and fn.ai.intent else ""
    share = fn.statements_converted / fn.statements_total if fn.statements_total else 1.0
    return (
        f'<tr id="fn-{index}">'
        f'<td>{_e(fn.name)}<div class="muted">{_e(fn.file)}:{fn.line}</div>{intent}</td>'
        f'<td>{_e(fn.entity or "")}<div class="muted">{_e(fn.action or "")}</div></td>'
        f'<td class="num" data-sort="{fn.confidence:.4f}">{fn.confidence:.2f}</td>'
        f'<td data-sort="{TRIAGE_ORDER.index(fn.triage)}"><span class="tag" '
        f'style="background:{colour}">{_e(fn.triage)}</span></td>'
        f'<td class="num" data-sort="{share:.4f}">{_e(converted)}</td>'
        f"<td>{_e(fn.parse_path)}</td>"
        f"<td>{patterns}{more}</td>"
        f"{_similar_cell(fn)}"
        f'<td class="num" data-sort="{fn.ms:.3f}">{fn.ms:.1f}</td>'
        "</tr>"
    )


def _ai_details(ai: AiEntry | None) -> list[str]:
    """What the AI stage suggested for a function: each suggestion with its model, whether it
    passed validation and whether it changed anything."""
    if ai is None:
        return []
    items = []
    for s in ai.suggestions:
        what = ", ".join(f"{k}: {v}" for k, v in s.detail.items())
        state = "applied" if s.applied else ("valid, not applied" if s.valid else "refused")
        note = f" — {s.note}" if s.note else ""
        items.append(
            f"<li><b>{_e(s.kind)}</b> {_e(what)} <i>({_e(s.source)} {_e(s.model)}: "
            f"{state}{_e(note)})</i></li>"
        )
    items.extend(f'<li class="err">{_e(e)}</li>' for e in ai.errors)
    if not items:
        return []
    return [f'<div><b>AI suggestions</b><ul class="lines">{"".join(items)}</ul></div>']


def _ai_card(summary: dict) -> str:
    if summary["ai"] not in ("local", "cloud"):
        return summary["ai"]
    return f"{summary['ai']}: {sum(summary['ai_changes'].values())} change(s)"


def _retrieval_card(summary: dict) -> str:
    if summary["retrieval"] != "on":
        return summary["retrieval"]
    return f"{summary['functions_with_similar']}/{summary['functions']} matched"


def render_html(report: ReverseReport) -> str:
    """The report as one self-contained HTML page (no external resources)."""
    s = report.summary()
    cards = [
        ("files", s["files"]),
        ("functions", s["functions"]),
        ("entities", s["entities"]),
        ("specs written", s["specs_written"]),
        ("avg confidence", f"{s['avg_confidence']:.2f}"),
        ("statements converted", f"{s['converted_pct']}%"),
        ("errors", s["errors"]),
        ("retrieval", _retrieval_card(s)),
        ("AI", _ai_card(s)),
    ]
    card_html = "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards)
    triage_bars = [(t, s["triage"][t], _TRIAGE_COLOURS[t]) for t in TRIAGE_ORDER]
    charts = _bar_chart("Triage", triage_bars) + _bar_chart(
        "Confidence", _confidence_buckets(report)
    )
    pattern_counts: dict[str, int] = {}
    for fn in report.functions:
        for p in fn.patterns:
            pattern_counts[p.pattern] = pattern_counts.get(p.pattern, 0) + 1
    if pattern_counts:
        charts += _bar_chart(
            "Patterns detected",
            [(k, v, "#3949ab") for k, v in sorted(pattern_counts.items(), key=lambda kv: -kv[1])],
        )
    closest: dict[str, int] = {}
    for fn in report.functions:
        if fn.similar:
            closest[fn.similar[0].name] = closest.get(fn.similar[0].name, 0) + 1
    if closest:
        charts += _bar_chart(
            "Closest library pattern",
            [(k, v, "#00897b") for k, v in sorted(closest.items(), key=lambda kv: -kv[1])],
        )
    rows = "".join(_function_row(fn, i) for i, fn in enumerate(report.functions))
    entity_rows = "".join(
        f"<tr><td>{_e(e.entity)}</td><td>{_e(e.table or '(module)')}</td>"
        f"<td>{_e(e.spec or '')}</td><td>{_e(', '.join(e.actions))}</td>"
        f"<td>{_e(', '.join(e.patterns))}</td></tr>"
        for e in report.entities
    )
    problems = "".join(f'<li class="err">{_e(line)}</li>' for line in report.errors) + "".join(
        f"<li>{_e(line)}</li>" for line in report.warnings
    )
    files_failed = "".join(f"<li>{_e(f.path)}: {_e(f.error)}</li>" for f in report.files if f.error)
    status = "everything converted" if report.ok else f"{len(report.errors)} error(s)"
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_script_hash()}'"
    )
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',  # ours, no quote
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>specql reverse report</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<h1>specql reverse report</h1>",
            f'<div class="muted">{_e(", ".join(report.sources))} → '
            f"{_e(report.out_dir or '(no output)')} · {_e(status)} · "
            f"{s['seconds']:.2f} s</div>",
            f'<div class="cards">{card_html}</div>',
            f'<div class="charts">{charts}</div>',
            "<h2>Functions</h2>",
            '<p class="muted">Click a column to sort. Triage: auto-accept ≥ '
            f"{AUTO_ACCEPT:.2f}, spot-check ≥ {SPOT_CHECK:.2f}, must-review below. Similar "
            "library patterns: best first, with the embedding's cosine similarity (hover for "
            "every score).</p>",
            '<table class="sortable"><thead><tr><th>function</th><th>entity / action</th>'
            "<th>confidence</th><th>triage</th><th>converted</th><th>parse</th>"
            "<th>patterns &amp; unconverted</th><th>similar library patterns</th>"
            "<th>ms</th></tr></thead>",
            f"<tbody>{rows}</tbody></table>",
            "<h2>Specs</h2>",
            "<table><thead><tr><th>entity</th><th>legacy table</th><th>spec</th>"
            f"<th>actions</th><th>patterns</th></tr></thead><tbody>{entity_rows}</tbody></table>",
            "<h2>Problems</h2>",
            f'<ul class="lines">{problems or "<li>none</li>"}</ul>',
            f"<ul>{files_failed}</ul>" if files_failed else "",
            f"<script>{_SCRIPT}</script></body></html>\n",
        ]
    )


__all__ = [
    "AUTO_ACCEPT",
    "REPORT_VERSION",
    "RETRIEVAL_STATES",
    "SPOT_CHECK",
    "TRIAGE_ORDER",
    "EntityEntry",
    "FileEntry",
    "FunctionEntry",
    "PatternEntry",
    "ReverseReport",
    "SimilarEntry",
    "UnconvertedEntry",
    "render_html",
    "triage",
    "truncate",
]
