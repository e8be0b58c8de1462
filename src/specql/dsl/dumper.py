"""Model nodes -> canonical SpecQL YAML (what ``reverse`` writes and people review).

Canonical means: one text per meaning. Keys in a fixed order (entity, schema, subdomain,
description, fields, indexes, patterns, actions), fields and params in the shorthand ``type[!][ =
default]`` unless they carry a description (then the mapping form), indexes as ``- fields: [a,
b]`` or ``- expression: ...`` then ``unique: true`` and ``name:`` when set, steps in the forms of
:mod:`specql.dsl.model`, block style throughout but for an index's field list, no aliases, strings quoted only when YAML
needs it (double quotes when the text holds a single quote, as SQL literals do), multi-line
text as ``|`` blocks, no line folding. ``load_text(dump(e)) == e`` and ``dump`` of that is the
same text again.

Speed: :func:`dump` writes the text itself (:class:`_BlockWriter`) and takes PyYAML's Python
emitter, the reference, only for what that writer does not cover (see :func:`_fast_text`):
the same analysis and style choices (PyYAML's own ``analyze_scalar``, kept per string), the same
text byte for byte (tests compare the two on every spec we have and on generated ones), about
six times faster. libyaml's emitter is not used: it cannot indent block sequences under their
key, and it analyses scalars its own way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import yaml

from specql.dsl import model as m
from specql.dsl.expressions import quote_ident

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


_NORMALISED_BREAKS = "\r\x85\u2028\u2029"
_WIDTH = 1_000_000  # never fold: a folded SQL expression is hard to read and to diff


class _SpecDumper(yaml.SafeDumper):
    """SafeDumper with the spec house style."""

    def ignore_aliases(self, data) -> bool:
        return True  # the loader refuses aliases; never write one

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        # Indent list items under their key (``steps:\n  - validate: ...``), as people write.
        return super().increase_indent(flow, False)

    def choose_scalar_style(self):
        # YAML normalises these line breaks in every style but double-quoted (where they are
        # escaped): anything else would not load back as the same text.
        if any(ch in self.event.value for ch in _NORMALISED_BREAKS):
            return '"'
        style = super().choose_scalar_style()
        # 'it''s' reads badly and SQL literals are full of single quotes: prefer "'lead'".
        if style == "'" and "'" in self.event.value:
            return '"'
        return style


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _FlowList(list):
    """A list written in flow style (``[a, b]``): an index's field names read best on one line."""


def _represent_flow_list(dumper: yaml.SafeDumper, value: _FlowList):
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_SpecDumper.add_representer(str, _represent_str)
_SpecDumper.add_representer(_FlowList, _represent_flow_list)


# --------------------------------------------------------------------------- nodes -> data


def _typed_shorthand(type_: m.TypeRef, nullable: bool, default: str | None) -> str:
    text = str(type_) + ("" if nullable else "!")
    return f"{text} = {default}" if default is not None else text


def _shorthand_fits(default: str | None, description: str | None) -> bool:
    # The shorthand strips around ' = ', so a default with outer spaces needs the mapping.
    return description is None and (default is None or bool(default and default == default.strip()))


def _typed(node: m.Field | m.Param):
    if _shorthand_fits(node.default, node.description):
        return _typed_shorthand(node.type, node.nullable, node.default)
    data: dict = {"type": str(node.type)}
    if not node.nullable:
        data["nullable"] = False
    if node.default is not None:
        data["default"] = node.default
    if node.description is not None:
        data["description"] = node.description
    return data


def _index(index: m.Index) -> dict:
    data: dict = (
        {"fields": _FlowList(index.fields)}
        if index.expression is None
        else {"expression": index.expression}
    )
    if index.unique:
        data["unique"] = True
    if index.name is not None:
        data["name"] = index.name
    return data


def _pattern(use: m.PatternUse):
    if not use.params:
        return use.name
    return {"pattern": use.name, "params": use.params}


def _with_where(head: str, where: str | None) -> str:
    return f"{head} WHERE {where}" if where is not None else head


def _step(step: m.Step) -> dict:
    """One step in its documented YAML form (kind key first)."""
    return _STEP_FORMS[type(step)](step)


def _steps(steps: list[m.Step]) -> list[dict]:
    return [_step(s) for s in steps]


def _optional(data: dict, **extra) -> dict:
    data.update({k.rstrip("_"): v for k, v in extra.items() if v is not None})
    return data


def _declare(s: m.DeclareStep) -> dict:
    # Variables have only the shorthand, which strips around ' = ' (an empty default means
    # nothing in SQL, so it is left out).
    return {
        "declare": {
            var.name: _typed_shorthand(var.type, True, (var.default or "").strip() or None)
            for var in s.variables
        }
    }


def _notify(s: m.NotifyStep) -> dict:
    body: dict = {"channel": s.channel}
    if s.payload:
        body["payload"] = dict(s.payload)
    return {"notify": body}


_STEP_FORMS = {
    m.ValidateStep: lambda s: _optional(
        {"validate": s.condition, "error": s.error}, message=s.message
    ),
    m.IfStep: lambda s: {
        "if": s.condition,
        "then": _steps(s.then),
        **({"else": _steps(s.else_)} if s.else_ else {}),
    },
    m.InsertStep: lambda s: _optional(
        {"insert": s.entity, **({"values": dict(s.values)} if s.values else {})}, as_=s.as_
    ),
    m.UpdateStep: lambda s: {
        "update": _with_where(
            f"{s.entity} SET "
            + ", ".join(f"{quote_ident(k)} = {v}" for k, v in s.assignments.items()),
            s.where,
        )
    },
    m.DeleteStep: lambda s: {
        "delete": _with_where(s.entity, s.where),
        **({"hard": True} if s.hard else {}),
    },
    m.FindStep: lambda s: _optional(
        {"find": _with_where(s.entity, s.where), "into": s.into}, error=s.error
    ),
    m.QueryStep: lambda s: {"query": s.sql, "into": s.into},
    m.DeclareStep: _declare,
    m.AssignStep: lambda s: {"assign": f"{s.target} = {s.expression}"},
    m.CallStep: lambda s: _optional({"call": s.call}, store=s.store),
    m.NotifyStep: _notify,
    m.RejectStep: lambda s: _optional({"reject": s.error}, message=s.message),
    m.ForeachStep: lambda s: {"foreach": s.variable, "in": s.query, "do": _steps(s.body)},
    m.ReturnStep: lambda s: {"return": s.expression},
    m.RawSqlStep: lambda s: {"raw_sql": s.sql, **({"reason": s.reason} if s.reason else {})},
}


def _action(action: m.Action) -> dict:
    data: dict = {"name": action.name}
    if action.description is not None:
        data["description"] = action.description
    if action.params:
        data["params"] = {p.name: _typed(p) for p in action.params}
    data["steps"] = _steps(action.steps)
    return data


def to_data(entity: m.Entity) -> dict:
    """The entity as plain YAML-ready data, keys in canonical order."""
    data: dict = {"entity": entity.name, "schema": entity.schema}
    if entity.subdomain is not None:
        data["subdomain"] = entity.subdomain
    if entity.description is not None:
        data["description"] = entity.description
    if entity.fields:
        data["fields"] = {f.name: _typed(f) for f in entity.fields}
    if entity.indexes:
        data["indexes"] = [_index(i) for i in entity.indexes]
    if entity.patterns:
        data["patterns"] = [_pattern(p) for p in entity.patterns]
    if entity.actions:
        data["actions"] = [_action(a) for a in entity.actions]
    return data


# --------------------------------------------------------------------------- fast writer

# What _BlockWriter leaves to PyYAML: keys YAML cannot write as simple keys (PyYAML's limit is
# 128 characters with the "!!str" tag it counts), and long scalars (PyYAML folds a line past
# _WIDTH columns even when asked not to; with scalars this short, no line gets near).
_MAX_KEY = 122
_MAX_SCALAR = 50_000
_STR_TAG = "tag:yaml.org,2002:str"
_BREAKS = "\n\x85\u2028\u2029"
_ESCAPES = yaml.emitter.Emitter.ESCAPE_REPLACEMENTS
# What write_double_quoted escapes (allow_unicode=True).
_NEEDS_ESCAPE = re.compile('["\\\\\x85\u2028\u2029\ufeff]|[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]')
_STYLES: dict[str, tuple[str, str]] = {}  # text -> (style as a value, style as a key)
_MAX_STYLES = 50_000
_MAX_KEPT_STYLE = 200


class _Unsupported(Exception):
    """Data _BlockWriter does not write: the caller falls back to PyYAML."""


def _styles(text: str) -> tuple[str, str]:
    """The scalar style PyYAML's emitter, with _SpecDumper's choices, gives ``text`` as a block
    value (or sequence item) and as a simple mapping key: '' plain, "'", '"' or '|'."""
    found = _STYLES.get(text)
    if found is None:
        found = (_choose(text, False), _choose(text, True))
        if len(text) <= _MAX_KEPT_STYLE:  # names and types recur; long SQL texts seldom do
            if len(_STYLES) >= _MAX_STYLES:
                _STYLES.clear()
            _STYLES[text] = found
    return found


_RESOLVER = yaml.resolver.Resolver()
_WS = "\0 \t\r\n\x85\u2028\u2029"  # what analyze_scalar counts as whitespace around a character
_LINE_BREAK = re.compile("[\n\x85\u2028\u2029]")
_BREAK_SPACE = re.compile("[\n\x85\u2028\u2029] ")
_SPACE_BREAK = re.compile(" [\n\x85\u2028\u2029]")
# Characters analyze_scalar calls special with allow_unicode=True (only double quotes take them).
_SPECIAL = re.compile("[^\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010fffe]|\ufeff")
# Block indicators after the first character: ": " (or a final ':'), " #".
_BLOCK_INDICATOR = re.compile(f":(?=[{_WS}]|\\Z)|[{_WS}]#")
_FIRST_INDICATORS = "#,[]{}&*!|>'\"%@`"


class _Analysis(NamedTuple):
    """The fields of PyYAML's ScalarAnalysis that block-style choices read."""

    empty: bool
    multiline: bool
    allow_block_plain: bool
    allow_single_quoted: bool
    allow_block: bool


def _analyse(text: str) -> _Analysis:
    """yaml.emitter.Emitter.analyze_scalar (allow_unicode=True) with regular expressions
    instead of its loop over characters (tests compare the two)."""
    if not text:
        return _Analysis(True, False, True, True, False)
    first, last = text[0], text[-1]
    line_breaks = _LINE_BREAK.search(text) is not None
    special = _SPECIAL.search(text) is not None
    break_space = line_breaks and _BREAK_SPACE.search(text) is not None
    space_break = line_breaks and _SPACE_BREAK.search(text) is not None
    block_indicators = (
        text.startswith(("---", "..."))
        or first in _FIRST_INDICATORS
        or (first in "?-" and (len(text) == 1 or text[1] in _WS))
        or _BLOCK_INDICATOR.search(text) is not None
    )
    edge_space = first == " " or last == " " or first in _BREAKS or last in _BREAKS
    quoted_ok = not (break_space or space_break or special)
    return _Analysis(
        empty=False,
        multiline=line_breaks,
        allow_block_plain=quoted_ok and not (edge_space or line_breaks or block_indicators),
        allow_single_quoted=quoted_ok,
        allow_block=not (space_break or special or last == " "),
    )


def _choose(text: str, key: bool) -> str:
    """Emitter.choose_scalar_style (block context) as _SpecDumper overrides it, for a str
    represented by _represent_str (style "|" when it holds a newline)."""
    if any(ch in text for ch in _NORMALISED_BREAKS):
        return '"'
    a = _analyse(text)
    requested = "|" if "\n" in text else None
    if (
        not requested
        and not (key and (a.empty or a.multiline))
        and a.allow_block_plain
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    ):
        return ""
    if requested and not key and a.allow_block:
        return "|"
    if not requested and a.allow_single_quoted and not (key and a.multiline):
        return '"' if "'" in text else "'"
    return '"'


def _escape(match: re.Match) -> str:
    ch = match.group()
    if ch in _ESCAPES:
        return "\\" + _ESCAPES[ch]
    if ch <= "\xff":
        return f"\\x{ord(ch):02X}"
    if ch <= "\uffff":
        return f"\\u{ord(ch):04X}"
    return f"\\U{ord(ch):08X}"


def _literal(text: str, indent: int) -> str:
    """Emitter.write_literal after a ``key:`` or ``-`` (the only breaks are newlines: the
    others are written double-quoted), ending with its line break."""
    hints = ""
    if text[0] in " \n":
        hints = "2"
    if text[-1] != "\n":
        hints += "-"
    elif len(text) == 1 or text[-2] == "\n":
        hints += "+"
    pad = " " * indent
    lines = text.split("\n")
    if text[-1] == "\n":
        lines.pop()
    return f" |{hints}\n" + "".join(pad + line + "\n" if line else "\n" for line in lines)


_NAME_LIKE = re.compile(r"[A-Za-z0-9_]+\Z")


def _flow_item(item) -> str:
    """An item of a flow list, for names only: a word of letters, digits and '_' has no flow
    indicator, so PyYAML styles it in a flow list as it would as a block value (plain, or
    single-quoted when it reads as something else: ``'no'``, ``'1'``)."""
    if type(item) is not str or not _NAME_LIKE.match(item):
        raise _Unsupported
    return f"'{item}'" if _styles(item)[0] else item


class _BlockWriter:
    """Block-style YAML exactly as _SpecDumper writes it, for dicts (str keys), lists, str,
    bool, int and None; raises _Unsupported for anything else."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.line_start = True  # nothing written on the current line yet
        self.open_ended = False  # the last scalar was a "|+" literal

    def text(self, data: dict) -> str:
        self.mapping(data, 0, False)
        out = self.out
        if not self.line_start:
            out.append("\n")
        if self.open_ended:
            out.append("...\n")
        return "".join(out)

    def mapping(self, data: dict, indent: int, after_dash: bool) -> None:
        out = self.out
        pad = " " * indent
        for key, value in data.items():
            if type(key) is not str or not key or len(key) > _MAX_KEY:
                raise _Unsupported
            if after_dash:  # "- key": the first key shares the item's line
                out.append(" ")
                after_dash = False
            elif self.line_start:
                out.append(pad)
            else:
                out.append("\n" + pad)
            style = _styles(key)[1]
            if style == "":
                out.append(key)
            elif style == "'":
                out.append(f"'{key}'")
            elif style == '"' and not any(ch in key for ch in _BREAKS):
                out.append('"' + _NEEDS_ESCAPE.sub(_escape, key) + '"')
            else:
                raise _Unsupported  # a multi-line key
            out.append(":")
            self.open_ended = False
            self.line_start = False
            self.value(value, indent)

    def value(self, value, indent: int) -> None:
        """``value`` after ``key:`` (mapping at ``indent``) or ``-`` (sequence at ``indent``)."""
        out = self.out
        kind = type(value)
        if kind is str:
            if len(value) > _MAX_SCALAR:
                raise _Unsupported
            style = _styles(value)[0]
            if style == "":
                out.append(" " + value)
            elif style == "|":
                out.append(_literal(value, indent + 2))
                self.line_start = True
                self.open_ended = value[-1] == "\n" and (len(value) == 1 or value[-2] == "\n")
                return
            elif style == "'":
                out.append(f" '{value}'")
            else:
                out.append(' "' + _NEEDS_ESCAPE.sub(_escape, value) + '"')
            self.open_ended = False
        elif kind is bool:
            out.append(" true" if value else " false")
        elif value is None:
            out.append(" null")
        elif kind is int:  # pattern params
            out.append(f" {value}")
        elif kind is dict:
            if not value:
                out.append(" {}")
                self.open_ended = False
            else:
                self.mapping(value, indent + 2, False)
            return
        elif kind is list:
            if not value:
                out.append(" []")
                self.open_ended = False
            else:
                self.sequence(value, indent + 2)
            return
        elif kind is _FlowList:
            out.append(" [" + ", ".join(map(_flow_item, value)) + "]")
            self.open_ended = False
        else:
            raise _Unsupported
        self.line_start = False

    def sequence(self, items: list, indent: int) -> None:
        out = self.out
        pad = " " * indent
        for item in items:
            out.append(pad + "-" if self.line_start else "\n" + pad + "-")
            self.open_ended = False
            self.line_start = False
            kind = type(item)
            if kind is dict and item:
                self.mapping(item, indent + 2, True)
            elif kind is list or kind is dict:
                raise _Unsupported  # "- - x", "- {}": not in specs
            else:
                self.value(item, indent)


def _fast_text(data: dict) -> str | None:
    """``data`` as _SpecDumper writes it, or None when _BlockWriter does not cover it."""
    try:
        return _BlockWriter().text(data)
    except _Unsupported:
        return None


# --------------------------------------------------------------------------- public API


def dump(entity: m.Entity) -> str:
    """Canonical YAML text of one entity spec."""
    data = to_data(entity)
    text = _fast_text(data)
    return text if text is not None else _pyyaml_text(data)


def _pyyaml_text(data: dict) -> str:
    """The reference: PyYAML's emitter with the house style."""
    return yaml.dump(
        data,
        Dumper=_SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_WIDTH,
    )


def spec_path(entity: m.Entity) -> Path:
    """Where a spec goes in a spec directory: ``<schema>/<snake_name>.yaml``."""
    return Path(entity.schema) / f"{_CAMEL_BOUNDARY.sub('_', entity.name).lower()}.yaml"


def write_specs(entities: list[m.Entity], directory: str | os.PathLike) -> list[Path]:
    """Write each entity to ``directory/<schema>/<snake_name>.yaml``; returns the paths.

    A file whose content is already identical is left untouched (its mtime too), so writing
    twice changes nothing.
    """
    written: list[Path] = []
    for entity in entities:
        path = Path(directory) / spec_path(entity)
        text = dump(entity)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
