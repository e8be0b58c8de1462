"""PatternLibrary on small fixture entries (tests/patterns/fixtures): storage, versions,
deprecation, parameters, composition, templates, and bad input that must write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from specql.dsl import dump, load_text
from specql.dsl import validate as validate_entities
from specql.errors import ErrorLevel, SpecqlError
from specql.patterns import PatternLibrary

FIXTURES = Path(__file__).parent / "fixtures"


def definition(name: str) -> dict:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())


@pytest.fixture
def lib(tmp_path):
    """An unseeded library holding the fixture entries."""
    with PatternLibrary.open(tmp_path / "lib.db", seed=False) as library:
        library.add_pattern(definition("greet"))
        library.add_domain_pattern(definition("flagging"))
        library.add_domain_pattern(definition("stamping"))
        library.add_domain_pattern(definition("clashing"))
        library.add_domain_pattern(definition("exclusive"))
        library.add_entity_template(definition("widget_template"))
        library.add_entity_template(definition("gadget"))
        yield library


def counts(lib) -> tuple[int, ...]:
    tables = (
        "patterns",
        "domain_patterns",
        "entity_templates",
        "pattern_versions",
        "pattern_instantiations",
    )
    return tuple(lib.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)


def test_entries_round_trip_through_the_store(lib) -> None:
    for name in ("greet", "flagging", "stamping"):
        assert lib.get_pattern(name).to_definition() == {
            **definition(name),
            **(
                {
                    "requires": definition(name).get("requires", []),
                    "conflicts": definition(name).get("conflicts", []),
                }
                if name != "greet"
                else {}
            ),
        }
    gadget = lib.get_pattern("testing.gadget")
    assert gadget.depends_on == ["testing.widget"]
    assert gadget.body == definition("gadget")["body"]


def test_compile_applies_defaults_and_checks_parameters(lib) -> None:
    assert lib.compile_pattern("greet", "postgresql", {"who": "ada"}) == (
        "RAISE NOTICE 'hello ada x1';"
    )
    assert lib.compile_pattern("greet", "django", {"who": "ada", "times": 3}) == (
        "print('hello ada' * 3)"
    )
    with pytest.raises(SpecqlError, match="who"):
        lib.compile_pattern("greet", "postgresql", {})
    with pytest.raises(SpecqlError, match="times"):
        lib.compile_pattern("greet", "postgresql", {"who": "ada", "times": "three"})
    with pytest.raises(SpecqlError, match="did you mean greet"):
        lib.compile_pattern("gret", "postgresql", {"who": "ada"})


def test_update_makes_a_new_version_and_keeps_the_history(lib) -> None:
    changed = definition("greet")
    changed["description"] = "Says hello, louder."
    lib.update(changed, tier=1, note="louder")
    history = lib.versions("greet")
    assert [v.version for v in history] == [1, 2]
    assert history[0].definition["description"] == "Says hello to someone, in every language."
    assert history[1].note == "louder"
    assert lib.get_pattern("greet").life.version == 2


def test_deprecation_hides_warns_and_names_the_replacement(lib) -> None:
    lib.deprecate("clashing", replaced_by="flagging", reason="superseded")
    names = [s.name for s in lib.list_patterns(tier=2)]
    assert "clashing" not in names and "flagging" in names
    assert "clashing" in [s.name for s in lib.list_patterns(tier=2, include_deprecated=True)]
    assert not [s for s in lib.search_patterns(text="differently") if s.name == "clashing"]
    spec = load_text("entity: Widget\nschema: catalog\npatterns: [clashing]\n", "w.yaml")
    expansion = lib.expand([spec])
    assert [w.level for w in expansion.warnings] == [ErrorLevel.WARNING]
    assert "use flagging" in str(expansion.warnings[0])
    assert lib.versions("clashing")[-1].note == "deprecated: superseded"
    with pytest.raises(SpecqlError, match="unknown"):
        lib.deprecate("greet", replaced_by="nothing_like_it")


def test_search_by_text_category_and_language(lib) -> None:
    hits = lib.search_patterns(text="hello someone")
    assert hits[0].name == "greet"
    assert {s.name for s in lib.search_patterns(category="testing")} == {
        "testing.widget",
        "testing.gadget",
    }
    assert [s.name for s in lib.search_patterns(language="postgresql", tier=1)] == ["greet"]
    assert lib.search_patterns(language="cobol", tier=1) == []
    with pytest.raises(SpecqlError, match="empty"):
        lib.search_patterns(text="   ")


def test_instantiate_writes_a_spec_that_validates_and_counts_the_use(lib) -> None:
    entity = lib.instantiate_domain_pattern(
        "flagging", "Widget", {"flag": "urgent"}, schema="catalog"
    )
    text = dump(entity)
    assert "pattern: flagging" in text and "flag: urgent" in text
    reloaded = load_text(text, "widget.yaml")
    expanded = lib.expand([reloaded]).entities
    assert [f.name for f in expanded[0].fields] == ["urgent"]
    assert [a.name for a in expanded[0].actions] == ["raise_urgent"]
    assert validate_entities(expanded) == []
    assert lib.get_pattern("flagging").times_instantiated == 1


def test_requirements_are_pulled_in_and_helper_entities_created(lib) -> None:
    entity = lib.compose_patterns("Widget", ["stamping"], schema="catalog")
    host, helper = lib.expand([entity]).entities
    assert [f.name for f in host.fields] == ["flagged", "stamped_at"]
    assert helper.name == "WidgetStamp" and helper.schema == "catalog"
    assert validate_entities([host, helper]) == []
    pairs = lib.conn.execute("SELECT pattern_a, pattern_b, count FROM pattern_cooccurrence")
    assert [tuple(r) for r in pairs] == []  # stamping alone: flagging came in as a requirement


def test_conflicts_are_reported_not_merged(lib) -> None:
    before = counts(lib)
    with pytest.raises(SpecqlError, match="conflicts with flagging"):
        lib.compose_patterns("Widget", ["flagging", "exclusive"], schema="catalog")
    with pytest.raises(SpecqlError, match="field 'flagged'"):
        lib.compose_patterns("Widget", ["flagging", "clashing"], schema="catalog")
    problems = lib.validate_pattern_composition(["flagging", "clashing"])
    assert len(problems) == 1 and "differently" in problems[0].message
    assert lib.validate_pattern_composition(["flagging", "stamping"]) == []
    assert counts(lib) == before


def test_bad_input_is_refused_and_nothing_is_written(lib) -> None:
    before = counts(lib)
    with pytest.raises(SpecqlError, match="unknown domain pattern 'nope'"):
        lib.instantiate_domain_pattern("nope", "Widget", schema="catalog")
    with pytest.raises(SpecqlError, match="flag"):
        lib.instantiate_domain_pattern("flagging", "Widget", {"flag": 3}, schema="catalog")
    with pytest.raises(SpecqlError, match="unknown parameter 'colour'"):
        lib.instantiate_domain_pattern("flagging", "Widget", {"colour": "red"}, schema="catalog")
    evil = definition("greet") | {"name": "evil"}
    evil["implementations"]["postgresql"]["template"] = "{{ ''.__class__ }}"
    with pytest.raises(SpecqlError, match="Python internals"):
        lib.add_pattern(evil)
    sneaky = definition("flagging") | {"name": "sneaky"}
    sneaky["implementation"]["fields"] = {"{{ flag.__class__.__mro__ }}": "text"}
    with pytest.raises(SpecqlError, match="Python internals"):
        lib.add_domain_pattern(sneaky)
    orphan = definition("stamping") | {"name": "orphan", "requires": ["missing_one"]}
    with pytest.raises(SpecqlError, match="missing_one"):
        lib.add_domain_pattern(orphan)
    with pytest.raises(SpecqlError, match="already in the library"):
        lib.add_pattern(definition("greet"))
    assert counts(lib) == before


def test_entity_template_with_dependency_and_config(lib) -> None:
    gadget, widget = lib.instantiate_entity_template(
        "testing.gadget", "Thing", {"colour": "text"}, schema="catalog"
    )
    assert gadget.name == "Thing" and widget.name == "Widget"
    assert [f.name for f in gadget.fields] == ["label", "widget", "weight_kg", "colour"]
    assert validate_entities(lib.expand([gadget, widget]).entities) == []
    light, _ = lib.instantiate_entity_template(
        "testing.gadget", config={"with_weight": False}, schema="catalog"
    )
    assert "weight_kg" not in [f.name for f in light.fields]
    with pytest.raises(SpecqlError, match="already a field"):
        lib.instantiate_entity_template(
            "testing.gadget", custom_fields={"label": "text"}, schema="catalog"
        )
    with pytest.raises(SpecqlError, match="with_weight"):
        lib.instantiate_entity_template(
            "testing.gadget", config={"with_weight": "yes"}, schema="catalog"
        )
    assert lib.get_pattern("testing.gadget").times_instantiated == 2
