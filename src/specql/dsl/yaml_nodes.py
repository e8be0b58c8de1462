"""Untrusted YAML text -> a small tree of positioned nodes.

Why not ``yaml.compose``: its C composer recurses once per nesting level and crashes the
interpreter (a segfault, not an exception) on a few hundred kilobytes of ``[[[[...``, and it
expands aliases into shared nodes (the "billion laughs" bomb). Here the events of libyaml's
parser (iterative; PyYAML's own parser when libyaml is missing) are folded into nodes with an
explicit stack, so depth, node count and aliases are checked *while* reading and the first
problem stops the work. The parser is driven directly (not through ``yaml.parse``'s generator
and loader) and plain scalars' tags are kept per text: the events cost little next to that.

Scalars keep their raw text (``value``) *and* the tag YAML 1.1 would resolve them to: the
dialect reads names and SQL as the raw text (``no`` stays the word "no", ``0.50`` stays
``0.50``), while ``nullable: false`` is read through the tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.resolver import Resolver

from specql.errors import SourcePos, SpecqlError

MAX_DEPTH = 64  # nesting of mappings/sequences; a spec needs about 12
MAX_NODES = 200_000  # about 10x the largest real spec we have seen

TAG_PREFIX = "tag:yaml.org,2002:"


@dataclass(slots=True, eq=False)
class YNode:
    """A YAML node: ``kind`` is ``scalar``, ``map`` or ``seq``.

    scalar: ``value`` raw text, ``tag`` the resolved short tag (``str``, ``int``, ``float``,
    ``bool``, ``null``, ...), ``style`` the quoting (None plain, ``'``, ``"``, ``|``, ``>``).
    map: ``pairs`` (key, value) in order.  seq: ``items``.
    """

    kind: str
    pos: SourcePos
    value: str = ""
    tag: str = ""
    style: str | None = None
    end_line: int = 0
    pairs: list[tuple[YNode, YNode]] = field(default_factory=list)
    items: list[YNode] = field(default_factory=list)

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.tag == "null"

    def describe(self) -> str:
        """How to name this node in an error: 'a mapping', 'a list', 'the number 3'."""
        if self.kind == "map":
            return "a mapping"
        if self.kind == "seq":
            return "a list"
        if self.is_null:
            return "nothing"
        return f"{self.value!r}"


def _pos(file: str, mark) -> SourcePos:
    return SourcePos(file, mark.line + 1, mark.column + 1)


def _short_tag(tag: str | None) -> str:
    if tag and tag.startswith(TAG_PREFIX):
        return tag[len(TAG_PREFIX) :]
    return tag or "str"


def _error_from_yaml(exc: yaml.YAMLError, text: str, file: str) -> SpecqlError:
    """PyYAML's multi-line error -> one positioned line."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "invalid YAML: " + ", ".join(parts)
        return SpecqlError(message, _pos(file, mark))
    if isinstance(exc, yaml.reader.ReaderError):
        offset = exc.position
        line = text.count("\n", 0, offset) + 1
        col = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return SpecqlError(
            f"invalid YAML: unacceptable character #x{exc.character:04x}"
            if isinstance(exc.character, int)
            else f"invalid YAML: {exc.reason}",
            SourcePos(file, line, col),
        )
    return SpecqlError(f"invalid YAML: {exc}", SourcePos(file, 1, 1))


def _parser(text: str):
    """A parser of ``text``'s events: libyaml's (iterative) when PyYAML has it."""
    if _CParser is not None:
        return _CParser(text)
    return yaml.SafeLoader(text)


_CParser = getattr(getattr(yaml, "cyaml", None), "CParser", None) if yaml.__with_libyaml__ else None
_RESOLVER = Resolver()
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> its short tag (YAML 1.1 resolution)
_MAX_PLAIN_TAGS = 50_000


def _plain_tag(value: str) -> str:
    tag = _PLAIN_TAGS.get(value)
    if tag is None:
        tag = _short_tag(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)))
        if len(value) <= 200:  # names and types recur; long SQL texts seldom do
            if len(_PLAIN_TAGS) >= _MAX_PLAIN_TAGS:
                _PLAIN_TAGS.clear()
            _PLAIN_TAGS[value] = tag
    return tag


_SCALAR = yaml.ScalarEvent
_MAP_START = yaml.MappingStartEvent
_SEQ_START = yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_STR = "str"


def compose(text: str, file: str) -> YNode | None:
    """The single document of ``text`` as a node tree (None for an empty document).

    Raises SpecqlError for malformed YAML, several documents, aliases, too deep nesting or too
    many nodes.
    """
    stack: list[YNode] = []  # open containers
    pending_key: list[YNode | None] = []  # per open mapping: the key awaiting its value
    root: YNode | None = None
    documents = 0
    nodes = 0

    try:
        parser = _parser(text)
        get_event = parser.get_event
        while True:
            event = get_event()
            if event is None:
                break
            kind = type(event)
            if kind is _SCALAR:
                nodes += 1
                if nodes > MAX_NODES:
                    raise SpecqlError(
                        f"too many YAML nodes (more than {MAX_NODES})",
                        _pos(file, event.start_mark),
                    )
                tag = event.tag
                if tag is None or tag == "!":  # quoted: a string whatever it reads
                    tag = _plain_tag(event.value) if event.implicit[0] else _STR
                else:
                    tag = _short_tag(tag)
                mark = event.start_mark
                node = YNode(
                    "scalar",
                    SourcePos(file, mark.line + 1, mark.column + 1),
                    event.value,
                    tag,
                    event.style or None,
                    event.end_mark.line + 1,
                )
            elif kind is _MAP_START or kind is _SEQ_START:
                nodes += 1
                if nodes > MAX_NODES:
                    raise SpecqlError(
                        f"too many YAML nodes (more than {MAX_NODES})",
                        _pos(file, event.start_mark),
                    )
                if len(stack) >= MAX_DEPTH:
                    raise SpecqlError(
                        f"YAML nested deeper than {MAX_DEPTH} levels",
                        _pos(file, event.start_mark),
                    )
                node = YNode("map" if kind is _MAP_START else "seq", _pos(file, event.start_mark))
            elif kind in _ENDS:
                stack.pop().end_line = event.end_mark.line + 1
                pending_key.pop()
                continue
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise SpecqlError(
                        "a spec file holds one YAML document; found a second '---'",
                        _pos(file, event.start_mark),
                    )
                continue
            elif kind is yaml.AliasEvent:
                raise SpecqlError(
                    f"YAML aliases (*{event.anchor}) are not allowed in specs; write the value out",
                    _pos(file, event.start_mark),
                )
            else:  # stream start/end, document end
                continue
            # attach the node to its parent
            if not stack:
                root = node
            else:
                parent = stack[-1]
                if parent.kind == "seq":
                    parent.items.append(node)
                elif pending_key[-1] is None:
                    pending_key[-1] = node
                else:
                    parent.pairs.append((pending_key[-1], node))
                    pending_key[-1] = None
            if kind is not _SCALAR:
                stack.append(node)
                pending_key.append(None)
    except yaml.YAMLError as exc:
        raise _error_from_yaml(exc, text, file) from None
    except UnicodeEncodeError as exc:  # lone surrogates in a str given to load_text
        raise SpecqlError(
            f"text is not valid Unicode at character {exc.start}", SourcePos(file, 1, 1)
        ) from None
    return root
