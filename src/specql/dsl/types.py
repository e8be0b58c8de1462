"""The SpecQL type language: parse a type text into a :class:`~specql.dsl.model.TypeRef`.

Grammar (whitespace allowed between tokens)::

    type   := name                        basic or rich scalar: text, integer, email, ...
            | "numeric" "(" p ["," s] ")"   1 <= p <= 1000, 0 <= s <= p
            | "enum" "(" label {"," label} ")"
            | "ref" "(" [schema "."] Entity ")"
            | "list" "(" type ")"           nested lists allowed, list of ref is not

Unknown names are an error, never a silent fallback to text: a typo in a spec must not become
a TEXT column. Rich scalars are plain data (:data:`RICH_TYPES`) so every generator (PostgreSQL,
Django, SQLAlchemy) derives its column type and constraint from the same definition.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from specql.dsl.model import TypeRef
from specql.errors import SourcePos, SpecqlError

# --------------------------------------------------------------------------- basic types

BASIC_TYPES: tuple[str, ...] = (
    "text",
    "integer",
    "bigint",
    "smallint",
    "numeric",
    "float",
    "boolean",
    "date",
    "datetime",
    "time",
    "duration",
    "uuid",
    "json",
)

# Basic types that take numeric arguments, and how many at most: numeric(p) / numeric(p,s).
_MAX_ARGS: dict[str, int] = {"numeric": 2}

# PostgreSQL's own limit for NUMERIC precision.
MAX_NUMERIC_PRECISION = 1000

# The value family a basic type belongs to: what generators and the validator reason about
# (e.g. "is a default of 0 plausible", "which Python type").
_BASIC_FAMILY: dict[str, str] = {
    "text": "text",
    "integer": "integer",
    "bigint": "integer",
    "smallint": "integer",
    "numeric": "decimal",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "duration": "duration",
    "uuid": "uuid",
    "json": "json",
}


# --------------------------------------------------------------------------- rich types


@dataclass(frozen=True, slots=True)
class RichType:
    """A named scalar with a constraint, defined independently of any target language.

    ``base`` is a basic type text (``text``, ``numeric(19,4)``). ``pattern`` is a regular
    expression that must match the whole value; it keeps to the subset PostgreSQL POSIX
    regexes (``~``) and Python ``re`` read the same way: ``[0-9]`` rather than ``\\d``, no
    lookarounds, no ``\\b``, plain groups. It is anchored with ``^...$`` (Python callers should
    still use ``re.fullmatch``: Python's ``$`` accepts a trailing newline). ``minimum`` and
    ``maximum`` bound numeric values, inclusive.
    """

    name: str
    base: str
    pattern: str | None = None
    minimum: float | int | None = None
    maximum: float | int | None = None
    description: str = ""

    @property
    def base_type(self) -> TypeRef:
        return parse_type(self.base)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

RICH_TYPES: dict[str, RichType] = {
    r.name: r
    for r in (
        RichType(
            "email",
            "text",
            pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$",
            description="e-mail address (local@domain.tld)",
        ),
        RichType(
            "url",
            "text",
            pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][A-Za-z0-9._~:/?#@!$&'()*+,;=%-]*)?$",
            description="http or https URL",
        ),
        RichType(
            "phone",
            "text",
            pattern=r"^\+[1-9][0-9]{1,14}$",
            description="phone number in E.164 form (+ and up to 15 digits)",
        ),
        RichType(
            "slug",
            "text",
            pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
            description="lower-case words joined by single hyphens",
        ),
        RichType("money", "numeric(19,4)", description="amount of money, 4 decimals"),
        RichType(
            "percentage",
            "numeric(5,2)",
            minimum=0,
            maximum=100,
            description="percentage between 0 and 100",
        ),
        RichType(
            "color",
            "text",
            pattern=r"^#[0-9A-Fa-f]{6}$",
            description="RGB colour as #RRGGBB",
        ),
        RichType(
            "country_code",
            "text",
            pattern=r"^[A-Z]{2}$",
            description="ISO 3166-1 alpha-2 country code",
        ),
        RichType(
            "currency_code",
            "text",
            pattern=r"^[A-Z]{3}$",
            description="ISO 4217 currency code",
        ),
        RichType(
            "language_code",
            "text",
            pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$",
            description="ISO 639 language code, optionally with a region (en, en-GB)",
        ),
        RichType(
            "ip_address",
            "text",
            pattern=(
                rf"^({_OCTET}\.){{3}}{_OCTET}$"  # IPv4
                r"|^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}$"  # IPv6 (shape only)
            ),
            description="IPv4 or IPv6 address",
        ),
        RichType(
            "mac_address",
            "text",
            pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$",
            description="MAC address as six colon-separated hex pairs",
        ),
        RichType(
            "latitude",
            "numeric(9,6)",
            minimum=-90,
            maximum=90,
            description="latitude in degrees",
        ),
        RichType(
            "longitude",
            "numeric(9,6)",
            minimum=-180,
            maximum=180,
            description="longitude in degrees",
        ),
        RichType(
            "semantic_version",
            "text",
            pattern=(
                r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                r"(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
            ),
            description="semantic version MAJOR.MINOR.PATCH[-pre][+build]",
        ),
        RichType(
            "postal_code",
            "text",
            pattern=r"^[A-Za-z0-9]([A-Za-z0-9 -]{0,8}[A-Za-z0-9])?$",
            description="postal code: 1-10 letters, digits, spaces or hyphens",
        ),
        RichType(
            "timezone",
            "text",
            pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$",
            description="IANA time zone name (Europe/Paris, UTC)",
        ),
        RichType("markdown", "text", description="Markdown formatted text"),
        RichType(
            "hostname",
            "text",
            pattern=rf"^{_LABEL}(\.{_LABEL})*$",
            description="DNS host name",
        ),
        RichType(
            "iban",
            "text",
            pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
            description="International Bank Account Number, without spaces",
        ),
        RichType(
            "port",
            "integer",
            minimum=1,
            maximum=65535,
            description="TCP/UDP port number",
        ),
    )
}

# Type names that take arguments and are not basic types.
COMPOSITE_TYPES = ("enum", "ref", "list")

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[0-9]+")
_LOWER_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")


# --------------------------------------------------------------------------- family helpers


def family(t: TypeRef) -> str:
    """The value family of a type, as generators and the validator need it.

    One of ``text integer decimal float boolean date datetime time duration uuid json`` (rich
    types report their base's family), or ``enum``, ``ref``, ``list``.
    """
    if t.kind in ("enum", "ref", "list"):
        return t.kind
    if t.kind == "rich":
        return _BASIC_FAMILY[RICH_TYPES[t.name].base_type.name]
    return _BASIC_FAMILY[t.name]


def rich_type(t: TypeRef) -> RichType | None:
    """The rich-scalar definition behind ``t``, or None when ``t`` is not rich."""
    return RICH_TYPES.get(t.name) if t.kind == "rich" else None


def is_numeric(t: TypeRef) -> bool:
    return family(t) in ("integer", "decimal", "float")


def known_type_names() -> list[str]:
    return sorted([*BASIC_TYPES, *RICH_TYPES, *COMPOSITE_TYPES])


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the type text; offsets feed error columns."""

    def __init__(self, text: str, pos: SourcePos | None) -> None:
        self.text = text
        self.i = 0
        self.pos = pos

    # -- errors

    def error(self, message: str, offset: int | None = None) -> SpecqlError:
        offset = self.i if offset is None else offset
        base = self.pos or SourcePos()
        col = base.col + offset if base.line else base.col
        return SpecqlError(message, SourcePos(base.file, base.line, col))

    # -- lexing helpers

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.i] if self.i < len(self.text) else ""

    def expect(self, ch: str, what: str) -> None:
        if self.peek() != ch:
            found = repr(self.text[self.i]) if self.i < len(self.text) else "end of type"
            raise self.error(f"expected {ch!r} {what}, found {found} in type {self.text!r}")
        self.i += 1

    def ident(self, what: str) -> tuple[str, int]:
        self.skip_ws()
        m = _IDENT.match(self.text, self.i)
        if not m:
            found = repr(self.text[self.i]) if self.i < len(self.text) else "end of type"
            raise self.error(f"expected {what}, found {found} in type {self.text!r}")
        self.i = m.end()
        return m.group(), m.start()

    def integer(self, what: str) -> int:
        self.skip_ws()
        m = _INT.match(self.text, self.i)
        if not m:
            raise self.error(f"expected {what} (a whole number) in type {self.text!r}")
        self.i = m.end()
        if len(m.group()) > 6:  # refuse absurd lengths before int() does any work
            raise self.error(f"{what} {m.group()[:10]}... is out of range", m.start())
        return int(m.group())

    # -- grammar

    def parse(self) -> TypeRef:
        t = self.type_()
        if self.peek():
            raise self.error(f"unexpected {self.text[self.i]!r} after type in {self.text!r}")
        return t

    def type_(self) -> TypeRef:
        name, start = self.ident("a type name")
        if name == "enum":
            return self.enum_()
        if name == "ref":
            return self.ref_()
        if name == "list":
            return self.list_(start)
        if name in BASIC_TYPES:
            return TypeRef("basic", name, self.args_(name))
        if name in RICH_TYPES:
            if self.peek() == "(":
                raise self.error(f"type {name} takes no arguments")
            return TypeRef("rich", name)
        raise self.error(self.unknown_message(name), start)

    def unknown_message(self, name: str) -> str:
        names = known_type_names()
        close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
        if close:
            return f"unknown type {name!r}; did you mean {close[0]}?"
        return f"unknown type {name!r} (known: {', '.join(names)})"

    def args_(self, name: str) -> tuple[int, ...]:
        if self.peek() != "(":
            return ()
        if name not in _MAX_ARGS:
            raise self.error(f"type {name} takes no arguments")
        open_at = self.i
        self.i += 1
        args = [self.integer("precision")]
        if self.peek() == ",":
            self.i += 1
            args.append(self.integer("scale"))
        self.expect(")", f"to close {name}(")
        precision = args[0]
        if not 1 <= precision <= MAX_NUMERIC_PRECISION:
            raise self.error(
                f"numeric precision must be between 1 and {MAX_NUMERIC_PRECISION}, got {precision}",
                open_at + 1,
            )
        if len(args) == 2 and not 0 <= args[1] <= precision:
            raise self.error(
                f"numeric scale must be between 0 and the precision {precision}, got {args[1]}",
                open_at + 1,
            )
        return tuple(args)

    def enum_(self) -> TypeRef:
        self.expect("(", "after enum")
        labels: list[str] = []
        while True:
            if self.peek() == ")" and not labels:
                raise self.error("enum needs at least one label")
            label, at = self.ident("an enum label (an identifier)")
            if label in labels:
                raise self.error(f"duplicate enum label {label!r}", at)
            labels.append(label)
            if self.peek() == ",":
                self.i += 1
                continue
            self.expect(")", "or ',' in enum(...)")
            return TypeRef("enum", "enum", values=tuple(labels))

    def ref_(self) -> TypeRef:
        self.expect("(", "after ref")
        first, _ = self.ident("an entity name")
        schema = None
        if self.peek() == ".":
            self.i += 1
            schema, (first, _) = first, self.ident("an entity name after the schema")
        self.expect(")", "to close ref(...)")
        return TypeRef("ref", "ref", target=first, target_schema=schema)

    def list_(self, start: int) -> TypeRef:
        self.expect("(", "after list")
        item_at = self.i
        item = self.type_()
        if item.kind == "ref":
            raise self.error(
                "list(ref(...)) is not supported; model a many-to-many with a link entity",
                item_at,
            )
        self.expect(")", "to close list(...)")
        return TypeRef("list", "list", item=item)


# Nesting cap: list(list(...)) a thousand deep is an attack, not a spec.
MAX_TYPE_TEXT = 1000


def parse_type(text: str, pos: SourcePos | None = None) -> TypeRef:
    """Parse a type text (``numeric(12,2)``, ``enum(a, b)``, ``list(email)``...).

    ``pos`` is where the text starts in its file; errors point at the offending character.
    Raises SpecqlError for anything that is not a known type.
    """
    if not isinstance(text, str):
        raise SpecqlError(f"a type must be text, got {type(text).__name__}", pos)
    stripped = text.strip()
    if not stripped:
        raise SpecqlError("empty type", pos)
    if len(text) > MAX_TYPE_TEXT:
        raise SpecqlError(f"type text longer than {MAX_TYPE_TEXT} characters", pos)
    return _Parser(text, pos).parse()


def is_identifier(name: str) -> bool:
    """A lower-case SQL identifier (what field, param and schema names must be)."""
    return bool(_LOWER_IDENT.match(name))
