"""The type language: every family parses, every mistake is an error with a column."""

from __future__ import annotations

import re

import pytest

from specql.dsl.model import TypeRef
from specql.dsl.types import BASIC_TYPES, RICH_TYPES, family, is_numeric, parse_type, rich_type
from specql.errors import SourcePos, SpecqlError

POS = SourcePos("spec.yaml", 4, 12)


@pytest.mark.parametrize("name", sorted(BASIC_TYPES))
def test_every_basic_type_parses(name: str) -> None:
    assert parse_type(name) == TypeRef("basic", name)


@pytest.mark.parametrize("name", sorted(RICH_TYPES))
def test_every_rich_type_parses_and_round_trips_through_str(name: str) -> None:
    t = parse_type(name)
    assert t == TypeRef("rich", name)
    assert parse_type(str(t)) == t


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numeric(12)", TypeRef("basic", "numeric", (12,))),
        ("numeric( 12 , 2 )", TypeRef("basic", "numeric", (12, 2))),
        ("numeric(1000,0)", TypeRef("basic", "numeric", (1000, 0))),
        (
            "enum(lead, qualified,customer)",
            TypeRef("enum", "enum", values=("lead", "qualified", "customer")),
        ),
        ("ref(Company)", TypeRef("ref", "ref", target="Company")),
        ("ref( crm . Company )", TypeRef("ref", "ref", target="Company", target_schema="crm")),
        ("list(text)", TypeRef("list", "list", item=TypeRef("basic", "text"))),
        (
            "list(list(enum(a, b)))",
            TypeRef(
                "list",
                "list",
                item=TypeRef("list", "list", item=TypeRef("enum", "enum", values=("a", "b"))),
            ),
        ),
        ("  email  ", TypeRef("rich", "email")),
    ],
)
def test_composite_types(text: str, expected: TypeRef) -> None:
    t = parse_type(text)
    assert t == expected
    assert parse_type(str(t)) == t  # str() is the canonical text the dumper writes


@pytest.mark.parametrize(
    ("text", "col", "fragment"),
    [
        ("Text", 12, "unknown type 'Text'; did you mean text?"),
        ("emial", 12, "did you mean email?"),
        ("varchar(20)", 12, "unknown type 'varchar' (known: bigint, boolean, color,"),
        ("numeric(0)", 20, "precision must be between 1 and 1000, got 0"),
        ("numeric(1001)", 20, "precision must be between 1 and 1000"),
        ("numeric(5,6)", 20, "scale must be between 0 and the precision 5, got 6"),
        ("numeric(5,", 22, "expected scale"),
        ("numeric(12345678901234567890)", 20, "out of range"),
        ("text(3)", 16, "type text takes no arguments"),
        ("email(3)", 17, "type email takes no arguments"),
        ("enum()", 17, "enum needs at least one label"),
        ("enum(a, a)", 20, "duplicate enum label 'a'"),
        ("enum(a b)", 19, "expected ')' or ','"),
        ("enum(in-progress)", 19, "expected ')' or ','"),
        ("enum('a')", 17, "expected an enum label"),
        ("ref()", 16, "expected an entity name"),
        ("ref(a.b.c)", 19, "expected ')' to close ref"),
        ("list(ref(Company))", 17, "list(ref(...)) is not supported"),
        ("list(text", 21, "expected ')' to close list"),
        ("list(foo)", 17, "unknown type 'foo'"),
        ("text!", 16, "unexpected '!'"),
        ("(text)", 12, "expected a type name"),
    ],
)
def test_bad_types_point_at_the_problem(text: str, col: int, fragment: str) -> None:
    with pytest.raises(SpecqlError) as err:
        parse_type(text, POS)
    assert err.value.pos == SourcePos("spec.yaml", 4, col)
    assert fragment in err.value.message
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", ["", "   ", None, 3, ["text"]])
def test_non_text_or_empty_is_an_error(bad) -> None:
    with pytest.raises(SpecqlError):
        parse_type(bad, POS)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(SpecqlError, match="longer than"):
        parse_type("list(" * 5000 + "text" + ")" * 5000)


def test_families() -> None:
    assert family(parse_type("text")) == "text"
    assert family(parse_type("bigint")) == "integer"
    assert family(parse_type("money")) == "decimal"
    assert family(parse_type("port")) == "integer"
    assert family(parse_type("email")) == "text"
    assert family(parse_type("datetime")) == "datetime"
    assert family(parse_type("enum(a)")) == "enum"
    assert family(parse_type("ref(X)")) == "ref"
    assert family(parse_type("list(text)")) == "list"
    assert is_numeric(parse_type("percentage")) and not is_numeric(parse_type("slug"))
    assert rich_type(parse_type("money")) is RICH_TYPES["money"]
    assert rich_type(parse_type("numeric")) is None


def test_there_are_enough_rich_types_and_their_bases_are_basic() -> None:
    assert len(RICH_TYPES) >= 18
    for rich in RICH_TYPES.values():
        assert rich.base_type.kind == "basic", rich.name
        assert rich.description
        if rich.minimum is not None or rich.maximum is not None:
            assert is_numeric(rich.base_type), rich.name


# Valid / invalid samples for every rich type with a constraint. The same samples are checked
# against a real PostgreSQL in test_postgres_types.py, so both regex engines agree.
SAMPLES: dict[str, tuple[list, list]] = {
    "email": (["a@b.co", "first.last+tag@mail.example.org"], ["a@b", "@b.co", "a b@c.de", "a@b.c"]),
    "url": (
        ["https://example.com", "http://x.org:8080/a?b=c#d", "https://a.b/it's"],
        ["ftp://x.org", "https://", "https://a b.c"],
    ),
    "phone": (
        ["+14155552671", "+33123456789"],
        ["14155552671", "+0123", "+1 415 555", "+1234567890123456"],
    ),
    "slug": (["hello", "hello-world-2"], ["Hello", "hello--world", "-a", "a-"]),
    "percentage": ([0, 50.5, 100], [-0.01, 100.01]),
    "color": (["#a0B1c2"], ["#abc", "a0b1c2", "#GGGGGG"]),
    "country_code": (["FR", "US"], ["fr", "FRA"]),
    "currency_code": (["EUR"], ["eur", "EU"]),
    "language_code": (["en", "fra", "en-GB"], ["EN", "en-gb", "english"]),
    "ip_address": (
        ["192.168.0.1", "::1", "2001:db8::ff00:42:8329"],
        ["256.1.1.1", "1.2.3", "hello"],
    ),
    "mac_address": (["08:00:2b:01:02:03"], ["08:00:2b:01:02", "08-00-2b-01-02-03"]),
    "latitude": ([-90, 0, 45.5, 90], [-90.1, 91]),
    "longitude": ([-180, 179.99], [180.5, -181]),
    "semantic_version": (["1.0.0", "10.20.30-rc.1+build.5"], ["1.0", "01.0.0", "v1.0.0"]),
    "postal_code": (["75001", "SW1A 1AA", "12345-6789"], ["", "-1234", "12345678901"]),
    "timezone": (
        ["UTC", "Europe/Paris", "Etc/GMT+5", "America/Argentina/Buenos_Aires"],
        ["Europe/", "/Paris", "Europe Paris"],
    ),
    "hostname": (["localhost", "db-1.example.com"], ["-a.com", "a..b", "a_b.com"]),
    "iban": (
        ["DE89370400440532013000", "GB82WEST12345698765432"],
        ["DE89 3704", "de89370400440532013000"],
    ),
    "port": ([1, 5432, 65535], [0, 65536]),
}


def test_every_constrained_rich_type_has_samples() -> None:
    constrained = {n for n, r in RICH_TYPES.items() if r.pattern or r.minimum is not None}
    assert constrained == set(SAMPLES)


def _accepts(rich, value) -> bool:
    if rich.pattern is not None:
        return re.fullmatch(rich.pattern, value) is not None
    return rich.minimum <= value <= rich.maximum


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_rich_constraints_in_python(name: str) -> None:
    rich = RICH_TYPES[name]
    good, bad = SAMPLES[name]
    assert [v for v in good if not _accepts(rich, v)] == []
    assert [v for v in bad if _accepts(rich, v)] == []


def test_patterns_keep_to_the_portable_regex_subset() -> None:
    # \d \w \s \b mean different things (or nothing) in PostgreSQL bracket expressions / ARE;
    # lookarounds and non-greedy quantifiers are not portable either.
    for rich in RICH_TYPES.values():
        if rich.pattern:
            assert not re.search(r"\\[dwsbDWSB]|\(\?|[*+?}]\?", rich.pattern), rich.name
            re.compile(rich.pattern)
