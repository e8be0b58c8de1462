"""Model nodes -> canonical SpecQL YAML (what ``reverse`` writes and people review).

Canonical means: one text per meaning. Keys in a fixed order (entity, schema, subdomain,
description, fields, patterns, actions), fields and params in the shorthand ``type[!][ =
default]`` unless they carry a description (then the mapping form), steps in the forms of
:mod:`specql.dsl.model`, block style throughout, no aliases, strings quoted only when YAML
needs it (double quotes when the text holds a single quote, as SQL literals do), multi-line
text as ``|`` blocks, no line folding. ``load_text(dump(e)) == e`` and ``dump`` of that is the
same text again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from specql.dsl import model as m
from specql.dsl.expressions import quote_ident

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


_NORMALISED_BREAKS = "\r\x85\u2028\u2029"


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


_SpecDumper.add_representer(str, _represent_str)


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
    if entity.patterns:
        data["patterns"] = [_pattern(p) for p in entity.patterns]
    if entity.actions:
        data["actions"] = [_action(a) for a in entity.actions]
    return data


# --------------------------------------------------------------------------- public API


def dump(entity: m.Entity) -> str:
    """Canonical YAML text of one entity spec."""
    return yaml.dump(
        to_data(entity),
        Dumper=_SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,  # never fold: a folded SQL expression is hard to read and to diff
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
