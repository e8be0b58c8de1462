"""dump()'s own block writer gives PyYAML's text byte for byte (PyYAML is the reference)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specql.dsl.dumper import _analyse, _fast_text, _FlowList, _pyyaml_text, to_data
from specql.dsl.loader import load_file

TESTS = Path(__file__).parent
REPO = TESTS.parents[1]


def _loadable(path: Path) -> bool:
    try:
        load_file(path)
    except Exception:  # invalid-spec fixtures, golden files that are not specs
        return False
    return True


# Every spec file of the repository (fixtures of every test package, the examples).
SPECS = sorted(
    p
    for p in [*TESTS.parent.rglob("*.y*ml"), *(REPO / "examples").rglob("*.y*ml")]
    if "registry" not in p.parts and _loadable(p)
)
EXAMPLES = int(os.environ.get("SPECQL_FUZZ_EXAMPLES", "300"))

# Characters every branch of PyYAML's scalar analysis looks at.
AWKWARD = [
    *" \t\r\n\x85\u2028\u2029\0\x01\x7f\xa0\ufeff\ue000\ufffd\U0001f600\U0010ffff",
    *"#:,-?[]{}&*!|>'\"%@`.~=$()ab1\xe9\xc4",
    *["---", "...", "yes", "no", "null", "true", "0x1f", "1e3", "12:30", "~", "<<", "'it''s'"],
]
awkward_text = st.lists(st.sampled_from(AWKWARD), max_size=8).map("".join)
texts = awkward_text | st.text(max_size=12)


def _reference(text: str) -> tuple:
    a = yaml.emitter.Emitter(None, allow_unicode=True).analyze_scalar(text)
    return (a.empty, a.multiline, a.allow_block_plain, a.allow_single_quoted, a.allow_block)


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(texts)
def test_scalar_analysis_is_pyyamls(text: str) -> None:
    assert tuple(_analyse(text)) == _reference(text)


scalars = texts | st.booleans() | st.none() | st.integers(-(10**6), 10**6)
keys = st.from_regex(r"[a-z_]{1,8}", fullmatch=True) | texts  # names, mostly: fewer declines
data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
documents = st.dictionaries(keys, data, min_size=1, max_size=4)


@settings(max_examples=EXAMPLES * 10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_block_writer_writes_what_pyyaml_writes(document: dict) -> None:
    text = _fast_text(document)
    if text is not None:  # None: left to PyYAML (a key YAML cannot write simply, "- - x")
        assert text == _pyyaml_text(document)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z0-9_]{1,6}", fullmatch=True) | texts, max_size=4))
def test_flow_lists_are_written_as_pyyaml_writes_them(items: list[str]) -> None:
    document = {"indexes": [{"fields": _FlowList(items), "unique": True}]}
    text = _fast_text(document)
    if text is not None:  # None: an item that is not a plain word is left to PyYAML
        assert text == _pyyaml_text(document)


def test_the_writer_declines_what_it_does_not_cover() -> None:
    assert _fast_text({"a": 1.5}) is None
    assert _fast_text({"a": [[1]]}) is None
    assert _fast_text({"k" * 123: 1}) is None
    assert _fast_text({"k\nk": 1}) is None
    assert _fast_text({"a": "x" * 50_001}) is None
    assert _fast_text({"a": _FlowList(["b c"])}) is None
    assert _fast_text({"a": _FlowList(["no", "_1"])}) == "a: ['no', _1]\n"
    assert _fast_text({"k" * 122: "x" * 50_000}) == _pyyaml_text({"k" * 122: "x" * 50_000})


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_spec_file_is_written_by_the_fast_writer_as_pyyaml_writes_it(path: Path) -> None:
    document = to_data(load_file(path))
    assert _fast_text(document) == _pyyaml_text(document)
